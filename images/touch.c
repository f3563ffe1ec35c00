/* Touch N MiB (argv[1], default 256) one byte per page, twice, and print a
 * checksum: what demand-backed guest memory costs. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	size_t len = mib << 20;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) { perror("mmap"); return 1; }
	unsigned long sum = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < len; i += 4096) {
			p[i] += (unsigned char)(i >> 12);
			sum += p[i];
		}
	printf("touched %zu MiB, checksum %lu\n", mib, sum);
	return 0;
}
