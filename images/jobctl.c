/* Job-control stops as seen by the parent (Linux semantics): SIGSTOP stops
 * a child blocked in read(), waitpid(WUNTRACED) reports it once;
 * SIGCONT and waitpid(WCONTINUED), also reported once; a SIGCHLD handler
 * (SA_SIGINFO) gets CLD_STOPPED/SIGSTOP, CLD_CONTINUED/SIGCONT and then
 * CLD_EXITED; under SA_NOCLDSTOP no SIGCHLD for a stop or a continue, but
 * one for the exit; raise(SIGTSTP) in a child (in its own process group,
 * which is not orphaned, so the default stop is not discarded) stops it
 * with WSTOPSIG SIGTSTP and it exits 7 after SIGCONT; SIGKILL ends a
 * stopped child; waitid WSTOPPED (with WNOWAIT, then for real, then
 * WNOHANG finding nothing) and WCONTINUED; a signal with a handler sent
 * to a stopped child waits until SIGCONT (nothing within 100 ms, then the
 * handler's byte); SIGCONT to a running child is not reported; an ignored
 * SIGTSTP does not stop. Children are sequenced with pipes: each writes
 * 'r' when ready, then echoes every byte it reads and exits on EOF. Only
 * yes/no answers, exit codes and signal numbers are printed: never pids.
 * stdout is flushed before every fork. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *yesno(int b) { return b ? "yes" : "no"; }

/* fork with nothing left in stdout's buffer. */
static pid_t xfork(void)
{
	fflush(stdout);
	pid_t p = fork();
	if (p < 0) {
		perror("fork");
		exit(2);
	}
	return p;
}

static void xpipe(int fds[2])
{
	if (pipe(fds) != 0) {
		perror("pipe");
		exit(2);
	}
}

/* waitpid(pid, options) through EINTR; the pid it returned (0 for
 * WNOHANG with nothing to report, -1 on error). */
static pid_t xwaitpid(pid_t pid, int *st, int options)
{
	pid_t r;
	*st = 0;
	while ((r = waitpid(pid, st, options)) < 0 && errno == EINTR)
		;
	return r;
}

/* waitpid(pid, 0): the status, or -1 if the wait failed. */
static int reap(pid_t pid)
{
	int st;
	return xwaitpid(pid, &st, 0) == pid ? st : -1;
}

static int read_byte(int fd)
{
	unsigned char c;
	ssize_t n;
	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	return n == 1 ? c : -1;
}

static void write_byte(int fd, int c)
{
	unsigned char b = (unsigned char)c;
	while (write(fd, &b, 1) < 0 && errno == EINTR)
		;
}

/* Whether fd becomes readable within ms milliseconds. */
static int readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return r > 0;
}

/* A byte from fd, -2 if none comes within ms milliseconds (so a child that
 * stops when it should not makes a "no", not a hang). */
static int read_byte_within(int fd, int ms)
{
	return readable_within(fd, ms) ? read_byte(fd) : -2;
}

/* -- the child: ready byte, then an echo loop until EOF */

enum { PLAIN, USR1_HANDLER, TSTP_IGNORED };

struct kid {
	pid_t pid;
	int hold; /* parent's write end: bytes to echo; closing it ends the child */
	int out;  /* parent's read end: 'r', the echoes, the SIGUSR1 handler's 'u' */
	int ready;
};

static int kid_out = -1;

static void kid_on_usr1(int sig)
{
	(void)sig;
	int e = errno;
	write_byte(kid_out, 'u');
	errno = e;
}

static struct kid spawn_kid(int mode, int code)
{
	int in[2], out[2];
	xpipe(in);
	xpipe(out);
	pid_t c = xfork();
	if (c == 0) {
		close(in[1]);
		close(out[0]);
		if (mode == USR1_HANDLER) {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = kid_on_usr1;
			sigemptyset(&sa.sa_mask);
			kid_out = out[1];
			sigaction(SIGUSR1, &sa, NULL);
		}
		if (mode == TSTP_IGNORED)
			signal(SIGTSTP, SIG_IGN);
		write_byte(out[1], 'r');
		int b;
		while ((b = read_byte(in[0])) >= 0)
			write_byte(out[1], b);
		_exit(code);
	}
	close(in[0]);
	close(out[1]);
	struct kid k = { c, in[1], out[0], 0 };
	k.ready = read_byte_within(k.out, 2000) == 'r';
	return k;
}

/* Whether the child echoes a byte. */
static int ping(struct kid *k)
{
	write_byte(k->hold, 'p');
	return read_byte_within(k->out, 2000) == 'p';
}

/* EOF to the child, reap it; its status. */
static int finish(struct kid *k)
{
	close(k->hold);
	int st = reap(k->pid);
	close(k->out);
	return st;
}

static int exit_code(int st) { return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1; }

/* -- 1, 2. SIGSTOP and waitpid(WUNTRACED); SIGCONT and WCONTINUED */

static void test_stop_cont(void)
{
	struct kid k = spawn_kid(PLAIN, 1);
	int st;
	int kr = kill(k.pid, SIGSTOP);
	pid_t r = xwaitpid(k.pid, &st, WUNTRACED);
	printf("1 stop: child ready: %s; kill(SIGSTOP) %d\n", yesno(k.ready), kr);
	printf("1 stop: waitpid(WUNTRACED) returned the child: %s, stopped: %s, exited: %s, signaled: %s, stop signal %d (SIGSTOP %d)\n",
	       yesno(r == k.pid), yesno(WIFSTOPPED(st)), yesno(WIFEXITED(st)), yesno(WIFSIGNALED(st)),
	       WIFSTOPPED(st) ? WSTOPSIG(st) : 0, SIGSTOP);
	r = xwaitpid(k.pid, &st, WUNTRACED | WNOHANG);
	printf("1 stop: again with WUNTRACED|WNOHANG: %d\n", (int)r);
	r = xwaitpid(k.pid, &st, WNOHANG);
	printf("1 stop: WNOHANG alone: %d\n", (int)r);

	kr = kill(k.pid, SIGCONT);
	r = xwaitpid(k.pid, &st, WCONTINUED);
	printf("2 cont: kill(SIGCONT) %d; waitpid(WCONTINUED) returned the child: %s, continued: %s, stopped: %s\n",
	       kr, yesno(r == k.pid), yesno(WIFCONTINUED(st)), yesno(WIFSTOPPED(st)));
	r = xwaitpid(k.pid, &st, WCONTINUED | WNOHANG);
	printf("2 cont: again with WCONTINUED|WNOHANG: %d\n", (int)r);
	printf("2 cont: the child answers again: %s\n", yesno(ping(&k)));
	st = finish(&k);
	printf("2 cont: after EOF the child exits %d\n", exit_code(st));
}

/* -- 3, 4. SIGCHLD for stops and continues */

#define MAX_CHLD 8
static volatile sig_atomic_t chld_count;
static volatile int chld_code[MAX_CHLD], chld_status[MAX_CHLD];
static volatile pid_t chld_pid[MAX_CHLD];

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	int i = chld_count;
	if (i < MAX_CHLD) {
		chld_code[i] = si->si_code;
		chld_status[i] = si->si_status;
		chld_pid[i] = si->si_pid;
	}
	chld_count = i + 1;
}

static void install_chld(int flags, struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, old);
	chld_count = 0;
}

/* With SIGCHLD blocked outside sigsuspend: wait for the n-th handler run. */
static void await_chld(int n, const sigset_t *orig)
{
	while (chld_count < n)
		sigsuspend(orig);
}

static const char *code_name(int code)
{
	switch (code) {
	case CLD_EXITED: return "CLD_EXITED";
	case CLD_KILLED: return "CLD_KILLED";
	case CLD_DUMPED: return "CLD_DUMPED";
	case CLD_TRAPPED: return "CLD_TRAPPED";
	case CLD_STOPPED: return "CLD_STOPPED";
	case CLD_CONTINUED: return "CLD_CONTINUED";
	default: return "other";
	}
}

static void test_sigchld(void)
{
	struct sigaction old;
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &orig);
	install_chld(0, &old);

	struct kid k = spawn_kid(PLAIN, 3);
	int st;
	kill(k.pid, SIGSTOP);
	await_chld(1, &orig);
	pid_t r = xwaitpid(k.pid, &st, WUNTRACED);
	printf("3 sigchld: child ready: %s; on the stop: %s, si_status %d (SIGSTOP %d), si_pid == child: %s; waitpid sees the stop: %s\n",
	       yesno(k.ready), code_name(chld_code[0]), chld_status[0], SIGSTOP, yesno(chld_pid[0] == k.pid),
	       yesno(r == k.pid && WIFSTOPPED(st)));
	kill(k.pid, SIGCONT);
	await_chld(2, &orig);
	r = xwaitpid(k.pid, &st, WCONTINUED);
	printf("3 sigchld: on the continue: %s, si_status %d (SIGCONT %d), si_pid == child: %s; waitpid sees it: %s\n",
	       code_name(chld_code[1]), chld_status[1], SIGCONT, yesno(chld_pid[1] == k.pid),
	       yesno(r == k.pid && WIFCONTINUED(st)));
	close(k.hold);
	await_chld(3, &orig);
	st = reap(k.pid);
	close(k.out);
	printf("3 sigchld: on the exit: %s, si_status %d; reaped exit %d; handler runs %d\n",
	       code_name(chld_code[2]), chld_status[2], exit_code(st), (int)chld_count);

	/* SA_NOCLDSTOP: nothing for a stop or a continue, but the exit still
	 * signals. Unblocking SIGCHLD delivers anything pending before
	 * sigprocmask returns. */
	install_chld(SA_NOCLDSTOP, NULL);
	k = spawn_kid(PLAIN, 4);
	kill(k.pid, SIGSTOP);
	r = xwaitpid(k.pid, &st, WUNTRACED);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	int after_stop = chld_count;
	sigprocmask(SIG_BLOCK, &block, NULL);
	printf("4 nocldstop: child ready: %s; waitpid(WUNTRACED) sees the stop: %s, stop signal %d; SIGCHLD handler runs: %d\n",
	       yesno(k.ready), yesno(r == k.pid && WIFSTOPPED(st)), WIFSTOPPED(st) ? WSTOPSIG(st) : 0, after_stop);
	kill(k.pid, SIGCONT);
	r = xwaitpid(k.pid, &st, WCONTINUED);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	int after_cont = chld_count;
	sigprocmask(SIG_BLOCK, &block, NULL);
	printf("4 nocldstop: waitpid(WCONTINUED) sees the continue: %s; SIGCHLD handler runs: %d\n",
	       yesno(r == k.pid && WIFCONTINUED(st)), after_cont);
	close(k.hold);
	await_chld(1, &orig);
	st = reap(k.pid);
	close(k.out);
	printf("4 nocldstop: the exit signals: %s, si_status %d, si_pid == child: %s; reaped exit %d\n",
	       code_name(chld_code[0]), chld_status[0], yesno(chld_pid[0] == k.pid), exit_code(st));

	/* SIG_DFL discards the exit's SIGCHLD still pending, if any. */
	sigaction(SIGCHLD, &old, NULL);
	sigprocmask(SIG_SETMASK, &orig, NULL);
}

/* -- 5. raise(SIGTSTP) */

static void test_tstp(void)
{
	pid_t c = xfork();
	if (c == 0) {
		/* A group of its own whose parent is in another group of the
		 * same session: not orphaned, wherever this program runs. */
		setpgid(0, 0);
		signal(SIGTSTP, SIG_DFL);
		raise(SIGTSTP);
		_exit(7);
	}
	int st;
	pid_t r = xwaitpid(c, &st, WUNTRACED);
	printf("5 tstp: raise(SIGTSTP) in the child: waitpid(WUNTRACED) returned it: %s, stopped: %s, stop signal %d (SIGTSTP %d)\n",
	       yesno(r == c), yesno(WIFSTOPPED(st)), WIFSTOPPED(st) ? WSTOPSIG(st) : 0, SIGTSTP);
	int kr = kill(c, SIGCONT);
	st = reap(c);
	printf("5 tstp: kill(SIGCONT) %d: the child went on and exited %d\n", kr, exit_code(st));
}

/* -- 6. SIGKILL to a stopped child */

static void test_kill_stopped(void)
{
	struct kid k = spawn_kid(PLAIN, 6);
	int st;
	kill(k.pid, SIGSTOP);
	pid_t r = xwaitpid(k.pid, &st, WUNTRACED);
	printf("6 kill: child ready: %s; stopped: %s\n", yesno(k.ready), yesno(r == k.pid && WIFSTOPPED(st)));
	int kr = kill(k.pid, SIGKILL);
	st = finish(&k);
	printf("6 kill: kill(SIGKILL) %d on the stopped child: signaled %s, signal %d (SIGKILL %d), exited %s\n",
	       kr, yesno(st >= 0 && WIFSIGNALED(st)), st >= 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0, SIGKILL,
	       yesno(st >= 0 && WIFEXITED(st)));
}

/* -- 7. waitid WSTOPPED and WCONTINUED */

static int xwaitid(pid_t pid, siginfo_t *si, int options)
{
	int r;
	memset(si, 0, sizeof *si);
	while ((r = waitid(P_PID, (id_t)pid, si, options)) < 0 && errno == EINTR)
		;
	return r;
}

static void test_waitid(void)
{
	struct kid k = spawn_kid(PLAIN, 8);
	siginfo_t si;
	kill(k.pid, SIGSTOP);
	int w = xwaitid(k.pid, &si, WSTOPPED | WNOWAIT);
	printf("7 waitid: child ready: %s; WSTOPPED|WNOWAIT %d: %s, si_status %d (SIGSTOP %d), si_pid == child: %s\n",
	       yesno(k.ready), w, code_name(si.si_code), si.si_status, SIGSTOP, yesno(si.si_pid == k.pid));
	w = xwaitid(k.pid, &si, WSTOPPED);
	printf("7 waitid: WSTOPPED %d: %s, si_status %d, si_signo SIGCHLD: %s\n",
	       w, code_name(si.si_code), si.si_status, yesno(si.si_signo == SIGCHLD));
	w = xwaitid(k.pid, &si, WSTOPPED | WNOHANG);
	printf("7 waitid: WSTOPPED|WNOHANG once reported: %d, si_pid 0: %s\n", w, yesno(si.si_pid == 0));
	kill(k.pid, SIGCONT);
	w = xwaitid(k.pid, &si, WCONTINUED);
	printf("7 waitid: WCONTINUED %d: %s, si_status %d (SIGCONT %d), si_pid == child: %s\n",
	       w, code_name(si.si_code), si.si_status, SIGCONT, yesno(si.si_pid == k.pid));
	w = xwaitid(k.pid, &si, WCONTINUED | WNOHANG);
	printf("7 waitid: WCONTINUED|WNOHANG once reported: %d, si_pid 0: %s\n", w, yesno(si.si_pid == 0));
	int st = finish(&k);
	printf("7 waitid: after EOF the child exits %d\n", exit_code(st));
}

/* -- 8. a handled signal waits while the child is stopped */

static void test_pending_while_stopped(void)
{
	struct kid k = spawn_kid(USR1_HANDLER, 9);
	int st;
	kill(k.pid, SIGSTOP);
	pid_t r = xwaitpid(k.pid, &st, WUNTRACED);
	printf("8 pending: child ready: %s; stopped: %s\n", yesno(k.ready), yesno(r == k.pid && WIFSTOPPED(st)));
	int kr = kill(k.pid, SIGUSR1);
	int early = readable_within(k.out, 100);
	printf("8 pending: kill(SIGUSR1) %d to the stopped child: handler ran within 100 ms: %s\n", kr, yesno(early));
	kill(k.pid, SIGCONT);
	int b = read_byte_within(k.out, 2000);
	printf("8 pending: after SIGCONT the handler ran: %s\n", yesno(b == 'u'));
	printf("8 pending: the child answers: %s\n", yesno(ping(&k)));
	st = finish(&k);
	printf("8 pending: after EOF the child exits %d\n", exit_code(st));
}

/* -- 9. SIGCONT to a running child */

static void test_cont_running(void)
{
	struct kid k = spawn_kid(PLAIN, 10);
	int st;
	int kr = kill(k.pid, SIGCONT);
	int answers = ping(&k);
	pid_t r = xwaitpid(k.pid, &st, WCONTINUED | WNOHANG);
	pid_t r2 = xwaitpid(k.pid, &st, WUNTRACED | WCONTINUED | WNOHANG);
	printf("9 cont-running: child ready: %s; kill(SIGCONT) %d; the child answers: %s\n", yesno(k.ready), kr, yesno(answers));
	printf("9 cont-running: waitpid(WCONTINUED|WNOHANG): %d; with WUNTRACED too: %d\n", (int)r, (int)r2);
	st = finish(&k);
	printf("9 cont-running: after EOF the child exits %d\n", exit_code(st));
}

/* -- 10. SIGTSTP ignored */

static void test_tstp_ignored(void)
{
	struct kid k = spawn_kid(TSTP_IGNORED, 11);
	int st;
	int kr = kill(k.pid, SIGTSTP);
	int spoke = readable_within(k.out, 100);
	pid_t r = xwaitpid(k.pid, &st, WUNTRACED | WNOHANG);
	printf("10 tstp-ignored: child ready: %s; kill(SIGTSTP) %d; waitpid(WUNTRACED|WNOHANG) after 100 ms: %d; unprompted output: %s\n",
	       yesno(k.ready), kr, (int)r, yesno(spoke));
	printf("10 tstp-ignored: the child answers: %s\n", yesno(ping(&k)));
	st = finish(&k);
	printf("10 tstp-ignored: after EOF the child exits %d\n", exit_code(st));
}

int main(void)
{
	/* Whatever was inherited: children become zombies for waitpid, the
	 * job-control signals have their defaults, nothing is blocked. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTSTP, SIG_DFL);
	signal(SIGCONT, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	test_stop_cont();
	test_sigchld();
	test_tstp();
	test_kill_stopped();
	test_waitid();
	test_pending_while_stopped();
	test_cont_running();
	test_tstp_ignored();
	printf("jobctl: done\n");
	return 0;
}
