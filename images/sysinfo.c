/* The facts programs ask for around main(), printed as properties so the
 * output is the same natively and in the sandbox. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
int main(void)
{
	struct utsname u;
	printf("uname ok: %d, sysname %s, machine %s\n", uname(&u) == 0, u.sysname, u.machine);
	printf("getpid>0: %d, gettid==getpid: %d\n", getpid() > 0, (int)gettid() == (int)getpid());
	printf("uid==euid: %d, gid==egid: %d\n", getuid() == geteuid(), getgid() == getegid());
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("monotonic nondecreasing: %d\n", b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec));
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	time_t t = time(NULL);
	printf("realtime after 2024: %d, clocks agree: %d\n", rt.tv_sec > 1704067200,
	       tv.tv_sec - rt.tv_sec <= 1 && t - rt.tv_sec <= 1);
	unsigned char r[16];
	printf("getrandom 16: %zd\n", getrandom(r, sizeof r, 0));
	cpu_set_t set;
	CPU_ZERO(&set);
	printf("affinity ok: %d, cpus>=1: %d\n", sched_getaffinity(0, sizeof set, &set) == 0, CPU_COUNT(&set) >= 1);
	struct rlimit rl;
	printf("getrlimit(STACK) ok: %d, soft>=8MiB: %d\n", getrlimit(RLIMIT_STACK, &rl) == 0,
	       rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 8u << 20);
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe);
	printf("readlink /proc/self/exe ok: %d, absolute: %d\n", n > 0, n > 0 && exe[0] == '/');
	printf("AT_PAGESZ: %lu, AT_RANDOM set: %d, AT_PHDR set: %d\n", getauxval(AT_PAGESZ),
	       getauxval(AT_RANDOM) != 0, getauxval(AT_PHDR) != 0);
	printf("AT_SYSINFO_EHDR set: %d\n", getauxval(AT_SYSINFO_EHDR) != 0);
	printf("sysconf pagesize: %ld\n", sysconf(_SC_PAGESIZE));
	return 0;
}
