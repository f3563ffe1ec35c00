/* 100,000 distinct syscall numbers that do not exist (512 .. 100511, by a raw
 * `syscall` so libc adds nothing): each is ENOSYS, natively and under
 * kvmcage, and kvmcage's memory must not grow with the number of distinct
 * numbers it has seen (the test compares its peak RSS with that of
 * "bogusnr same": as many calls, all to one number). Also the x32 bit and
 * numbers near 2^32 and 2^63 (not 2^32 itself: Linux truncates the number to
 * 32 bits, so 0x100000000 is read).
 */
#include <stdio.h>
#include <string.h>
#include "rawsys.h"

int main(int argc, char **argv)
{
	/* "same": the same count of calls, all to number 512 (the baseline for
	 * kvmcage's memory). */
	int same = argc > 1 && !strcmp(argv[1], "same");
	long enosys = 0, other = 0;
	for (long nr = 512; nr < 512 + 100000; nr++) {
		long r = raw(same ? 512 : nr, 0, 0, 0, 0, 0, 0);
		if (r == -38)
			enosys++;
		else
			other++;
	}
	printf("%s: %ld ENOSYS, %ld other\n", same ? "512 x 100000" : "512..100511", enosys, other);
	long big[] = { 0x40000000L + 100000, 0xffffffffL, 0x7fffffffffffffffL, -1L, -100000L };
	for (unsigned i = 0; i < sizeof big / sizeof big[0]; i++)
		printf("%#lx: %ld\n", (unsigned long)big[i], raw(big[i], 0, 0, 0, 0, 0, 0));
	return 0;
}
