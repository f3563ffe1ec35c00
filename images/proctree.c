/* Processes seen from outside: /proc/PID of a child (cmdline, comm, stat's
 * state and ppid, status), the child in /proc's listing, its state Z
 * once it is a zombie; SIGCHLD ignored reaps children at once (a later
 * wait is ECHILD, not a hang); a vfork child that outlives the process
 * whose memory it runs on (the middle process exits from another thread
 * while the child still writes its stack) finishes its work; a child's
 * CPU time reaches wait4's rusage, RUSAGE_CHILDREN and times(). */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	printf("proctree: done\n");
	return 0;
}
