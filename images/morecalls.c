/* Calls programs make that kvmcage answered with ENOSYS before, each with
 * its result and errno name, in a directory given as argv[1]:
 *   close_range (closing, CLOEXEC, bad flags and order);
 *   flock (shared, exclusive, LOCK_NB against another open file
 *          description, unlock, bad operation, bad fd);
 *   mknod/mknodat (FIFO, regular file, socket node, a bad type: EINVAL,
 *          an existing name: EEXIST; a device, EPERM unprivileged);
 *   opening a FIFO (a signal ends the wait: EINTR), truncating one (EINVAL);
 *   utimes/futimesat (set, read back, bad tv_usec);
 *   getpriority/setpriority (lowering is allowed, raising is EACCES
 *          unprivileged),
 *   sched_rr_get_interval, sync, syncfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hostile/errname.h"

/* What depends on privilege (root natively, uid 1000 in the sandbox): on
 * stderr, which the test reads from the sandbox only. */
static void show_priv(const char *what, long r)
{
	if (r < 0)
		fprintf(stderr, "%s: -1 %s\n", what, errname(errno));
	else
		fprintf(stderr, "%s: %ld\n", what, r);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static char path[4096];
static const char *in(const char *dir, const char *name)
{
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *d = argv[1];

	/* close_range */
	int a = open("/dev/null", O_RDONLY), b = dup(a), c = dup(a);
	say("close_range bad flags", syscall(SYS_close_range, a, c, 0x100));
	say("close_range first > last", syscall(SYS_close_range, c, a, 0));
	say("close_range cloexec", syscall(SYS_close_range, a, a, 4));
	printf("cloexec set: %d\n", (fcntl(a, F_GETFD) & FD_CLOEXEC) != 0);
	say("close_range", syscall(SYS_close_range, b, c, 0));
	printf("closed: %d %d, kept: %d\n", fcntl(b, F_GETFD) < 0, fcntl(c, F_GETFD) < 0,
	       fcntl(a, F_GETFD) >= 0);
	say("close_range to ~0", syscall(SYS_close_range, a, ~0U, 0));
	printf("closed: %d\n", fcntl(a, F_GETFD) < 0);

	/* flock */
	int f1 = open(in(d, "lock"), O_CREAT | O_RDWR, 0644);
	int f2 = open(path, O_RDWR);
	say("flock sh", flock(f1, LOCK_SH));
	say("flock sh other", flock(f2, LOCK_SH | LOCK_NB));
	say("flock ex other nb", flock(f2, LOCK_EX | LOCK_NB));
	say("flock un other", flock(f2, LOCK_UN));
	say("flock ex", flock(f1, LOCK_EX));
	say("flock ex other nb again", flock(f2, LOCK_EX | LOCK_NB));
	say("flock un", flock(f1, LOCK_UN));
	say("flock ex other now", flock(f2, LOCK_EX | LOCK_NB));
	say("flock bad op", flock(f1, 0x40));
	say("flock bad fd", flock(999, LOCK_SH));
	close(f1);
	close(f2);

	/* mknod */
	umask(022);
	say("mkfifo", mkfifo(in(d, "fifo"), 0666));
	struct stat st;
	stat(path, &st);
	printf("fifo: %d, mode %o\n", S_ISFIFO(st.st_mode), st.st_mode & 0777);
	say("mknod fifo again", mknod(path, S_IFIFO | 0600, 0));
	say("mknodat regular", mknodat(AT_FDCWD, in(d, "plain"), S_IFREG | 0640, 0));
	stat(path, &st);
	printf("regular: %d, mode %o, size %ld\n", S_ISREG(st.st_mode), st.st_mode & 0777,
	       (long)st.st_size);
	say("mknod type 0", mknod(in(d, "zero"), 0600, 0));
	say("mknod socket", mknod(in(d, "sock"), S_IFSOCK | 0600, 0));
	stat(path, &st);
	printf("socket: %d\n", S_ISSOCK(st.st_mode));
	show_priv("mknod char device", mknod(in(d, "null"), S_IFCHR | 0600, makedev(1, 3)));
	say("mknod bad type", mknod(in(d, "bad"), 0170000 | 0600, 0));
	say("mknod missing dir", mknod(in(d, "no/such"), S_IFIFO | 0600, 0));
	say("mknod char in missing dir", mknod(in(d, "no/dev"), S_IFCHR | 0600, 0));

	/* a FIFO: opening it waits for the other end, and a signal ends the
	 * wait (EINTR without SA_RESTART); truncate of it is EINVAL */
	{
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = {{0, 0}, {0, 50000}};
		setitimer(ITIMER_REAL, &it, NULL);
		say("open fifo ended by SIGALRM", open(in(d, "fifo"), O_RDONLY));
		say("open fifo nonblocking", open(path, O_RDONLY | O_NONBLOCK) >= 0 ? 0 : -1);
		say("truncate fifo", truncate(path, 0));
	}

	/* utimes */
	struct timeval tv[2] = {{1000000000, 250000}, {1200000000, 500000}};
	say("utimes", utimes(in(d, "plain"), tv));
	stat(path, &st);
	printf("atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atim.tv_sec,
	       st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	tv[0].tv_usec = 1000000;
	say("utimes bad usec", utimes(path, tv));
	tv[0].tv_usec = 0;
	int dfd = open(d, O_RDONLY | O_DIRECTORY);
	say("futimesat", syscall(SYS_futimesat, dfd, "plain", tv));
	stat(path, &st);
	printf("atime %ld mtime %ld\n", (long)st.st_atim.tv_sec, (long)st.st_mtim.tv_sec);
	say("utimes missing", utimes(in(d, "missing"), NULL));

	/* priorities */
	errno = 0;
	int p = getpriority(PRIO_PROCESS, 0);
	printf("getpriority: %d errno %d\n", p, errno);
	say("setpriority 5", setpriority(PRIO_PROCESS, 0, 5));
	errno = 0;
	printf("getpriority now: %d\n", getpriority(PRIO_PROCESS, 0));
	show_priv("setpriority back to 0", setpriority(PRIO_PROCESS, 0, 0));
	say("setpriority bad which", setpriority(7, 0, 5));
	say("getpriority other pid", getpriority(PRIO_PROCESS, 0x7ffffff0));
	struct timespec ts = {1, 1};
	say("sched_rr_get_interval", sched_rr_get_interval(0, &ts));
	say("sched_rr_get_interval bad pid", sched_rr_get_interval(-1, &ts));

	/* sync */
	sync();
	printf("sync: done\n");
	say("syncfs", syncfs(dfd));
	say("syncfs bad fd", syncfs(999));
	return 0;
}
