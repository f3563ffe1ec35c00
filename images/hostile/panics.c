/* Arguments that once made kvmcage's host code panic; each call must give
 * Linux's answer. Same output natively and under kvmcage; run under kvmcage
 * with --max-fds 1048576 (the poll answers do not depend on the limit as
 * long as it is below 2^30).
 *
 *   panics [fadvise|mincore|poll|select]   one group, or all of them
 *                                          without an argument
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include "errname.h"

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : "";
	int null = open("/dev/null", O_RDONLY);
	int zero = open("/dev/zero", O_RDONLY);
	int p[2];
	pipe(p);
	/* fadvise64(fd, offset, len, advice) on a character device. */
	if (!*only || !strcmp(only, "fadvise")) {
	ret("fadvise null 0 0 WILLNEED", syscall(SYS_fadvise64, null, 0L, 0L, POSIX_FADV_WILLNEED));
	ret("fadvise null 0 0 DONTNEED", syscall(SYS_fadvise64, null, 0L, 0L, POSIX_FADV_DONTNEED));
	ret("fadvise null max max", syscall(SYS_fadvise64, null, LONG_MAX, LONG_MAX, POSIX_FADV_WILLNEED));
	ret("fadvise null max 1", syscall(SYS_fadvise64, null, LONG_MAX, 1L, POSIX_FADV_DONTNEED));
	ret("fadvise null 1 max", syscall(SYS_fadvise64, null, 1L, LONG_MAX, POSIX_FADV_NOREUSE));
	ret("fadvise null -1 0", syscall(SYS_fadvise64, null, -1L, 0L, POSIX_FADV_NORMAL));
	ret("fadvise null 0 -1", syscall(SYS_fadvise64, null, 0L, -1L, POSIX_FADV_NORMAL));
	ret("fadvise null min min", syscall(SYS_fadvise64, null, LONG_MIN, LONG_MIN, POSIX_FADV_SEQUENTIAL));
	ret("fadvise null bad advice", syscall(SYS_fadvise64, null, 0L, 0L, 99));
	ret("fadvise zero max max", syscall(SYS_fadvise64, zero, LONG_MAX, LONG_MAX, POSIX_FADV_RANDOM));
	ret("fadvise pipe", syscall(SYS_fadvise64, p[0], 0L, 0L, POSIX_FADV_NORMAL));
	ret("fadvise closed fd", syscall(SYS_fadvise64, 999, 0L, 0L, POSIX_FADV_NORMAL));
	}

	/* mincore with a result vector in the kernel half / past the end. */
	if (!*only || !strcmp(only, "mincore")) {
	char *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	m[0] = 1;
	ret("mincore vec 0xfffffffffffff000",
	    syscall(SYS_mincore, m, 1 << 16, (void *)0xfffffffffffff000UL));
	ret("mincore vec 0x7ffffffff000",
	    syscall(SYS_mincore, m, 1 << 16, (void *)0x7ffffffff000UL));
	ret("mincore vec -1", syscall(SYS_mincore, m, 1 << 16, (void *)-1L));
	ret("mincore len max", syscall(SYS_mincore, m, (size_t)-4096, (void *)m));
	ret("mincore addr top", syscall(SYS_mincore, (void *)0xfffffffffffff000UL, 4096, (void *)m));
	munmap(m, 1 << 16);
	}

	/* poll/ppoll with a huge descriptor count and a bad pointer. */
	if (!*only || !strcmp(only, "poll")) {
	ret("poll 1<<30 bad", syscall(SYS_poll, (void *)16, 1L << 30, 0));
	ret("poll 1<<30 NULL", syscall(SYS_poll, NULL, 1L << 30, 0));
	ret("poll -1 NULL", syscall(SYS_poll, NULL, -1L, 0));
	/* At RLIMIT_NOFILE and one past it (the output does not show the
	 * limit itself, so it is the same for any limit). */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	ret("poll limit bad", syscall(SYS_poll, (void *)16, rl.rlim_cur, 0));
	ret("poll limit+1 bad", syscall(SYS_poll, (void *)16, rl.rlim_cur + 1, 0));
	ret("poll limit kernel half", syscall(SYS_poll, (void *)0xffff800000000000UL, rl.rlim_cur, 0));
	struct pollfd *pf = mmap(NULL, rl.rlim_cur * sizeof *pf, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (rlim_t i = 0; i < rl.rlim_cur; i++)
		pf[i].fd = -1;
	ret("poll limit fd -1", syscall(SYS_poll, pf, rl.rlim_cur, 0));
	pf[rl.rlim_cur - 1].fd = p[1];
	pf[rl.rlim_cur - 1].events = POLLOUT;
	ret("poll limit last writable", syscall(SYS_poll, pf, rl.rlim_cur, 0));
	printf("revents of the last: %d\n", pf[rl.rlim_cur - 1].revents);
	struct timespec zero_ts = { 0, 0 };
	ret("ppoll 1<<30 bad", syscall(SYS_ppoll, (void *)16, 1L << 30, &zero_ts, NULL, 8));
	ret("ppoll max bad", syscall(SYS_ppoll, (void *)16, ULONG_MAX, &zero_ts, NULL, 8));
	}
	/* select with more descriptors than any table holds and no sets: Linux
	 * caps nfds at its table size and returns 0. (Not in the holes test.) */
	if (!*only || !strcmp(only, "select")) {
	struct timeval tv = { 0, 0 };
	ret("select INT_MAX", syscall(SYS_select, INT_MAX, NULL, NULL, NULL, &tv));
	ret("select -1", syscall(SYS_select, -1, NULL, NULL, NULL, &tv));
	}
	return 0;
}
