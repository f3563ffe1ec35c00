/* Futexes between threads, through syscall(SYS_futex, ...):
 * - 8 threads x 20000 lock/unlock of a hand-written three-state mutex
 *   (Drepper, "Futexes Are Tricky": 0 free, 1 locked, 2 locked with
 *   waiters) around a plain counter;
 * - FUTEX_CMP_REQUEUE: 4 waiters on one word moved to a second (counted
 *   until all 4 have gone, so none is missed however late it sleeps), then 1
 *   woken and 2 moved on to a third, a val3 mismatch (EAGAIN), and the rest
 *   woken from where they are;
 * - FUTEX_WAIT_BITSET: a waiter that another thread's non-matching
 *   FUTEX_WAKE_BITSET does not wake times out (ETIMEDOUT, after at least the
 *   timeout), and one that a matching bitset does wake.
 * Only counts and return values are printed. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* musl's headers have no <linux/futex.h>: the ABI numbers. */
#define WAIT 0
#define WAKE 1
#define CMP_REQUEUE 4
#define WAIT_BITSET 9
#define WAKE_BITSET 10
#define PRIVATE 128

static long fx(int *uaddr, long op, long val, const void *ts_or_val2,
	       int *uaddr2, long val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts_or_val2, uaddr2, val3);
}

static const char *errname(int e)
{
	static char buf[24];
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case EINVAL: return "EINVAL";
	case ETIMEDOUT: return "ETIMEDOUT";
	}
	snprintf(buf, sizeof buf, "%d", e);
	return buf;
}

static void show(const char *what, long r, int e)
{
	if (r < 0)
		printf("%-48s = -1 %s\n", what, errname(e));
	else
		printf("%-48s = %ld\n", what, r);
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec t = { 0, ms * 1000000L };
	nanosleep(&t, NULL);
}

/* -- the mutex */

static int cas(int *p, int expected, int desired)
{
	__atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQUIRE,
				    __ATOMIC_RELAXED);
	return expected; /* the old value */
}

static void lock(int *m)
{
	int c = cas(m, 0, 1);
	if (c == 0)
		return;
	if (c != 2)
		c = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		fx(m, WAIT | PRIVATE, 2, NULL, NULL, 0);
		c = __atomic_exchange_n(m, 2, __ATOMIC_ACQUIRE);
	}
}

static void unlock(int *m)
{
	if (__atomic_fetch_sub(m, 1, __ATOMIC_RELEASE) != 1) {
		__atomic_store_n(m, 0, __ATOMIC_RELEASE);
		fx(m, WAKE | PRIVATE, 1, NULL, NULL, 0);
	}
}

#define THREADS 8
#define ITERS 20000
static int mtx;
static long counter;   /* plain: only the mutex protects it */
static int in_section; /* never more than one inside */
static int overlap;

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITERS; i++) {
		lock(&mtx);
		if (__atomic_add_fetch(&in_section, 1, __ATOMIC_RELAXED) != 1)
			overlap = 1;
		counter++;
		if (i % 1000 == 0)
			sched_yield(); /* holding it: others pile up and sleep */
		__atomic_sub_fetch(&in_section, 1, __ATOMIC_RELAXED);
		unlock(&mtx);
	}
	return NULL;
}

/* -- requeue */

static int word_a, word_b, word_c;
static int waiter_ret[4], waiter_err[4], waiters_done;

static void *requeue_waiter(void *arg)
{
	intptr_t me = (intptr_t)arg;
	long r = fx(&word_a, WAIT | PRIVATE, 0, NULL, NULL, 0);
	waiter_ret[me] = (int)r;
	waiter_err[me] = r < 0 ? errno : 0;
	__atomic_add_fetch(&waiters_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* -- bitset */

static int word_bits;

struct bitwait {
	unsigned bitset;
	int ms;
	long r;
	int err;
	int long_enough;
	int started;
};

static void *bitset_waiter(void *arg)
{
	struct bitwait *w = arg;
	long long t0 = now_ns();
	long long dl_ns = t0 + w->ms * 1000000LL;
	struct timespec dl = { dl_ns / 1000000000LL, dl_ns % 1000000000LL };
	__atomic_store_n(&w->started, 1, __ATOMIC_SEQ_CST);
	w->r = fx(&word_bits, WAIT_BITSET | PRIVATE, 0, &dl, NULL, w->bitset);
	w->err = w->r < 0 ? errno : 0;
	w->long_enough = now_ns() >= dl_ns;
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("mutex: %d threads x %d = %ld, overlap seen: %d, word at the end: %d\n",
	       THREADS, ITERS, counter, overlap, mtx);

	/* CMP_REQUEUE everything from a to b until all 4 waiters have been
	 * moved: a waiter that had not slept yet is caught by a later round. */
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, requeue_waiter, (void *)i);
	long moved = 0;
	int bad = 0;
	for (int tries = 0; moved < 4 && tries < 5000; tries++) {
		long r = fx(&word_a, CMP_REQUEUE | PRIVATE, 0, (void *)0x7fffffffL, &word_b, 0);
		if (r < 0)
			bad = 1;
		else
			moved += r;
		if (moved < 4)
			sleep_ms(1);
	}
	printf("CMP_REQUEUE a -> b (wake 0, move all) until 4 moved: %ld, errors: %d\n",
	       moved, bad);
	long r = fx(&word_a, WAKE | PRIVATE, 0x7fffffff, NULL, NULL, 0);
	show("WAKE a (all were moved)", r, errno);
	r = fx(&word_b, CMP_REQUEUE | PRIVATE, 1, (void *)2L, &word_c, 1);
	show("CMP_REQUEUE b -> c, val3 1 (word 0)", r, errno);
	r = fx(&word_b, CMP_REQUEUE | PRIVATE, 1, (void *)2L, &word_c, 0);
	show("CMP_REQUEUE b -> c, wake 1, move 2", r, errno);
	/* The woken one finishes by itself. */
	while (__atomic_load_n(&waiters_done, __ATOMIC_SEQ_CST) < 1)
		sleep_ms(1);
	printf("waiters done after waking 1: %d\n", __atomic_load_n(&waiters_done, __ATOMIC_SEQ_CST));
	r = fx(&word_b, WAKE | PRIVATE, 0x7fffffff, NULL, NULL, 0);
	show("WAKE b (1 left)", r, errno);
	r = fx(&word_c, WAKE | PRIVATE, 0x7fffffff, NULL, NULL, 0);
	show("WAKE c (2 moved there)", r, errno);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("waiters' FUTEX_WAIT results: %d %d %d %d, errors %d %d %d %d\n",
	       waiter_ret[0], waiter_ret[1], waiter_ret[2], waiter_ret[3],
	       waiter_err[0], waiter_err[1], waiter_err[2], waiter_err[3]);

	/* A waiter on bit 0 that only bit-1 wakes reach: it times out. */
	struct bitwait w;
	memset(&w, 0, sizeof w);
	w.bitset = 1;
	w.ms = 50;
	pthread_create(&t[0], NULL, bitset_waiter, &w);
	while (!__atomic_load_n(&w.started, __ATOMIC_SEQ_CST))
		sched_yield();
	long woken = 0;
	for (int i = 0; i < 10; i++) {
		woken += fx(&word_bits, WAKE_BITSET | PRIVATE, 0x7fffffff, NULL, NULL, 2);
		sleep_ms(2);
	}
	pthread_join(t[0], NULL);
	printf("WAKE_BITSET bitset 2 x10 (waiter on bitset 1) woke: %ld\n", woken);
	show("WAIT_BITSET bitset 1, deadline +50 ms", w.r, w.err);
	printf("waited until the deadline: %d\n", w.long_enough);

	/* A waiter on bits 0 and 2, with a 10 s deadline: bit 2 wakes it. */
	memset(&w, 0, sizeof w);
	w.bitset = 1 | 4;
	w.ms = 10000;
	pthread_create(&t[0], NULL, bitset_waiter, &w);
	woken = 0;
	int tries;
	for (tries = 0; tries < 5000 && woken == 0; tries++) {
		long n = fx(&word_bits, WAKE_BITSET | PRIVATE, 0x7fffffff, NULL, NULL, 4);
		if (n > 0)
			woken += n;
		else
			sleep_ms(1);
	}
	pthread_join(t[0], NULL);
	printf("WAKE_BITSET bitset 4 (waiter on bitset 5) woke: %ld\n", woken);
	show("WAIT_BITSET bitset 5, deadline +10 s", w.r, w.err);
	printf("reached the deadline: %d\n", w.long_enough);
	return 0;
}
