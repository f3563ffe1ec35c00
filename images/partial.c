/* A buffer that runs into an unmapped page: write() returns the short
 * count, read-only pages can't be read into, and a string crossing into
 * the hole is EFAULT. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void)
{
	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) { perror("mmap"); return 1; }
	memset(p, 'z', 3 * 4096);
	p[2 * 4096 - 1] = '\n';
	munmap(p + 2 * 4096, 4096);
	long r = syscall(SYS_write, 1, p + 2 * 4096 - 10, 100);
	printf("\nshort write: %ld\n", r);
	mprotect(p + 4096, 4096, PROT_READ);
	int fds[2];
	r = syscall(SYS_write, 1, p + 4096 - 3, 0);
	printf("zero-length write at read-only edge: %ld\n", r);
	r = syscall(SYS_openat, -100, p + 2 * 4096 - 4, 0);
	printf("path into hole: %ld %s\n", r, strerror(errno));
	(void)fds;
	r = syscall(SYS_getrandom, p + 4096 - 8, 64, 0);
	printf("getrandom into read-only edge: %ld\n", r);
	r = syscall(SYS_getrandom, p + 4096, 16, 0);
	printf("getrandom into read-only page: %ld %s\n", r, strerror(errno));
	return 0;
}
