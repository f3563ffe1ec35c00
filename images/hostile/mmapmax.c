/* mmap 1 MiB regions, untouched, until ENOMEM; then touch one page of
 * each. Sandbox only: the test reads kvmcage's peak RSS afterwards. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
int main(void)
{
	static char *maps[1 << 16];
	int n = 0;
	for (;;) {
		char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			break;
		if (n < (1 << 16))
			maps[n] = p;
		n++;
	}
	printf("mapped %d MiB before %s\n", n, strerror(errno));
	for (int i = 0; i < n && i < (1 << 16); i++)
		maps[i][0] = 1;
	for (int i = 0; i < n && i < (1 << 16); i++)
		munmap(maps[i], 1 << 20);
	char *again = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("after munmap, mmap works again: %d\n", again != MAP_FAILED);
	return 0;
}
