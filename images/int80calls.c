/* What `int 0x80` must give a program, checked against the host (on
 * kvm_pvm kvmcage serves it through the exitless gate's ring-3 #UD
 * handler): many calls back to back with the right results (getpid,
 * writes of a buffer below 4 GiB to /dev/null), every register but EAX
 * and every flag set before the call kept after it, a real #UD (ud2)
 * still a SIGILL at its address with ILL_ILLOPN, a signal sent by the
 * call itself delivered on its return, and a timer signal that arrives
 * while calls run (every call's result stays right).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#define NR32_write 4
#define NR32_getpid 20
#define NR32_kill 37

static long int80(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return r;
}

/* getpid by int 0x80 with every other general register and some flags
 * set to known values; 1 if all came back as they went in. */
static int regs_kept(uint64_t set_flags)
{
	/* Not on the stack, which the asm below moves. */
	static uint64_t in[14], out[15];
	for (int i = 0; i < 14; i++)
		in[i] = 0x1111111111111111ULL * (uint64_t)(i + 1);
	__asm__ volatile("pushq %%rbp\n\t"
			 "pushq %%rbx\n\t"
			 "pushq %%r12\n\t"
			 "pushq %%r13\n\t"
			 "pushq %%r14\n\t"
			 "pushq %%r15\n\t"
			 "pushq %[in]\n\t"
			 "pushq %[out]\n\t"
			 "pushq %[set]\n\t"
			 "movq 16(%%rsp), %%rax\n\t"
			 "movq 0(%%rax), %%rbx\n\t"
			 "movq 8(%%rax), %%rcx\n\t"
			 "movq 16(%%rax), %%rdx\n\t"
			 "movq 24(%%rax), %%rsi\n\t"
			 "movq 32(%%rax), %%rdi\n\t"
			 "movq 40(%%rax), %%rbp\n\t"
			 "movq 48(%%rax), %%r8\n\t"
			 "movq 56(%%rax), %%r9\n\t"
			 "movq 64(%%rax), %%r10\n\t"
			 "movq 72(%%rax), %%r11\n\t"
			 "movq 80(%%rax), %%r12\n\t"
			 "movq 88(%%rax), %%r13\n\t"
			 "movq 96(%%rax), %%r14\n\t"
			 "movq 104(%%rax), %%r15\n\t"
			 "pushfq\n\t"
			 "movq 8(%%rsp), %%rax\n\t"
			 "orq %%rax, (%%rsp)\n\t"
			 "popfq\n\t"
			 "movl $20, %%eax\n\t"
			 "int $0x80\n\t"
			 "pushfq\n\t"
			 "cld\n\t"
			 "pushfq\n\t"
			 "andq $~0x40000, (%%rsp)\n\t"
			 "popfq\n\t"
			 "movq 16(%%rsp), %%rax\n\t"
			 "movq %%rbx, 0(%%rax)\n\t"
			 "movq %%rcx, 8(%%rax)\n\t"
			 "movq %%rdx, 16(%%rax)\n\t"
			 "movq %%rsi, 24(%%rax)\n\t"
			 "movq %%rdi, 32(%%rax)\n\t"
			 "movq %%rbp, 40(%%rax)\n\t"
			 "movq %%r8, 48(%%rax)\n\t"
			 "movq %%r9, 56(%%rax)\n\t"
			 "movq %%r10, 64(%%rax)\n\t"
			 "movq %%r11, 72(%%rax)\n\t"
			 "movq %%r12, 80(%%rax)\n\t"
			 "movq %%r13, 88(%%rax)\n\t"
			 "movq %%r14, 96(%%rax)\n\t"
			 "movq %%r15, 104(%%rax)\n\t"
			 "popq %%rax\n\t"
			 "movq 8(%%rsp), %%rcx\n\t"
			 "movq %%rax, 112(%%rcx)\n\t"
			 "addq $24, %%rsp\n\t"
			 "popq %%r15\n\t"
			 "popq %%r14\n\t"
			 "popq %%r13\n\t"
			 "popq %%r12\n\t"
			 "popq %%rbx\n\t"
			 "popq %%rbp\n\t"
			 :
			 : [in] "r"(in), [out] "r"(out), [set] "r"(set_flags)
			 : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
	return memcmp(in, out, sizeof in) == 0 && (out[14] & set_flags) == set_flags;
}

static volatile int ills, usr1, ticks;
static volatile uintptr_t ill_addr;
static volatile int ill_code;
static void on_ill(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	(void)sig;
	ills++;
	ill_addr = (uintptr_t)si->si_addr;
	ill_code = si->si_code;
	uc->uc_mcontext.gregs[REG_RIP] += 2; /* past the ud2 */
}
static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}
static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

extern char the_ud2[];

int main(void)
{
	/* Below 4 GiB, for the i386 ABI's 32-bit pointers, in any build. */
	char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	int null = open("/dev/null", O_WRONLY);
	if (low == MAP_FAILED || null < 0) {
		printf("setup failed\n");
		return 1;
	}
	memset(low, 'x', 4096);
	long me = getpid();
	int bad = 0;
	for (int i = 0; i < 20000; i++) {
		bad |= int80(NR32_getpid, 0, 0, 0) != me;
		bad |= int80(NR32_write, null, (long)low, i % 4097) != i % 4097;
	}
	printf("calls: %s\n", bad ? "wrong" : "ok");
	printf("bad fd: %ld\n", int80(NR32_write, 12345, (long)low, 1));
	printf("bad number: %ld\n", int80(100000, 0, 0, 0));

	/* CF (0x1), DF (0x400), OF (0x800), AC (0x40000). */
	int kept = 1;
	for (int i = 0; i < 1000; i++)
		kept &= regs_kept(0x1 | 0x400 | 0x800 | 0x40000);
	printf("registers and flags kept: %s\n", kept ? "yes" : "no");

	struct sigaction sa = { 0 };
	sa.sa_sigaction = on_ill;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGILL, &sa, NULL);
	for (int i = 0; i < 100; i++)
		__asm__ volatile(".globl the_ud2\nthe_ud2: ud2" ::: "memory");
	printf("ud2: %d SIGILLs, at the ud2: %s, ILL_ILLOPN: %s\n", ills,
	       ill_addr == (uintptr_t)the_ud2 ? "yes" : "no", ill_code == ILL_ILLOPN ? "yes" : "no");

	signal(SIGUSR1, on_usr1);
	int sent = 1;
	for (int i = 0; i < 100; i++) {
		sent &= int80(NR32_kill, me, SIGUSR1, 0) == 0 && usr1 == i + 1;
	}
	printf("kill by int 0x80, handled on return: %s\n", sent ? "yes" : "no");

	signal(SIGALRM, on_alarm);
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	bad = 0;
	while (ticks < 200) {
		bad |= int80(NR32_getpid, 0, 0, 0) != me;
		bad |= int80(NR32_write, null, (long)low, 100) != 100;
	}
	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
	printf("calls under a timer: %s, ticks >= 200: %s\n", bad ? "wrong" : "ok", ticks >= 200 ? "yes" : "no");
	return 0;
}
