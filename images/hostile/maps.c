/* 70,000 separate 4 KiB anonymous mappings: ENOMEM at Linux's
 * vm.max_map_count (65530), reached at the same count (to 1000) natively
 * and under kvmcage, whose own memory must stay bounded (the test runs it
 * with --mem 64M and checks kvmcage's peak RSS).
 *
 * The mappings are PROT_NONE (an address-space reservation: no memory behind
 * it, natively or in the guest) and one page apart, so no two merge: a
 * 2 * 70,000-page range is reserved and freed first, then every other page
 * of it is mapped with MAP_FIXED_NOREPLACE. After ENOMEM, all are unmapped
 * and a mapping works again.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "errname.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#define N 70000
#define PAGE 4096UL

int main(void)
{
	char *base = mmap(NULL, 2 * N * PAGE, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		printf("reserve: errno %s\n", errname(errno));
		return 1;
	}
	munmap(base, 2 * N * PAGE);
	int n, err = 0;
	for (n = 0; n < N; n++) {
		char *want = base + 2 * n * PAGE;
		char *p = mmap(want, PAGE, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED) {
			err = errno;
			break;
		}
		if (p != want) {
			printf("mapping %d not where asked\n", n);
			return 1;
		}
	}
	printf("mapped %d000 before %s\n", n / 1000, err ? errname(err) : "no error");
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad += munmap(base + 2 * i * PAGE, PAGE) != 0;
	printf("unmapped all: %d failures\n", bad);
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap works again: %d\n", p != MAP_FAILED);
	return 0;
}
