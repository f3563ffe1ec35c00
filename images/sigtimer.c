/* Timer signals and interrupted system calls:
 *   (a) a 50 ms ITIMER_REAL ends pause() with EINTR after the handler;
 *   (b) a periodic 20 ms ITIMER_REAL: getitimer while armed, 5 ticks through
 *       sigsuspend, disarmed getitimer is zero;
 *   (c) alarm(5) returns 0, then alarm(0) returns 5 (rounded as Linux does);
 *   (d) timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL SIGRTMIN, value 42), 30 ms
 *       one-shot, sigwaitinfo sees SI_TIMER and 42; timer_gettime after is
 *       zero; a periodic 10 ms timer left blocked overruns; SIGEV_NONE;
 *       timer_delete twice (EINVAL);
 *   (e) a pipe read interrupted by SIGALRM: EINTR without SA_RESTART; with
 *       SA_RESTART the read restarts and gets the byte the handler wrote;
 *       poll and nanosleep are not restarted even with SA_RESTART;
 *   (f) nanosleep(1 s) cut short by a 50 ms SIGALRM: EINTR, rem > 0.5 s;
 *       clock_nanosleep returns EINTR; an ignored SIGALRM interrupts nothing.
 * argv[1] "alarmkill": alarm(1) and a read of an empty pipe: dies of SIGALRM.
 * argv[1] "sleepforever": nanosleep for INT64_MAX seconds (for --timeout).
 * argv[1] "readforever": read of an empty pipe whose write end stays open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int ticks;
static int pipe_w = -1;

static void on_alarm(int sig)
{
	ticks++;
	if (ticks == 1 && pipe_w >= 0)
		write(pipe_w, "x", 1);
}

static void handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void itimer(long first_us, long every_us)
{
	struct itimerval it;
	it.it_value.tv_sec = first_us / 1000000;
	it.it_value.tv_usec = first_us % 1000000;
	it.it_interval.tv_sec = every_us / 1000000;
	it.it_interval.tv_usec = every_us % 1000000;
	if (setitimer(ITIMER_REAL, &it, NULL))
		printf("setitimer: %s\n", strerror(errno));
}

static const char *err(int r, int e)
{
	if (r >= 0)
		return "";
	switch (e) {
	case EINTR: return " EINTR";
	case EINVAL: return " EINVAL";
	case EAGAIN: return " EAGAIN";
	}
	return strerror(e);
}

static void block(int sig, int how)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(how, &s, NULL);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *mode = argc > 1 ? argv[1] : "";
	int p[2];
	int r, e;

	if (strcmp(mode, "alarmkill") == 0) {
		char c;
		pipe(p);
		printf("alarm(1), then reading an empty pipe\n");
		alarm(1);
		r = read(p[0], &c, 1);
		printf("read returned %d\n", r);
		return 1;
	}
	if (strcmp(mode, "sleepforever") == 0) {
		struct timespec ts = {INT64_MAX, 0};
		printf("sleeping forever\n");
		r = syscall(SYS_nanosleep, &ts, NULL);
		printf("nanosleep returned %d %s\n", r, strerror(errno));
		return 1;
	}
	if (strcmp(mode, "readforever") == 0) {
		char c;
		pipe(p);
		printf("reading forever\n");
		r = read(p[0], &c, 1);
		printf("read returned %d\n", r);
		return 1;
	}

	/* (a) one-shot itimer ends pause() */
	handle(SIGALRM, on_alarm, 0);
	ticks = 0;
	itimer(50000, 0);
	errno = 0;
	r = pause();
	e = errno;
	printf("(a) pause: %d%s, ticks %d\n", r, err(r, e), ticks);

	/* (b) periodic itimer */
	block(SIGALRM, SIG_BLOCK);
	sigset_t open;
	sigprocmask(SIG_SETMASK, NULL, &open);
	sigdelset(&open, SIGALRM);
	ticks = 0;
	itimer(20000, 20000);
	struct itimerval cur;
	getitimer(ITIMER_REAL, &cur);
	printf("(b) armed: 0 < value <= 20 ms %d, interval %ld.%06ld\n",
	       (cur.it_value.tv_sec || cur.it_value.tv_usec) && cur.it_value.tv_sec == 0 &&
		       cur.it_value.tv_usec <= 20000,
	       (long)cur.it_interval.tv_sec, (long)cur.it_interval.tv_usec);
	int suspends = 0;
	while (ticks < 5) {
		sigsuspend(&open);
		suspends++;
	}
	itimer(0, 0);
	getitimer(ITIMER_REAL, &cur);
	printf("(b) ticks %d, one per sigsuspend %d; disarmed: %ld.%06ld %ld.%06ld\n",
	       ticks, suspends == 5, (long)cur.it_value.tv_sec,
	       (long)cur.it_value.tv_usec, (long)cur.it_interval.tv_sec,
	       (long)cur.it_interval.tv_usec);
	/* a tick may have been pending when the timer was disarmed */
	sigset_t pend;
	sigpending(&pend);
	if (sigismember(&pend, SIGALRM)) {
		int s;
		sigset_t w;
		sigemptyset(&w);
		sigaddset(&w, SIGALRM);
		sigwait(&w, &s);
	}
	block(SIGALRM, SIG_UNBLOCK);

	/* (c) alarm */
	printf("(c) alarm(5): %u\n", alarm(5));
	printf("(c) alarm(0): %u\n", alarm(0));
	printf("(c) alarm(0) again: %u\n", alarm(0));

	/* (d) POSIX timers */
	block(SIGRTMIN, SIG_BLOCK);
	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 42;
	timer_t t;
	r = timer_create(CLOCK_MONOTONIC, &sev, &t);
	printf("(d) timer_create: %d\n", r);
	struct itimerspec its, got;
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 30 * 1000 * 1000;
	printf("(d) timer_settime: %d\n", timer_settime(t, 0, &its, NULL));
	timer_gettime(t, &got);
	printf("(d) armed: 0 < value <= 30 ms %d\n",
	       got.it_value.tv_sec == 0 && got.it_value.tv_nsec > 0 &&
		       got.it_value.tv_nsec <= 30 * 1000 * 1000);
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGRTMIN);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	r = sigwaitinfo(&w, &si);
	printf("(d) sigwaitinfo: SIGRTMIN %d, SI_TIMER %d, value %d, overrun %d\n",
	       r == SIGRTMIN, si.si_code == SI_TIMER, si.si_value.sival_int,
	       si.si_overrun);
	timer_gettime(t, &got);
	printf("(d) after expiry: %ld.%09ld %ld.%09ld\n", (long)got.it_value.tv_sec,
	       got.it_value.tv_nsec, (long)got.it_interval.tv_sec,
	       got.it_interval.tv_nsec);
	/* periodic, left pending while blocked: expirations are counted */
	its.it_value.tv_nsec = 10 * 1000 * 1000;
	its.it_interval.tv_nsec = 10 * 1000 * 1000;
	timer_settime(t, 0, &its, NULL);
	struct timespec nap = {0, 100 * 1000 * 1000};
	while (nanosleep(&nap, &nap))
		;
	memset(&si, 0, sizeof si);
	r = sigwaitinfo(&w, &si);
	int ovr = timer_getoverrun(t);
	printf("(d) periodic while blocked: one signal %d, si_overrun >= 3 %d, "
	       "timer_getoverrun matches %d\n",
	       r == SIGRTMIN, si.si_overrun >= 3, ovr == si.si_overrun);
	memset(&its, 0, sizeof its);
	timer_settime(t, 0, &its, NULL);
	printf("(d) timer_delete: %d\n", timer_delete(t));
	errno = 0;
	r = timer_delete(t);
	e = errno;
	printf("(d) timer_delete again: %d%s\n", r, r == -1 ? err(r, e) : "");
	/* SIGEV_NONE: no signal, but the timer runs */
	sev.sigev_notify = SIGEV_NONE;
	timer_t tn;
	r = timer_create(CLOCK_MONOTONIC, &sev, &tn);
	its.it_value.tv_sec = 10;
	timer_settime(tn, 0, &its, NULL);
	timer_gettime(tn, &got);
	printf("(d) SIGEV_NONE: create %d, 9 s < value <= 10 s %d\n", r,
	       got.it_value.tv_sec == 9 || (got.it_value.tv_sec == 10 && got.it_value.tv_nsec == 0));
	timer_delete(tn);
	sigpending(&pend);
	printf("(d) nothing left pending: %d\n", !sigismember(&pend, SIGRTMIN));
	block(SIGRTMIN, SIG_UNBLOCK);

	/* (e) interrupted reads */
	char c = 0;
	pipe(p);
	handle(SIGALRM, on_alarm, 0);
	ticks = 0;
	itimer(50000, 0);
	errno = 0;
	r = read(p[0], &c, 1);
	e = errno;
	printf("(e) read without SA_RESTART: %d%s, ticks %d\n", r, err(r, e), ticks);

	handle(SIGALRM, on_alarm, SA_RESTART);
	ticks = 0;
	pipe_w = p[1];
	itimer(50000, 0);
	errno = 0;
	r = read(p[0], &c, 1);
	e = errno;
	itimer(0, 0);
	pipe_w = -1;
	printf("(e) read with SA_RESTART: %d%s, byte '%c', ticks %d\n", r, err(r, e),
	       r == 1 ? c : '?', ticks);

	struct pollfd pfd = {p[0], POLLIN, 0};
	ticks = 0;
	itimer(50000, 0);
	errno = 0;
	r = poll(&pfd, 1, -1);
	e = errno;
	printf("(e) poll with SA_RESTART: %d%s, ticks %d\n", r, err(r, e), ticks);

	/* (f) nanosleep */
	struct timespec req = {1, 0}, rem = {0, 0};
	ticks = 0;
	itimer(50000, 0);
	errno = 0;
	r = nanosleep(&req, &rem);
	e = errno;
	printf("(f) nanosleep 1 s with SA_RESTART: %d%s, ticks %d, 0.5 s < rem < 1 s %d\n",
	       r, err(r, e), ticks, rem.tv_sec == 0 && rem.tv_nsec > 500000000);
	handle(SIGALRM, on_alarm, 0);
	ticks = 0;
	itimer(50000, 0);
	rem.tv_sec = rem.tv_nsec = 0;
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
	printf("(f) clock_nanosleep: returns %s, ticks %d, 0.5 s < rem < 1 s %d\n",
	       r == EINTR ? "EINTR" : strerror(r), ticks,
	       rem.tv_sec == 0 && rem.tv_nsec > 500000000);
	signal(SIGALRM, SIG_IGN);
	itimer(20000, 0);
	req.tv_sec = 0;
	req.tv_nsec = 100 * 1000 * 1000;
	errno = 0;
	r = nanosleep(&req, NULL);
	e = errno;
	printf("(f) nanosleep 100 ms, SIGALRM ignored: %d%s\n", r, err(r, e));
	printf("done\n");
	return 0;
}
