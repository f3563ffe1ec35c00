/* Installing handlers and changing the mask work as on Linux (nothing is
 * raised); abort() then dies of SIGABRT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void handler(int sig) { (void)sig; }
int main(int argc, char **argv)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	printf("sigaction(SIGUSR1): %d\n", sigaction(SIGUSR1, &sa, &old));
	printf("old handler was default: %d\n", old.sa_handler == SIG_DFL);
	sigaction(SIGUSR1, NULL, &old);
	printf("handler kept: %d\n", old.sa_handler == handler);
	printf("sigaction(SIGKILL): %d\n", sigaction(SIGKILL, &sa, NULL));
	sigset_t set, cur;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	printf("block: %d\n", sigprocmask(SIG_BLOCK, &set, NULL));
	sigprocmask(SIG_SETMASK, NULL, &cur);
	printf("SIGUSR2 blocked: %d\n", sigismember(&cur, SIGUSR2));
	printf("unblock: %d\n", sigprocmask(SIG_UNBLOCK, &set, NULL));
	sigprocmask(SIG_SETMASK, NULL, &cur);
	printf("SIGUSR2 blocked: %d\n", sigismember(&cur, SIGUSR2));
	printf("bad how: %d\n", sigprocmask(99, &set, NULL));
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "abort") == 0)
		abort();
	return 0;
}
