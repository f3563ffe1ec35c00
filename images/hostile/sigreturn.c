/* A hostile rt_sigreturn: frames the program forges (garbage, an
 * unreadable FP area, bad magics, reserved XSAVE header bits, a kernel
 * RIP, a stack pointer in no mapping). Linux answers each with SIGSEGV
 * (or restores what it can); kvmcage must do the same and never fail on
 * the host. Each case runs in a SIGSEGV handler's reach and reports;
 * the raw frames only with an argument ("raw"). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <ucontext.h>

static sigjmp_buf jb;
static volatile int segv_code;
static void on_segv(int sig, siginfo_t *si, void *uc) { segv_code = si->si_code; siglongjmp(jb, 1); }

static ucontext_t saved;
static char fpbuf[4096] __attribute__((aligned(64)));
static volatile int mode;

/* The handler of SIGUSR1 edits its own frame per mode, then returns. */
static void on_usr1(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	switch (mode) {
	case 1: uc->uc_mcontext.fpregs = (void *)0x10; break;           /* unreadable FP area */
	case 2: uc->uc_mcontext.fpregs = (void *)((char *)uc->uc_mcontext.fpregs + 8); break; /* misaligned */
	case 3: ((uint32_t *)uc->uc_mcontext.fpregs)[116] = 0; break;   /* magic1 gone: legacy only */
	case 4: ((uint64_t *)uc->uc_mcontext.fpregs)[65] = 1ull << 62; break; /* reserved xstate bit... in xcomp_bv */
	case 5: uc->uc_mcontext.gregs[REG_RIP] = 0xffff800000001000ull; break; /* kernel RIP */
	case 6: uc->uc_mcontext.gregs[REG_RIP] = 0x0000800000000000ull; break; /* non-canonical */
	case 7: uc->uc_mcontext.fpregs->mxcsr = 0xffffffff; break;      /* reserved MXCSR bits */
	case 8: uc->uc_mcontext.gregs[REG_EFL] |= 0x3000 | 0x20000; break; /* IOPL, VM: ignored */
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	static char alt[65536];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt };
	sigaltstack(&ss, NULL);
	struct sigaction sa = {0};
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);
	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	const char *names[] = {"", "fp area unreadable", "fp area misaligned", "magic1 cleared",
		"xcomp_bv reserved bit", "kernel rip", "non-canonical rip", "mxcsr reserved bits", "iopl and vm flags"};
	for (mode = 1; mode <= 8; mode++) {
		segv_code = -1;
		if (sigsetjmp(jb, 1) == 0) {
			raise(SIGUSR1);
			printf("%s: returned\n", names[mode]);
		} else {
			printf("%s: SIGSEGV code %d\n", names[mode], segv_code);
		}
	}
	if (argc < 2)
		return 0;
	/* A raw rt_sigreturn on a stack of garbage, and with RSP unmapped
	 * (Linux itself may kill here rather than reach the handler). */
	static long junk[256];
	memset(junk, 0xa5, sizeof junk);
	if (sigsetjmp(jb, 1) == 0) {
		__asm__ volatile("mov %0, %%rsp; mov $15, %%eax; syscall" :: "r"(junk + 128) : "memory");
	}
	printf("garbage frame: SIGSEGV code %d\n", segv_code);
	if (sigsetjmp(jb, 1) == 0) {
		__asm__ volatile("mov $0x10, %%rsp; mov $15, %%eax; syscall" ::: "memory");
	}
	printf("unmapped frame: SIGSEGV code %d\n", segv_code);
	puts("host survived");
	return 0;
}
