/* timerfd_create, timerfd_settime and timerfd_gettime:
 *   (a) create: MONOTONIC, REALTIME and BOOTTIME work; bad clocks and bad
 *       flags are EINVAL; TFD_CLOEXEC and TFD_NONBLOCK show in fcntl;
 *   (b) gettime: zero when new, the remaining time when armed (also for an
 *       absolute timer); settime hands back the old value;
 *   (c) read: a one-shot gives 8 bytes and the count 1; a short buffer is
 *       EINVAL; nonblocking before expiry is EAGAIN; poll sees POLLIN only
 *       after expiry; re-arming drops expirations nobody read;
 *   (d) a periodic 10 ms timer counts every expiry between reads;
 *   (e) TFD_TIMER_ABSTIME, ahead and in the past; disarming (a zero value
 *       with an interval disarms, and gettime still reports the interval);
 *   (f) settime/gettime errors (EINVAL, EBADF, EFAULT, and which comes
 *       first), write is EINVAL, /proc/self/fd names "anon_inode:[timerfd]";
 *   (g) a blocked read ended by SIGALRM: EINTR without SA_RESTART; with
 *       SA_RESTART it restarts and returns when the timer fires.
 * Only properties are printed, never times.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hostile/errname.h"

#define MS 1000000L

static volatile int ticks;

static void on_alarm(int sig)
{
	ticks++;
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

static void alarm_in(long us)
{
	struct itimerval it;
	memset(&it, 0, sizeof it);
	it.it_value.tv_sec = us / 1000000;
	it.it_value.tv_usec = us % 1000000;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* "what: r" or "what: -1 ENAME"; e is errno right after the call */
static void show(const char *what, long r, int e)
{
	if (r < 0)
		printf("%s: %ld %s\n", what, r, errname(e));
	else
		printf("%s: %ld\n", what, r);
}

static const char *yes(int c)
{
	return c ? "yes" : "no";
}

static long long ns_of(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return ns_of(t);
}

static struct itimerspec spec(long long value_ns, long long interval_ns)
{
	struct itimerspec s;
	s.it_value.tv_sec = value_ns / 1000000000LL;
	s.it_value.tv_nsec = value_ns % 1000000000LL;
	s.it_interval.tv_sec = interval_ns / 1000000000LL;
	s.it_interval.tv_nsec = interval_ns % 1000000000LL;
	return s;
}

static int is_zero(struct itimerspec s)
{
	return ns_of(s.it_value) == 0 && ns_of(s.it_interval) == 0;
}

/* create a timer or say why not */
static int create(int clock, int flags)
{
	int fd = timerfd_create(clock, flags);
	if (fd < 0)
		printf("timerfd_create(%d, %#x) failed: %s\n", clock, flags, errname(errno));
	return fd;
}

static void arm(int fd, int flags, long long value_ns, long long interval_ns)
{
	struct itimerspec s = spec(value_ns, interval_ns);
	if (timerfd_settime(fd, flags, &s, NULL))
		printf("timerfd_settime failed: %s\n", errname(errno));
}

/* a read of the 8-byte count: prints "what: r" and, on success, the count */
static void read_count(const char *what, int fd)
{
	uint64_t n = 0;
	errno = 0;
	long r = read(fd, &n, sizeof n);
	int e = errno;
	if (r == 8)
		printf("%s: 8, count %llu\n", what, (unsigned long long)n);
	else
		show(what, r, e);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	long r;
	int e, fd, nb;
	struct itimerspec s, got, old;

	/* (a) create */
	static const struct { int clock; const char *name; } good[] = {
		{CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
		{CLOCK_REALTIME, "CLOCK_REALTIME"},
		{CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
	};
	for (unsigned i = 0; i < sizeof good / sizeof good[0]; i++) {
		errno = 0;
		fd = timerfd_create(good[i].clock, 0);
		e = errno;
		printf("(a) create %s: %s\n", good[i].name, fd >= 0 ? "fd" : errname(e));
		if (fd >= 0)
			close(fd);
	}
	static const struct { int clock; const char *name; } bad[] = {
		{99, "clock 99"},
		{-1, "clock -1"},
		{CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
		{CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
		{CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
		{CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char what[64];
		snprintf(what, sizeof what, "(a) create %s", bad[i].name);
		errno = 0;
		r = timerfd_create(bad[i].clock, 0);
		show(what, r, errno);
	}
	errno = 0;
	r = timerfd_create(CLOCK_MONOTONIC, 0x1);
	show("(a) create flags 0x1", r, errno);
	errno = 0;
	r = timerfd_create(CLOCK_MONOTONIC, TFD_TIMER_ABSTIME);
	show("(a) create flags TFD_TIMER_ABSTIME", r, errno);
	errno = 0;
	r = timerfd_create(99, 0x1);
	show("(a) create clock 99 flags 0x1", r, errno);

	fd = create(CLOCK_MONOTONIC, 0);
	printf("(a) plain: FD_CLOEXEC %s, O_NONBLOCK %s, O_RDWR %s\n",
	       yes(fcntl(fd, F_GETFD) & FD_CLOEXEC),
	       yes(fcntl(fd, F_GETFL) & O_NONBLOCK),
	       yes((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR));
	close(fd);
	fd = create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	printf("(a) TFD_CLOEXEC: FD_CLOEXEC %s, O_NONBLOCK %s\n",
	       yes(fcntl(fd, F_GETFD) & FD_CLOEXEC),
	       yes(fcntl(fd, F_GETFL) & O_NONBLOCK));
	close(fd);
	fd = create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	printf("(a) TFD_NONBLOCK: FD_CLOEXEC %s, O_NONBLOCK %s\n",
	       yes(fcntl(fd, F_GETFD) & FD_CLOEXEC),
	       yes(fcntl(fd, F_GETFL) & O_NONBLOCK));
	close(fd);

	/* (b) gettime and the old value */
	fd = create(CLOCK_MONOTONIC, 0);
	memset(&got, 0xff, sizeof got);
	r = timerfd_gettime(fd, &got);
	printf("(b) gettime new: %ld, zero %s\n", r, yes(is_zero(got)));
	arm(fd, 0, 100 * MS, 0);
	timerfd_gettime(fd, &got);
	printf("(b) one-shot 100 ms: 0 < value <= 100 ms %s, interval zero %s\n",
	       yes(ns_of(got.it_value) > 0 && ns_of(got.it_value) <= 100 * MS),
	       yes(ns_of(got.it_interval) == 0));
	arm(fd, 0, 5000 * MS, 0);
	s = spec(1000 * MS, 0);
	memset(&old, 0xff, sizeof old);
	r = timerfd_settime(fd, 0, &s, &old);
	printf("(b) settime over 5 s: %ld, old value in (4 s, 5 s] %s, old interval zero %s\n",
	       r, yes(ns_of(old.it_value) > 4000 * MS && ns_of(old.it_value) <= 5000 * MS),
	       yes(ns_of(old.it_interval) == 0));
	s = spec(0, 0);
	r = timerfd_settime(fd, 0, &s, &old);
	printf("(b) disarm: %ld, old value in (0, 1 s] %s\n", r,
	       yes(ns_of(old.it_value) > 0 && ns_of(old.it_value) <= 1000 * MS));
	arm(fd, TFD_TIMER_ABSTIME, now_ns() + 5000 * MS, 0);
	timerfd_gettime(fd, &got);
	printf("(b) absolute 5 s ahead: gettime relative, in (4 s, 5 s] %s\n",
	       yes(ns_of(got.it_value) > 4000 * MS && ns_of(got.it_value) <= 5000 * MS));
	arm(fd, 0, 0, 0);
	close(fd);

	/* (c) reads and poll */
	fd = create(CLOCK_MONOTONIC, 0);
	arm(fd, 0, 50 * MS, 0);
	read_count("(c) blocking read, 50 ms one-shot", fd);
	timerfd_gettime(fd, &got);
	printf("(c) gettime after expiry: zero %s\n", yes(is_zero(got)));
	uint32_t small;
	arm(fd, 0, 1 * MS, 0);
	usleep(20000);
	errno = 0;
	r = read(fd, &small, sizeof small);
	show("(c) read 4 bytes", r, errno);
	read_count("(c) then read 8", fd);
	close(fd);

	nb = create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	read_count("(c) nonblocking read, disarmed", nb);
	arm(nb, 0, 1000 * MS, 0);
	read_count("(c) nonblocking read before expiry", nb);
	arm(nb, 0, 50 * MS, 0);
	struct pollfd pfd = {nb, POLLIN, 0};
	r = poll(&pfd, 1, 0);
	printf("(c) poll before expiry: %ld, revents %#x\n", r, pfd.revents);
	pfd.revents = 0;
	r = poll(&pfd, 1, 2000);
	printf("(c) poll until expiry: %ld, revents %s\n", r,
	       pfd.revents == POLLIN ? "POLLIN" : "other");
	read_count("(c) nonblocking read after expiry", nb);
	pfd.revents = 0;
	r = poll(&pfd, 1, 0);
	printf("(c) poll after the read: %ld, revents %#x\n", r, pfd.revents);
	arm(nb, 0, 1 * MS, 0);
	usleep(20000);
	arm(nb, 0, 1000 * MS, 0);
	read_count("(c) re-armed before reading an expiry", nb);
	arm(nb, 0, 0, 0);

	/* (d) periodic */
	fd = create(CLOCK_MONOTONIC, 0);
	arm(fd, 0, 10 * MS, 10 * MS);
	timerfd_gettime(fd, &got);
	printf("(d) periodic: interval %ld.%09ld\n", (long)got.it_interval.tv_sec,
	       got.it_interval.tv_nsec);
	usleep(100000);
	uint64_t n = 0;
	r = read(fd, &n, sizeof n);
	printf("(d) periodic read: %ld, count >= 5 %s\n", r, yes(n >= 5));
	n = 0;
	r = read(fd, &n, sizeof n);
	printf("(d) next read blocks for one period: %ld, count >= 1 %s\n", r, yes(n >= 1));
	timerfd_gettime(fd, &got);
	printf("(d) still armed: 0 < value <= 10 ms %s\n",
	       yes(ns_of(got.it_value) > 0 && ns_of(got.it_value) <= 10 * MS));
	arm(fd, 0, 0, 0);
	close(fd);

	/* (e) absolute times, disarming */
	fd = create(CLOCK_MONOTONIC, 0);
	long long t0 = now_ns();
	arm(fd, TFD_TIMER_ABSTIME, t0 + 30 * MS, 0);
	read_count("(e) absolute 30 ms ahead", fd);
	printf("(e) waited >= 30 ms: %s\n", yes(now_ns() - t0 >= 30 * MS));
	t0 = now_ns();
	arm(fd, TFD_TIMER_ABSTIME, 1, 0);
	read_count("(e) absolute 1 ns after boot", fd);
	printf("(e) at once (< 500 ms): %s\n", yes(now_ns() - t0 < 500 * MS));
	close(fd);
	nb = create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	arm(nb, 0, 20 * MS, 20 * MS);
	arm(nb, 0, 0, 1000 * MS);
	timerfd_gettime(nb, &got);
	printf("(e) zero value, interval 1 s: value zero %s, interval kept %ld.%09ld\n",
	       yes(ns_of(got.it_value) == 0), (long)got.it_interval.tv_sec,
	       got.it_interval.tv_nsec);
	usleep(40000);
	read_count("(e) read after disarm", nb);
	close(nb);
	fd = create(CLOCK_REALTIME, 0);
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	arm(fd, TFD_TIMER_ABSTIME, ns_of(rt) + 30 * MS, 0);
	read_count("(e) realtime absolute 30 ms ahead", fd);
	close(fd);
	fd = create(CLOCK_BOOTTIME, 0);
	arm(fd, 0, 20 * MS, 0);
	read_count("(e) boottime 20 ms", fd);
	close(fd);

	/* (f) errors */
	fd = create(CLOCK_MONOTONIC, 0);
	int p[2];
	pipe(p);
	s = spec(0, 0);
	s.it_value.tv_nsec = 1000000000;
	errno = 0;
	r = timerfd_settime(fd, 0, &s, NULL);
	show("(f) settime tv_nsec 1000000000", r, errno);
	s = spec(0, 0);
	s.it_interval.tv_nsec = -1;
	s.it_value.tv_sec = 1;
	errno = 0;
	r = timerfd_settime(fd, 0, &s, NULL);
	show("(f) settime interval tv_nsec -1", r, errno);
	s = spec(0, 0);
	s.it_value.tv_sec = -1;
	errno = 0;
	r = timerfd_settime(fd, 0, &s, NULL);
	show("(f) settime tv_sec -1", r, errno);
	s = spec(1000 * MS, 0);
	errno = 0;
	r = timerfd_settime(fd, 0x4, &s, NULL);
	show("(f) settime flags 0x4", r, errno);
	errno = 0;
	r = timerfd_settime(p[0], 0, &s, NULL);
	show("(f) settime on a pipe", r, errno);
	errno = 0;
	r = timerfd_gettime(p[0], &got);
	show("(f) gettime on a pipe", r, errno);
	errno = 0;
	r = timerfd_settime(999, 0, &s, NULL);
	show("(f) settime on fd 999", r, errno);
	errno = 0;
	r = timerfd_gettime(999, &got);
	show("(f) gettime on fd 999", r, errno);
	errno = 0;
	r = timerfd_settime(-1, 0, &s, NULL);
	show("(f) settime on fd -1", r, errno);
	errno = 0;
	r = timerfd_settime(999, 0x4, &s, NULL);
	show("(f) settime flags 0x4 on fd 999", r, errno);
	s.it_value.tv_nsec = 1000000000;
	errno = 0;
	r = timerfd_settime(999, 0, &s, NULL);
	show("(f) settime tv_nsec 1000000000 on fd 999", r, errno);
	errno = 0;
	r = syscall(SYS_timerfd_settime, fd, 0, NULL, NULL);
	show("(f) settime NULL new_value", r, errno);
	errno = 0;
	r = syscall(SYS_timerfd_settime, 999, 0, NULL, NULL);
	show("(f) settime NULL new_value on fd 999", r, errno);
	errno = 0;
	r = syscall(SYS_timerfd_gettime, fd, NULL);
	show("(f) gettime NULL", r, errno);
	s = spec(1000 * MS, 0);
	errno = 0;
	r = syscall(SYS_timerfd_settime, fd, 0, &s, (void *)8);
	show("(f) settime bad old_value", r, errno);
	timerfd_gettime(fd, &got);
	printf("(f) armed anyway: %s\n", yes(ns_of(got.it_value) > 0));
	arm(fd, 0, 0, 0);
	n = 1;
	errno = 0;
	r = write(fd, &n, sizeof n);
	show("(f) write 8 bytes", r, errno);
	close(p[0]);
	close(p[1]);

	char path[64], link[128];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	r = readlink(path, link, sizeof link - 1);
	link[r > 0 ? r : 0] = 0;
	printf("(f) /proc/self/fd link: %s, prefix ok %s\n", link,
	       yes(strncmp(link, "anon_inode:[timerfd]", 20) == 0));

	/* (g) a blocked read and SIGALRM */
	handle(SIGALRM, on_alarm, 0);
	ticks = 0;
	arm(fd, 0, 5000 * MS, 0);
	alarm_in(30000);
	read_count("(g) read, SIGALRM without SA_RESTART", fd);
	printf("(g) ticks %d\n", ticks);
	timerfd_gettime(fd, &got);
	printf("(g) timer still armed: %s\n", yes(ns_of(got.it_value) > 4000 * MS));
	arm(fd, 0, 0, 0);

	handle(SIGALRM, on_alarm, SA_RESTART);
	ticks = 0;
	t0 = now_ns();
	arm(fd, 0, 80 * MS, 0);
	alarm_in(30000);
	read_count("(g) read, SIGALRM with SA_RESTART", fd);
	printf("(g) ticks %d, waited >= 80 ms %s\n", ticks, yes(now_ns() - t0 >= 80 * MS));
	close(fd);

	printf("done\n");
	return 0;
}
