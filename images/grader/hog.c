/* Allocates and touches 1 MiB blocks until malloc returns NULL, then
 * abort()s: under a --mem limit, status memory-limit with SIGABRT. */
#include <stdlib.h>
#include <string.h>
int main(void)
{
	for (;;) {
		char *p = malloc(1 << 20);
		if (!p)
			abort();
		memset(p, 1, 1 << 20);
	}
}
