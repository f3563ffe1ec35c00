/* NULL dereference: killed by SIGSEGV. */
#include <stdio.h>
int main(void)
{
	puts("before");
	fflush(stdout);
	volatile int *p = (int *)0;
	return *p;
}
