/* Processes seen from outside: /proc/PID of a child (cmdline, comm, stat's
 * state and ppid, status, maps and fd: the same as the child's own view,
 * also while the child is busy in syscalls), the child in /proc's listing,
 * its state Z
 * once it is a zombie; SIGCHLD ignored reaps children at once (a later
 * wait is ECHILD, not a hang); a vfork child that outlives the process
 * whose memory it runs on (the middle process exits from another thread
 * while the child still writes its stack) finishes its work; a child's
 * CPU time reaches wait4's rusage, RUSAGE_CHILDREN and times(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *yesno(int b) { return b ? "yes" : "no"; }

static int read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return (int)n;
}

static char stat_state(pid_t pid, pid_t *ppid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof buf) <= 0)
		return '?';
	char *p = strrchr(buf, ')');
	char st = '?';
	int pp = 0;
	if (p && sscanf(p + 2, "%c %d", &st, &pp) == 2 && ppid)
		*ppid = pp;
	return st;
}

static int listed(pid_t pid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int seen = 0;
	while (d && (e = readdir(d)))
		if (atoi(e->d_name) == pid)
			seen = 1;
	if (d)
		closedir(d);
	return seen;
}

/* The whole of a file, with raw reads (no stdio: the reader's own maps
 * must not change by reading). */
static char text_a[1 << 16], text_b[1 << 16];

static int slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	ssize_t r;
	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	close(fd);
	return (int)n;
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 6: another process's maps and fd, as it sees them itself; then read
 * again and again while that process makes syscalls and maps memory. */
static void other_maps_and_fds(void)
{
	int to_parent[2], go[2];
	if (pipe(to_parent) || pipe(go))
		return;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(to_parent[0]);
		int n = slurp("/proc/self/maps", text_a, sizeof text_a);
		char link[128] = {0}, path[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", go[0]);
		readlink(path, link, sizeof link - 1);
		write_all(to_parent[1], (char *)&n, sizeof n);
		write_all(to_parent[1], text_a, (size_t)n);
		write_all(to_parent[1], link, sizeof link);
		char b;
		read(go[0], &b, 1);
		/* Busy: syscalls and mappings until told to stop. */
		for (;;) {
			void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			munmap(m, 4096);
			getppid();
			struct pollfd pf = {go[0], POLLIN, 0};
			if (poll(&pf, 1, 0) == 1)
				_exit(0);
		}
	}
	close(to_parent[1]);
	int n = 0;
	char link[128];
	read(to_parent[0], &n, sizeof n);
	int got = 0;
	while (n > 0 && got < n) {
		ssize_t r = read(to_parent[0], text_b + got, (size_t)(n - got));
		if (r <= 0)
			break;
		got += (int)r;
	}
	text_b[got] = 0;
	read(to_parent[0], link, sizeof link);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", c);
	int m = slurp(path, text_a, sizeof text_a);
	printf("6 maps: the child's, as it reads them itself: %s\n",
	       yesno(m > 0 && m == got && strcmp(text_a, text_b) == 0));
	snprintf(path, sizeof path, "/proc/%d/fd/%d", c, go[0]);
	char other[128] = {0};
	readlink(path, other, sizeof other - 1);
	printf("6 fd: the child's link, as it reads it itself: %s\n",
	       yesno(other[0] != 0 && strcmp(other, link) == 0));
	snprintf(path, sizeof path, "/proc/%d/fd", c);
	DIR *d = opendir(path);
	int seen = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (atoi(e->d_name) == go[0] && e->d_name[0] != '.')
			seen = 1;
	if (d)
		closedir(d);
	printf("6 fd: listed in /proc/PID/fd: %s\n", yesno(seen));
	write(go[1], "x", 1);
	int ok = 0;
	snprintf(path, sizeof path, "/proc/%d/maps", c);
	for (int i = 0; i < 300; i++)
		if (slurp(path, text_a, sizeof text_a) > 0 && strstr(text_a, "[stack]"))
			ok++;
	printf("6 maps: read 300 times while the child is busy: %s\n", yesno(ok == 300));
	write(go[1], "x", 1);
	waitpid(c, NULL, 0);
	close(to_parent[0]);
	close(go[0]);
	close(go[1]);
}

static void *exit_soon(void *a)
{
	(void)a;
	usleep(30000);
	_exit(0);
}

int main(int argc, char **argv)
{
	(void)argc;
	int p[2];
	if (pipe(p))
		return 1;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		char b;
		read(p[0], &b, 1);
		_exit(0);
	}
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/cmdline", c);
	int n = read_file(path, buf, sizeof buf);
	printf("1 cmdline: the child's is ours: %s\n",
	       yesno(n > 0 && strcmp(buf, argv[0]) == 0));
	snprintf(path, sizeof path, "/proc/%d/comm", c);
	read_file(path, buf, sizeof buf);
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	size_t bl = strlen(base) < 15 ? strlen(base) : 15;
	printf("1 comm: %s\n", yesno(strncmp(buf, base, bl) == 0 && buf[bl] == '\n'));
	pid_t pp = 0;
	char st = stat_state(c, &pp);
	printf("1 stat: running or sleeping: %s, ppid is us: %s\n", yesno(st == 'S' || st == 'R'),
	       yesno(pp == getpid()));
	snprintf(path, sizeof path, "/proc/%d/status", c);
	read_file(path, buf, sizeof buf);
	char want[64];
	snprintf(want, sizeof want, "PPid:\t%d\n", getpid());
	printf("1 status: PPid line: %s\n", yesno(strstr(buf, want) != NULL));
	printf("1 listed in /proc: %s\n", yesno(listed(c)));
	write(p[1], "x", 1);
	/* A zombie until reaped. */
	for (int i = 0; i < 2000 && stat_state(c, NULL) != 'Z'; i++)
		usleep(1000);
	printf("2 zombie: state Z: %s, still listed: %s\n", yesno(stat_state(c, NULL) == 'Z'),
	       yesno(listed(c)));
	waitpid(c, NULL, 0);
	printf("2 reaped: gone from /proc: %s\n", yesno(!listed(c)));

	signal(SIGCHLD, SIG_IGN);
	fflush(stdout);
	pid_t q = fork();
	if (q == 0)
		_exit(5);
	int r = waitpid(q, NULL, 0);
	printf("3 SIGCHLD ignored: waitpid: %d, ECHILD: %s\n", r, yesno(r < 0 && errno == ECHILD));
	signal(SIGCHLD, SIG_DFL);

	int done[2];
	if (pipe(done))
		return 1;
	fflush(stdout);
	pid_t mid = fork();
	if (mid == 0) {
		pthread_t t;
		pthread_create(&t, 0, exit_soon, 0);
		if (vfork() == 0) {
			volatile char stack[65536];
			for (int round = 0; round < 100; round++) {
				for (int i = 0; i < (int)sizeof stack; i += 4096)
					stack[i] = (char)round;
				usleep(1000);
			}
			write(done[1], "ok", 2);
			_exit(0);
		}
		for (;;)
			pause();
	}
	close(done[1]);
	char ok[2];
	n = (int)read(done[0], ok, 2);
	int s;
	waitpid(mid, &s, 0);
	printf("4 vfork: the child outlived its parent and finished: %s; parent exit %d\n",
	       yesno(n == 2), WEXITSTATUS(s));

	fflush(stdout);
	pid_t busy = fork();
	if (busy == 0) {
		volatile unsigned long x = 0;
		for (unsigned long i = 0; i < 100000000UL; i++)
			x += i;
		_exit(0);
	}
	struct rusage ru, rc;
	wait4(busy, &s, 0, &ru);
	double t = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
		   ru.ru_stime.tv_usec / 1e6;
	getrusage(RUSAGE_CHILDREN, &rc);
	double tc = rc.ru_utime.tv_sec + rc.ru_utime.tv_usec / 1e6 + rc.ru_stime.tv_sec +
		    rc.ru_stime.tv_usec / 1e6;
	struct tms tm;
	times(&tm);
	printf("5 rusage: the busy child's CPU time in wait4: %s, in RUSAGE_CHILDREN: %s, "
	       "in times(): %s\n",
	       yesno(t > 0.01), yesno(tc >= t), yesno(tm.tms_cutime + tm.tms_cstime > 0));
	other_maps_and_fds();
	printf("proctree: done\n");
	return 0;
}
