/* File-backed mmap in the directory argv[1]: MAP_PRIVATE copies, read-only
 * MAP_SHARED, offsets, the tail past EOF, errors, /proc/self/maps;
 * MADV_DONTNEED of a private file mapping reads the file again (a written
 * page, a page at an offset, a read-only page), MADV_FREE of one is
 * EINVAL. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define PG 4096
int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) != 0) return 2;
	int fd = open("mapped.dat", O_CREAT | O_RDWR | O_TRUNC, 0644);
	char page[PG];
	for (int i = 0; i < 3; i++) {
		memset(page, 'A' + i, PG);
		write(fd, page, PG);
	}
	write(fd, "tail", 4);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("private map: %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
	printf("bytes: %c %c %c %.4s, past EOF zero: %d\n", p[0], p[PG], p[2 * PG], p + 3 * PG, p[3 * PG + 4] == 0);
	p[0] = 'z';
	char c;
	pread(fd, &c, 1, 0);
	printf("private write stays private: %c\n", c);
	char *q = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, PG);
	printf("shared read-only at offset: %c\n", q == MAP_FAILED ? '?' : q[0]);
	char *r = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 1);
	printf("unaligned offset: %s\n", r == MAP_FAILED ? strerror(errno) : "ok?!");
	int wo = open("mapped.dat", O_WRONLY);
	r = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, wo, 0);
	printf("write-only fd: %s\n", r == MAP_FAILED ? strerror(errno) : "ok?!");
	int pp[2];
	pipe(pp);
	r = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, pp[0], 0);
	printf("pipe: %s\n", r == MAP_FAILED ? strerror(errno) : "ok?!");
	r = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 99, 0);
	printf("bad fd: %s\n", r == MAP_FAILED ? strerror(errno) : "ok?!");
	char *n = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE, fd, 2 * PG);
	mprotect(n, PG, PROT_READ);
	printf("PROT_NONE then readable keeps data: %c\n", n[0]);
	/* p[0] was written privately: DONTNEED brings the file's byte back;
	 * the mapping at offset PG (from the second page on) too. */
	p[PG + 1] = 'y';
	char *o = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PG);
	o[PG] = 'x';
	int dn = madvise(p, 2 * PG, MADV_DONTNEED);
	int dn2 = madvise(o + PG, PG, MADV_DONTNEED);
	printf("DONTNEED on a private file mapping: %d, reads the file again: %c %c %c\n", dn, p[0],
	       p[PG + 1], o[PG]);
	char *ro = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
	int dn3 = madvise(ro, PG, MADV_DONTNEED);
	printf("read-only: %d %c, MADV_FREE: %s\n", dn2 + dn3, ro[0],
	       madvise(p, PG, MADV_FREE) == 0 ? "ok?!" : strerror(errno));
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0, heap = 0, stack = 0;
	while (maps && fgets(line, sizeof line, maps)) {
		found += strstr(line, "mapped.dat") != NULL;
		heap += strstr(line, "[heap]") != NULL;
		stack += strstr(line, "[stack]") != NULL;
	}
	printf("/proc/self/maps: file lines %d, stack %d\n", found >= 3, stack == 1);
	(void)heap;
	return 0;
}
