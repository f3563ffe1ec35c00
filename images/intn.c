/* What `int $n` gives a 64-bit program for n other than 0x80: Linux's IDT
 * lets ring 3 use vectors 3 (int3), 4 (into) and 0x80; every other vector
 * is a general-protection fault with error code n*8+2 (SIGSEGV, SI_KERNEL,
 * si_addr 0), `int $3` a breakpoint trap (SIGTRAP after it) and `int $4`
 * an overflow trap (SIGSEGV after it). Then port I/O, closed to ring 3:
 * a #GP with error code 0 at the instruction (kvmcage's doorbell ports
 * 0xf8..0xfb included). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

static volatile int got_sig, got_code;
static volatile uintptr_t got_rip, got_addr, got_err, got_trapno;
static volatile int skip = 2;
static void on_sig(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	got_sig = sig;
	got_code = si->si_code;
	got_addr = (uintptr_t)si->si_addr;
	got_rip = uc->uc_mcontext.gregs[REG_RIP];
	got_err = uc->uc_mcontext.gregs[REG_ERR];
	got_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
	if (sig != SIGTRAP && got_trapno != 4)
		uc->uc_mcontext.gregs[REG_RIP] += skip; /* past the instruction */
}

#define TRY(n)                                                                                   \
	do {                                                                                     \
		extern char at_##n[];                                                            \
		got_sig = 0;                                                                     \
		__asm__ volatile(".globl at_" #n "\nat_" #n ": int $" #n ::: "memory");          \
		printf("int $%-4s: %-7s code %d, rip %s, addr %s, trapno %lu, err %#lx\n", #n,   \
		       got_sig ? strsignal(got_sig) : "none", got_code,                           \
		       got_rip == (uintptr_t)at_##n       ? "at"                                  \
		       : got_rip == (uintptr_t)at_##n + 2 ? "after"                               \
		       : got_rip == (uintptr_t)at_##n + 1 ? "at+1"                                \
							  : "?",                                  \
		       got_addr == 0 ? "0" : got_addr == (uintptr_t)at_##n ? "at" : "?",        \
		       (unsigned long)got_trapno, (unsigned long)got_err);                        \
	} while (0)

int main(void)
{
	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	TRY(3);
	TRY(4);
	TRY(0);
	TRY(6);
	TRY(0x20);
	TRY(0x81);
	TRY(0xff);

	/* Port I/O: inb $0xf8 (2 bytes), outl to 0xf8 (2), inb (%dx) (1). */
	extern char io1[], io2[], io3[];
	const struct {
		const char *name;
		char *at;
	} ios[] = { { "inb $0xf8", io1 }, { "outl $0xf8", io2 }, { "inb (%dx) 0xf9", io3 } };
	for (int i = 0; i < 3; i++) {
		got_sig = 0;
		skip = i == 2 ? 1 : 2;
		if (i == 0)
			__asm__ volatile(".globl io1\nio1: inb $0xf8, %%al" ::: "rax", "memory");
		else if (i == 1)
			__asm__ volatile(".globl io2\nio2: outl %%eax, $0xf8" ::"a"(12345) : "memory");
		else
			__asm__ volatile(".globl io3\nio3: inb (%%dx), %%al" ::"d"(0xf9) : "rax", "memory");
		printf("%-15s: %-7s code %d, rip %s, trapno %lu, err %#lx\n", ios[i].name,
		       got_sig ? strsignal(got_sig) : "none", got_code,
		       got_rip == (uintptr_t)ios[i].at ? "at" : "?", (unsigned long)got_trapno,
		       (unsigned long)got_err);
	}
	return 0;
}
