/* Linux's vsyscall page (vsyscall=xonly): its three entries called as
 * functions, its maps line, and that it cannot be read. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef long (*gtod_t)(struct timeval *, struct timezone *);
typedef long (*time_t_fn)(long *);
typedef long (*getcpu_t)(unsigned *, unsigned *, void *);
static const gtod_t vgtod = (gtod_t)0xffffffffff600000;
static const time_t_fn vtime = (time_t_fn)0xffffffffff600400;
static const getcpu_t vgetcpu = (getcpu_t)0xffffffffff600800;

static sigjmp_buf env;
static volatile int segvs;
static void on_segv(int sig)
{
	(void)sig;
	segvs++;
	siglongjmp(env, 1);
}

int main(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "[vsyscall]"))
			printf("maps: %s", line);
	if (f)
		fclose(f);

	struct timeval a, v, b;
	gettimeofday(&a, NULL);
	long r = vgtod(&v, NULL);
	gettimeofday(&b, NULL);
	long us = v.tv_sec * 1000000L + v.tv_usec;
	printf("gettimeofday: %ld, in order: %s\n", r,
	       us >= a.tv_sec * 1000000L + a.tv_usec && us <= b.tv_sec * 1000000L + b.tv_usec ? "yes" : "no");

	long t1 = time(NULL), out = -1, t = vtime(&out), t2 = time(NULL);
	printf("time: returned and stored the same: %s, in order: %s\n", t == out ? "yes" : "no",
	       t >= t1 && t <= t2 ? "yes" : "no");

	unsigned cpu = 99, node = 99, cpu2 = 98, node2 = 98;
	r = vgetcpu(&cpu, &node, NULL);
	syscall(SYS_getcpu, &cpu2, &node2, NULL);
	printf("getcpu: %ld, as the syscall: %s\n", r, cpu == cpu2 && node == node2 ? "yes" : "no");

	/* Registers but RAX kept: a callee-saved one across the call. */
	long kept;
	__asm__ volatile("movq $0x1234, %%rbx\n\t"
			 "xorl %%edi, %%edi\n\t"
			 "movq $0xffffffffff600400, %%rax\n\t"
			 "call *%%rax\n\t"
			 "movq %%rbx, %0"
			 : "=r"(kept)
			 :
			 : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
	printf("rbx kept: %s\n", kept == 0x1234 ? "yes" : "no");

	signal(SIGSEGV, on_segv);
	if (sigsetjmp(env, 1) == 0)
		(void)*(volatile int *)0xffffffffff600000;
	if (sigsetjmp(env, 1) == 0)
		((gtod_t)0xffffffffff600100)(NULL, NULL); /* not an entry */
	printf("read and a bad entry: %d SIGSEGVs\n", segvs);
	return 0;
}
