/* A system call that writes far below the stack: with RLIMIT_STACK
 * unlimited, a read into 192 MiB below [stack] would grow the stack by as
 * much. Under kvmcage the growth takes frames from --mem, so the read is
 * cut short (or EFAULT) when they run out; the program lives on, its
 * stack still usable, and kvmcage's own memory stays within --mem. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	if (setrlimit(RLIMIT_STACK, &rl) != 0)
		printf("setrlimit: %s\n", strerror(errno));
	unsigned long lo = 0, hi = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "[stack]"))
			sscanf(line, "%lx-%lx", &lo, &hi);
	if (f)
		fclose(f);
	const unsigned long len = 192ul << 20;
	int fd = open("/dev/zero", O_RDONLY);
	long n = read(fd, (void *)(lo - len), len);
	printf("read below the stack: %s\n",
	       n == (long)len ? "all of it" : n >= 0 ? "cut short" : strerror(errno));
	/* Again: nothing more to give, the same answer, no harm. */
	n = read(fd, (void *)(lo - len), len);
	printf("again: %s\n",
	       n == (long)len ? "all of it" : n >= 0 ? "cut short" : strerror(errno));
	volatile char buf[4096];
	buf[0] = 1;
	printf("alive, pid %d, stack usable: %d\n", getpid(), buf[0]);
	return 0;
}
