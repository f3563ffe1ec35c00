/* Memory syscalls as a program uses them; every result is a property, so
 * the output is the same natively and in the sandbox. "guard" ends with a
 * write to a PROT_NONE guard page (SIGSEGV). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define PG 4096
/* Print a result, with errno's text when it failed (computed first). */
#define SHOW(label, expr) do { long r_ = (long)(expr); int e_ = errno; \
	printf("%s: %ld%s%s\n", label, r_ < 0 ? -1L : r_, r_ < 0 ? " " : "", r_ < 0 ? strerror(e_) : ""); } while (0)
#define SHOWP(label, expr) do { void *p_ = (expr); int e_ = errno; \
	printf("%s: %s\n", label, p_ == MAP_FAILED ? strerror(e_) : "ok"); } while (0)
static int all(const char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}
int main(int argc, char **argv)
{
	int anon = MAP_PRIVATE | MAP_ANONYMOUS;
	/* munmap in the middle splits a mapping. */
	char *a = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, anon, -1, 0);
	memset(a, 'a', 3 * PG);
	SHOW("munmap middle", munmap(a + PG, PG));
	printf("ends intact: %d\n", all(a, PG, 'a') && all(a + 2 * PG, PG, 'a'));
	unsigned char v[3];
	SHOW("mincore over the hole", mincore(a, 3 * PG, v));
	/* mprotect part of a mapping, then back. */
	char *b = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, anon, -1, 0);
	memset(b, 'b', 4 * PG);
	SHOW("mprotect 2 pages RO", mprotect(b + PG, 2 * PG, PROT_READ));
	SHOW("mprotect 1 page NONE", mprotect(b + PG, PG, PROT_NONE));
	SHOW("mprotect all RW", mprotect(b, 4 * PG, PROT_READ | PROT_WRITE));
	printf("data kept: %d\n", all(b, 4 * PG, 'b'));
	SHOW("mprotect unmapped", mprotect(a + PG, PG, PROT_READ));
	/* mremap: grow (moving if needed), keep contents, zero the new part. */
	char *c = mmap(NULL, PG, PROT_READ | PROT_WRITE, anon, -1, 0);
	memset(c, 'c', PG);
	char *blocker = mmap(c + PG, PG, PROT_READ, anon | MAP_FIXED_NOREPLACE, -1, 0);
	printf("blocker placed: %d\n", blocker == c + PG);
	SHOWP("grow without MAYMOVE", mremap(c, PG, 16 * PG, 0));
	char *c2 = mremap(c, PG, 16 * PG, MREMAP_MAYMOVE);
	printf("grow with MAYMOVE moved: %d, kept: %d, zeroed tail: %d\n", c2 != c,
	       all(c2, PG, 'c'), all(c2 + PG, 15 * PG, 0));
	c2[16 * PG - 1] = 'z';
	char *c3 = mremap(c2, 16 * PG, 2 * PG, 0);
	printf("shrink in place: %d, kept: %d\n", c3 == c2, all(c3, PG, 'c'));
	char *target = mmap(NULL, 8 * PG, PROT_NONE, anon, -1, 0);
	char *c4 = mremap(c3, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, target + 4 * PG);
	printf("fixed move: %d, kept: %d\n", c4 == target + 4 * PG, all(c4, PG, 'c'));
	SHOW("old range gone", mprotect(c3, PG, PROT_READ));
	SHOWP("mremap bad flags", mremap(c4, PG, PG, 8));
	SHOWP("mremap unmapped", mremap(c3, PG, 2 * PG, MREMAP_MAYMOVE));
	/* MADV_DONTNEED gives zero pages back. */
	char *d = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, anon, -1, 0);
	memset(d, 'd', 2 * PG);
	SHOW("dontneed", madvise(d, 2 * PG, MADV_DONTNEED));
	printf("zeroed: %d\n", all(d, 2 * PG, 0));
	/* mincore: untouched pages are not resident, touched ones are. */
	char *e = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, anon, -1, 0);
	e[2 * PG] = 1;
	unsigned char vec[4] = {9, 9, 9, 9};
	SHOW("mincore", mincore(e, 4 * PG, vec));
	printf("resident: %d%d%d%d\n", vec[0] & 1, vec[1] & 1, vec[2] & 1, vec[3] & 1);
	SHOW("msync", msync(e, PG, MS_SYNC));
	SHOW("msync bad flags", msync(e, PG, MS_SYNC | MS_ASYNC));
	SHOWP("fixed_noreplace over a mapping", mmap(e, PG, PROT_READ, anon | MAP_FIXED_NOREPLACE, -1, 0));
	SHOW("munmap len 0", munmap(e, 0));
	SHOW("munmap unaligned", munmap(e + 1, PG));
	/* brk grows and shrinks. */
	char *brk0 = sbrk(0);
	char *grown = sbrk(64 * PG);
	printf("sbrk grow: %d\n", grown == brk0);
	if (grown != (void *)-1) {
		memset(grown, 'h', 64 * PG);
		sbrk(-64 * PG);
		printf("sbrk shrink back: %d\n", sbrk(0) == brk0);
	}
	fflush(stdout);
	if (argc > 1) {
		char *g = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, anon, -1, 0);
		mprotect(g + PG, PG, PROT_NONE);
		g[0] = 1;
		puts("before the guard page");
		fflush(stdout);
		g[PG] = 1;
		puts("wrote into a guard page");
	}
	return 0;
}
