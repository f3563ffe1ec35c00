/* A program's CPU time can't outrun the clock on the wall: one thread
 * making system calls back to back (getpid, through the exitless gate
 * under kvmcage) reads its process CPU clock, getrusage and an
 * ITIMER_PROF, and says whether each stayed within the wall-clock time
 * that passed. (Under kvmcage the gate's service thread polls meanwhile,
 * on another host core: that is kvmcage's time, not the program's.)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double used(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec +
	       r.ru_stime.tv_usec / 1e6;
}

static volatile double prof_at;
static void on_prof(int sig)
{
	(void)sig;
	if (prof_at == 0)
		prof_at = now(CLOCK_MONOTONIC);
}

int main(void)
{
	/* 20 ms of CPU time, then SIGPROF. */
	const double prof = 0.020;
	signal(SIGPROF, on_prof);
	double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID), r0 = used();
	struct itimerval it = { { 0, 0 }, { 0, 20000 } };
	setitimer(ITIMER_PROF, &it, NULL);
	long calls = 0;
	while (calls < 100000 || (prof_at == 0 && calls < 100000000)) {
		syscall(SYS_getpid);
		calls++;
	}
	double w1 = now(CLOCK_MONOTONIC), c1 = now(CLOCK_PROCESS_CPUTIME_ID), r1 = used();
	/* Room for the clocks' granularity: rusage is in ticks' worth of
	 * microseconds, a CPU timer fires on a tick. */
	double wall = w1 - w0;
	printf("process CPU clock within wall time: %s\n",
	       c1 - c0 <= wall * 1.05 + 0.005 ? "yes" : "no");
	printf("getrusage within wall time: %s\n", r1 - r0 <= wall * 1.05 + 0.010 ? "yes" : "no");
	printf("SIGPROF came: %s\n", prof_at != 0 ? "yes" : "no");
	printf("SIGPROF no sooner than its CPU time on the wall: %s\n",
	       prof_at != 0 && prof_at - w0 >= prof * 0.9 ? "yes" : "no");
	return 0;
}
