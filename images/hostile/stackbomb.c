/* Unbounded recursion: the stack grows to its 8 MiB limit, then SIGSEGV. */
#include <stdio.h>
static int depth(volatile char *prev, int n)
{
	volatile char frame[1024];
	frame[0] = (char)n;
	frame[1023] = prev ? prev[0] : 0;
	return depth(frame, n + 1) + frame[1];
}
int main(void)
{
	puts("recursing");
	fflush(stdout);
	return depth(NULL, 0);
}
