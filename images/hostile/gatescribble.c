/* The exitless gate's request slots are the program's own memory: a
 * program may write them at any time, while its calls are in flight. This
 * one tries to break the protocol. Natively there are no slots (nothing is
 * found, stderr says 0); under kvmcage with the gate, the slots of this
 * process's vCPUs are found in the kernel half and scribbled on.
 *
 * 1. A child process whose two threads make calls (getpid by `syscall`
 *    and by `int 0x80`, pread of a file, write to /dev/null) while a
 *    third writes random words, forged #UD frames, and
 *    every protocol state, into every slot it can find: the child may die
 *    of what it did to itself, or spin; it is killed after 300 ms. kvmcage
 *    must go on.
 * 2. Meanwhile the parent makes the same calls and checks every result:
 *    another process's scribbling never reaches its calls.
 * 3. The parent then scribbles on its own slot between its own calls (the
 *    gate writes a whole request each time) and checks again; any state
 *    but "request", which would be a call of its own racing the next.
 * 4. The child's slots are not the parent's: a child that only looks
 *    reports which slot pages it sees, and none of the parent's contents.
 *
 * stdout is the same natively and under kvmcage; stderr reports how many
 * slot pages were found (what the test checks under the gate).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define GATE_BASE 0xffffff0000000000UL
#define SLOT_DELTA 0x10000000UL
#define MAX_SLOTS 512

static sigjmp_buf probe_env;
static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(probe_env, 1);
}

/* The slot pages this process can write (probe with a handler). */
static int find_slots(volatile uint64_t **out, int max)
{
	struct sigaction sa = { 0 }, old_segv, old_bus;
	sa.sa_handler = on_segv;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	int n = 0;
	for (int i = 0; i < MAX_SLOTS && n < max; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(GATE_BASE + SLOT_DELTA + (uint64_t)i * 4096);
		if (sigsetjmp(probe_env, 1) == 0) {
			uint64_t v = p[1];
			p[1] = v; /* writable too */
			out[n++] = p;
		}
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return n;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *file = "/proc/self/exe";
static unsigned char expect[4096];

/* One round of checked calls; 0 when every result is right. */
static int calls(int fd, int null, pid_t me, int rounds)
{
	unsigned char buf[4096];
	for (int i = 0; i < rounds; i++) {
		if (syscall(SYS_getpid) != me)
			return 1;
		memset(buf, 0, sizeof buf);
		if (pread(fd, buf, sizeof buf, 0) != sizeof buf || memcmp(buf, expect, sizeof buf))
			return 2;
		if (write(null, buf, 100) != 100)
			return 3;
		if (syscall(SYS_gettid) <= 0)
			return 4;
		long r;
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
		if (r != me)
			return 5;
	}
	return 0;
}

static volatile int stop;
static volatile uint64_t *slots[MAX_SLOTS];
static int nslots;

static void *scribbler(void *arg)
{
	(void)arg;
	while (!stop) {
		for (int s = 0; s < nslots; s++) {
			volatile uint64_t *p = slots[s];
			volatile uint32_t *w = (volatile uint32_t *)p;
			switch (next() % 7) {
			case 0: /* a protocol state, any */
				w[0] = next() % 8;
				break;
			case 1: /* awake on and off */
				w[1] = next() & 1;
				break;
			case 2: /* a field: request, answer, kind, doorbell */
				p[1 + next() % 14] = next();
				break;
			case 5: /* a forged #UD: its kind, a frame, a request */
				w[24] = 1;
				p[2008 / 8 + next() % 5] = next() % 2 ? next() : 0x401000 + next() % 4096;
				w[0] = next() % 2 ? 1 : 6;
				break;
			case 3: /* a plausible number and a done answer */
				p[1] = next() % 400;
				w[0] = 3;
				break;
			case 4: /* a resume with no call behind it */
				p[1] = 0x4b564d43;
				w[0] = 5;
				break;
			default: /* words anywhere in the page */
				p[next() % 512] = next();
			}
		}
	}
	return NULL;
}

static void *caller(void *arg)
{
	int *fds = arg;
	pid_t me = getpid();
	while (!stop)
		calls(fds[0], fds[1], me, 10);
	return NULL;
}

int main(void)
{
	int fd = open(file, O_RDONLY), null = open("/dev/null", O_WRONLY);
	if (fd < 0 || null < 0 || pread(fd, expect, sizeof expect, 0) != sizeof expect) {
		printf("setup failed\n");
		return 1;
	}
	pid_t me = getpid();
	printf("before: %s\n", calls(fd, null, me, 100) ? "wrong" : "ok");

	/* 1. A child attacks its own slots while calling. */
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		int fds[2] = { fd, null };
		pthread_t c1, c2, s;
		pthread_create(&c1, NULL, caller, fds);
		pthread_create(&c2, NULL, caller, fds);
		/* The callers' slots exist once they have called. */
		usleep(20000);
		nslots = find_slots(slots, MAX_SLOTS);
		fprintf(stderr, "child slots: %d\n", nslots);
		pthread_create(&s, NULL, scribbler, NULL);
		for (;;)
			pause();
	}
	/* 2. The parent's calls meanwhile. */
	int bad = 0;
	for (int i = 0; i < 30; i++)
		bad |= calls(fd, null, me, 100);
	usleep(300000);
	bad |= calls(fd, null, me, 100);
	kill(child, SIGKILL);
	int st;
	pid_t w = waitpid(child, &st, 0);
	printf("child ended: %s\n", w == child ? "yes" : "no");
	printf("during: %s\n", bad ? "wrong" : "ok");

	/* 3. The parent's own slot, between its own calls. */
	volatile uint64_t *mine[MAX_SLOTS];
	int n = find_slots(mine, MAX_SLOTS);
	fprintf(stderr, "parent slots: %d\n", n);
	bad = 0;
	for (int i = 0; i < 2000; i++) {
		for (int s = 0; s < n; s++) {
			volatile uint32_t *wd = (volatile uint32_t *)mine[s];
			/* Any state but a request: a forged request is a call
			 * the program makes, which may race its own next one. */
			uint32_t v = next() % 6;
			wd[0] = v >= 1 ? v + 1 : v;
			wd[1] = next() & 1;
			mine[s][1 + next() % 11] = next();
		}
		bad |= calls(fd, null, me, 1);
	}
	printf("own slot: %s\n", bad ? "wrong" : "ok");

	/* 4. A child sees its own slot pages only: none holds the parent's
	 * pid as a request's result. */
	for (int s = 0; s < n; s++)
		mine[s][10] = 0x5041524e54; /* "PARNT" in the answer word */
	fflush(stdout);
	child = fork();
	if (child == 0) {
		volatile uint64_t *theirs[MAX_SLOTS];
		int k = find_slots(theirs, MAX_SLOTS), seen = 0;
		for (int s = 0; s < k; s++)
			seen |= theirs[s][10] == 0x5041524e54;
		printf("child sees parent's slot: %s\n", seen ? "yes" : "no");
		fflush(stdout);
		_exit(0);
	}
	waitpid(child, &st, 0);
	printf("after: %s\n", calls(fd, null, me, 100) ? "wrong" : "ok");
	return 0;
}
