/* Handles SIGXCPU (prints "xcpu" once) and keeps spinning: RLIMIT_CPU's
 * SIGKILL a second later ends it. */
#include <signal.h>
#include <unistd.h>
static volatile sig_atomic_t seen;
static void on_xcpu(int sig)
{
	(void)sig;
	if (!seen) {
		seen = 1;
		write(1, "xcpu\n", 5);
	}
}
int main(void)
{
	signal(SIGXCPU, on_xcpu);
	volatile unsigned long n = 0;
	for (;;)
		n++;
}
