/* Integer division by zero: killed by SIGFPE. */
#include <stdio.h>
int main(int argc, char **argv)
{
	(void)argv;
	puts("before");
	fflush(stdout);
	volatile int zero = argc - 1;
	return 10 / zero;
}
