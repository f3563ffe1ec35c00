/* A 16 MiB anonymous mapping, 2 MiB-aligned and advised MADV_HUGEPAGE,
 * touched once in three of its eight 2 MiB stretches: a first touch
 * brings in the whole stretch (one transparent huge page), the others
 * stay out; MADV_DONTNEED of two pages takes just those out; the contents
 * hold. Natively this is Linux's THP (the host's "madvise" mode honours
 * the advice); under kvmcage each stretch of a large anonymous mapping is
 * a run of frames on one host huge page, advised or not. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096UL
#define RUN (2UL << 20)
#define RUNS 8

static void show(const char *what, unsigned char *p)
{
	static unsigned char v[RUNS * RUN / PG];
	if (mincore(p, RUNS * RUN, v)) {
		perror("mincore");
		exit(1);
	}
	printf("%s: resident pages per 2 MiB:", what);
	for (int r = 0; r < RUNS; r++) {
		int n = 0;
		for (size_t i = 0; i < RUN / PG; i++)
			n += v[r * RUN / PG + i] & 1;
		printf(" %d", n);
	}
	printf("\n");
}

int main(void)
{
	size_t len = RUNS * RUN;
	unsigned char *m = mmap(NULL, len + RUN, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* The aligned 16 MiB inside; the rest goes. */
	unsigned char *p = (unsigned char *)(((uintptr_t)m + RUN - 1) & ~(RUN - 1));
	if (p > m)
		munmap(m, p - m);
	if (p + len < m + len + RUN)
		munmap(p + len, m + len + RUN - (p + len));
	printf("MADV_HUGEPAGE: %d\n", madvise(p, len, MADV_HUGEPAGE));
	show("fresh", p);
	p[0] = 1;
	p[2 * RUN + 5 * PG] = 2;
	p[5 * RUN + 100 * PG] = 3;
	show("written in stretches 0, 2 and 5", p);
	printf("MADV_DONTNEED of 2 pages: %d\n", madvise(p + 2 * RUN + 10 * PG, 2 * PG, MADV_DONTNEED));
	show("after it", p);
	long sum = 0;
	for (size_t i = 0; i < len; i += PG)
		sum += p[i];
	printf("contents: sum %ld; %d %d %d\n", sum, p[0], p[2 * RUN + 5 * PG], p[5 * RUN + 100 * PG]);
	return 0;
}
