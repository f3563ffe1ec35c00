/* One line on stderr, then a write through a NULL pointer: SIGSEGV. */
#include <unistd.h>
int main(void)
{
	static const char msg[] = "about to fault\n";
	write(2, msg, sizeof msg - 1);
	*(volatile int *)0 = 1;
	return 0;
}
