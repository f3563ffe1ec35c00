/* N cycles (argv[1], default 1000) of mmap 64 KiB + touch every page +
 * munmap: the cost of one cycle in exits and time. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	unsigned long sum = 0;
	for (long i = 0; i < n; i++) {
		unsigned char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) { perror("mmap"); return 1; }
		for (int k = 0; k < 65536; k += 4096)
			sum += ++p[k];
		munmap(p, 65536);
	}
	printf("%ld cycles, checksum %lu\n", n, sum);
	return 0;
}
