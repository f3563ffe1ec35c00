/* POSIX threads through libc (glibc or musl, both with pthreads in libc):
 * a mutex-protected counter, a condition-variable bounded queue, barriers,
 * rwlocks, join values, __thread variables, a detached thread and sem_t,
 * thread and process ids, pthread_kill to a chosen thread, per-thread signal
 * masks steering a process-directed signal, affinity against the online CPU
 * count, thread churn, and pthread_exit with cleanup handlers and key
 * destructors. Only totals and yes/no answers are printed: never ids,
 * addresses, timings or anything that depends on the schedule. Nothing
 * spins without sched_yield, so one CPU is enough. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* sem_wait until it succeeds: a handler run in this thread ends it with
 * EINTR (glibc, whatever SA_RESTART says). */
static void sem_wait_all(sem_t *s)
{
	while (sem_wait(s) != 0 && errno == EINTR)
		;
}

static long gettid_(void)
{
	return syscall(SYS_gettid);
}

/* -- 1. mutex */

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *add_100000(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++) {
		pthread_mutex_lock(&counter_lock);
		counter++;
		pthread_mutex_unlock(&counter_lock);
	}
	return NULL;
}

static void test_mutex(void)
{
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, add_100000, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("1 mutex: 4 threads x 100000 = %ld\n", counter);
	/* Error checking and recursive kinds answer from the owner alone. */
	pthread_mutexattr_t a;
	pthread_mutex_t m;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&m, &a);
	pthread_mutex_lock(&m);
	int relock = pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	int unlock_unowned = pthread_mutex_unlock(&m);
	pthread_mutex_destroy(&m);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&m, &a);
	int rec = pthread_mutex_lock(&m) | pthread_mutex_lock(&m) |
		  pthread_mutex_trylock(&m) | pthread_mutex_unlock(&m) |
		  pthread_mutex_unlock(&m) | pthread_mutex_unlock(&m);
	pthread_mutex_destroy(&m);
	printf("1 mutex: errorcheck relock EDEADLK: %d, unlock unowned EPERM: %d, "
	       "recursive x3: %d\n",
	       relock == EDEADLK, unlock_unowned == EPERM, rec == 0);
}

/* -- 2. condition variables: one producer, one consumer, 8 slots */

#define SLOTS 8
#define ITEMS 10000
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_not_empty = PTHREAD_COND_INITIALIZER;
static int q[SLOTS], q_head, q_count, q_max;

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&q_lock);
		while (q_count == SLOTS)
			pthread_cond_wait(&q_not_full, &q_lock);
		q[(q_head + q_count) % SLOTS] = i;
		q_count++;
		if (q_count > q_max)
			q_max = q_count;
		pthread_cond_signal(&q_not_empty);
		pthread_mutex_unlock(&q_lock);
	}
	return NULL;
}

struct consumed {
	long sum;
	int in_order;
};

static void *consumer(void *arg)
{
	struct consumed *c = arg;
	c->sum = 0;
	c->in_order = 1;
	for (int i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&q_lock);
		while (q_count == 0)
			pthread_cond_wait(&q_not_empty, &q_lock);
		int v = q[q_head];
		q_head = (q_head + 1) % SLOTS;
		q_count--;
		pthread_cond_signal(&q_not_full);
		pthread_mutex_unlock(&q_lock);
		c->sum += v;
		if (v != i)
			c->in_order = 0;
	}
	return NULL;
}

static void test_condvar(void)
{
	struct consumed c;
	pthread_t p, k;
	pthread_create(&k, NULL, consumer, &c);
	pthread_create(&p, NULL, producer, NULL);
	pthread_join(p, NULL);
	pthread_join(k, NULL);
	printf("2 condvar: sum of 1..%d through %d slots = %ld, in order: %d, "
	       "never over %d: %d\n",
	       ITEMS, SLOTS, c.sum, c.in_order, SLOTS, q_max <= SLOTS);

	/* A timed wait nobody signals times out. */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += 10000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&q_lock);
	int r;
	do
		r = pthread_cond_timedwait(&q_not_empty, &q_lock, &dl);
	while (r == 0);
	pthread_mutex_unlock(&q_lock);
	printf("2 condvar: timedwait 10 ms ETIMEDOUT: %d\n", r == ETIMEDOUT);
}

/* -- 3. barrier and rwlock */

#define ROUNDS 3
static pthread_barrier_t bar;
static int arrived[ROUNDS], serial_count, barrier_bad;
static pthread_mutex_t bar_lock = PTHREAD_MUTEX_INITIALIZER;

static void *barrier_worker(void *arg)
{
	(void)arg;
	for (int r = 0; r < ROUNDS; r++) {
		pthread_mutex_lock(&bar_lock);
		arrived[r]++;
		pthread_mutex_unlock(&bar_lock);
		int s = pthread_barrier_wait(&bar);
		pthread_mutex_lock(&bar_lock);
		if (s == PTHREAD_BARRIER_SERIAL_THREAD)
			serial_count++;
		else if (s != 0)
			barrier_bad++;
		/* Everyone arrived for this round, nobody for the next yet. */
		if (arrived[r] != 4 || (r + 1 < ROUNDS && arrived[r + 1] != 0))
			barrier_bad++;
		pthread_mutex_unlock(&bar_lock);
		/* Nobody starts the next round before all have checked. */
		s = pthread_barrier_wait(&bar);
		if (s != 0 && s != PTHREAD_BARRIER_SERIAL_THREAD)
			barrier_bad++;
	}
	return NULL;
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long rw_a, rw_b;
static int rw_torn;

static void *rw_reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5000; i++) {
		pthread_rwlock_rdlock(&rw);
		if (rw_a != rw_b)
			rw_torn = 1;
		pthread_rwlock_unlock(&rw);
		if (i % 500 == 0)
			sched_yield();
	}
	return NULL;
}

static void *rw_writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pthread_rwlock_wrlock(&rw);
		rw_a++;
		if (i % 200 == 0)
			sched_yield(); /* a reader would see a != b */
		rw_b++;
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}

struct tries {
	int rd, wr;
};

static void *rw_try(void *arg)
{
	struct tries *t = arg;
	t->rd = pthread_rwlock_tryrdlock(&rw);
	if (t->rd == 0)
		pthread_rwlock_unlock(&rw);
	t->wr = pthread_rwlock_trywrlock(&rw);
	if (t->wr == 0)
		pthread_rwlock_unlock(&rw);
	return NULL;
}

static void test_barrier_rwlock(void)
{
	pthread_t t[4];
	pthread_barrier_init(&bar, NULL, 4);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, barrier_worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	printf("3 barrier: 4 threads, %d rounds, serial threads %d, ok: %d\n",
	       ROUNDS, serial_count, barrier_bad == 0);

	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, rw_reader, NULL);
	pthread_create(&t[3], NULL, rw_writer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("3 rwlock: 3 readers, 1 writer: %ld writes, torn reads seen: %d\n",
	       rw_b, rw_torn);

	/* Held for reading here: another thread may read, not write. */
	struct tries held_rd, held_wr, free_;
	pthread_t x;
	pthread_rwlock_rdlock(&rw);
	pthread_create(&x, NULL, rw_try, &held_rd);
	pthread_join(x, NULL);
	pthread_rwlock_unlock(&rw);
	pthread_rwlock_wrlock(&rw);
	pthread_create(&x, NULL, rw_try, &held_wr);
	pthread_join(x, NULL);
	pthread_rwlock_unlock(&rw);
	pthread_create(&x, NULL, rw_try, &free_);
	pthread_join(x, NULL);
	printf("3 rwlock: read-held: tryrd %d trywr EBUSY %d; write-held: tryrd "
	       "EBUSY %d trywr EBUSY %d; free: %d %d\n",
	       held_rd.rd, held_rd.wr == EBUSY, held_wr.rd == EBUSY,
	       held_wr.wr == EBUSY, free_.rd, free_.wr);
}

/* -- 4. join values */

static void *ret_square(void *arg)
{
	intptr_t i = (intptr_t)arg;
	return (void *)(i * i + 1);
}

static void test_join(void)
{
	pthread_t t[8];
	for (intptr_t i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, ret_square, (void *)i);
	long sum = 0;
	int all = 1;
	for (int i = 0; i < 8; i++) {
		void *v;
		if (pthread_join(t[i], &v) != 0)
			all = 0;
		if ((intptr_t)v != (intptr_t)i * i + 1)
			all = 0;
		sum += (intptr_t)v;
	}
	printf("4 join: sum of i*i+1 for i in 0..7 = %ld, each its own: %d\n", sum, all);
}

/* -- 5. __thread */

static __thread int tls_int = 42;
static __thread char tls_buf[64] = "initial";
static __thread long tls_zero;
static pthread_barrier_t tls_bar;
static int *tls_addr[4];

static void *tls_worker(void *arg)
{
	intptr_t me = (intptr_t)arg;
	int ok = tls_int == 42 && strcmp(tls_buf, "initial") == 0 && tls_zero == 0;
	tls_int = 1000 + (int)me;
	snprintf(tls_buf, sizeof tls_buf, "thread %d", (int)me);
	tls_zero = me * 7;
	tls_addr[me] = &tls_int;
	pthread_barrier_wait(&tls_bar); /* all have written */
	for (int i = 0; i < 5; i++)
		sched_yield();
	char want[64];
	snprintf(want, sizeof want, "thread %d", (int)me);
	ok = ok && tls_int == 1000 + me && strcmp(tls_buf, want) == 0 &&
	     tls_zero == me * 7;
	pthread_barrier_wait(&tls_bar); /* tls_addr complete */
	for (int i = 0; i < 4; i++)
		if (i != me && tls_addr[i] == &tls_int)
			ok = 0;
	return (void *)(intptr_t)ok;
}

static void test_tls(void)
{
	pthread_t t[4];
	pthread_barrier_init(&tls_bar, NULL, 4);
	tls_int = 7;
	strcpy(tls_buf, "main");
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, tls_worker, (void *)i);
	int good = 0;
	for (int i = 0; i < 4; i++) {
		void *v;
		pthread_join(t[i], &v);
		good += (intptr_t)v;
	}
	pthread_barrier_destroy(&tls_bar);
	int distinct = 1;
	for (int i = 0; i < 4; i++)
		if (tls_addr[i] == &tls_int)
			distinct = 0;
	printf("5 tls: threads seeing initial values then only their own: %d of 4, "
	       "main's kept: %d, distinct addresses: %d\n",
	       good, tls_int == 7 && strcmp(tls_buf, "main") == 0, distinct);
}

/* -- 6. detached thread and sem_t */

static sem_t det_done;
static int det_value;

static void *detached(void *arg)
{
	det_value = (int)(intptr_t)arg;
	sem_post(&det_done);
	return NULL;
}

static void *self_detaching(void *arg)
{
	int r = pthread_detach(pthread_self());
	det_value += r == 0 ? (int)(intptr_t)arg : 1000;
	sem_post(&det_done);
	return NULL;
}

static void test_detached(void)
{
	sem_init(&det_done, 0, 0);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int st;
	pthread_attr_getdetachstate(&a, &st);
	/* Nobody waits for these to be gone: created with every signal
	 * blocked, so that they cannot take section 9's kill(getpid()) while
	 * still on their way out. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_t t;
	int r = pthread_create(&t, &a, detached, (void *)(intptr_t)17);
	pthread_attr_destroy(&a);
	sem_wait_all(&det_done);
	int v1 = det_value;
	pthread_create(&t, NULL, self_detaching, (void *)(intptr_t)25);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sem_wait_all(&det_done);
	int val = -1;
	sem_getvalue(&det_done, &val);
	int try_empty = sem_trywait(&det_done) == -1 && errno == EAGAIN;
	sem_post(&det_done);
	sem_post(&det_done);
	int val2 = -1;
	sem_getvalue(&det_done, &val2);
	sem_destroy(&det_done);
	printf("6 detached: created %d, attr detached %d, posted %d then %d, "
	       "sem value %d, trywait EAGAIN %d, after 2 posts %d\n",
	       r, st == PTHREAD_CREATE_DETACHED, v1, det_value, val, try_empty, val2);
}

/* -- 7. ids */

struct ids {
	long tid;
	pid_t pid;
};

static void *get_ids(void *arg)
{
	struct ids *i = arg;
	i->tid = gettid_();
	i->pid = getpid();
	return NULL;
}

static void test_ids(void)
{
	struct ids id[3];
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, get_ids, &id[i]);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	pid_t pid = getpid();
	int tid_ne_pid = 1, pid_same = 1, tids_distinct = 1;
	for (int i = 0; i < 3; i++) {
		if (id[i].tid == pid || id[i].tid <= 0)
			tid_ne_pid = 0;
		if (id[i].pid != pid)
			pid_same = 0;
		for (int j = 0; j < i; j++)
			if (id[i].tid == id[j].tid)
				tids_distinct = 0;
	}
	printf("7 ids: main gettid == getpid: %d, thread gettid != getpid: %d, "
	       "getpid same in all: %d, tids distinct: %d, pthread_equal(self, self): %d\n",
	       gettid_() == pid, tid_ne_pid, pid_same, tids_distinct,
	       pthread_equal(pthread_self(), pthread_self()) != 0);
}

/* -- 8. pthread_kill to a chosen thread */

static volatile pthread_t handler_self;
static volatile sig_atomic_t handler_runs;
static volatile long handler_tid;
static sem_t sig_handled, sig_go, sig_ready;

static void on_usr(int sig)
{
	(void)sig;
	handler_self = pthread_self();
	handler_tid = gettid_();
	handler_runs++;
	sem_post(&sig_handled);
}

static long waiter_tid[3];

static void *sig_waiter(void *arg)
{
	waiter_tid[(intptr_t)arg] = gettid_();
	sem_post(&sig_ready);
	sem_wait_all(&sig_go);
	return NULL;
}

static void test_pthread_kill(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sem_init(&sig_handled, 0, 0);
	sem_init(&sig_go, 0, 0);
	sem_init(&sig_ready, 0, 0);
	pthread_t t[3];
	for (intptr_t i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, sig_waiter, (void *)i);
	for (int i = 0; i < 3; i++)
		sem_wait_all(&sig_ready);
	int ok = 1;
	for (int target = 0; target < 3; target++) {
		handler_runs = 0;
		int r = pthread_kill(t[target], SIGUSR1);
		sem_wait_all(&sig_handled);
		if (r != 0 || handler_runs != 1 ||
		    !pthread_equal(handler_self, t[target]) ||
		    handler_tid != waiter_tid[target])
			ok = 0;
	}
	/* Main can be a target too: a signal sent to oneself runs before
	 * pthread_kill returns. */
	handler_runs = 0;
	pthread_t me = pthread_self();
	pthread_kill(me, SIGUSR1);
	int main_ran = handler_runs == 1 && pthread_equal(handler_self, me);
	sem_wait_all(&sig_handled);
	int sig0 = pthread_kill(t[1], 0);
	for (int i = 0; i < 3; i++)
		sem_post(&sig_go);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("8 pthread_kill: SIGUSR1 to each of 3 threads ran in that thread: %s, "
	       "to main: %s, signal 0: %d\n",
	       ok ? "yes" : "no", main_ran ? "yes" : "no", sig0);
}

/* -- 9. per-thread masks: a process-directed signal goes to the one thread
 * that has it unblocked */

struct maskinfo {
	int index;
	int blocked_at_start, blocked_after;
	int pending_at_end;
};
static sem_t mask_done;

static void *mask_thread(void *arg)
{
	struct maskinfo *m = arg;
	sigset_t cur, u2;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	m->blocked_at_start = sigismember(&cur, SIGUSR2);
	sigemptyset(&u2);
	sigaddset(&u2, SIGUSR2);
	if (m->index == 1) /* the only one to take SIGUSR2 */
		pthread_sigmask(SIG_UNBLOCK, &u2, NULL);
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	m->blocked_after = sigismember(&cur, SIGUSR2);
	sem_post(&sig_ready);
	sem_wait_all(&sig_go);
	sigset_t pend;
	sigpending(&pend);
	m->pending_at_end = sigismember(&pend, SIGUSR2);
	return NULL;
}

static void test_sigmask(void)
{
	sigset_t u2, old;
	sigemptyset(&u2);
	sigaddset(&u2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &u2, &old); /* inherited by the threads */
	struct maskinfo m[3];
	pthread_t t[3];
	for (int i = 0; i < 3; i++) {
		m[i].index = i;
		pthread_create(&t[i], NULL, mask_thread, &m[i]);
	}
	for (int i = 0; i < 3; i++)
		sem_wait_all(&sig_ready);
	handler_runs = 0;
	handler_self = pthread_self();
	int r = kill(getpid(), SIGUSR2);
	sem_wait_all(&sig_handled);
	int in_unblocked = handler_runs == 1 && pthread_equal(handler_self, t[1]);
	/* Again, while the taker is busy in sem_wait: still only it. */
	handler_runs = 0;
	handler_self = pthread_self();
	r |= kill(getpid(), SIGUSR2);
	sem_wait_all(&sig_handled);
	in_unblocked = in_unblocked && handler_runs == 1 && pthread_equal(handler_self, t[1]);
	for (int i = 0; i < 3; i++)
		sem_post(&sig_go);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	sigset_t pend;
	sigpending(&pend);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	printf("9 sigmask: inherited blocked: %d %d %d, after: %d %d %d; "
	       "kill(getpid) ran in the unblocked thread: %s (kill %d); "
	       "pending anywhere after: %d\n",
	       m[0].blocked_at_start, m[1].blocked_at_start, m[2].blocked_at_start,
	       m[0].blocked_after, m[1].blocked_after, m[2].blocked_after,
	       in_unblocked ? "yes" : "no", r,
	       m[0].pending_at_end | m[1].pending_at_end | m[2].pending_at_end |
		       sigismember(&pend, SIGUSR2));
	sem_destroy(&sig_handled);
	sem_destroy(&sig_go);
	sem_destroy(&sig_ready);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
}

/* -- 10. affinity. The two counts disagree natively under a narrower
 * affinity (taskset, a cpuset) with glibc, which reads
 * /sys/devices/system/cpu/online; musl counts sched_getaffinity itself. */

static void *get_affinity(void *arg)
{
	cpu_set_t *s = arg;
	CPU_ZERO(s);
	if (sched_getaffinity(0, sizeof *s, s) != 0)
		CPU_ZERO(s);
	return NULL;
}

static void test_affinity(void)
{
	cpu_set_t main_set, thread_set;
	CPU_ZERO(&main_set);
	int r = sched_getaffinity(0, sizeof main_set, &main_set);
	pthread_t t;
	pthread_create(&t, NULL, get_affinity, &thread_set);
	pthread_join(t, NULL);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	printf("10 affinity: sched_getaffinity %d, count agrees with "
	       "_SC_NPROCESSORS_ONLN: %d, a thread's set is main's: %d\n",
	       r, CPU_COUNT(&main_set) == online, CPU_EQUAL(&main_set, &thread_set));
}

/* -- 11. churn */

static void *ret_arg(void *arg)
{
	return arg;
}

static void test_churn(void)
{
	long sum = 0;
	int created = 0;
	for (intptr_t i = 1; i <= 50; i++) {
		pthread_t t;
		void *v = NULL;
		if (pthread_create(&t, NULL, ret_arg, (void *)i) == 0)
			created++;
		pthread_join(t, &v);
		sum += (intptr_t)v;
	}
	printf("11 churn: 50 one after another: created %d, sum %ld\n", created, sum);
	pthread_t t[20];
	sum = 0;
	created = 0;
	for (intptr_t i = 1; i <= 20; i++)
		if (pthread_create(&t[i - 1], NULL, ret_arg, (void *)(i * 100)) == 0)
			created++;
	for (int i = 0; i < 20; i++) {
		void *v = NULL;
		pthread_join(t[i], &v);
		sum += (intptr_t)v;
	}
	printf("11 churn: 20 at once: created %d, sum %ld\n", created, sum);
}

/* -- 12. pthread_exit */

static pthread_key_t key;
static int cleanups, key_dtors, after_exit;

static void cleanup(void *arg)
{
	cleanups += (int)(intptr_t)arg;
}

static void key_dtor(void *v)
{
	key_dtors += (int)(intptr_t)v;
}

static void deep(int n)
{
	if (n == 0)
		pthread_exit((void *)(intptr_t)1234);
	deep(n - 1);
	after_exit = 1;
}

static void *exiting(void *arg)
{
	(void)arg;
	pthread_setspecific(key, (void *)(intptr_t)5);
	pthread_cleanup_push(cleanup, (void *)(intptr_t)1);
	pthread_cleanup_push(cleanup, (void *)(intptr_t)10);
	deep(5);
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	after_exit = 1;
	return (void *)(intptr_t)99;
}

static void test_pthread_exit(void)
{
	pthread_key_create(&key, key_dtor);
	pthread_t t;
	void *v = NULL;
	pthread_create(&t, NULL, exiting, NULL);
	int r = pthread_join(t, &v);
	pthread_key_delete(key);
	printf("12 pthread_exit: join %d, value %ld, cleanup handlers %d, key "
	       "destructor %d, code after pthread_exit ran: %d\n",
	       r, (long)(intptr_t)v, cleanups, key_dtors, after_exit);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_mutex();
	test_condvar();
	test_barrier_rwlock();
	test_join();
	test_tls();
	test_detached();
	test_ids();
	test_pthread_kill();
	test_sigmask();
	test_affinity();
	test_churn();
	test_pthread_exit();
	puts("threads: done");
	return 0;
}
