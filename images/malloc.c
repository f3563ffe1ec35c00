/* malloc/free/realloc churn, a large touched allocation, calloc zeroing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
int main(void)
{
	uint64_t sum = 0;
	void *ptrs[512] = {0};
	unsigned seed = 12345;
	for (int i = 0; i < 20000; i++) {
		seed = seed * 1103515245 + 12345;
		int k = (seed >> 8) % 512;
		size_t sz = (seed >> 4) % 4096 + 1;
		if (ptrs[k]) {
			sum += ((unsigned char *)ptrs[k])[0];
			ptrs[k] = realloc(ptrs[k], sz);
		} else {
			ptrs[k] = malloc(sz);
		}
		memset(ptrs[k], k & 0xff, sz);
	}
	for (int k = 0; k < 512; k++)
		free(ptrs[k]);
	size_t big = 64 << 20;
	unsigned char *b = malloc(big);
	if (!b) { puts("big malloc failed"); return 1; }
	for (size_t i = 0; i < big; i += 4096)
		b[i] = (unsigned char)(i >> 12);
	uint64_t bs = 0;
	for (size_t i = 0; i < big; i += 4096)
		bs += b[i];
	free(b);
	unsigned char *c = calloc(1 << 20, 4);
	int zero = 1;
	for (size_t i = 0; i < (4u << 20); i += 997)
		zero &= c[i] == 0;
	free(c);
	printf("churn sum %llu, big sum %llu, calloc zeroed %s\n",
	       (unsigned long long)sum, (unsigned long long)bs, zero ? "yes" : "no");
	return 0;
}
