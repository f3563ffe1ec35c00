/* Process-level calls (and record locks, sched_* queries) Linux answers that kvmcage answered ENOSYS for
 * (issue 13): prctl, get_robust_list, wait4/waitid without children,
 * getrusage, times, sysinfo, getcpu, membarrier, getpgid/getsid, chown of
 * one's own file to its own ids. Prints only what is the same natively and
 * in the sandbox; DIR is a writable directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#define MEMBARRIER_CMD_QUERY 0
#define MEMBARRIER_CMD_GLOBAL 1
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>

static void res(const char *what, long r)
{
	if (r < 0)
		printf("%s: errno %d\n", what, errno);
	else
		printf("%s: %ld\n", what, r);
}

int main(int argc, char **argv)
{
	char name[32] = "";
	res("PR_SET_NAME", prctl(PR_SET_NAME, "a-very-long-thread-name"));
	res("PR_GET_NAME", prctl(PR_GET_NAME, name));
	printf("name: %s\n", name);
	res("PR_SET_PDEATHSIG", prctl(PR_SET_PDEATHSIG, 9));
	int sig = 0;
	res("PR_GET_PDEATHSIG", prctl(PR_GET_PDEATHSIG, &sig));
	printf("pdeathsig: %d\n", sig);
	res("PR_SET_PDEATHSIG 99", prctl(PR_SET_PDEATHSIG, 99));
	res("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE));
	res("PR_SET_DUMPABLE 2", prctl(PR_SET_DUMPABLE, 2));
	res("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	res("PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	res("PR_GET_NO_NEW_PRIVS again", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	res("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP));
	res("prctl 9999", prctl(9999));
	void *head = 0;
	size_t len = 0;
	res("get_robust_list", syscall(SYS_get_robust_list, 0, &head, &len));
	printf("robust len: %zu, head set: %d\n", len, head != 0);
	res("wait4", wait4(-1, NULL, WNOHANG, NULL));
	siginfo_t si;
	res("waitid", waitid(P_ALL, 0, &si, WEXITED | WNOHANG));
	struct rusage ru;
	res("getrusage SELF", getrusage(RUSAGE_SELF, &ru));
	printf("maxrss > 0: %d\n", ru.ru_maxrss > 0);
	res("getrusage CHILDREN", getrusage(RUSAGE_CHILDREN, &ru));
	printf("children utime: %ld\n", (long)ru.ru_utime.tv_sec);
	res("getrusage 5", getrusage(5, &ru));
	struct tms t;
	printf("times > 0: %d\n", times(&t) > 0);
	struct sysinfo s;
	res("sysinfo", sysinfo(&s));
	printf("totalram > 0: %d, mem_unit: %u\n", s.totalram > 0, s.mem_unit);
	unsigned cpu = 99, node = 99;
	res("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
	printf("cpu valid: %d\n", cpu < 1024 && node < 64);
	long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	printf("membarrier query has GLOBAL: %d\n", q > 0 && (q & MEMBARRIER_CMD_GLOBAL));
	res("membarrier bad flags", syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 1, 0));
	/* The host's session is the test runner's (its id may even be 0 in a
	 * container); lead a session of our own so both runs compare the same
	 * thing. In the sandbox pid 1 already leads one. */
	if (getsid(0) != getpid())
		setsid();
	printf("session leader: %d\n", getsid(0) == getpid());
	printf("group leader: %d\n", getpgid(0) == getpid() && getpgrp() == getpid());
	res("setsid as leader", setsid());
	res("getpgid(-1)", getpgid(-1));
	struct sched_param sp = {0};
	res("sched_getscheduler", sched_getscheduler(0));
	res("sched_getparam", sched_getparam(0, &sp));
	res("sched_setscheduler OTHER", sched_setscheduler(0, SCHED_OTHER, &sp));
	res("sched_setscheduler bad", sched_setscheduler(0, 77, &sp));
	res("sched_get_priority_max FIFO", sched_get_priority_max(SCHED_FIFO));
	res("sched_get_priority_min RR", sched_get_priority_min(SCHED_RR));
	res("sched_get_priority_max OTHER", sched_get_priority_max(SCHED_OTHER));
	res("sched_get_priority_max 77", sched_get_priority_max(77));
	cpu_set_t set;
	CPU_ZERO(&set);
	res("sched_getaffinity", sched_getaffinity(0, sizeof set, &set) < 0 ? -1 : 0);
	res("sched_setaffinity same", sched_setaffinity(0, sizeof set, &set));
	CPU_ZERO(&set);
	res("sched_setaffinity empty", sched_setaffinity(0, sizeof set, &set));
	if (argc > 1) {
		char p[4096];
		snprintf(p, sizeof p, "%s/mine", argv[1]);
		int fd = open(p, O_CREAT | O_WRONLY, 0644);
		res("chown to own ids", chown(p, getuid(), getgid()));
		res("chown -1 -1", chown(p, -1, -1));
		res("fchown to own ids", fchown(fd, getuid(), getgid()));
		res("lchown missing", lchown("/nonexistent-x", -1, -1));
		/* Record locks: ours never conflict with ourselves. */
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
		res("F_SETLK write lock", fcntl(fd, F_SETLK, &fl));
		fl.l_type = F_RDLCK;
		res("F_GETLK", fcntl(fd, F_GETLK, &fl));
		printf("F_GETLK type unlocked: %d\n", fl.l_type == F_UNLCK);
		fl.l_type = F_UNLCK;
		res("F_SETLKW unlock", fcntl(fd, F_SETLKW, &fl));
		fl.l_type = 99;
		res("F_SETLK bad type", fcntl(fd, F_SETLK, &fl));
		int fd2 = open(p, O_RDWR);
		struct flock ofd = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		res("F_OFD_SETLK", fcntl(fd2, F_OFD_SETLK, &ofd));
		int fd3 = open(p, O_RDWR);
		struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		res("F_OFD_GETLK from another description", fcntl(fd3, F_OFD_GETLK, &q));
		printf("conflict seen: %d, pid %d\n", q.l_type == F_WRLCK, q.l_pid);
		q.l_type = F_WRLCK;
		q.l_pid = 0;
		res("F_OFD_SETLK conflicting", fcntl(fd3, F_OFD_SETLK, &q));
		unlink(p);
	}
	return 0;
}
