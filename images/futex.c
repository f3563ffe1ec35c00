/* Every futex operation a single thread can make (no PI), through
 * syscall(SYS_futex, ...): the return value or errno name of each, the words
 * FUTEX_WAKE_OP leaves behind, and waits ended by a timeout (relative,
 * absolute monotonic, absolute realtime) or by a signal (with and without
 * SA_RESTART). Private words live in .bss; shared ones in a MAP_SHARED
 * anonymous page. Times are never printed, only that a wait lasted at least
 * as long as asked. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* musl's headers have no <linux/futex.h>: the ABI numbers. */
#define WAIT 0
#define WAKE 1
#define REQUEUE 3
#define CMP_REQUEUE 4
#define WAKE_OP 5
#define WAIT_BITSET 9
#define WAKE_BITSET 10
#define PRIVATE 128
#define CLOCK_RT 256
#define MATCH_ANY 0xffffffffu
#define OP_SET 0
#define OP_ADD 1
#define OP_OR 2
#define OP_ANDN 3
#define OP_XOR 4
#define OP_SHIFT 8
#define CMP_EQ 0
#define CMP_NE 1
#define CMP_LT 2
#define CMP_LE 3
#define CMP_GT 4
#define CMP_GE 5
#define FOP(op, oparg, cmp, cmparg) \
	((unsigned)(((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | \
	 (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

static const char *errname(int e)
{
	static char buf[24];
	switch (e) {
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOSYS: return "ENOSYS";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EPERM: return "EPERM";
	case ESRCH: return "ESRCH";
	case EDEADLK: return "EDEADLK";
	}
	snprintf(buf, sizeof buf, "%d", e);
	return buf;
}

static long fx(void *uaddr, long op, long val, const void *ts_or_val2,
	       void *uaddr2, long val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts_or_val2, uaddr2, val3);
}

static void show(const char *what, long r)
{
	if (r < 0)
		printf("%-52s = -1 %s\n", what, errname(errno));
	else
		printf("%-52s = %ld\n", what, r);
	fflush(stdout);
}

static long long now_ns(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static struct timespec ns_to_ts(long long ns)
{
	struct timespec t = { ns / 1000000000LL, ns % 1000000000LL };
	return t;
}

static int word, word2, word3;
static volatile sig_atomic_t alarms, set_word_in_handler;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
	if (set_word_in_handler)
		word = 1;
}

/* SIGALRM every 30 ms from now (repeating, so that a signal that came before
 * the wait began is followed by one that interrupts it), or stop it. */
static void alarm_every_30ms(int on)
{
	struct itimerval it;
	memset(&it, 0, sizeof it);
	if (on) {
		it.it_value.tv_usec = 30000;
		it.it_interval.tv_usec = 30000;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

static void handle_alarm(int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
}

/* The word of FUTEX_WAKE_OP's uaddr2 before and after `op`. */
static void wake_op(const char *what, int *w2, int before, unsigned op)
{
	*w2 = before;
	long r = fx(&word, WAKE_OP | PRIVATE, 1, (void *)1, w2, op);
	char buf[96];
	snprintf(buf, sizeof buf, "WAKE_OP %s", what);
	if (r < 0)
		printf("%-52s = -1 %s, word %d -> %d\n", buf, errname(errno), before, *w2);
	else
		printf("%-52s = %ld, word %d -> %d\n", buf, r, before, *w2);
	fflush(stdout);
}

/* A wait that must time out after at least `ms` milliseconds. */
static void timed(const char *what, long r, long long t0, int ms)
{
	int e = errno;
	long long el = now_ns(CLOCK_MONOTONIC) - t0;
	if (r < 0)
		printf("%-52s = -1 %s, waited >= %d ms: %d\n", what, errname(e), ms,
		       el >= ms * 1000000LL);
	else
		printf("%-52s = %ld\n", what, r);
	fflush(stdout);
}

int main(void)
{
	int *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *ro = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED || ro == MAP_FAILED)
		return 1;
	int *sw = shm, *sw2 = shm + 1;
	*(int *)ro = 7;
	mprotect(ro, 4096, PROT_READ);
	mprotect(ro + 4096, 4096, PROT_NONE);
	struct timespec zero = { 0, 0 }, ms20 = { 0, 20000000 };
	struct timespec badns = { 0, 1000000000 }, negs = { -1, 0 };
	long long t0;

	printf("-- wake with nobody waiting\n");
	show("WAKE_PRIVATE 1", fx(&word, WAKE | PRIVATE, 1, NULL, NULL, 0));
	show("WAKE_PRIVATE INT_MAX", fx(&word, WAKE | PRIVATE, 0x7fffffff, NULL, NULL, 0));
	show("WAKE_PRIVATE 0", fx(&word, WAKE | PRIVATE, 0, NULL, NULL, 0));
	show("WAKE_PRIVATE -1", fx(&word, WAKE | PRIVATE, -1, NULL, NULL, 0));
	show("WAKE (shared key) on .bss", fx(&word, WAKE, 1, NULL, NULL, 0));
	show("WAKE (shared key) on MAP_SHARED", fx(sw, WAKE, 1, NULL, NULL, 0));
	show("WAKE_PRIVATE on MAP_SHARED", fx(sw, WAKE | PRIVATE, 1, NULL, NULL, 0));
	show("WAKE_BITSET_PRIVATE any", fx(&word, WAKE_BITSET | PRIVATE, 1, NULL, NULL, MATCH_ANY));
	show("WAKE_BITSET_PRIVATE bitset 0", fx(&word, WAKE_BITSET | PRIVATE, 1, NULL, NULL, 0));
	show("WAKE|CLOCK_REALTIME", fx(&word, WAKE | PRIVATE | CLOCK_RT, 1, NULL, NULL, 0));

	printf("-- wait with a value that differs\n");
	word = 5;
	*sw = 6;
	show("WAIT_PRIVATE 4 (word 5)", fx(&word, WAIT | PRIVATE, 4, NULL, NULL, 0));
	show("WAIT shared 5 (word 6)", fx(sw, WAIT, 5, NULL, NULL, 0));
	show("WAIT_BITSET_PRIVATE 0 (word 5)", fx(&word, WAIT_BITSET | PRIVATE, 0, NULL, NULL, MATCH_ANY));
	show("WAIT on a read-only page 8 (word 7)", fx(ro, WAIT | PRIVATE, 8, NULL, NULL, 0));
	show("WAIT shared on a read-only page 8", fx(ro, WAIT, 8, NULL, NULL, 0));
	show("WAIT 0x100000004 (word 5: only 32 bits count)", fx(&word, WAIT | PRIVATE, 0x100000004L, &zero, NULL, 0));

	printf("-- timeouts\n");
	show("WAIT_PRIVATE right value, timeout 0", fx(&word, WAIT | PRIVATE, 5, &zero, NULL, 0));
	show("WAIT 0x100000005 (word 5), timeout 0", fx(&word, WAIT | PRIVATE, 0x100000005L, &zero, NULL, 0));
	show("WAIT on a read-only page 7, timeout 0", fx(ro, WAIT | PRIVATE, 7, &zero, NULL, 0));
	t0 = now_ns(CLOCK_MONOTONIC);
	timed("WAIT_PRIVATE right value, 20 ms", fx(&word, WAIT | PRIVATE, 5, &ms20, NULL, 0), t0, 20);
	t0 = now_ns(CLOCK_MONOTONIC);
	timed("WAIT shared right value, 20 ms", fx(sw, WAIT, 6, &ms20, NULL, 0), t0, 20);
	struct timespec past = ns_to_ts(now_ns(CLOCK_MONOTONIC) - 1000000000LL);
	show("WAIT_BITSET monotonic deadline 1 s ago", fx(&word, WAIT_BITSET | PRIVATE, 5, &past, NULL, MATCH_ANY));
	struct timespec epoch = { 0, 0 };
	show("WAIT_BITSET monotonic deadline 0", fx(&word, WAIT_BITSET | PRIVATE, 5, &epoch, NULL, MATCH_ANY));
	t0 = now_ns(CLOCK_MONOTONIC);
	struct timespec mono20 = ns_to_ts(t0 + 20000000LL);
	timed("WAIT_BITSET monotonic deadline +20 ms", fx(&word, WAIT_BITSET | PRIVATE, 5, &mono20, NULL, MATCH_ANY), t0, 20);
	long long rt_deadline = now_ns(CLOCK_REALTIME) + 20000000LL;
	struct timespec rt20 = ns_to_ts(rt_deadline);
	long r = fx(&word, WAIT_BITSET | PRIVATE | CLOCK_RT, 5, &rt20, NULL, MATCH_ANY);
	int e = errno;
	printf("%-52s = %ld %s, realtime past the deadline: %d\n",
	       "WAIT_BITSET|CLOCK_REALTIME deadline +20 ms", r,
	       r < 0 ? errname(e) : "", now_ns(CLOCK_REALTIME) >= rt_deadline);
	struct timespec rtpast = ns_to_ts(now_ns(CLOCK_REALTIME) - 1000000000LL);
	show("WAIT_BITSET|CLOCK_REALTIME deadline 1 s ago", fx(&word, WAIT_BITSET | PRIVATE | CLOCK_RT, 5, &rtpast, NULL, MATCH_ANY));
	/* CLOCK_REALTIME goes with WAIT_BITSET only (Linux 4.5 to 5.13 also
	 * took it with WAIT): ENOSYS at once, not a wait. */
	show("WAIT|CLOCK_REALTIME relative 20 ms", fx(&word, WAIT | PRIVATE | CLOCK_RT, 5, &ms20, NULL, 0));

	printf("-- invalid arguments\n");
	show("WAIT tv_nsec 1000000000", fx(&word, WAIT | PRIVATE, 5, &badns, NULL, 0));
	show("WAIT tv_sec -1", fx(&word, WAIT | PRIVATE, 5, &negs, NULL, 0));
	show("WAIT tv_nsec 1000000000, value differs", fx(&word, WAIT | PRIVATE, 4, &badns, NULL, 0));
	show("WAIT_BITSET tv_nsec 1000000000", fx(&word, WAIT_BITSET | PRIVATE, 5, &badns, NULL, MATCH_ANY));
	show("WAIT timeout pointer 0x1", fx(&word, WAIT | PRIVATE, 5, (void *)1, NULL, 0));
	show("WAIT_BITSET bitset 0", fx(&word, WAIT_BITSET | PRIVATE, 5, &zero, NULL, 0));
	show("WAIT_PRIVATE unaligned", fx((char *)&word + 1, WAIT | PRIVATE, 5, &zero, NULL, 0));
	show("WAKE_PRIVATE unaligned", fx((char *)&word + 2, WAKE | PRIVATE, 1, NULL, NULL, 0));
	show("WAKE shared unaligned", fx((char *)sw + 1, WAKE, 1, NULL, NULL, 0));
	show("WAIT_PRIVATE NULL", fx(NULL, WAIT | PRIVATE, 0, NULL, NULL, 0));
	show("WAIT shared NULL", fx(NULL, WAIT, 0, NULL, NULL, 0));
	show("WAIT_PRIVATE on a PROT_NONE page", fx(ro + 4096, WAIT | PRIVATE, 0, NULL, NULL, 0));
	show("WAIT_PRIVATE kernel address", fx((void *)0xffffffff80000000UL, WAIT | PRIVATE, 0, NULL, NULL, 0));
	show("WAKE_PRIVATE NULL (nothing read)", fx(NULL, WAKE | PRIVATE, 1, NULL, NULL, 0));
	show("WAKE shared NULL", fx(NULL, WAKE, 1, NULL, NULL, 0));
	show("WAKE_PRIVATE kernel address", fx((void *)0xffffffff80000000UL, WAKE | PRIVATE, 1, NULL, NULL, 0));
	show("op 99", fx(&word, 99, 0, NULL, NULL, 0));
	show("op 99|PRIVATE", fx(&word, 99 | PRIVATE, 0, NULL, NULL, 0));
	show("op 0x1001 (WAKE with a stray bit)", fx(&word, 0x1001, 1, NULL, NULL, 0));

	printf("-- requeue\n");
	word = 5;
	word2 = 9;
	show("REQUEUE wake 1, requeue 1", fx(&word, REQUEUE | PRIVATE, 1, (void *)1, &word2, 0));
	show("REQUEUE shared", fx(sw, REQUEUE, 1, (void *)1, sw2, 0));
	show("REQUEUE same word", fx(&word, REQUEUE | PRIVATE, 1, (void *)1, &word, 0));
	show("REQUEUE wake -1", fx(&word, REQUEUE | PRIVATE, -1, (void *)1, &word2, 0));
	show("REQUEUE requeue -1", fx(&word, REQUEUE | PRIVATE, 1, (void *)-1, &word2, 0));
	show("CMP_REQUEUE val3 4 (word 5)", fx(&word, CMP_REQUEUE | PRIVATE, 1, (void *)1, &word2, 4));
	show("CMP_REQUEUE val3 5 (word 5)", fx(&word, CMP_REQUEUE | PRIVATE, 1, (void *)1, &word2, 5));
	show("CMP_REQUEUE val3 0x100000005 (32 bits count)", fx(&word, CMP_REQUEUE | PRIVATE, 1, (void *)1, &word2, 0x100000005L));
	show("CMP_REQUEUE shared val3 6", fx(sw, CMP_REQUEUE, 1, (void *)1, sw2, 6));
	show("CMP_REQUEUE same word, val3 matching", fx(&word, CMP_REQUEUE | PRIVATE, 1, (void *)1, &word, 5));
	show("CMP_REQUEUE same word, val3 differing", fx(&word, CMP_REQUEUE | PRIVATE, 1, (void *)1, &word, 4));
	show("CMP_REQUEUE wake -1", fx(&word, CMP_REQUEUE | PRIVATE, -1, (void *)1, &word2, 5));
	show("CMP_REQUEUE requeue -1", fx(&word, CMP_REQUEUE | PRIVATE, 1, (void *)-1, &word2, 5));
	show("CMP_REQUEUE uaddr2 NULL", fx(&word, CMP_REQUEUE | PRIVATE, 1, (void *)1, NULL, 5));
	show("CMP_REQUEUE uaddr2 unaligned", fx(&word, CMP_REQUEUE | PRIVATE, 1, (void *)1, (char *)&word2 + 1, 5));
	show("CMP_REQUEUE uaddr NULL", fx(NULL, CMP_REQUEUE | PRIVATE, 1, (void *)1, &word2, 5));

	printf("-- wake_op\n");
	wake_op("ADD 5, CMP_EQ 0", &word2, 0, FOP(OP_ADD, 5, CMP_EQ, 0));
	wake_op("ADD 5, CMP_EQ 0 (shared)", sw2, 10, FOP(OP_ADD, 5, CMP_EQ, 0));
	wake_op("ADD -1 (0xfff: sign-extended)", &word2, 10, FOP(OP_ADD, 0xfff, CMP_EQ, 0));
	wake_op("ADD 0x800 (-2048)", &word2, 0, FOP(OP_ADD, 0x800, CMP_EQ, 0));
	wake_op("SET 77", &word2, 3, FOP(OP_SET, 77, CMP_NE, 0));
	wake_op("SET -5", &word2, 3, FOP(OP_SET, -5, CMP_LT, 0));
	wake_op("OR 0xf0", &word2, 0x0f, FOP(OP_OR, 0xf0, CMP_LE, 0));
	wake_op("ANDN 0x0f", &word2, 0xff, FOP(OP_ANDN, 0x0f, CMP_GT, 0));
	wake_op("XOR 0x55", &word2, 0xff, FOP(OP_XOR, 0x55, CMP_GE, 0));
	wake_op("SET|SHIFT 4 (1<<4)", &word2, 3, FOP(OP_SET | OP_SHIFT, 4, CMP_EQ, 16));
	wake_op("ADD|SHIFT 10", &word2, 1, FOP(OP_ADD | OP_SHIFT, 10, CMP_EQ, 0));
	wake_op("OR|SHIFT 31", &word2, 1, FOP(OP_OR | OP_SHIFT, 31, CMP_EQ, 0));
	wake_op("ANDN|SHIFT 0", &word2, 3, FOP(OP_ANDN | OP_SHIFT, 0, CMP_EQ, 0));
	wake_op("XOR|SHIFT 3", &word2, 0xff, FOP(OP_XOR | OP_SHIFT, 3, CMP_EQ, 0));
	wake_op("cmp -1 (0xfff) LT", &word2, -3, FOP(OP_ADD, 0, CMP_LT, 0xfff));
	wake_op("op 5 (no such op)", &word2, 3, FOP(5, 1, CMP_EQ, 0));
	wake_op("op 7 (no such op)", &word2, 3, FOP(7, 1, CMP_EQ, 0));
	wake_op("cmp 6 (no such cmp: the op is done)", &word2, 3, FOP(OP_ADD, 1, 6, 0));
	wake_op("cmp 15 (no such cmp: the op is done)", &word2, 3, FOP(OP_SET, 9, 15, 0));
	show("WAKE_OP uaddr2 NULL", fx(&word, WAKE_OP | PRIVATE, 1, (void *)1, NULL, FOP(OP_ADD, 1, CMP_EQ, 0)));
	show("WAKE_OP uaddr2 read-only", fx(&word, WAKE_OP | PRIVATE, 1, (void *)1, ro, FOP(OP_ADD, 1, CMP_EQ, 0)));
	printf("read-only word after WAKE_OP: %d\n", *(int *)ro);
	show("WAKE_OP uaddr2 PROT_NONE", fx(&word, WAKE_OP | PRIVATE, 1, (void *)1, ro + 4096, FOP(OP_ADD, 1, CMP_EQ, 0)));
	show("WAKE_OP uaddr2 unaligned", fx(&word, WAKE_OP | PRIVATE, 1, (void *)1, (char *)&word2 + 2, FOP(OP_ADD, 1, CMP_EQ, 0)));
	show("WAKE_OP uaddr2 = uaddr", fx(&word2, WAKE_OP | PRIVATE, 1, (void *)1, &word2, FOP(OP_ADD, 1, CMP_EQ, 0)));
	printf("word after WAKE_OP on itself: %d\n", word2);
	word2 = 3;
	show("WAKE_OP wake -1, wake2 -1", fx(&word, WAKE_OP | PRIVATE, -1, (void *)-1, &word2, FOP(OP_ADD, 1, CMP_EQ, 0)));
	printf("word after: %d\n", word2);
	show("WAKE_OP shared", fx(sw, WAKE_OP, 1, (void *)1, sw2, FOP(OP_XOR, 1, CMP_EQ, 0)));
	printf("shared word after: %d\n", *sw2);

	printf("-- signals\n");
	word = 0;
	alarms = 0;
	set_word_in_handler = 0;
	handle_alarm(0);
	alarm_every_30ms(1);
	r = fx(&word, WAIT | PRIVATE, 0, NULL, NULL, 0);
	e = errno;
	alarm_every_30ms(0);
	printf("%-52s = %ld %s, handler ran: %d\n", "WAIT no timeout, handler without SA_RESTART", r,
	       r < 0 ? errname(e) : "", alarms > 0);

	/* With SA_RESTART the wait restarts; the handler changes the word, so
	 * the restarted wait sees a different value. */
	word = 0;
	alarms = 0;
	set_word_in_handler = 1;
	handle_alarm(SA_RESTART);
	alarm_every_30ms(1);
	r = fx(&word, WAIT | PRIVATE, 0, NULL, NULL, 0);
	e = errno;
	alarm_every_30ms(0);
	set_word_in_handler = 0;
	printf("%-52s = %ld %s, handler ran: %d\n", "WAIT no timeout, SA_RESTART (handler sets word)", r,
	       r < 0 ? errname(e) : "", alarms > 0);

	/* A wait with a timeout is restarted only when no handler runs: with
	 * a handler it is EINTR, SA_RESTART or not. */
	struct timespec s5 = { 5, 0 };
	for (int restart = 0; restart < 2; restart++) {
		word = 0;
		alarms = 0;
		handle_alarm(restart ? SA_RESTART : 0);
		alarm_every_30ms(1);
		t0 = now_ns(CLOCK_MONOTONIC);
		r = fx(&word, WAIT | PRIVATE, 0, &s5, NULL, 0);
		e = errno;
		alarm_every_30ms(0);
		printf("WAIT 5 s timeout, handler%-27s = %ld %s, before 5 s: %d\n",
		       restart ? " with SA_RESTART" : " without SA_RESTART", r,
		       r < 0 ? errname(e) : "", now_ns(CLOCK_MONOTONIC) - t0 < 5000000000LL);
		word = 0;
		alarms = 0;
		alarm_every_30ms(1);
		struct timespec dl = ns_to_ts(now_ns(CLOCK_MONOTONIC) + 5000000000LL);
		r = fx(&word, WAIT_BITSET | PRIVATE, 0, &dl, NULL, MATCH_ANY);
		e = errno;
		alarm_every_30ms(0);
		printf("WAIT_BITSET deadline +5 s, handler%-18s = %ld %s\n",
		       restart ? " with SA_RESTART" : " without SA_RESTART", r,
		       r < 0 ? errname(e) : "");
	}

	/* A blocked signal neither interrupts nor is lost: it stays pending
	 * through the wait and runs its handler when unblocked. */
	sigset_t alrm, pend;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	handle_alarm(0);
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	alarms = 0;
	struct itimerval once;
	memset(&once, 0, sizeof once);
	once.it_value.tv_usec = 5000;
	setitimer(ITIMER_REAL, &once, NULL);
	struct timespec ms60 = { 0, 60000000 };
	t0 = now_ns(CLOCK_MONOTONIC);
	timed("WAIT 60 ms, SIGALRM blocked", fx(&word, WAIT | PRIVATE, 0, &ms60, NULL, 0), t0, 60);
	sigpending(&pend);
	printf("SIGALRM pending: %d, handler ran: %d\n", sigismember(&pend, SIGALRM), (int)alarms);
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	printf("after unblocking, handler ran: %d\n", (int)alarms);

	/* Ignored: not even a wakeup. */
	signal(SIGALRM, SIG_IGN);
	setitimer(ITIMER_REAL, &once, NULL);
	t0 = now_ns(CLOCK_MONOTONIC);
	timed("WAIT 60 ms, SIGALRM ignored", fx(&word, WAIT | PRIVATE, 0, &ms60, NULL, 0), t0, 60);
	return 0;
}
