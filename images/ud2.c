/* An invalid instruction: killed by SIGILL. */
#include <stdio.h>
int main(void)
{
	puts("before");
	fflush(stdout);
	__builtin_trap();
}
