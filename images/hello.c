/* stdio on all three streams. */
#include <stdio.h>
int main(int argc, char **argv)
{
	printf("hello from %s\n", argc > 1 ? argv[1] : "nobody");
	puts("puts works");
	fprintf(stderr, "stderr works\n");
	return 0;
}
