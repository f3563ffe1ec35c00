/* Calls that each come after 2 ms of computing, by which time kvmcage's
 * exitless service thread has gone to sleep: getpid, a pread of a file
 * compared with a first read, and an `int 0x80` getpid, 150 rounds, each
 * result checked. With `--transport doorbell` the gate rings the sleeping
 * thread awake and most calls go through the gate; with `--transport
 * gate` they take the exit. stdout is the same natively and under
 * kvmcage.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(void)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	unsigned char first[512], buf[512];
	if (fd < 0 || pread(fd, first, sizeof first, 0) != sizeof first) {
		printf("setup failed\n");
		return 1;
	}
	long me = getpid();
	int bad = 0;
	volatile unsigned long work = 0;
	for (int i = 0; i < 150; i++) {
		long until = now_ns() + 2000000;
		while (now_ns() < until)
			work++;
		bad |= syscall(SYS_getpid) != me;
		memset(buf, 0, sizeof buf);
		bad |= pread(fd, buf, sizeof buf, 0) != sizeof buf || memcmp(buf, first, sizeof buf) != 0;
		long r;
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
		bad |= r != me;
	}
	printf("calls after computing: %s\n", bad ? "wrong" : "ok");
	return 0;
}
