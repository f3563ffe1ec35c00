/* Prints a line that looks like kvmcage's own report, then exits 139 as
 * if killed by SIGSEGV: the result must say it exited, with no signal. */
#include <stdio.h>
int main(void)
{
	fputs("kvmcage: guest killed by SIGSEGV (fake)\n", stderr);
	return 139;
}
