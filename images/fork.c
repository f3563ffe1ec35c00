/* Processes: fork's two returns and getppid; waitpid by pid with exit
 * codes; copy-on-write both ways (a global, a 1 MiB heap buffer, a stack
 * array); a pipe between parent and child (100000 bytes, then EOF), EPIPE
 * and death by SIGPIPE; waitpid WNOHANG and ECHILD; deaths by SIGKILL and
 * SIGTERM; a SIGCHLD handler (siginfo, SA_RESTART around waitpid); process
 * groups (setpgid, getpgid, kill of a group, ESRCH for an empty one);
 * sessions (getsid, setsid); an open file description shared across fork
 * (the offset); vfork (_exit, a store seen by the parent, execve of
 * /proc/self/exe); execve failing in a child; posix_spawn (success and
 * ENOENT); wait4's rusage; waitid (WNOWAIT, then reaped); an orphan
 * reparented once its parent exits. The program runs itself again as
 * `fork child-exec` (prints a line, exits 12). Only yes/no answers, exit
 * codes and signal numbers are printed: never pids. stdout is flushed
 * before every fork so nothing buffered is written twice, and the parent
 * prints only after reaping the child that printed, so lines keep order. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

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

/* waitpid(pid) through EINTR; the status, or -1 if the wait failed or
 * returned another pid. */
static int reap(pid_t pid)
{
	int st;
	pid_t r;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	return r == pid ? st : -1;
}

static void ms_sleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
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

static void xpipe(int fds[2])
{
	if (pipe(fds) != 0) {
		perror("pipe");
		exit(2);
	}
}

/* -- 1. fork's returns, getppid, waitpid by pid */

static void test_basics(void)
{
	pid_t me = getpid();
	int fds[2];
	xpipe(fds);
	pid_t c = xfork();
	if (c == 0) {
		/* Tell the parent what fork returned here and whether getppid
		 * is the parent's getpid. */
		write_byte(fds[1], getppid() == me);
		_exit(0);
	}
	close(fds[1]);
	int ppid_ok = read_byte(fds[0]);
	close(fds[0]);
	int st = reap(c);
	printf("1 fork: child got 0, parent got a pid > 0: %s\n", yesno(c > 0 && c != me));
	printf("1 fork: getppid in child == parent's getpid: %s\n", yesno(ppid_ok == 1));
	printf("1 fork: waitpid returned the child's pid, exit 0: %s\n", yesno(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0));

	/* Three children exit 10, 20, 30; reaped in the order 2, 0, 1. */
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		kids[i] = xfork();
		if (kids[i] == 0)
			_exit(10 * (i + 1));
	}
	int order[3] = { 2, 0, 1 };
	for (int k = 0; k < 3; k++) {
		int i = order[k];
		int s = reap(kids[i]);
		printf("1 fork: child %d reaped by pid: exit %d\n", i, s >= 0 && WIFEXITED(s) ? WEXITSTATUS(s) : -1);
	}
}

/* -- 2, 3. copy-on-write */

static volatile int global_int = 1;
#define HEAP_SIZE (1 << 20)
#define STACK_INTS 1024

static int all_bytes(volatile unsigned char *p, size_t n, unsigned char v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static int all_ints(volatile int *p, size_t n, int v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static void set_all(volatile unsigned char *heap, volatile int *stack, int v)
{
	global_int = v;
	for (size_t i = 0; i < HEAP_SIZE; i++)
		heap[i] = (unsigned char)v;
	for (size_t i = 0; i < STACK_INTS; i++)
		stack[i] = v;
}

static void test_cow(void)
{
	volatile unsigned char *heap = malloc(HEAP_SIZE);
	volatile int stack[STACK_INTS];
	set_all(heap, stack, 1);

	/* The child writes; the parent keeps its own values. */
	pid_t c = xfork();
	if (c == 0) {
		set_all(heap, stack, 2);
		printf("2 cow: child wrote 2, sees global %d, heap all 2: %s, stack all 2: %s\n",
		       global_int, yesno(all_bytes(heap, HEAP_SIZE, 2)), yesno(all_ints(stack, STACK_INTS, 2)));
		fflush(stdout);
		_exit(0);
	}
	reap(c);
	printf("2 cow: parent after the child's writes sees global %d, heap all 1: %s, stack all 1: %s\n",
	       global_int, yesno(all_bytes(heap, HEAP_SIZE, 1)), yesno(all_ints(stack, STACK_INTS, 1)));

	/* The parent writes after fork, before the child looks. */
	int go[2];
	xpipe(go);
	c = xfork();
	if (c == 0) {
		close(go[1]);
		read_byte(go[0]);
		printf("3 cow: child after the parent's writes sees global %d, heap all 1: %s, stack all 1: %s\n",
		       global_int, yesno(all_bytes(heap, HEAP_SIZE, 1)), yesno(all_ints(stack, STACK_INTS, 1)));
		fflush(stdout);
		_exit(0);
	}
	close(go[0]);
	set_all(heap, stack, 3);
	write_byte(go[1], 'g');
	close(go[1]);
	reap(c);
	printf("3 cow: parent sees its own global %d, heap all 3: %s, stack all 3: %s\n",
	       global_int, yesno(all_bytes(heap, HEAP_SIZE, 3)), yesno(all_ints(stack, STACK_INTS, 3)));
	free((void *)heap);
}

/* -- 4. a pipe from child to parent */

static void test_pipe(void)
{
	int fds[2];
	xpipe(fds);
	pid_t c = xfork();
	if (c == 0) {
		close(fds[0]);
		unsigned char buf[1000];
		size_t sent = 0;
		while (sent < 100000) {
			for (size_t i = 0; i < sizeof buf; i++)
				buf[i] = (unsigned char)((sent + i) % 251);
			size_t off = 0;
			while (off < sizeof buf) {
				ssize_t n = write(fds[1], buf + off, sizeof buf - off);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					_exit(1);
				off += (size_t)n;
			}
			sent += sizeof buf;
		}
		_exit(0);
	}
	close(fds[1]);
	size_t total = 0;
	int pattern_ok = 1;
	unsigned char buf[4096];
	for (;;) {
		ssize_t n = read(fds[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (unsigned char)((total + (size_t)i) % 251))
				pattern_ok = 0;
		total += (size_t)n;
	}
	close(fds[0]);
	int st = reap(c);
	printf("4 pipe: parent read %zu bytes then EOF, in order: %s, child exit %d\n",
	       total, yesno(pattern_ok), WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* -- 5. EPIPE and SIGPIPE */

static void test_epipe(void)
{
	int fds[2], go[2];
	xpipe(fds);
	xpipe(go);
	pid_t c = xfork();
	if (c == 0) {
		signal(SIGPIPE, SIG_IGN);
		close(fds[0]);
		close(go[1]);
		read_byte(go[0]); /* the parent has closed its read end */
		ssize_t n = write(fds[1], "x", 1);
		_exit(n == -1 && errno == EPIPE ? 0 : 1);
	}
	close(fds[0]);
	close(fds[1]);
	close(go[0]);
	write_byte(go[1], 'g');
	close(go[1]);
	int st = reap(c);
	printf("5 epipe: write with no reader and SIGPIPE ignored gives EPIPE: %s\n",
	       yesno(WIFEXITED(st) && WEXITSTATUS(st) == 0));

	xpipe(fds);
	close(fds[0]);
	c = xfork();
	if (c == 0) {
		signal(SIGPIPE, SIG_DFL);
		ssize_t n = write(fds[1], "x", 1);
		(void)n;
		_exit(1);
	}
	close(fds[1]);
	st = reap(c);
	printf("5 epipe: with SIGPIPE default the writer dies: signaled %s, signal %d (SIGPIPE %d)\n",
	       yesno(WIFSIGNALED(st)), WIFSIGNALED(st) ? WTERMSIG(st) : 0, SIGPIPE);
}

/* -- 6. WNOHANG, ECHILD */

static void test_nohang(void)
{
	int fds[2];
	xpipe(fds);
	pid_t c = xfork();
	if (c == 0) {
		close(fds[1]);
		read_byte(fds[0]); /* EOF when the parent closes its end */
		_exit(4);
	}
	close(fds[0]);
	int st = 0;
	pid_t r = waitpid(-1, &st, WNOHANG);
	printf("6 wait: waitpid(-1, WNOHANG) with a running child: %d\n", (int)r);
	r = waitpid(c, &st, WNOHANG);
	printf("6 wait: waitpid(child, WNOHANG) with it running: %d\n", (int)r);
	close(fds[1]);
	st = reap(c);
	printf("6 wait: after EOF the child exits %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	errno = 0;
	r = wait(&st);
	printf("6 wait: wait() with no children: %d, ECHILD: %s\n", (int)r, yesno(errno == ECHILD));
	errno = 0;
	r = waitpid(-1, &st, WNOHANG);
	printf("6 wait: waitpid(-1, WNOHANG) with no children: %d, ECHILD: %s\n", (int)r, yesno(errno == ECHILD));
}

/* -- 7. deaths by signal */

static void test_killed(void)
{
	pid_t c = xfork();
	if (c == 0) {
		raise(SIGKILL);
		_exit(1);
	}
	int st = reap(c);
	printf("7 signal: raise(SIGKILL): signaled %s, signal %d, exited %s\n",
	       yesno(WIFSIGNALED(st)), WIFSIGNALED(st) ? WTERMSIG(st) : 0, yesno(WIFEXITED(st)));

	int fds[2];
	xpipe(fds);
	c = xfork();
	if (c == 0) {
		signal(SIGTERM, SIG_DFL);
		close(fds[0]);
		write_byte(fds[1], 'r');
		for (;;)
			pause();
	}
	close(fds[1]);
	read_byte(fds[0]);
	close(fds[0]);
	int k = kill(c, SIGTERM);
	st = reap(c);
	printf("7 signal: kill(child, SIGTERM) %d: signaled %s, signal %d\n",
	       k, yesno(WIFSIGNALED(st)), WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* -- 8. SIGCHLD */

static volatile sig_atomic_t chld_count;
static volatile int chld_code, chld_status;
static volatile pid_t chld_pid;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld_code = si->si_code;
	chld_status = si->si_status;
	chld_pid = si->si_pid;
	chld_count++;
}

static void test_sigchld(void)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, &old);

	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &orig);
	chld_count = 0;
	pid_t c = xfork();
	if (c == 0)
		_exit(21);
	while (chld_count == 0)
		sigsuspend(&orig);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	printf("8 sigchld: handler ran: %s\n", yesno(chld_count > 0));
	printf("8 sigchld: si_code == CLD_EXITED: %s, si_status %d, si_pid == child: %s\n",
	       yesno(chld_code == CLD_EXITED), chld_status, yesno(chld_pid == c));
	int st = reap(c);
	printf("8 sigchld: reaped after the handler: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	/* A blocked waitpid for a slow child is not ended by the SIGCHLD of
	 * a quick one (SA_RESTART). */
	chld_count = 0;
	pid_t slow = xfork();
	if (slow == 0) {
		ms_sleep(50);
		_exit(23);
	}
	pid_t quick = xfork();
	if (quick == 0)
		_exit(22);
	errno = 0;
	int s1;
	pid_t r = waitpid(slow, &s1, 0);
	int eintr = r < 0 && errno == EINTR;
	if (r < 0)
		r = waitpid(slow, &s1, 0);
	int s2 = reap(quick);
	printf("8 sigchld: waitpid(slow) under SA_RESTART returned its pid: %s (EINTR: %s), exit %d; quick exit %d\n",
	       yesno(r == slow), yesno(eintr), WIFEXITED(s1) ? WEXITSTATUS(s1) : -1, WIFEXITED(s2) ? WEXITSTATUS(s2) : -1);
	/* Two SIGCHLDs may coalesce into one: at least one run. */
	printf("8 sigchld: handler ran again: %s\n", yesno(chld_count >= 1));

	sigaction(SIGCHLD, &old, NULL);
}

/* -- 9. process groups */

static volatile int member;

static void on_usr1(int sig)
{
	(void)sig;
	_exit(40 + member);
}

static void test_pgrp(void)
{
	pid_t my_pgrp = getpgrp();
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);

	int rep[2];
	xpipe(rep);
	member = 1;
	pid_t a = xfork();
	if (a == 0) {
		close(rep[0]);
		int ok = setpgid(0, 0) == 0;
		write_byte(rep[1], ok && getpgrp() == getpid() && getpgid(0) == getpid() ? 'A' : 'a');
		close(rep[1]);
		for (;;)
			pause();
	}
	/* Both sides set it, so it is done whichever runs first. */
	int pa = setpgid(a, a);
	member = 2;
	pid_t b = xfork();
	if (b == 0) {
		close(rep[0]);
		int ok = setpgid(0, a) == 0;
		write_byte(rep[1], ok && getpgrp() == a ? 'B' : 'b');
		close(rep[1]);
		for (;;)
			pause();
	}
	int pb = setpgid(b, a);
	close(rep[1]);
	/* The two reports come in either order. */
	int r1 = read_byte(rep[0]);
	int r2 = read_byte(rep[0]);
	int ra = r1 == 'A' || r2 == 'A';
	int rb = r1 == 'B' || r2 == 'B';
	close(rep[0]);
	sigaction(SIGUSR1, &old, NULL);
	printf("9 pgrp: setpgid from the parent: %d %d\n", pa, pb);
	printf("9 pgrp: setpgid(0,0) in a child makes getpgrp() == getpid(): %s\n", yesno(ra));
	printf("9 pgrp: the second child joined the first's group: %s\n", yesno(rb));
	printf("9 pgrp: getpgid(child) from the parent == child's pid: %s; getpgid(second) == first: %s\n",
	       yesno(getpgid(a) == a), yesno(getpgid(b) == a));
	printf("9 pgrp: parent's group unchanged: %s, differs from the children's: %s\n",
	       yesno(getpgrp() == my_pgrp), yesno(my_pgrp != a));
	int k = kill(-a, SIGUSR1);
	int sa_st = reap(a);
	int sb_st = reap(b);
	printf("9 pgrp: kill(-pgid, SIGUSR1) %d: first exit %d, second exit %d\n", k,
	       WIFEXITED(sa_st) ? WEXITSTATUS(sa_st) : -1, WIFEXITED(sb_st) ? WEXITSTATUS(sb_st) : -1);
	errno = 0;
	k = kill(-a, SIGUSR1);
	printf("9 pgrp: kill of the emptied group: %d, ESRCH: %s\n", k, yesno(errno == ESRCH));
	errno = 0;
	k = setpgid(a, a);
	printf("9 pgrp: setpgid of a reaped child: %d, ESRCH: %s\n", k, yesno(errno == ESRCH));
}

/* -- 10. sessions */

static void test_session(void)
{
	pid_t sid = getsid(0);
	pid_t c = xfork();
	if (c == 0)
		_exit(getsid(0) == sid ? 0 : 1);
	int st = reap(c);
	printf("10 session: getsid(0) in the child == parent's: %s\n", yesno(WIFEXITED(st) && WEXITSTATUS(st) == 0));

	int fds[2];
	xpipe(fds);
	c = xfork();
	if (c == 0) {
		close(fds[0]);
		pid_t s = setsid();
		int ok = s == getpid() && getsid(0) == getpid() && getpgrp() == getpid();
		errno = 0;
		int again = setsid();
		write_byte(fds[1], ok | ((again == -1 && errno == EPERM) << 1));
		close(fds[1]);
		_exit(0);
	}
	close(fds[1]);
	int r = read_byte(fds[0]);
	close(fds[0]);
	reap(c);
	printf("10 session: setsid() in a child returns its pid, now session and group leader: %s\n", yesno(r >= 0 && (r & 1)));
	printf("10 session: a second setsid() is EPERM: %s\n", yesno(r >= 0 && (r & 2)));
	printf("10 session: parent's session unchanged: %s\n", yesno(getsid(0) == sid));
}

/* -- 11. a shared open file description */

static void test_fd_offset(void)
{
	char path[] = "/tmp/kvmcage-fork-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		printf("11 fd: mkstemp failed: errno %d\n", errno);
		return;
	}
	if (write(fd, "helloworld", 10) != 10 || lseek(fd, 0, SEEK_SET) != 0) {
		printf("11 fd: setup failed\n");
		return;
	}
	pid_t c = xfork();
	if (c == 0) {
		char b[6] = { 0 };
		ssize_t n = read(fd, b, 5);
		_exit(n == 5 && memcmp(b, "hello", 5) == 0 ? 0 : 1);
	}
	int st = reap(c);
	char b[6] = { 0 };
	ssize_t n = read(fd, b, 5);
	printf("11 fd: child read \"hello\": %s; parent's next read: %zd \"%s\", offset now %ld\n",
	       yesno(WIFEXITED(st) && WEXITSTATUS(st) == 0), n, n > 0 ? b : "", (long)lseek(fd, 0, SEEK_CUR));
	/* Status flags are shared too; the descriptor flag (FD_CLOEXEC) is not. */
	c = xfork();
	if (c == 0) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		_exit(0);
	}
	reap(c);
	printf("11 fd: O_APPEND set by the child seen by the parent: %s; child's FD_CLOEXEC not: %s\n",
	       yesno((fcntl(fd, F_GETFL) & O_APPEND) != 0), yesno((fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0));
	close(fd);
	printf("11 fd: unlink: %d\n", unlink(path));
}

/* -- 12. vfork */

static volatile int vfork_store;

static void test_vfork(const char *self)
{
	fflush(stdout);
	vfork_store = 0;
	pid_t c = vfork();
	if (c == 0) {
		vfork_store = 1; /* shared memory until _exit */
		_exit(9);
	}
	int st = reap(c);
	printf("12 vfork: _exit(9): exit %d; the child's store seen by the parent: %s\n",
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1, yesno(vfork_store == 1));

	char *argv[] = { (char *)self, "child-exec", NULL };
	char **envp = environ;
	fflush(stdout);
	c = vfork();
	if (c == 0) {
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	st = reap(c);
	printf("12 vfork: execve of /proc/self/exe: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* -- 13. execve failing in a forked child */

static void test_exec_fail(void)
{
	pid_t c = xfork();
	if (c == 0) {
		char *argv[] = { "/nonexistent", NULL };
		errno = 0;
		int r = execve("/nonexistent", argv, environ);
		printf("13 exec: execve(\"/nonexistent\") in the child: %d, ENOENT: %s\n", r, yesno(errno == ENOENT));
		fflush(stdout);
		_exit(5);
	}
	int st = reap(c);
	printf("13 exec: the child went on and exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* -- 14. posix_spawn */

static void test_spawn(const char *self)
{
	char *argv[] = { (char *)self, "child-exec", NULL };
	pid_t c = 0;
	fflush(stdout);
	int r = posix_spawn(&c, "/proc/self/exe", NULL, NULL, argv, environ);
	int st = r == 0 ? reap(c) : -1;
	printf("14 spawn: posix_spawn of /proc/self/exe: %d, exit %d\n", r, st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);

	char *argv2[] = { "/nonexistent", NULL };
	c = 0;
	r = posix_spawn(&c, "/nonexistent", NULL, NULL, argv2, environ);
	printf("14 spawn: posix_spawn of /nonexistent: ENOENT: %s\n", yesno(r == ENOENT));
	if (r == 0)
		reap(c);
}

/* -- 15. wait4, waitid */

static void test_wait4_waitid(void)
{
	pid_t c = xfork();
	if (c == 0)
		_exit(6);
	struct rusage ru;
	int st;
	memset(&ru, 0xff, sizeof ru);
	pid_t r = wait4(c, &st, 0, &ru);
	printf("15 wait4: returned the pid: %s, exit %d, rusage filled: %s\n",
	       yesno(r == c), WIFEXITED(st) ? WEXITSTATUS(st) : -1, yesno(ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000));

	c = xfork();
	if (c == 0)
		_exit(13);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int w = waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT);
	printf("15 waitid: WNOWAIT %d: CLD_EXITED %s, si_status %d, si_pid == child: %s\n",
	       w, yesno(si.si_code == CLD_EXITED), si.si_status, yesno(si.si_pid == c));
	memset(&si, 0, sizeof si);
	w = waitid(P_PID, (id_t)c, &si, WEXITED);
	printf("15 waitid: again %d: CLD_EXITED %s, si_status %d, si_signo SIGCHLD: %s\n",
	       w, yesno(si.si_code == CLD_EXITED), si.si_status, yesno(si.si_signo == SIGCHLD));
	errno = 0;
	w = waitid(P_PID, (id_t)c, &si, WEXITED | WNOHANG);
	printf("15 waitid: after reaping: %d, ECHILD: %s\n", w, yesno(errno == ECHILD));

	c = xfork();
	if (c == 0) {
		raise(SIGKILL);
		_exit(1);
	}
	memset(&si, 0, sizeof si);
	w = waitid(P_ALL, 0, &si, WEXITED);
	printf("15 waitid: P_ALL, killed: %d: CLD_KILLED %s, si_status %d\n", w, yesno(si.si_code == CLD_KILLED), si.si_status);
}

/* -- 16. an orphan */

static void test_orphan(void)
{
	int fds[2];
	xpipe(fds);
	pid_t c = xfork();
	if (c == 0) {
		close(fds[0]);
		pid_t mid = getpid();
		pid_t g = fork();
		if (g == 0) {
			int changed = 0;
			for (int i = 0; i < 2000 && !changed; i++) {
				if (getppid() != mid)
					changed = 1;
				else
					ms_sleep(1);
			}
			write_byte(fds[1], changed);
			_exit(0);
		}
		_exit(g > 0 ? 0 : 1);
	}
	close(fds[1]);
	int st = reap(c);
	int r = read_byte(fds[0]);
	/* EOF once the grandchild has exited. */
	while (read_byte(fds[0]) >= 0)
		;
	close(fds[0]);
	printf("16 orphan: middle child exit %d; grandchild reparented: %s\n",
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1, yesno(r == 1));
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child-exec") == 0) {
		printf("child-exec: running as a new image, argv[1] ok\n");
		return 12;
	}
	/* Children must become zombies for waitpid whatever was inherited. */
	signal(SIGCHLD, SIG_DFL);
	test_basics();
	test_cow();
	test_pipe();
	test_epipe();
	test_nohang();
	test_killed();
	test_sigchld();
	test_pgrp();
	test_session();
	test_fd_offset();
	test_vfork(argv[0]);
	test_exec_fail();
	test_spawn(argv[0]);
	test_wait4_waitid();
	test_orphan();
	printf("fork: done\n");
	return 0;
}
