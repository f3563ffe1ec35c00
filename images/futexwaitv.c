/* futex_waitv(2) (Linux 5.16): a thread woken on the second of three
 * words gets index 1; a word that differs is EAGAIN; an absolute timeout
 * on CLOCK_MONOTONIC and on CLOCK_REALTIME is ETIMEDOUT; bad arguments are
 * EINVAL or EFAULT in Linux's order; a child process waits on a word in a
 * MAP_SHARED page that its parent wakes with futex(FUTEX_WAKE). No C
 * library wraps it: raw syscalls. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FUTEX_WAKE 1
#define FUTEX_WAKE_PRIVATE 129

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

struct waitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

#define SIZE_U32 2
#define PRIV 128

static uint32_t words[3];

static long waitv(struct waitv *w, unsigned n, unsigned flags, struct timespec *t, int clock)
{
	return syscall(SYS_futex_waitv, w, n, flags, t, clock);
}

static const char *result(long r)
{
	static char buf[64];
	if (r >= 0)
		snprintf(buf, sizeof buf, "%ld", r);
	else
		snprintf(buf, sizeof buf, "%s",
			 errno == EAGAIN      ? "EAGAIN"
			 : errno == ETIMEDOUT ? "ETIMEDOUT"
			 : errno == EINVAL    ? "EINVAL"
			 : errno == EFAULT    ? "EFAULT"
					      : strerror(errno));
	return buf;
}

static void fill(struct waitv *w, unsigned flags)
{
	for (int i = 0; i < 3; i++) {
		w[i].val = 0;
		w[i].uaddr = (uintptr_t)&words[i];
		w[i].flags = SIZE_U32 | flags;
		w[i].reserved = 0;
	}
}

static void *waker(void *arg)
{
	(void)arg;
	usleep(50000);
	words[1] = 1;
	syscall(SYS_futex, &words[1], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	return NULL;
}

static struct timespec in_ms(int clock, long ms)
{
	struct timespec t;
	clock_gettime(clock, &t);
	t.tv_nsec += ms * 1000000;
	t.tv_sec += t.tv_nsec / 1000000000;
	t.tv_nsec %= 1000000000;
	return t;
}

int main(void)
{
	struct waitv w[3];
	fill(w, PRIV);
	pthread_t t;
	pthread_create(&t, NULL, waker, NULL);
	long r = waitv(w, 3, 0, NULL, 0);
	pthread_join(t, NULL);
	printf("woken on the second word: %s\n", result(r));

	fill(w, PRIV); /* words[1] is 1 now, the waiter expects 0 */
	printf("a word that differs: %s\n", result(waitv(w, 3, 0, NULL, 0)));
	words[1] = 0;

	struct timespec ts = in_ms(CLOCK_MONOTONIC, 30);
	printf("monotonic timeout: %s\n", result(waitv(w, 3, 0, &ts, CLOCK_MONOTONIC)));
	ts = in_ms(CLOCK_REALTIME, 30);
	printf("realtime timeout: %s\n", result(waitv(w, 3, 0, &ts, CLOCK_REALTIME)));
	printf("bad clock: %s\n", result(waitv(w, 3, 0, &ts, CLOCK_BOOTTIME)));
	printf("flags: %s\n", result(waitv(w, 3, 1, NULL, 0)));
	printf("no words: %s\n", result(waitv(w, 0, 0, NULL, 0)));
	printf("129 words: %s\n", result(waitv(w, 129, 0, NULL, 0)));
	printf("NULL array: %s\n", result(waitv(NULL, 1, 0, NULL, 0)));
	w[0].reserved = 1;
	printf("reserved set: %s\n", result(waitv(w, 1, 0, NULL, 0)));
	fill(w, PRIV);
	w[0].flags = PRIV; /* no size */
	printf("no size flag: %s\n", result(waitv(w, 1, 0, NULL, 0)));
	fill(w, PRIV);
	w[0].uaddr += 1;
	printf("unaligned word: %s\n", result(waitv(w, 1, 0, NULL, 0)));
	fill(w, PRIV);
	w[0].val = 1ULL << 32;
	printf("value past 32 bits: %s\n", result(waitv(w, 1, 0, NULL, 0)));
	fill(w, PRIV);
	w[2].uaddr = 8;
	printf("a bad address among them: %s\n", result(waitv(w, 3, 0, NULL, 0)));

	/* Across processes: a shared word, no FUTEX2_PRIVATE. */
	uint32_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		struct waitv one = {0, (uintptr_t)&shared[1], SIZE_U32, 0};
		struct timespec lim = in_ms(CLOCK_MONOTONIC, 5000);
		shared[0] = 1; /* ready */
		long rc = waitv(&one, 1, 0, &lim, CLOCK_MONOTONIC);
		_exit(rc == 0 ? 0 : 1);
	}
	while (__atomic_load_n(&shared[0], __ATOMIC_SEQ_CST) == 0)
		usleep(1000);
	usleep(50000);
	shared[1] = 1;
	long n = syscall(SYS_futex, &shared[1], FUTEX_WAKE, 1, NULL, NULL, 0);
	int st;
	waitpid(c, &st, 0);
	printf("child woken across processes: %s (woke %ld)\n",
	       WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "no", n);
	return 0;
}
