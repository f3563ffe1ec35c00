/* What the exitless gate must give a program, checked against the host:
 * many calls back to back with the right results (getpid, pread of a file
 * compared with a first read, writes to /dev/null, lseek, fstat), RFLAGS
 * kept across `syscall` as Linux's sysret keeps them (CF, OF, DF, AC set
 * before the call are set after it), RCX and R11 as Linux leaves them, a
 * blocking read of a pipe between them (the exit path), and a signal that
 * arrives while calls run (a timer every millisecond: its handler count
 * and every call's result stay right).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static volatile int ticks;
static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

/* getpid through a raw `syscall` with flags set before it; returns the
 * flags after it, RCX and R11 as they came back. */
static long raw_getpid(uint64_t set, uint64_t *flags, uint64_t *rcx, uint64_t *r11)
{
	long ret;
	uint64_t f, c, r;
	__asm__ volatile("pushfq\n\t"
			 "orq %[set], (%%rsp)\n\t"
			 "popfq\n\t"
			 "syscall\n\t"
			 "movq %%rcx, %[c]\n\t"
			 "movq %%r11, %[r]\n\t"
			 "pushfq\n\t"
			 "popq %[f]\n\t"
			 "cld\n\t"
			 "pushfq\n\t"
			 "andq $~0x40000, (%%rsp)\n\t"
			 "popfq\n\t"
			 : "=a"(ret), [f] "=&r"(f), [c] "=&r"(c), [r] "=&r"(r)
			 : "a"((long)SYS_getpid), [set] "r"(set)
			 : "rcx", "r11", "memory", "cc");
	*flags = f;
	*rcx = c;
	*r11 = r;
	return ret;
}

int main(void)
{
	const char *file = "/proc/self/exe";
	int fd = open(file, O_RDONLY), null = open("/dev/null", O_WRONLY);
	unsigned char first[4096], buf[4096];
	if (fd < 0 || null < 0 || pread(fd, first, sizeof first, 0) != sizeof first) {
		printf("setup failed\n");
		return 1;
	}
	pid_t me = getpid();
	int bad = 0;
	for (int i = 0; i < 20000; i++) {
		bad |= syscall(SYS_getpid) != me;
		memset(buf, 0, sizeof buf);
		bad |= pread(fd, buf, sizeof buf, 0) != sizeof buf || memcmp(buf, first, sizeof buf) != 0;
		bad |= write(null, buf, i % 4096) != i % 4096;
		bad |= lseek(fd, i, SEEK_SET) != i;
	}
	struct stat st;
	printf("calls: %s\n", bad ? "wrong" : "ok");
	int r = fstat(fd, &st);
	printf("fstat: %d, regular %d\n", r, S_ISREG(st.st_mode));
	printf("bad fd: %ld\n", (long)pread(12345, buf, 1, 0));

	/* Flags: CF (0x1), DF (0x400), OF (0x800 via popf), AC (0x40000). */
	const uint64_t want = 0x1 | 0x400 | 0x800 | 0x40000;
	int flags_ok = 1, regs_ok = 1;
	for (int i = 0; i < 1000; i++) {
		uint64_t f, c, r;
		flags_ok &= raw_getpid(want, &f, &c, &r) == me && (f & want) == want;
		/* RCX is the return address; R11 the flags at the call. */
		regs_ok &= (r & want) == want && c != 0;
	}
	printf("flags kept: %s, rcx/r11: %s\n", flags_ok ? "yes" : "no", regs_ok ? "yes" : "no");

	/* A blocking read between fast calls. */
	int p[2];
	if (pipe(p) != 0)
		return 1;
	if (fork() == 0) {
		usleep(50000);
		_exit(write(p[1], "x", 1) == 1 ? 0 : 1);
	}
	char c;
	printf("pipe read: %ld\n", (long)read(p[0], &c, 1));

	/* A timer signal while calls run back to back. */
	signal(SIGALRM, on_alarm);
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	bad = 0;
	while (ticks < 200) {
		bad |= syscall(SYS_getpid) != me;
		bad |= pread(fd, buf, sizeof buf, 0) != sizeof buf || memcmp(buf, first, sizeof buf) != 0;
	}
	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
	printf("calls under a timer: %s, ticks >= 200: %s\n", bad ? "wrong" : "ok", ticks >= 200 ? "yes" : "no");
	return 0;
}
