/* epoll:
 *   (a) epoll_create1 (0, EPOLL_CLOEXEC, a bad flag), epoll_create (size 0
 *       and -1 are EINVAL), the /proc/self/fd name;
 *   (b) epoll_ctl ADD/MOD/DEL on a pipe, an eventfd and a socketpair end,
 *       and its errors: EEXIST, ENOENT, EBADF, EINVAL (itself, a non-epoll
 *       epfd, a bad op, EPOLLEXCLUSIVE misuse), EPERM (a regular file,
 *       /dev/null), ELOOP (a cycle of two), EFAULT;
 *   (c) epoll_wait: nothing ready, EPOLLIN with data.u64 verbatim,
 *       EPOLLOUT, EPOLLHUP, EPOLLERR, EPOLLRDHUP, EPOLLET, EPOLLONESHOT and
 *       re-arming by MOD, maxevents 1 taking turns, maxevents 0 and
 *       negative, bad event pointers, a non-epoll fd;
 *   (d) epoll_pwait and epoll_pwait2 with a sigmask that lets a pending
 *       signal in (EINTR, the mask restored), pwait2 timeouts;
 *   (e) blocking: ended by SIGALRM (EINTR, also under SA_RESTART), a 100
 *       ms timeout, a timerfd expiring;
 *   (f) nested epoll, poll on an epoll fd; closing a registered fd removes
 *       it unless a dup keeps the file open.
 * Events print as names, never descriptor numbers or times. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hostile/errname.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

static char buf[256];

static void head(const char *s)
{
	printf("== %s ==\n", s);
}

static void names(unsigned ev)
{
	static const struct {
		unsigned bit;
		const char *name;
	} bits[] = {
		{EPOLLIN, "EPOLLIN"},	  {EPOLLPRI, "EPOLLPRI"},     {EPOLLOUT, "EPOLLOUT"},
		{EPOLLERR, "EPOLLERR"},	  {EPOLLHUP, "EPOLLHUP"},     {EPOLLRDNORM, "EPOLLRDNORM"},
		{EPOLLRDBAND, "EPOLLRDBAND"}, {EPOLLWRNORM, "EPOLLWRNORM"}, {EPOLLWRBAND, "EPOLLWRBAND"},
		{EPOLLMSG, "EPOLLMSG"},	  {EPOLLRDHUP, "EPOLLRDHUP"},
	};
	unsigned left = ev;
	const char *sep = "";
	if (!ev)
		printf("none");
	for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
		if (ev & bits[i].bit) {
			printf("%s%s", sep, bits[i].name);
			sep = " ";
			left &= ~bits[i].bit;
		}
	if (left)
		printf("%s%#x", sep, left);
}

static int by_data(const void *a, const void *b)
{
	uint64_t x = ((const struct epoll_event *)a)->data.u64;
	uint64_t y = ((const struct epoll_event *)b)->data.u64;
	return x < y ? -1 : x > y;
}

/* epoll_wait's result and each event (names and data.u64), in the order
 * of their data: the order of several ready events is the kernel's
 * business. */
static int show(const char *what, int n, struct epoll_event *ev)
{
	if (n < 0) {
		printf("%s: -1 %s\n", what, errname(errno));
		return n;
	}
	qsort(ev, n, sizeof *ev, by_data);
	printf("%s: %d", what, n);
	for (int i = 0; i < n; i++) {
		printf(" [");
		names(ev[i].events);
		printf(" data %#llx]", (unsigned long long)ev[i].data.u64);
	}
	printf("\n");
	return n;
}

static int wait0(const char *what, int ep)
{
	struct epoll_event ev[8];
	memset(ev, 0, sizeof ev);
	return show(what, epoll_wait(ep, ev, 8, 0), ev);
}

static long ctl(int ep, int op, int fd, unsigned events, uint64_t data)
{
	struct epoll_event e;
	memset(&e, 0, sizeof e);
	e.events = events;
	e.data.u64 = data;
	return epoll_ctl(ep, op, fd, &e);
}

static int cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static volatile int alarms, usr1s;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void on_usr1(int sig)
{
	(void)sig;
	usr1s++;
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

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void drain(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (read(fd, buf, sizeof buf) > 0)
		;
	fcntl(fd, F_SETFL, fl);
}

/* (a) */
static void create(void)
{
	head("create");
	int a = epoll_create1(0);
	say("epoll_create1(0)", a < 0 ? -1 : 0);
	printf("cloexec: %d\n", cloexec(a));
	int b = epoll_create1(EPOLL_CLOEXEC);
	say("epoll_create1(EPOLL_CLOEXEC)", b < 0 ? -1 : 0);
	printf("cloexec: %d\n", cloexec(b));
	say("epoll_create1(bad flag)", epoll_create1(1));
	say("epoll_create1(O_NONBLOCK)", epoll_create1(O_NONBLOCK));
	/* syscall(): libcs differ on whether they check the size themselves */
	say("epoll_create(0)", syscall(SYS_epoll_create, 0));
	say("epoll_create(-1)", syscall(SYS_epoll_create, -1));
	long c = syscall(SYS_epoll_create, 1);
	say("epoll_create(1)", c < 0 ? -1 : 0);
	printf("cloexec: %d\n", cloexec(c));
	char link[64] = {0}, p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", a);
	readlink(p, link, sizeof link - 1);
	printf("link: %s\n", link);
	printf("rdwr: %d\n", (fcntl(a, F_GETFL) & O_ACCMODE) == O_RDWR);
	say("read from an epoll fd", read(a, buf, 8));
	say("write to an epoll fd", write(a, buf, 8));
	close(a);
	close(b);
	close(c);
}

/* (b) */
static void control(const char *self)
{
	head("epoll_ctl");
	int ep = epoll_create1(0), p[2], sv[2];
	pipe(p);
	int efd = eventfd(0, 0);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);

	say("ADD pipe read end", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0x1122334455667788ULL));
	say("ADD it again", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 1));
	say("MOD unregistered", ctl(ep, EPOLL_CTL_MOD, p[1], EPOLLOUT, 2));
	say("DEL unregistered", ctl(ep, EPOLL_CTL_DEL, p[1], 0, 0));
	say("ADD pipe write end", ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 2));
	say("ADD eventfd", ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLOUT, 3));
	say("ADD socket", ctl(ep, EPOLL_CTL_ADD, sv[0], EPOLLIN | EPOLLOUT | EPOLLRDHUP, 4));
	say("MOD pipe read end", ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, 5));
	say("DEL pipe write end", ctl(ep, EPOLL_CTL_DEL, p[1], 0, 0));
	say("DEL with a NULL event", epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL));
	say("ADD with a NULL event", epoll_ctl(ep, EPOLL_CTL_ADD, efd, NULL));
	say("ADD with a bad event pointer", epoll_ctl(ep, EPOLL_CTL_ADD, efd, (void *)8));
	say("ADD fd -1", ctl(ep, EPOLL_CTL_ADD, -1, EPOLLIN, 0));
	say("ADD fd 9999", ctl(ep, EPOLL_CTL_ADD, 9999, EPOLLIN, 0));
	say("epfd -1", ctl(-1, EPOLL_CTL_ADD, p[1], EPOLLIN, 0));
	say("epfd a pipe", ctl(p[1], EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
	say("ADD itself", ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0));
	say("bad op", ctl(ep, 99, p[1], EPOLLIN, 0));
	say("ADD EPOLLEXCLUSIVE", ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 6));
	say("MOD with EPOLLEXCLUSIVE", ctl(ep, EPOLL_CTL_MOD, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 6));
	say("MOD an exclusive one", ctl(ep, EPOLL_CTL_MOD, p[1], EPOLLOUT, 6));
	epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);
	say("ADD EPOLLEXCLUSIVE|EPOLLONESHOT",
	    ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 6));
	say("ADD unknown event bits", ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT | 0x1000000, 7));
	epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);

	/* a regular file (the program itself: argv[0] natively; the sandbox
	 * shows the program's own file at /proc/self/exe) */
	int reg = open(self, O_RDONLY);
	if (reg < 0)
		reg = open("/proc/self/exe", O_RDONLY);
	printf("regular file open: %d\n", reg >= 0);
	say("ADD a regular file", ctl(ep, EPOLL_CTL_ADD, reg, EPOLLIN, 0));
	close(reg);
	int null = open("/dev/null", O_RDWR);
	say("ADD /dev/null", ctl(ep, EPOLL_CTL_ADD, null, EPOLLIN, 0));
	close(null);

	/* a cycle of two */
	int e1 = epoll_create1(0), e2 = epoll_create1(0);
	say("ADD e2 to e1", ctl(e1, EPOLL_CTL_ADD, e2, EPOLLIN, 0));
	say("ADD e1 to e2 (a cycle)", ctl(e2, EPOLL_CTL_ADD, e1, EPOLLIN, 0));
	close(e1);
	close(e2);

	/* what each reports */
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &(struct epoll_event){EPOLLIN | EPOLLOUT, {.u64 = 3}});
	epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &(struct epoll_event){EPOLLIN, {.u64 = 5}});
	wait0("idle: eventfd and socket writable", ep);
	uint64_t one = 1;
	write(efd, &one, 8);
	write(p[1], "x", 1);
	write(sv[1], "y", 1);
	wait0("all readable", ep);
	read(efd, &one, 8);
	drain(p[0]);
	read(sv[0], buf, 1);
	shutdown(sv[1], SHUT_WR);
	wait0("socket peer SHUT_WR", ep);
	close(sv[1]);
	wait0("socket peer closed", ep);
	say("DEL socket", ctl(ep, EPOLL_CTL_DEL, sv[0], 0, 0));
	close(sv[0]);
	close(efd);
	close(p[0]);
	close(p[1]);
	close(ep);
}

/* (c) */
static void waits(void)
{
	struct epoll_event ev[4];
	int ep = epoll_create1(0), p[2];
	head("epoll_wait");
	wait0("empty set", ep);
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0x1122334455667788ULL);
	wait0("nothing ready", ep);
	write(p[1], "abc", 3);
	wait0("pipe readable", ep);
	wait0("still readable (level)", ep);
	say("maxevents 0", epoll_wait(ep, ev, 0, 0));
	say("maxevents -1", epoll_wait(ep, ev, -1, 0));
	say("maxevents huge", epoll_wait(ep, ev, 0x7fffffff, 0));
	say("bad events pointer, one ready", epoll_wait(ep, (void *)8, 1, 0));
	wait0("still ready after EFAULT", ep);
	say("kernel-half events pointer", epoll_wait(ep, (void *)0xffff800000000000ULL, 1, 0));
	say("epoll_wait on a pipe", epoll_wait(p[0], ev, 1, 0));
	say("epoll_wait on fd -1", epoll_wait(-1, ev, 1, 0));
	drain(p[0]);
	say("bad events pointer, none ready", epoll_wait(ep, (void *)8, 1, 0));

	/* the write end */
	ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 0x22);
	wait0("empty pipe writable", ep);
	ctl(ep, EPOLL_CTL_DEL, p[1], 0, 0);

	/* HUP: the write end closes */
	write(p[1], "z", 1);
	close(p[1]);
	wait0("writer closed, data left", ep);
	drain(p[0]);
	wait0("writer closed, drained", ep);
	close(p[0]);

	/* ERR: the read end closes */
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 0x33);
	close(p[0]);
	wait0("reader closed", ep);
	close(p[1]);

	/* edge-triggered */
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET, 0x44);
	wait0("ET, nothing yet", ep);
	write(p[1], "a", 1);
	wait0("ET, first write", ep);
	wait0("ET, no new data", ep);
	write(p[1], "b", 1);
	wait0("ET, second write", ep);
	wait0("ET, again nothing new", ep);
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, 0x45);
	wait0("ET, after MOD (data still there)", ep);
	drain(p[0]);
	ctl(ep, EPOLL_CTL_DEL, p[0], 0, 0);

	/* one-shot */
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLONESHOT, 0x55);
	write(p[1], "c", 1);
	wait0("ONESHOT, first", ep);
	wait0("ONESHOT, disarmed (data still there)", ep);
	write(p[1], "d", 1);
	wait0("ONESHOT, disarmed, more data", ep);
	say("ADD again while disarmed", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
	say("MOD re-arms", ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, 0x56));
	wait0("ONESHOT, re-armed", ep);
	wait0("ONESHOT, disarmed again", ep);
	drain(p[0]);
	ctl(ep, EPOLL_CTL_DEL, p[0], 0, 0);

	/* maxevents 1 with two ready: they take turns */
	int q[2];
	pipe(q);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0xa);
	ctl(ep, EPOLL_CTL_ADD, q[0], EPOLLIN, 0xb);
	write(p[1], "p", 1);
	write(q[1], "q", 1);
	for (int i = 0; i < 3; i++) {
		memset(ev, 0, sizeof ev);
		show("maxevents 1", epoll_wait(ep, ev, 1, 0), ev);
	}
	memset(ev, 0, sizeof ev);
	int n = epoll_wait(ep, ev, 4, 0);
	uint64_t sum = 0;
	for (int i = 0; i < n; i++)
		sum += ev[i].data.u64;
	printf("maxevents 4: %d, data sum %#llx\n", n, (unsigned long long)sum);
	close(q[0]);
	close(q[1]);
	drain(p[0]);
	close(p[0]);
	close(p[1]);
	close(ep);
}

/* (d) */
static void pwaits(void)
{
	struct epoll_event ev[2];
	int ep = epoll_create1(0), p[2];
	sigset_t usr1, none, old;
	head("epoll_pwait");
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0x77);
	sigemptyset(&none);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	handle(SIGUSR1, on_usr1, 0);

	say("epoll_pwait nothing ready", epoll_pwait(ep, ev, 2, 0, &none));
	write(p[1], "x", 1);
	memset(ev, 0, sizeof ev);
	show("epoll_pwait ready", epoll_pwait(ep, ev, 2, 0, &none), ev);
	drain(p[0]);

	/* SIGUSR1 blocked and pending: a mask without it lets it in */
	sigprocmask(SIG_BLOCK, &usr1, &old);
	raise(SIGUSR1);
	printf("handled before: %d\n", usr1s);
	say("epoll_pwait with SIGUSR1 blocked", epoll_pwait(ep, ev, 2, 0, &usr1));
	printf("handled: %d\n", usr1s);
	say("epoll_pwait letting SIGUSR1 in", epoll_pwait(ep, ev, 2, -1, &none));
	printf("handled: %d\n", usr1s);
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	printf("SIGUSR1 blocked again after: %d\n", sigismember(&cur, SIGUSR1));
	say("epoll_pwait bad sigsetsize", syscall(SYS_epoll_pwait, ep, ev, 2, 0, &none, 4));
	say("epoll_pwait NULL mask", syscall(SYS_epoll_pwait, ep, ev, 2, 0, NULL, 8));

	/* epoll_pwait2: a timespec */
	struct timespec zero = {0, 0}, ms50 = {0, 50000000}, bad = {0, 1000000000};
	say("epoll_pwait2 zero timeout", syscall(SYS_epoll_pwait2, ep, ev, 2, &zero, NULL, 8));
	long long t0 = now_ms();
	say("epoll_pwait2 50 ms", syscall(SYS_epoll_pwait2, ep, ev, 2, &ms50, &none, 8));
	printf("waited at least 50 ms: %d\n", now_ms() - t0 >= 50);
	say("epoll_pwait2 bad nsec", syscall(SYS_epoll_pwait2, ep, ev, 2, &bad, NULL, 8));
	say("epoll_pwait2 bad timespec pointer",
	    syscall(SYS_epoll_pwait2, ep, ev, 2, (void *)8, NULL, 8));
	write(p[1], "y", 1);
	memset(ev, 0, sizeof ev);
	show("epoll_pwait2 ready", syscall(SYS_epoll_pwait2, ep, ev, 2, &zero, &none, 8), ev);
	drain(p[0]);
	raise(SIGUSR1);
	say("epoll_pwait2 NULL timeout letting SIGUSR1 in",
	    syscall(SYS_epoll_pwait2, ep, ev, 2, NULL, &none, 8));
	printf("handled: %d\n", usr1s);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[0]);
	close(p[1]);
	close(ep);
}

/* (e) */
static void blocking(void)
{
	struct epoll_event ev[2];
	int ep = epoll_create1(0), p[2];
	head("blocking");
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0x88);

	handle(SIGALRM, on_alarm, 0);
	alarm_in(50000);
	say("epoll_wait(-1) ended by SIGALRM", epoll_wait(ep, ev, 2, -1));
	printf("alarms: %d\n", alarms);
	handle(SIGALRM, on_alarm, SA_RESTART);
	alarm_in(50000);
	say("epoll_wait(-1), SA_RESTART", epoll_wait(ep, ev, 2, -1));
	printf("alarms: %d\n", alarms);
	alarm_in(50000);
	say("epoll_wait(1000), SA_RESTART", epoll_wait(ep, ev, 2, 1000));
	printf("alarms: %d\n", alarms);

	long long t0 = now_ms();
	say("epoll_wait(100)", epoll_wait(ep, ev, 2, 100));
	printf("waited at least 100 ms: %d\n", now_ms() - t0 >= 100);

	/* woken by a timerfd expiring */
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = {{0, 0}, {0, 30000000}};
	ctl(ep, EPOLL_CTL_ADD, tfd, EPOLLIN, 0x99);
	timerfd_settime(tfd, 0, &its, NULL);
	memset(ev, 0, sizeof ev);
	show("epoll_wait(-1) woken by a timerfd", epoll_wait(ep, ev, 2, -1), ev);
	close(tfd);
	wait0("timerfd closed: gone", ep);
	close(p[0]);
	close(p[1]);
	close(ep);
}

/* (f) */
static void nesting(void)
{
	struct epoll_event ev[2];
	int outer = epoll_create1(0), inner = epoll_create1(0), p[2];
	head("nesting and closing");
	pipe(p);
	ctl(inner, EPOLL_CTL_ADD, p[0], EPOLLIN, 0x1);
	say("ADD inner to outer", ctl(outer, EPOLL_CTL_ADD, inner, EPOLLIN, 0x2));
	wait0("outer, nothing ready", outer);
	struct pollfd pf = {inner, POLLIN | POLLOUT, 0};
	int r = poll(&pf, 1, 0);
	printf("poll inner: %d revents ", r);
	names(pf.revents);
	printf("\n");
	write(p[1], "x", 1);
	wait0("outer, pipe ready", outer);
	pf.revents = 0;
	r = poll(&pf, 1, 0);
	printf("poll inner: %d revents ", r);
	names(pf.revents);
	printf("\n");
	wait0("inner", inner);
	ctl(outer, EPOLL_CTL_MOD, inner, EPOLLIN | EPOLLOUT, 0x3);
	wait0("outer, asking EPOLLOUT too", outer);
	drain(p[0]);
	wait0("outer, drained", outer);
	/* a blocking wait on the outer one, woken through the inner one */
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = {{0, 0}, {0, 30000000}};
	ctl(inner, EPOLL_CTL_ADD, tfd, EPOLLIN, 0x4);
	timerfd_settime(tfd, 0, &its, NULL);
	memset(ev, 0, sizeof ev);
	show("outer(-1) woken by a timerfd in inner", epoll_wait(outer, ev, 2, -1), ev);
	close(tfd);
	wait0("inner, timerfd closed", inner);

	/* closing a registered descriptor removes it... */
	write(p[1], "y", 1);
	wait0("inner, pipe ready", inner);
	close(p[0]);
	wait0("inner, read end closed", inner);
	wait0("outer, read end closed", outer);
	close(p[1]);

	/* ...unless another descriptor keeps the file open */
	pipe(p);
	int d = dup(p[0]);
	ctl(inner, EPOLL_CTL_ADD, p[0], EPOLLIN, 0x5);
	write(p[1], "z", 1);
	close(p[0]);
	wait0("inner, closed but dup'd", inner);
	say("MOD the closed number", ctl(inner, EPOLL_CTL_MOD, p[0], EPOLLIN, 0x6));
	say("DEL through the dup", ctl(inner, EPOLL_CTL_DEL, d, 0, 0));
	close(d);
	wait0("inner, dup closed", inner);
	close(p[1]);
	close(inner);
	wait0("outer, inner closed", outer);
	close(outer);
}

int main(int argc, char **argv)
{
	(void)argc;
	setvbuf(stdout, NULL, _IONBF, 0);
	create();
	control(argv[0]);
	waits();
	pwaits();
	blocking();
	nesting();
	printf("done\n");
	return 0;
}
