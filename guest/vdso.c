/*
 * kvmcage's vDSO: answers the time calls in ring 3, without an exit.
 *
 * Built by build.rs with gcc -shared -nostdlib -fPIC into a self-contained
 * shared object with no relocations, mapped read+execute into every guest
 * and announced with AT_SYSINFO_EHDR. `vdso_data` lives in its own page of
 * the image (mapped read-only); the host fills it before the program starts:
 * a TSC reading and the host's clocks at that instant, and the TSC-to-ns
 * scale. Time = base + (rdtsc() - tsc_base) * mult >> 32. Anything this
 * cannot answer falls back to the real system call.
 */
#include <stdint.h>

struct kvmcage_vdso_data {
	uint64_t version;      /* 0 = not filled: always use the syscall */
	uint64_t tsc_base;
	uint64_t mult;         /* ns per TSC tick, << 32 */
	int64_t realtime_sec, realtime_nsec;
	int64_t monotonic_sec, monotonic_nsec;
	int64_t boottime_sec, boottime_nsec;
};

__attribute__((section(".vdso_data"), aligned(4096), visibility("hidden")))
const volatile struct kvmcage_vdso_data vdso_data;

struct timespec64 { int64_t tv_sec; int64_t tv_nsec; };
struct timeval64 { int64_t tv_sec; int64_t tv_usec; };

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_BOOTTIME 7

static long sys2(long nr, long a, long b)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* 0 on success, -1 if this clock must go to the kernel. */
static int vdso_time(long clk, struct timespec64 *ts)
{
	int64_t sec, nsec;
	if (vdso_data.version == 0)
		return -1;
	/* The coarse clocks (the last tick's time) and MONOTONIC_RAW (no NTP
	 * slewing) are not these; they go to the kernel. */
	switch (clk) {
	case CLOCK_REALTIME:
		sec = vdso_data.realtime_sec; nsec = vdso_data.realtime_nsec; break;
	case CLOCK_MONOTONIC:
		sec = vdso_data.monotonic_sec; nsec = vdso_data.monotonic_nsec; break;
	case CLOCK_BOOTTIME:
		sec = vdso_data.boottime_sec; nsec = vdso_data.boottime_nsec; break;
	default:
		return -1;
	}
	uint64_t delta = rdtsc() - vdso_data.tsc_base;
	uint64_t ns = (uint64_t)(((unsigned __int128)delta * vdso_data.mult) >> 32);
	nsec += (int64_t)(ns % 1000000000u);
	sec += (int64_t)(ns / 1000000000u);
	if (nsec >= 1000000000) { nsec -= 1000000000; sec++; }
	ts->tv_sec = sec;
	ts->tv_nsec = nsec;
	return 0;
}

int __vdso_clock_gettime(long clk, struct timespec64 *ts)
{
	if (vdso_time(clk, ts) == 0)
		return 0;
	return (int)sys2(228 /* clock_gettime */, clk, (long)ts);
}

int __vdso_gettimeofday(struct timeval64 *tv, void *tz)
{
	struct timespec64 ts;
	if (tz || vdso_time(CLOCK_REALTIME, &ts) != 0)
		return (int)sys2(96 /* gettimeofday */, (long)tv, (long)tz);
	if (tv) {
		tv->tv_sec = ts.tv_sec;
		tv->tv_usec = ts.tv_nsec / 1000;
	}
	return 0;
}

long __vdso_time(long *t)
{
	struct timespec64 ts;
	if (vdso_time(CLOCK_REALTIME, &ts) != 0)
		return sys2(201 /* time */, (long)t, 0);
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

int __vdso_clock_getres(long clk, struct timespec64 *res)
{
	switch (clk) {
	case CLOCK_REALTIME: case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW:
	case CLOCK_BOOTTIME:
		if (res) { res->tv_sec = 0; res->tv_nsec = 1; }
		return 0;
	default:
		return (int)sys2(229 /* clock_getres */, clk, (long)res);
	}
}

/* One vCPU: always CPU 0, node 0. */
/* getcpu asks the host: only it knows which of the process's CPUs the
 * calling thread is on (its vCPU, its affinity mask). */
int __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(309L), "D"(cpu), "S"(node), "d"(unused)
			 : "rcx", "r11", "memory");
	return (int)ret;
}

int clock_gettime(long, struct timespec64 *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval64 *, void *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(long, struct timespec64 *) __attribute__((weak, alias("__vdso_clock_getres")));
int getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
