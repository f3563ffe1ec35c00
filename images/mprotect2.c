/* mprotect with two threads (the staleness test of PLATFORM.md across
 * CPUs): a writer thread keeps storing into a page (sched_yield each time,
 * counting its stores) while main makes the page read-only. Once mprotect
 * has returned, the writer's next store must fault: its SIGSEGV handler
 * prints "writer faulted" and ends the process with _exit(0). A store that
 * lands after mprotect returned means some CPU still had the old writable
 * translation: "write to a read-only page succeeded", status 1. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static volatile int *page;
static volatile unsigned long stores;
static volatile pthread_t writer_thread;

static void say(const char *s)
{
	write(1, s, strlen(s));
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (!pthread_equal(pthread_self(), writer_thread)) {
		say("fault outside the writer\n");
		_exit(3);
	}
	if (si->si_code != SEGV_ACCERR || si->si_addr != (void *)page) {
		say("writer faulted, but not with SEGV_ACCERR at the page\n");
		_exit(4);
	}
	say("writer faulted\n");
	_exit(0);
}

static void *writer(void *arg)
{
	(void)arg;
	for (int i = 1;; i++) {
		*page = i;
		__atomic_store_n(&stores, (unsigned long)i, __ATOMIC_SEQ_CST);
		sched_yield();
	}
	return NULL;
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 2;
	pthread_t t;
	pthread_create(&t, NULL, writer, NULL);
	writer_thread = t;
	while (__atomic_load_n(&stores, __ATOMIC_SEQ_CST) < 5)
		sched_yield();
	say("writer running\n");
	mprotect((void *)page, 4096, PROT_READ);
	/* The writer may have stored just before mprotect and not yet counted
	 * it: one more count is allowed, a second is a store after. */
	unsigned long seen = __atomic_load_n(&stores, __ATOMIC_SEQ_CST);
	long long t0 = now_ns();
	while (now_ns() - t0 < 1000000000LL) {
		if (__atomic_load_n(&stores, __ATOMIC_SEQ_CST) > seen + 1) {
			say("write to a read-only page succeeded\n");
			_exit(1);
		}
		sched_yield();
	}
	say("writer neither faulted nor stored for 1 s\n");
	return 2;
}
