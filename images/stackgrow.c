/* The stack grows down on demand as Linux's does: [stack] starts small
 * (128 KiB below the arguments), grows on touch within RLIMIT_STACK and
 * never within the guard gap (256 pages) above the mapping below it; a
 * system call writing into untouched stack (read into a big local
 * buffer) and a signal frame pushed onto it grow it too. mlockall counts
 * what the stack grew to, not RLIMIT_STACK. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>

static unsigned long stack_lo, stack_hi;

static void stack_vma(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	stack_lo = stack_hi = 0;
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "[stack]"))
			sscanf(line, "%lx-%lx", &stack_lo, &stack_hi);
	if (f)
		fclose(f);
}

static sigjmp_buf back;
static volatile int got_sig, got_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	siglongjmp(back, 1);
}

static volatile int usr1;
static void on_usr1(int sig) { usr1 = sig; }

/* Touch the byte `depth` below this frame, with RSP that far down too. */
__attribute__((noinline)) static int touch_at(size_t depth)
{
	volatile char *p = alloca(depth);
	p[0] = 1;
	return p[0];
}

__attribute__((noinline)) static long read_into_stack(int fd)
{
	char buf[4 << 20];
	long total = 0, n;
	while (total < (long)sizeof buf &&
	       (n = read(fd, buf + total, sizeof buf - total)) > 0)
		total += n;
	for (long i = 0; i < total; i += 4096)
		if (buf[i])
			return -1;
	return total;
}

__attribute__((noinline)) static int signal_on_untouched(void)
{
	volatile char big[3 << 20];
	big[sizeof big - 1] = 1; /* only the top: RSP is 3 MiB below it */
	raise(SIGUSR1);
	return big[sizeof big - 1] + usr1;
}

int main(void)
{
	stack_vma();
	printf("at start: [stack] under 1 MiB: %s\n",
	       stack_hi - stack_lo < (1 << 20) ? "yes" : "no");
	if (mlockall(MCL_CURRENT) == 0) {
		printf("mlockall(MCL_CURRENT): ok\n");
		munlockall();
	} else {
		printf("mlockall(MCL_CURRENT): %s\n", strerror(errno));
	}

	int fd = open("/dev/zero", O_RDONLY);
	printf("read 4 MiB of /dev/zero into a stack buffer: %ld\n", read_into_stack(fd));
	close(fd);
	stack_vma();
	printf("then [stack] at least 4 MiB: %s\n",
	       stack_hi - stack_lo >= (4 << 20) ? "yes" : "no");

	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	printf("signal frame on untouched stack: handler ran: %s\n",
	       signal_on_untouched() == 1 + SIGUSR1 ? "yes" : "no");

	static char alt[1 << 16];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt };
	sigaltstack(&ss, NULL);
	struct sigaction segv = { .sa_sigaction = on_segv,
				  .sa_flags = SA_SIGINFO | SA_ONSTACK };
	sigaction(SIGSEGV, &segv, NULL);

	/* Past RLIMIT_STACK: SIGSEGV, no mapping there (SEGV_MAPERR). */
	struct rlimit rl = { 6 << 20, RLIM_INFINITY };
	setrlimit(RLIMIT_STACK, &rl);
	got_sig = 0;
	if (sigsetjmp(back, 1) == 0)
		touch_at(7 << 20);
	printf("touch 7 MiB down with RLIMIT_STACK 6 MiB: signal %d, code %d\n",
	       got_sig, got_code);
	got_sig = 0;
	if (sigsetjmp(back, 1) == 0)
		touch_at(5 << 20);
	printf("touch 5 MiB down: signal %d\n", got_sig);

	/* A mapping just below the stack: the stack keeps 256 pages away. */
	stack_vma();
	unsigned long below = stack_lo - (512 << 10);
	void *m = mmap((void *)below, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	printf("map a page 512 KiB below [stack]: %s\n",
	       m == (void *)below ? "ok" : "failed");
	unsigned long sp = (unsigned long)__builtin_frame_address(0);
	got_sig = 0;
	if (sigsetjmp(back, 1) == 0)
		touch_at(sp - (stack_lo - (256 << 10)));
	printf("touch 256 KiB below [stack], within the gap: signal %d, code %d\n",
	       got_sig, got_code);
	munmap(m, 4096);
	got_sig = 0;
	if (sigsetjmp(back, 1) == 0)
		touch_at(sp - (stack_lo - (256 << 10)));
	printf("the same with the mapping gone: signal %d\n", got_sig);
	return 0;
}
