/* Fault signals reach SA_SIGINFO handlers with Linux's siginfo and
 * mcontext:
 *   (a) SIGSEGV reading an unmapped page: SEGV_MAPERR, si_addr, trapno 14,
 *       the page-fault error code, cr2; siglongjmp out restores the mask;
 *   (b) SIGSEGV writing a read-only page: SEGV_ACCERR; the handler makes the
 *       page writable and returns, so the store is retried and lands;
 *   (c) SIGFPE from integer division by zero: FPE_INTDIV, si_addr = the div;
 *   (d) SIGILL from ud2: ILL_ILLOPN, si_addr = the ud2;
 *   (e) SIGTRAP from int3: SI_KERNEL, the handler returns and execution
 *       continues after the int3;
 *   (f) a non-canonical address: SIGSEGV, SI_KERNEL, si_addr 0 (#GP);
 *       a kernel-half address: SEGV_MAPERR with si_addr set;
 * then, by argv[1]:
 *   "blocked": a SIGSEGV while SIGSEGV is blocked kills (status 139);
 *   "ignored": a SIGSEGV while SIGSEGV is SIG_IGN kills (status 139).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static sigjmp_buf jb;
static volatile int got_signo, got_code, got_count;
static void *volatile got_addr;
static volatile long long got_trapno, got_err, got_cr2, got_rip;
static volatile int jump_out;
static char *volatile fix_page;

static void record(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	got_signo = sig;
	got_code = si->si_code;
	got_addr = si->si_addr;
	got_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
	got_err = uc->uc_mcontext.gregs[REG_ERR];
	got_cr2 = uc->uc_mcontext.gregs[REG_CR2];
	got_rip = uc->uc_mcontext.gregs[REG_RIP];
	got_count++;
}

static void handler(int sig, siginfo_t *si, void *ctx)
{
	record(sig, si, ctx);
	if (fix_page) {
		mprotect(fix_page, 4096, PROT_READ | PROT_WRITE);
		fix_page = NULL;
		return;
	}
	if (jump_out)
		siglongjmp(jb, 1);
}

static void install(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void reset(void)
{
	got_signo = got_code = got_count = 0;
	got_addr = NULL;
	got_trapno = got_err = got_cr2 = got_rip = -1;
}

static int segv_blocked_now(void)
{
	sigset_t cur;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	return sigismember(&cur, SIGSEGV) || sigismember(&cur, SIGFPE) ||
	       sigismember(&cur, SIGILL);
}

/* An address with nothing mapped there now. */
static char *unmapped(void)
{
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p, 4096);
	return p;
}

extern char div_here[], ud2_here[], int3_here[];

__attribute__((noinline, noclone)) static unsigned do_div(unsigned a, unsigned b)
{
	unsigned q;
	__asm__ volatile(".globl div_here\ndiv_here: divl %2"
			 : "=a"(q)
			 : "a"(a), "r"(b), "d"(0)
			 : "cc");
	return q;
}

__attribute__((noinline, noclone)) static void do_ud2(void)
{
	__asm__ volatile(".globl ud2_here\nud2_here: ud2" ::: "memory");
}

__attribute__((noinline, noclone)) static int do_int3(void)
{
	int after;
	__asm__ volatile(".globl int3_here\nint3_here: int3\n\tmovl $7, %0"
			 : "=r"(after)::"memory");
	return after;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	install(SIGSEGV);
	install(SIGFPE);
	install(SIGILL);
	install(SIGTRAP);

	/* (a) read of an unmapped page */
	char *p = unmapped();
	reset();
	jump_out = 1;
	if (sigsetjmp(jb, 1) == 0) {
		(void)*(volatile char *)p;
		printf("(a) read of an unmapped page did not fault\n");
	}
	printf("(a) signo %d, SEGV_MAPERR %d, si_addr ok %d\n", got_signo,
	       got_code == SEGV_MAPERR, got_addr == (void *)p);
	printf("(a) trapno %lld, err %lld, cr2 ok %d\n", got_trapno, got_err,
	       got_cr2 == (long long)(uintptr_t)p);
	printf("(a) mask restored by siglongjmp: %d\n", !segv_blocked_now());

	/* (b) write to a read-only page, fixed up by the handler */
	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)*(volatile char *)(ro + 100); /* present (zero page): err 7 */
	reset();
	jump_out = 0;
	fix_page = ro;
	*(volatile char *)(ro + 100) = 42;
	printf("(b) signo %d, SEGV_ACCERR %d, si_addr ok %d, count %d\n",
	       got_signo, got_code == SEGV_ACCERR, got_addr == (void *)(ro + 100),
	       got_count);
	printf("(b) trapno %lld, err %lld\n", got_trapno, got_err);
	printf("(b) value after retry: %d\n", *(volatile char *)(ro + 100));

	/* (c) integer division by zero */
	reset();
	jump_out = 1;
	if (sigsetjmp(jb, 1) == 0) {
		volatile unsigned a = 10, b = 0;
		printf("(c) no fault: %u\n", do_div(a, b));
	}
	printf("(c) signo %d, FPE_INTDIV %d, si_addr ok %d, rip ok %d, trapno %lld\n",
	       got_signo, got_code == FPE_INTDIV, got_addr == (void *)div_here,
	       got_rip == (long long)(uintptr_t)div_here, got_trapno);
	printf("(c) mask restored: %d\n", !segv_blocked_now());

	/* (d) ud2 */
	reset();
	jump_out = 1;
	if (sigsetjmp(jb, 1) == 0) {
		do_ud2();
		printf("(d) ud2 did not fault\n");
	}
	printf("(d) signo %d, ILL_ILLOPN %d, si_addr ok %d, rip ok %d, trapno %lld\n",
	       got_signo, got_code == ILL_ILLOPN, got_addr == (void *)ud2_here,
	       got_rip == (long long)(uintptr_t)ud2_here, got_trapno);

	/* (e) int3: the handler returns, execution goes on after it */
	reset();
	jump_out = 0;
	int after = do_int3();
	printf("(e) signo %d, si_code %#x, si_addr null %d, rip after int3 %d, "
	       "trapno %lld, continued %d\n",
	       got_signo, got_code, got_addr == NULL,
	       got_rip == (long long)(uintptr_t)int3_here + 1, got_trapno,
	       after == 7);

	/* (f) non-canonical and kernel-half addresses */
	reset();
	jump_out = 1;
	if (sigsetjmp(jb, 1) == 0) {
		(void)*(volatile char *)0x0000900000000000ull;
		printf("(f) non-canonical read did not fault\n");
	}
	printf("(f) non-canonical: signo %d, si_code %#x, si_addr null %d, trapno %lld\n",
	       got_signo, got_code, got_addr == NULL, got_trapno);
	reset();
	if (sigsetjmp(jb, 1) == 0) {
		(void)*(volatile char *)0xffff900000000000ull;
		printf("(f) kernel-half read did not fault\n");
	}
	printf("(f) kernel half: signo %d, SEGV_MAPERR %d, si_addr ok %d, trapno %lld\n",
	       got_signo, got_code == SEGV_MAPERR,
	       got_addr == (void *)0xffff900000000000ull, got_trapno);

	if (argc > 1 && strcmp(argv[1], "blocked") == 0) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGSEGV);
		sigprocmask(SIG_BLOCK, &set, NULL);
		printf("faulting with SIGSEGV blocked\n");
		reset();
		(void)*(volatile char *)unmapped();
		printf("survived: handler count %d\n", got_count);
	} else if (argc > 1 && strcmp(argv[1], "ignored") == 0) {
		signal(SIGSEGV, SIG_IGN);
		printf("faulting with SIGSEGV ignored\n");
		reset();
		(void)*(volatile char *)unmapped();
		printf("survived: handler count %d\n", got_count);
	}
	printf("done\n");
	return 0;
}
