/* What clone shares and unshare takes back: a child made with CLONE_FILES
 * closes, opens and dup2s in its parent's descriptor table, and one made
 * without it does not; a CLONE_FS child's chdir and umask are its
 * parent's too; close_range(CLOSE_RANGE_UNSHARE) and unshare(CLONE_FILES)
 * in such a child leave the parent's table alone; execve in a CLONE_FILES
 * child closes its close-on-exec descriptors in a table of its own; a
 * thread that unshares its descriptors or working directory keeps its
 * changes from the other threads (/proc/thread-self/fd shows its table,
 * /proc/self/fd the leader's); unshare of the memory or the thread group
 * is EINVAL once a second thread exists; the process's table closes when
 * the last thread using it exits (a child reading a pipe whose write end
 * only that table held sees EOF). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE 2
#endif

static const char *yesno(int b) { return b ? "yes" : "no"; }

static int is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

/* A fork-like clone with `flags` (no CLONE_VM: the child runs on a copy
 * of the stack, as fork). 0 in the child. */
static pid_t clone_with(unsigned long flags)
{
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
}

static int wait_status(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void cwd_is(const char *what, const char *want)
{
	char buf[PATH_MAX];
	const char *got = getcwd(buf, sizeof buf);
	printf("%s: cwd %s\n", what, yesno(got && strcmp(got, want) == 0));
}

static int fd_a, fd_b;

static void *unshare_files_thread(void *arg)
{
	(void)arg;
	long r = unshare(CLONE_FILES);
	printf("thread: unshare(CLONE_FILES) %ld\n", r);
	close(fd_a);
	dup2(0, 201);
	printf("thread: fd_a closed here %s, 201 open here %s\n",
	       yesno(!is_open(fd_a)), yesno(is_open(201)));
	char link[64];
	printf("thread: 201 in /proc/thread-self/fd %s, not in /proc/self/fd %s\n",
	       yesno(readlink("/proc/thread-self/fd/201", link, sizeof link) > 0),
	       yesno(readlink("/proc/self/fd/201", link, sizeof link) < 0));
	return NULL;
}

static void *unshare_fs_thread(void *arg)
{
	(void)arg;
	printf("thread: unshare(CLONE_FS) %d\n", unshare(CLONE_FS));
	printf("thread: chdir /dev %d\n", chdir("/dev"));
	umask(077);
	cwd_is("thread", "/dev");
	return NULL;
}

static int eof_pipe[2];
static pid_t eof_reader;

/* Runs on after main's pthread_exit, with a table of its own. */
static void *outlive_main(void *arg)
{
	(void)arg;
	unshare(CLONE_FILES);
	close(eof_pipe[1]);
	int st = wait_status(eof_reader);
	printf("last user: the reader saw EOF once main exited %s\n", yesno(st == 0));
	printf("cloneshare: done\n");
	exit(0);
}

static void *spin_thread(void *arg)
{
	volatile int *stop = arg;
	while (!*stop)
		sched_yield();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "execd") == 0) {
		/* Run by execve in a CLONE_FILES child: the close-on-exec
		 * descriptor is closed, the other still open. */
		int keep = atoi(argv[2]), gone = atoi(argv[3]);
		printf("execd: kept open %s, close-on-exec closed %s\n",
		       yesno(is_open(keep)), yesno(!is_open(gone)));
		return 7;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	fd_a = open("/dev/null", O_RDONLY);
	fd_b = open("/dev/null", O_RDONLY);

	/* 1. CLONE_FILES: the child's close, open and dup2 are the parent's. */
	pid_t c = clone_with(CLONE_FILES);
	if (c == 0) {
		close(fd_a);
		dup2(fd_b, 100);
		_exit(0);
	}
	printf("files: child %d\n", wait_status(c));
	printf("files: parent sees the close %s, the dup2 %s\n",
	       yesno(!is_open(fd_a)), yesno(is_open(100)));
	close(100);
	fd_a = open("/dev/null", O_RDONLY);

	/* 2. Without it, fork-like: the parent's table is untouched. */
	c = clone_with(0);
	if (c == 0) {
		close(fd_a);
		dup2(fd_b, 100);
		_exit(0);
	}
	printf("nofiles: child %d\n", wait_status(c));
	printf("nofiles: parent keeps fd_a %s, has no 100 %s\n",
	       yesno(is_open(fd_a)), yesno(!is_open(100)));

	/* 3. CLONE_FS: chdir and umask reach the parent; without it, not. */
	chdir("/");
	umask(022);
	c = clone_with(CLONE_FS);
	if (c == 0) {
		chdir("/dev");
		umask(027);
		_exit(0);
	}
	printf("fs: child %d\n", wait_status(c));
	cwd_is("fs: parent", "/dev");
	printf("fs: umask 027 %s\n", yesno(umask(022) == 027));
	chdir("/");
	c = clone_with(0);
	if (c == 0) {
		chdir("/dev");
		umask(077);
		_exit(0);
	}
	printf("nofs: child %d\n", wait_status(c));
	cwd_is("nofs: parent", "/");
	printf("nofs: umask 022 %s\n", yesno(umask(022) == 022));

	/* 4. close_range(CLOSE_RANGE_UNSHARE) and unshare(CLONE_FILES) in a
	 * CLONE_FILES child: the parent's descriptors stay. */
	c = clone_with(CLONE_FILES);
	if (c == 0) {
		long r = syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_UNSHARE);
		_exit(r == 0 && !is_open(fd_a) && !is_open(fd_b) ? 0 : 1);
	}
	printf("close_range unshare: child %d\n", wait_status(c));
	printf("close_range unshare: parent keeps both %s\n",
	       yesno(is_open(fd_a) && is_open(fd_b)));
	c = clone_with(CLONE_FILES);
	if (c == 0) {
		if (unshare(CLONE_FILES) != 0)
			_exit(2);
		close(fd_a);
		_exit(is_open(fd_a) ? 1 : 0);
	}
	printf("unshare files: child %d\n", wait_status(c));
	printf("unshare files: parent keeps fd_a %s\n", yesno(is_open(fd_a)));

	/* 5. execve from a CLONE_FILES child: its close-on-exec descriptor
	 * closes in its own table, not in the parent's. */
	int ce = open("/dev/null", O_RDONLY | O_CLOEXEC);
	c = clone_with(CLONE_FILES);
	if (c == 0) {
		char k[16], g[16];
		snprintf(k, sizeof k, "%d", fd_b);
		snprintf(g, sizeof g, "%d", ce);
		char *args[] = {argv[0], "execd", k, g, NULL};
		execv("/proc/self/exe", args);
		_exit(127);
	}
	printf("exec: child %d\n", wait_status(c));
	printf("exec: parent keeps its close-on-exec descriptor %s\n", yesno(is_open(ce)));

	/* 6. unshare in a thread: its changes stay its own. */
	pthread_t t;
	pthread_create(&t, NULL, unshare_files_thread, NULL);
	pthread_join(t, NULL);
	printf("main: fd_a open %s, no 201 %s\n", yesno(is_open(fd_a)), yesno(!is_open(201)));
	chdir("/");
	umask(022);
	pthread_create(&t, NULL, unshare_fs_thread, NULL);
	pthread_join(t, NULL);
	cwd_is("main", "/");
	printf("main: umask still 022 %s\n", yesno(umask(022) == 022));

	/* 7. With a second thread, the memory and the group cannot be left. */
	/* (Not checked alone: a joined thread may still be leaving the
	 * group when pthread_join returns, and Linux then says EINVAL.) */
	volatile int stop = 0;
	pthread_create(&t, NULL, spin_thread, (void *)&stop);
	errno = 0;
	int r = unshare(CLONE_VM);
	printf("two threads: unshare(CLONE_VM) %d %s\n", r, strerror(errno));
	errno = 0;
	r = unshare(CLONE_THREAD);
	printf("two threads: unshare(CLONE_THREAD) %d %s\n", r, strerror(errno));
	printf("two threads: unshare(CLONE_FILES|CLONE_FS) %d\n", unshare(CLONE_FILES | CLONE_FS));
	stop = 1;
	pthread_join(t, NULL);

	/* 8. The process's table goes with the last thread using it. */
	if (pipe(eof_pipe))
		return 1;
	eof_reader = fork();
	if (eof_reader == 0) {
		close(eof_pipe[1]);
		alarm(10);
		char b;
		_exit(read(eof_pipe[0], &b, 1) == 0 ? 0 : 1);
	}
	close(eof_pipe[0]);
	pthread_create(&t, NULL, outlive_main, NULL);
	pthread_exit(NULL);
}
