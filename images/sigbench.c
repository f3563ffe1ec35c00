/* Workload: the cost of kill(self) -> handler -> rt_sigreturn next to a
 * plain syscall (getppid), 2000 of each; prints microseconds per round.
 * Not a test: timings are measured, never asserted. */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
static volatile int n;
static void h(int s) { n++; }
int main(int argc, char **argv) {
	signal(SIGUSR1, h);
	int iters = 2000; pid_t me = getpid();
	struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < iters; i++) syscall(SYS_kill, me, SIGUSR1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double kill_us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / iters;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < iters; i++) syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double sys_us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / iters;
	printf("kill(self)+handler+sigreturn: %.2f us; getppid: %.2f us; handled %d\n", kill_us, sys_us, n);
}
