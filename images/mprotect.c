/* Host page-table edits must reach the guest at once (PLATFORM.md):
 * remapping the same address shows fresh zeroed memory, and a page made
 * read-only faults on the next write (killed by SIGSEGV). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
int main(void)
{
	char *a = (char *)0x10000000;
	for (int i = 0; i < 64; i++) {
		/* Two mappings so the freed frames are not simply reused in place. */
		char *p = mmap(a, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		char *q = mmap(a + 0x100000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p[0] || p[4096] || q[0]) {
			printf("stale data at iteration %d\n", i);
			return 1;
		}
		memset(p, 'A' + i % 26, 8192);
		q[0] = 1;
		munmap(q, 4096);
		munmap(p, 8192);
	}
	puts("remap: always zeroed");
	char *r = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r[0] = 1;
	mprotect(r, 4096, PROT_NONE);
	mprotect(r, 4096, PROT_READ);
	printf("kept across PROT_NONE: %d\n", r[0]);
	fflush(stdout);
	r[0] = 2; /* SIGSEGV */
	puts("write to a read-only page succeeded");
	return 0;
}
