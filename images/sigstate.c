/* What a signal frame saves and restores, and the state a handler starts in:
 *   (a) one asm routine loads known values into rbx, rbp, rdx, r8-r10,
 *       r12-r15, xmm0-15 (ymm0-15 whole when the CPU has AVX), sets DF,
 *       then does kill(getpid(), SIGUSR1) with a raw `syscall` and stores
 *       everything back. The handler (asm too) records what it starts with
 *       (DF clear, MXCSR 0x1f80, x87 control word 0x37f, vector registers
 *       zero, as Linux initialises the FPU for a handler) and then trashes
 *       every general, vector and control register it can. All must come
 *       back, as must the MXCSR and x87 control word set before the signal;
 *   (b) sigaltstack: a stack overflow (RLIMIT_STACK lowered to 1 MiB) runs
 *       an SA_ONSTACK SIGSEGV handler on the alternate stack, which sees
 *       SS_ONSTACK, gets EPERM changing the alternate stack, and
 *       siglongjmps out; ENOMEM below MINSIGSTKSZ, EINVAL for bad flags,
 *       SS_DISABLE;
 *   (c) ucontext: uc_mcontext.fpregs is set and holds the interrupted
 *       MXCSR; a changed fpregs->mxcsr, gregs[REG_RIP] (skipping a ud2) and
 *       gregs[REG_RAX] are honoured by sigreturn; uc_stack and uc_sigmask.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

/* ---------------- (a) registers across a handler ---------------- */

/* in/out layout: 16 vector registers of 32 bytes (only the low 16 used
 * without AVX), then rbx rbp rdx r8 r9 r10 r12 r13 r14 r15 rdi rsi rax
 * rflags. */
struct regs {
	unsigned char v[16][32];
	unsigned long g[14];
};
enum { G_RBX, G_RBP, G_RDX, G_R8, G_R9, G_R10, G_R12, G_R13, G_R14, G_R15,
       G_RDI, G_RSI, G_RAX, G_FLAGS, G_LOADED = G_RDI };

/* long regtest(const struct regs *in, struct regs *out, long nr, long pid,
 *              long sig, long avx) */
long regtest(const struct regs *in, struct regs *out, long nr, long pid,
	     long sig, long avx);
__asm__(
	".text\n"
	".globl regtest\n"
	".type regtest,@function\n"
	"regtest:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	push %rsi\n" /* out at 8(%rsp) */
	"	push %r9\n"  /* avx flag at (%rsp) */
	"	mov %rdx, %rax\n"
	"	mov %rcx, %r11\n"
	"	mov %r8, %rsi\n"
	"	test %r9, %r9\n"
	"	jz 1f\n"
	"	.irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu \\r*32(%rdi), %ymm\\r\n"
	"	.endr\n"
	"	jmp 2f\n"
	"1:\n"
	"	.irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	movdqu \\r*32(%rdi), %xmm\\r\n"
	"	.endr\n"
	"2:\n"
	"	mov 512+0*8(%rdi), %rbx\n"
	"	mov 512+1*8(%rdi), %rbp\n"
	"	mov 512+2*8(%rdi), %rdx\n"
	"	mov 512+3*8(%rdi), %r8\n"
	"	mov 512+4*8(%rdi), %r9\n"
	"	mov 512+5*8(%rdi), %r10\n"
	"	mov 512+6*8(%rdi), %r12\n"
	"	mov 512+7*8(%rdi), %r13\n"
	"	mov 512+8*8(%rdi), %r14\n"
	"	mov 512+9*8(%rdi), %r15\n"
	"	mov %r11, %rdi\n"
	"	std\n"
	"	syscall\n"
	"	pushfq\n"
	"	cld\n"
	"	mov 16(%rsp), %r11\n"
	"	popq 512+13*8(%r11)\n"
	"	mov %rbx, 512+0*8(%r11)\n"
	"	mov %rbp, 512+1*8(%r11)\n"
	"	mov %rdx, 512+2*8(%r11)\n"
	"	mov %r8, 512+3*8(%r11)\n"
	"	mov %r9, 512+4*8(%r11)\n"
	"	mov %r10, 512+5*8(%r11)\n"
	"	mov %r12, 512+6*8(%r11)\n"
	"	mov %r13, 512+7*8(%r11)\n"
	"	mov %r14, 512+8*8(%r11)\n"
	"	mov %r15, 512+9*8(%r11)\n"
	"	mov %rdi, 512+10*8(%r11)\n"
	"	mov %rsi, 512+11*8(%r11)\n"
	"	mov %rax, 512+12*8(%r11)\n"
	"	cmpq $0, (%rsp)\n"
	"	je 3f\n"
	"	.irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu %ymm\\r, \\r*32(%r11)\n"
	"	.endr\n"
	"	vzeroupper\n"
	"	jmp 4f\n"
	"3:\n"
	"	.irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	movdqu %xmm\\r, \\r*32(%r11)\n"
	"	.endr\n"
	"4:\n"
	"	add $16, %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".size regtest, .-regtest\n");

/* What the handler saw on entry, and what it loads. */
unsigned long h_count, h_flags;
unsigned int h_mxcsr;
unsigned short h_fcw;
unsigned char h_xmm[16][16], h_yhi[16][16];
int have_avx;
float junk_f = -1.5f;
unsigned int junk_mxcsr = 0x3f80; /* round down */
unsigned short junk_fcw = 0x7f;   /* single precision */

void clobber_handler(int);
__asm__(
	".text\n"
	".globl clobber_handler\n"
	".type clobber_handler,@function\n"
	"clobber_handler:\n"
	"	pushfq\n"
	"	popq h_flags(%rip)\n"
	"	stmxcsr h_mxcsr(%rip)\n"
	"	fnstcw h_fcw(%rip)\n"
	"	.irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	movdqu %xmm\\r, h_xmm+\\r*16(%rip)\n"
	"	.endr\n"
	"	cmpl $0, have_avx(%rip)\n"
	"	je 1f\n"
	"	.irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vextractf128 $1, %ymm\\r, h_yhi+\\r*16(%rip)\n"
	"	vbroadcastss junk_f(%rip), %ymm\\r\n"
	"	.endr\n"
	"	jmp 2f\n"
	"1:\n"
	"	.irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	pcmpeqd %xmm\\r, %xmm\\r\n"
	"	.endr\n"
	"2:\n"
	"	ldmxcsr junk_mxcsr(%rip)\n"
	"	fldcw junk_fcw(%rip)\n"
	"	fldpi\n"
	"	fld1\n"
	"	movabs $0xdeaddeaddeaddead, %rax\n"
	"	mov %rax, %rbx\n"
	"	mov %rax, %rcx\n"
	"	mov %rax, %rdx\n"
	"	mov %rax, %rsi\n"
	"	mov %rax, %rdi\n"
	"	mov %rax, %rbp\n"
	"	mov %rax, %r8\n"
	"	mov %rax, %r9\n"
	"	mov %rax, %r10\n"
	"	mov %rax, %r11\n"
	"	mov %rax, %r12\n"
	"	mov %rax, %r13\n"
	"	mov %rax, %r14\n"
	"	mov %rax, %r15\n"
	"	incq h_count(%rip)\n"
	"	std\n"
	"	ret\n"
	".size clobber_handler, .-clobber_handler\n");

static unsigned get_mxcsr(void)
{
	unsigned m;
	__asm__ volatile("stmxcsr %0" : "=m"(m));
	return m;
}
static void set_mxcsr(unsigned m) { __asm__ volatile("ldmxcsr %0" ::"m"(m)); }
static unsigned short get_fcw(void)
{
	unsigned short c;
	__asm__ volatile("fnstcw %0" : "=m"(c));
	return c;
}
static void set_fcw(unsigned short c) { __asm__ volatile("fldcw %0" ::"m"(c)); }

static void part_a(void)
{
	static struct regs in, out;
	__builtin_cpu_init();
	have_avx = __builtin_cpu_supports("avx");
	for (int r = 0; r < 16; r++)
		for (int b = 0; b < 32; b++)
			in.v[r][b] = (unsigned char)(r * 32 + b + 1);
	for (int i = 0; i < G_LOADED; i++)
		in.g[i] = 0x0101010101010101ul * (unsigned long)(i + 1) + 0x1000;
	memset(&out, 0, sizeof out);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = clobber_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	long pid = getpid();
	set_mxcsr(0x7f80); /* round toward zero */
	set_fcw(0x27f);    /* double precision */
	long ret = regtest(&in, &out, SYS_kill, pid, SIGUSR1, have_avx);
	unsigned mx = get_mxcsr();
	unsigned short cw = get_fcw();
	set_mxcsr(0x1f80);
	set_fcw(0x37f);

	printf("(a) kill returned %ld, handler ran %lu time(s)\n", ret, h_count);
	int zero = 1;
	for (int r = 0; r < 16; r++)
		for (int b = 0; b < 16; b++)
			zero &= h_xmm[r][b] == 0;
	printf("(a) handler entry: DF clear %d, MXCSR %#x, FCW %#x, xmm zero %d\n",
	       !(h_flags & 0x400), h_mxcsr, h_fcw, zero);
	if (have_avx) {
		zero = 1;
		for (int r = 0; r < 16; r++)
			for (int b = 0; b < 16; b++)
				zero &= h_yhi[r][b] == 0;
		printf("(a) handler entry: ymm upper halves zero %d\n", zero);
	}
	int ok = 1;
	for (int i = 0; i < G_LOADED; i++)
		if (out.g[i] != in.g[i]) {
			printf("(a) general register %d: changed\n", i);
			ok = 0;
		}
	ok &= out.g[G_RDI] == (unsigned long)pid;
	ok &= out.g[G_RSI] == SIGUSR1;
	printf("gpr survive: %d\n", ok);
	printf("DF survive: %d\n", !!(out.g[G_FLAGS] & 0x400));
	ok = 1;
	for (int r = 0; r < 16; r++)
		if (memcmp(out.v[r], in.v[r], 16)) {
			printf("(a) xmm%d: changed\n", r);
			ok = 0;
		}
	printf("xmm survive: %d\n", ok);
	if (have_avx) {
		ok = 1;
		for (int r = 0; r < 16; r++)
			if (memcmp(out.v[r] + 16, in.v[r] + 16, 16)) {
				printf("(a) ymm%d upper half: changed\n", r);
				ok = 0;
			}
		printf("ymm survive: %d\n", ok);
	} else {
		printf("ymm: no avx\n");
	}
	printf("MXCSR survive: %d (%#x)\n", mx == 0x7f80, mx);
	printf("FCW survive: %d (%#x)\n", cw == 0x27f, cw);
}

/* ---------------- (b) sigaltstack ---------------- */

static sigjmp_buf jb;
static char *alt_base;
static size_t alt_size = 64 * 1024;
static volatile int b_on_alt, b_onstack_flag, b_eperm, b_code;

static void overflow_handler(int sig, siginfo_t *si, void *uc)
{
	volatile char here;
	b_on_alt = (char *)&here >= alt_base && (char *)&here < alt_base + alt_size;
	b_code = si->si_code;
	stack_t cur, nw;
	if (sigaltstack(NULL, &cur) == 0)
		b_onstack_flag = (cur.ss_flags & SS_ONSTACK) != 0;
	nw.ss_sp = alt_base;
	nw.ss_size = alt_size;
	nw.ss_flags = 0;
	errno = 0;
	b_eperm = sigaltstack(&nw, NULL) == -1 && errno == EPERM;
	siglongjmp(jb, 1);
}

static volatile unsigned long depth_reached;
__attribute__((noinline)) static unsigned long recurse(unsigned long n)
{
	volatile char pad[1024];
	pad[0] = (char)n;
	pad[1023] = (char)n;
	depth_reached = n;
	return recurse(n + 1) + pad[0] + pad[1023];
}

static void part_b(void)
{
	stack_t ss, old;
	/* queries and errors first */
	sigaltstack(NULL, &old);
	printf("(b) initially disabled: %d, size %zu\n",
	       (old.ss_flags & SS_DISABLE) != 0, old.ss_size);
	alt_base = malloc(alt_size);
	ss.ss_sp = alt_base;
	ss.ss_flags = 0;
	ss.ss_size = 1024;
	errno = 0;
	int r = sigaltstack(&ss, NULL);
	printf("(b) size 1024: %d %s\n", r, errno == ENOMEM ? "ENOMEM" : strerror(errno));
	ss.ss_size = alt_size;
	ss.ss_flags = 0x1234;
	errno = 0;
	r = sigaltstack(&ss, NULL);
	printf("(b) bad flags: %d %s\n", r, errno == EINVAL ? "EINVAL" : strerror(errno));
	ss.ss_flags = 0;
	printf("(b) install: %d\n", sigaltstack(&ss, NULL));
	sigaltstack(NULL, &old);
	printf("(b) query: sp ok %d, size ok %d, flags %d\n", old.ss_sp == alt_base,
	       old.ss_size == alt_size, old.ss_flags);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = overflow_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);

	struct rlimit rl;
	getrlimit(RLIMIT_STACK, &rl);
	rl.rlim_cur = 1024 * 1024;
	setrlimit(RLIMIT_STACK, &rl);
	fflush(stdout);
	if (sigsetjmp(jb, 1) == 0) {
		recurse(0);
		printf("(b) recursion ended?\n");
	}
	printf("recovered\n");
	printf("(b) handler on the alternate stack %d, SS_ONSTACK inside %d, "
	       "EPERM inside %d, SEGV_MAPERR %d, depth > 100 %d\n",
	       b_on_alt, b_onstack_flag, b_eperm, b_code == SEGV_MAPERR,
	       depth_reached > 100);
	sigaltstack(NULL, &old);
	printf("(b) after: flags %d\n", old.ss_flags);
	ss.ss_flags = SS_DISABLE;
	printf("(b) disable: %d\n", sigaltstack(&ss, NULL));
	sigaltstack(NULL, &old);
	printf("(b) now disabled: %d\n", (old.ss_flags & SS_DISABLE) != 0);
	signal(SIGSEGV, SIG_DFL);
}

/* ---------------- (c) ucontext ---------------- */

static volatile int c_fpregs, c_mxcsr_seen, c_stack_ok, c_mask_ok, c_rip_ok;
static volatile unsigned c_mxcsr;
extern char c_ud2[];

static void usr2_handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	c_fpregs = uc->uc_mcontext.fpregs != NULL;
	if (uc->uc_mcontext.fpregs) {
		c_mxcsr = uc->uc_mcontext.fpregs->mxcsr;
		uc->uc_mcontext.fpregs->mxcsr = 0x3f80; /* round down */
	}
	c_stack_ok = uc->uc_stack.ss_flags == SS_DISABLE;
	c_mask_ok = sigismember(&uc->uc_sigmask, SIGHUP) == 1 &&
		    sigismember(&uc->uc_sigmask, SIGUSR2) == 0;
}

static void ill_handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	c_rip_ok = uc->uc_mcontext.gregs[REG_RIP] == (greg_t)(uintptr_t)c_ud2;
	uc->uc_mcontext.gregs[REG_RIP] += 2;
	uc->uc_mcontext.gregs[REG_RAX] = 77;
}

__attribute__((noinline, noclone)) static long do_ud2(void)
{
	long v;
	__asm__ volatile("xorl %%eax, %%eax\n.globl c_ud2\nc_ud2: ud2"
			 : "=a"(v)::"memory");
	return v;
}

static void part_c(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = usr2_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t hup;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(SIG_SETMASK, &hup, NULL);
	set_mxcsr(0x5f80); /* round up */
	raise(SIGUSR2);
	unsigned after = get_mxcsr();
	set_mxcsr(0x1f80);
	sigprocmask(SIG_UNBLOCK, &hup, NULL);
	printf("(c) fpregs non-NULL %d, saved MXCSR %#x, MXCSR after return %#x\n",
	       c_fpregs, c_mxcsr, after);
	printf("(c) uc_stack SS_DISABLE %d, uc_sigmask is the interrupted mask %d\n",
	       c_stack_ok, c_mask_ok);

	sa.sa_sigaction = ill_handler;
	sigaction(SIGILL, &sa, NULL);
	long v = do_ud2();
	printf("skipped ud2: REG_RIP was the ud2 %d, rax %ld\n", c_rip_ok, v);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	part_a();
	part_b();
	part_c();
	printf("done\n");
	return 0;
}
