/* eventfd and eventfd2: the counter (writes add, a read takes it all),
 * EFD_SEMAPHORE (a read takes 1), EFD_NONBLOCK (EAGAIN at 0 and at the
 * limit), poll readiness, the errors (bad flags, a short buffer, a write of
 * ~0), the /proc/self/fd name, and a blocking read and a blocking write
 * ended by SIGALRM (EINTR without SA_RESTART). Prints results and errno
 * names only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "hostile/errname.h"

static long put(int fd, uint64_t v)
{
	return write(fd, &v, 8);
}

static uint64_t got;
static long take(int fd)
{
	got = 0;
	return read(fd, &got, 8);
}

static int revents(int fd)
{
	struct pollfd p = {fd, POLLIN | POLLOUT, 0};
	poll(&p, 1, 0);
	return p.revents;
}

static void on_alarm(int sig)
{
	(void)sig;
}

int main(void)
{
	int fd = eventfd(3, 0);
	say("eventfd(3)", fd >= 0 ? 0 : -1);
	say("read", take(fd));
	printf("value: %llu\n", (unsigned long long)got);
	say("write 5", put(fd, 5));
	say("write 7", put(fd, 7));
	say("read", take(fd));
	printf("value: %llu\n", (unsigned long long)got);
	printf("poll at 0: %#x\n", revents(fd));
	say("write ~0", put(fd, ~0ULL));
	char small[4];
	say("write 4 bytes", write(fd, small, 4));
	put(fd, 1);
	say("read 4 bytes", read(fd, small, 4));
	printf("poll at 1: %#x\n", revents(fd));
	take(fd);

	int nb = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	printf("flags: nonblock %d cloexec %d\n", (fcntl(nb, F_GETFL) & O_NONBLOCK) != 0,
	       (fcntl(nb, F_GETFD) & FD_CLOEXEC) != 0);
	say("nonblocking read at 0", take(nb));
	say("write max-1", put(nb, 0xfffffffffffffffeULL));
	printf("poll at max: %#x\n", revents(nb));
	say("nonblocking write past max", put(nb, 1));
	say("read", take(nb));
	printf("value: %#llx\n", (unsigned long long)got);

	int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	say("semaphore read", take(sem));
	printf("value: %llu\n", (unsigned long long)got);
	say("semaphore read", take(sem));
	say("semaphore read at 0", take(sem));

	say("eventfd2 bad flags", syscall(SYS_eventfd2, 0, 0x2));
	char link[64] = {0}, p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	readlink(p, link, sizeof link - 1);
	printf("link: %s\n", link);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
	say("blocking read ended by SIGALRM", take(fd));
	/* a blocking write that would pass the limit waits for room */
	put(fd, 0xfffffffffffffffeULL);
	setitimer(ITIMER_REAL, &it, NULL);
	say("blocking write ended by SIGALRM", put(fd, 1));
	say("read", take(fd));
	printf("done\n");
	return 0;
}
