/* Signals sent to oneself, and the signal mask:
 *   raise/kill/tgkill/sigqueue deliver before the call returns, with
 *   SI_TKILL/SI_USER/SI_QUEUE, si_pid/si_uid and si_value;
 *   blocked signals pend (sigpending), standard ones coalesce, realtime ones
 *   queue in order with their values, and one unblock delivers them lowest
 *   number first (handlers with a full sa_mask run one after another);
 *   a blocked SIG_IGN signal still pends, and setting SIG_IGN discards it;
 *   nested handlers; SA_NODEFER recursion; a raise of the running handler's
 *   own signal without SA_NODEFER runs after it returns; SA_RESETHAND;
 *   the mask inside a handler (the signal plus sa_mask plus the old mask),
 *   restored on return even if the handler changed it, and a change to
 *   uc_sigmask is honoured; sigsuspend; sigtimedwait/sigwaitinfo (value,
 *   EAGAIN on timeout); signalfd; kill(pid, 0); EINVAL for signal 65;
 *   SIGCHLD/SIGURG/SIGWINCH with SIG_DFL are ignored.
 * argv[1] "stacked": several pending signals with handlers that do not
 *   block each other: Linux sets up every frame at once, so the highest
 *   number runs first.
 * argv[1] "resethand": a second SIGUSR2 after SA_RESETHAND kills (140).
 * argv[1] "abort": abort() with a SIGABRT handler that returns still dies
 *   of SIGABRT (134).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/* async-signal-safe output */
static void wr(const char *s) { write(1, s, strlen(s)); }
static void wrint(long v)
{
	char buf[24];
	int i = sizeof buf;
	int neg = v < 0;
	unsigned long u = neg ? -(unsigned long)v : (unsigned long)v;
	do {
		buf[--i] = '0' + u % 10;
		u /= 10;
	} while (u);
	if (neg)
		buf[--i] = '-';
	write(1, buf + i, sizeof buf - i);
}

/* Names that do not depend on the libc's SIGRTMIN. */
static const char *name(int sig)
{
	static char buf[8][16];
	static int n;
	char *b = buf[n++ & 7];
	switch (sig) {
	case SIGHUP: return "HUP";
	case SIGINT: return "INT";
	case SIGUSR1: return "USR1";
	case SIGUSR2: return "USR2";
	case SIGTERM: return "TERM";
	case SIGALRM: return "ALRM";
	}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		strcpy(b, "RTMIN+");
		b[6] = '0' + (sig - SIGRTMIN);
		b[7] = 0;
		return b;
	}
	strcpy(b, "sig");
	b[3] = '0' + sig / 10;
	b[4] = '0' + sig % 10;
	b[5] = 0;
	return b;
}

static volatile int nrec;
static volatile int rec_sig[32], rec_code[32], rec_val[32], rec_pid_ok[32];

static void recorder(int sig, siginfo_t *si, void *uc)
{
	int i = nrec++;
	if (i < 32) {
		rec_sig[i] = sig;
		rec_code[i] = si->si_code;
		rec_val[i] = si->si_value.sival_int;
		rec_pid_ok[i] = si->si_pid == getpid() && si->si_uid == getuid();
	}
}

static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *),
			int flags, const sigset_t *mask)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	if (mask)
		sa.sa_mask = *mask;
	else
		sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL))
		printf("sigaction(%d) failed: %s\n", sig, strerror(errno));
}

static const char *code_name(int c)
{
	switch (c) {
	case SI_USER: return "SI_USER";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_TKILL: return "SI_TKILL";
	case SI_KERNEL: return "SI_KERNEL";
	case SI_TIMER: return "SI_TIMER";
	}
	return "other";
}

static void print_rec(const char *what)
{
	printf("%s:", what);
	for (int i = 0; i < nrec && i < 32; i++)
		printf(" %s", name(rec_sig[i]));
	printf(" (%d)\n", nrec);
}

static void queue(int sig, int val)
{
	union sigval v;
	v.sival_int = val;
	if (sigqueue(getpid(), sig, v))
		printf("sigqueue(%s) failed: %s\n", name(sig), strerror(errno));
}

static void block_only(int *sigs)
{
	sigset_t set;
	sigemptyset(&set);
	for (; *sigs; sigs++)
		sigaddset(&set, *sigs);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

static void print_pending(void)
{
	sigset_t p;
	sigpending(&p);
	printf("pending:");
	for (int s = 1; s < 65; s++)
		if (sigismember(&p, s) == 1)
			printf(" %s", name(s));
	printf("\n");
}

static void print_mask(const char *what, const sigset_t *m)
{
	printf("%s:", what);
	for (int s = 1; s < 65; s++)
		if (sigismember(m, s) == 1)
			printf(" %s", name(s));
	printf("\n");
}

/* ---- nesting ---- */
static volatile int depth, max_depth, runs;
static char trace[256];
static volatile int tlen;
static void tr(const char *s)
{
	while (*s && tlen < 255)
		trace[tlen++] = *s++;
}

static void nest_usr2(int sig, siginfo_t *si, void *uc)
{
	depth++;
	char d[4] = {'(', '0' + depth, ')', 0};
	tr(" usr2-in");
	tr(d);
	depth--;
	tr(" usr2-out");
}

static void nest_usr1(int sig, siginfo_t *si, void *uc)
{
	depth++;
	tr(" usr1-in");
	raise(SIGUSR2);
	tr(" usr1-after-raise");
	depth--;
	tr(" usr1-out");
}

static void recurse(int sig, siginfo_t *si, void *uc)
{
	depth++;
	runs++;
	if (depth > max_depth)
		max_depth = depth;
	if (runs == 1)
		raise(sig);
	depth--;
}

/* ---- mask inside the handler ---- */
static sigset_t inside;
static void mask_probe(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	sigset_t term;
	sigprocmask(SIG_SETMASK, NULL, &inside);
	/* changed here, undone by sigreturn */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	/* changed in the frame, installed by sigreturn */
	sigaddset(&uc->uc_sigmask, SIGINT);
}

static volatile int handled;
static void plain(int sig) { handled++; }

static void abort_handler(int sig)
{
	wr("SIGABRT handler ran, returning\n");
}

static void stacked(void)
{
	/* empty sa_mask: each frame's mask leaves the others deliverable */
	int sigs[] = {SIGUSR1, SIGUSR2, SIGRTMIN, SIGRTMIN + 1, 0};
	for (int i = 0; sigs[i]; i++)
		set_handler(sigs[i], recorder, 0, NULL);
	block_only(sigs);
	queue(SIGRTMIN + 1, 1);
	raise(SIGUSR2);
	queue(SIGRTMIN, 3);
	raise(SIGUSR1);
	queue(SIGRTMIN + 1, 2);
	print_pending();
	nrec = 0;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	print_rec("stacked delivery order");
	printf("values:");
	for (int i = 0; i < nrec; i++)
		printf(" %d", rec_sig[i] >= SIGRTMIN ? rec_val[i] : -1);
	printf("\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *mode = argc > 1 ? argv[1] : "";
	sigset_t full, none, cur;
	sigfillset(&full);
	sigemptyset(&none);

	if (strcmp(mode, "stacked") == 0) {
		stacked();
		return 0;
	}

	/* 1. the ways to send a signal to oneself */
	set_handler(SIGUSR1, recorder, 0, NULL);
	set_handler(SIGUSR2, recorder, 0, NULL);
	set_handler(SIGRTMIN, recorder, 0, NULL);
	set_handler(SIGRTMIN + 1, recorder, 0, NULL);
	nrec = 0;
	int r = raise(SIGUSR1);
	printf("raise: %d, delivered before return: %d, %s, code %s, pid/uid ok %d\n",
	       r, nrec, name(rec_sig[0]), code_name(rec_code[0]), rec_pid_ok[0]);
	nrec = 0;
	r = kill(getpid(), SIGUSR2);
	printf("kill: %d, delivered before return: %d, %s, code %s, pid/uid ok %d\n",
	       r, nrec, name(rec_sig[0]), code_name(rec_code[0]), rec_pid_ok[0]);
	nrec = 0;
	r = syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1);
	printf("tgkill: %d, delivered before return: %d, %s, code %s, pid/uid ok %d\n",
	       r, nrec, name(rec_sig[0]), code_name(rec_code[0]), rec_pid_ok[0]);
	nrec = 0;
	r = syscall(SYS_tkill, gettid(), SIGUSR2);
	printf("tkill: %d, delivered before return: %d, %s, code %s\n",
	       r, nrec, name(rec_sig[0]), code_name(rec_code[0]));
	nrec = 0;
	queue(SIGRTMIN, 7);
	printf("sigqueue: delivered before return: %d, %s, code %s, value %d, pid/uid ok %d\n",
	       nrec, name(rec_sig[0]), code_name(rec_code[0]), rec_val[0],
	       rec_pid_ok[0]);

	/* 2. pending, coalescing, queueing, order on one unblock */
	set_handler(SIGUSR1, recorder, 0, &full);
	set_handler(SIGUSR2, recorder, 0, &full);
	set_handler(SIGRTMIN, recorder, 0, &full);
	set_handler(SIGRTMIN + 1, recorder, 0, &full);
	int blk[] = {SIGUSR1, SIGUSR2, SIGRTMIN, SIGRTMIN + 1, 0};
	block_only(blk);
	nrec = 0;
	queue(SIGRTMIN + 1, 1);
	raise(SIGUSR2);
	queue(SIGRTMIN, 3);
	raise(SIGUSR1);
	queue(SIGRTMIN + 1, 2);
	raise(SIGUSR1);
	raise(SIGUSR2);
	printf("while blocked, delivered: %d\n", nrec);
	print_pending();
	sigprocmask(SIG_SETMASK, &none, NULL);
	print_rec("delivery order");
	printf("values:");
	for (int i = 0; i < nrec; i++)
		printf(" %d", rec_sig[i] >= SIGRTMIN ? rec_val[i] : -1);
	printf("\n");
	print_pending();
	/* The thread's queue (raise, tgkill) and the process's queue (kill,
	 * sigqueue) are separate: the same standard signal pends once in each,
	 * and the thread's queue is drained first. */
	block_only(blk);
	nrec = 0;
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR1);
	kill(getpid(), SIGUSR2);
	raise(SIGUSR2);
	raise(SIGUSR1);
	print_pending();
	sigprocmask(SIG_SETMASK, &none, NULL);
	print_rec("thread queue, then process queue");
	printf("codes:");
	for (int i = 0; i < nrec; i++)
		printf(" %s", code_name(rec_code[i]));
	printf("\n");

	/* 3. blocked + ignored still pends; SIG_IGN discards a pending one */
	int hup[] = {SIGHUP, 0};
	block_only(hup);
	signal(SIGHUP, SIG_IGN);
	raise(SIGHUP);
	printf("blocked ignored SIGHUP ");
	print_pending();
	sigprocmask(SIG_SETMASK, &none, NULL);
	printf("unblocked (ignored), still alive; ");
	print_pending();
	block_only(blk);
	raise(SIGUSR1);
	printf("before SIG_IGN ");
	print_pending();
	signal(SIGUSR1, SIG_IGN);
	printf("after SIG_IGN ");
	print_pending();
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* 4. nested handlers */
	set_handler(SIGUSR1, nest_usr1, 0, NULL);
	set_handler(SIGUSR2, nest_usr2, 0, NULL);
	tlen = 0;
	raise(SIGUSR1);
	trace[tlen] = 0;
	printf("nesting:%s\n", trace);
	/* with SIGUSR2 in SIGUSR1's sa_mask it waits until SIGUSR1 returns */
	sigset_t m2;
	sigemptyset(&m2);
	sigaddset(&m2, SIGUSR2);
	set_handler(SIGUSR1, nest_usr1, 0, &m2);
	tlen = 0;
	raise(SIGUSR1);
	trace[tlen] = 0;
	printf("deferred by sa_mask:%s\n", trace);

	/* 5. SA_NODEFER, and its absence */
	set_handler(SIGUSR1, recurse, SA_NODEFER, NULL);
	depth = max_depth = runs = 0;
	raise(SIGUSR1);
	printf("SA_NODEFER: runs %d, max depth %d\n", runs, max_depth);
	set_handler(SIGUSR1, recurse, 0, NULL);
	depth = max_depth = runs = 0;
	raise(SIGUSR1);
	printf("no SA_NODEFER: runs %d, max depth %d\n", runs, max_depth);

	/* 6. the mask while a handler runs, and after */
	sigset_t hmask, before, after;
	sigemptyset(&hmask);
	sigaddset(&hmask, SIGUSR2);
	set_handler(SIGUSR1, mask_probe, 0, &hmask);
	sigemptyset(&before);
	sigaddset(&before, SIGHUP);
	sigprocmask(SIG_SETMASK, &before, NULL);
	raise(SIGUSR1);
	sigprocmask(SIG_SETMASK, NULL, &after);
	print_mask("mask inside handler", &inside);
	print_mask("mask after return", &after);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* 7. SA_RESETHAND */
	handled = 0;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = plain;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGUSR2, &sa, NULL);
	raise(SIGUSR2);
	sigaction(SIGUSR2, NULL, &old);
	printf("SA_RESETHAND: handled %d, now SIG_DFL %d\n", handled,
	       old.sa_handler == SIG_DFL);
	if (strcmp(mode, "resethand") == 0) {
		printf("raising SIGUSR2 again\n");
		raise(SIGUSR2);
		printf("survived\n");
		return 1;
	}

	/* 8. sigsuspend lets a pending blocked signal in */
	set_handler(SIGUSR1, recorder, 0, NULL);
	int u1[] = {SIGUSR1, 0};
	block_only(u1);
	raise(SIGUSR1);
	nrec = 0;
	errno = 0;
	r = sigsuspend(&none);
	int e = errno;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	printf("sigsuspend: %d %s, handled %d, USR1 blocked again %d\n", r,
	       e == EINTR ? "EINTR" : strerror(e), nrec,
	       sigismember(&cur, SIGUSR1));

	/* 9. sigtimedwait / sigwaitinfo */
	int u2[] = {SIGUSR1, SIGUSR2, 0};
	block_only(u2);
	sigset_t w;
	sigemptyset(&w);
	sigaddset(&w, SIGUSR2);
	queue(SIGUSR2, 99);
	siginfo_t info;
	memset(&info, 0, sizeof info);
	struct timespec ts = {1, 0};
	r = sigtimedwait(&w, &info, &ts);
	printf("sigtimedwait: %s, si_signo %s, code %s, value %d\n", name(r),
	       name(info.si_signo), code_name(info.si_code), info.si_value.sival_int);
	ts.tv_sec = 0;
	ts.tv_nsec = 10 * 1000 * 1000;
	errno = 0;
	r = sigtimedwait(&w, &info, &ts);
	printf("sigtimedwait 10 ms, nothing pending: %d %s\n", r,
	       errno == EAGAIN ? "EAGAIN" : strerror(errno));
	ts.tv_nsec = 0;
	errno = 0;
	r = sigtimedwait(&w, &info, &ts);
	printf("sigtimedwait 0, nothing pending: %d %s\n", r,
	       errno == EAGAIN ? "EAGAIN" : strerror(errno));
	raise(SIGUSR2);
	memset(&info, 0, sizeof info);
	r = sigwaitinfo(&w, &info);
	printf("sigwaitinfo: %s, code %s\n", name(r), code_name(info.si_code));
	print_pending();

	/* 10. signalfd */
	sigemptyset(&w);
	sigaddset(&w, SIGUSR1);
	int fd = signalfd(-1, &w, SFD_NONBLOCK | SFD_CLOEXEC);
	printf("signalfd: %s\n", fd >= 0 ? "ok" : strerror(errno));
	struct signalfd_siginfo ssi;
	errno = 0;
	ssize_t n = read(fd, &ssi, sizeof ssi);
	printf("signalfd read, nothing pending: %zd %s\n", n,
	       errno == EAGAIN ? "EAGAIN" : strerror(errno));
	queue(SIGUSR1, 5);
	memset(&ssi, 0, sizeof ssi);
	n = read(fd, &ssi, sizeof ssi);
	printf("signalfd read: %zd, ssi_signo %s, code %s, ssi_int %d, pid ok %d\n",
	       n, name(ssi.ssi_signo), code_name(ssi.ssi_code), ssi.ssi_int,
	       ssi.ssi_pid == (unsigned)getpid());
	print_pending();
	close(fd);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* 11. odds and ends */
	printf("kill(self, 0): %d\n", kill(getpid(), 0));
	errno = 0;
	r = kill(getpid(), 65);
	printf("kill(self, 65): %d %s\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
	errno = 0;
	r = sigaction(65, &sa, NULL);
	printf("sigaction(65): %d %s\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
	errno = 0;
	r = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &none, NULL, 4);
	printf("rt_sigprocmask sigsetsize 4: %d %s\n", r,
	       errno == EINVAL ? "EINVAL" : strerror(errno));
	signal(SIGCHLD, SIG_DFL);
	signal(SIGURG, SIG_DFL);
	signal(SIGWINCH, SIG_DFL);
	raise(SIGCHLD);
	raise(SIGURG);
	raise(SIGWINCH);
	printf("SIGCHLD, SIGURG, SIGWINCH ignored by default: still here\n");

	if (strcmp(mode, "abort") == 0) {
		signal(SIGABRT, abort_handler);
		abort();
	}
	printf("done\n");
	return 0;
}
