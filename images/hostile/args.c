/* Hostile arguments to the syscalls kvmcage implements: every pointer from
 * a table of bad addresses, lengths that wrap, huge and negative fds,
 * invalid flags. Each result is printed to stdout (data the calls move goes
 * to stderr); the test compares stdout with Linux. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawsys.h"

int main(void)
{
	/* A test runner may pass descriptors down natively: start clean. */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	char *hole = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole + 4096, 4096);
	const uintptr_t ptrs[] = {
		0, 1, 0xfff, (uintptr_t)hole + 4096 - 1, (uintptr_t)hole + 4096,
		0x7ffffffff000, 0x7fffffffffff, 0x800000000000, 0xffff800000000000,
		0xffffffff80000000, 0xffffffffffffffff,
	};
	/* (A length like 0x7ffff000 is left out: whether it passes access_ok
	 * depends on where ASLR put the buffer, and so does
	 * mprotect over 2^63 bytes: which mapping it meets first.) */
	const long lens[] = { 0, 1, 4096, -1 };
	const long fds[] = { -1, 10, 1023, 1024, 0x7fffffff, (long)0x100000000, (long)0xffffffff00000002 };
	int n = sizeof ptrs / sizeof ptrs[0];
	for (int i = 0; i < n; i++) {
		long p = (long)ptrs[i];
		printf("ptr #%d:", i);
		printf(" write=%ld", raw(SYS_write, 2, p, 16, 0, 0, 0));
		printf(" read=%ld", raw(SYS_read, 0, p, 16, 0, 0, 0));
		printf(" writev=%ld", raw(SYS_writev, 2, p, 1, 0, 0, 0));
		printf(" uname=%ld", raw(SYS_uname, p, 0, 0, 0, 0, 0));
		printf(" clock=%ld", raw(SYS_clock_gettime, 1, p, 0, 0, 0, 0));
		printf(" gtod=%ld", raw(SYS_gettimeofday, p, 0, 0, 0, 0, 0));
		printf(" getrandom=%ld", raw(SYS_getrandom, p, 8, 0, 0, 0, 0));
		printf(" sigaction=%ld", raw(SYS_rt_sigaction, 10, p, 0, 8, 0, 0));
		printf(" sigprocmask=%ld", raw(SYS_rt_sigprocmask, 0, p, 0, 8, 0, 0));
		printf(" prlimit=%ld", raw(SYS_prlimit64, 0, 3, 0, p, 0, 0));
		printf(" getfs=%ld", raw(SYS_arch_prctl, 0x1003, p, 0, 0, 0, 0));
		printf(" affinity=%ld", raw(SYS_sched_getaffinity, 0, 8, p, 0, 0, 0));
		printf(" fstat=%ld", raw(SYS_fstat, 1, p, 0, 0, 0, 0));
		printf(" readlink=%ld", raw(SYS_readlink, p, (long)hole, 10, 0, 0, 0));
		printf(" openat=%ld", raw(SYS_openat, -100, p, 0, 0, 0, 0));
		printf(" munmap=%ld", raw(SYS_munmap, p, 4096, 0, 0, 0, 0) < 0 ? -1L : 0L);
		printf("\n");
	}
	for (unsigned i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		long l = lens[i];
		printf("len %#lx: write=%ld read=%ld getrandom=%ld mmap=%s mprotect=%ld madvise=%ld\n",
		       (unsigned long)l, raw(SYS_write, 2, (long)hole, l, 0, 0, 0),
		       raw(SYS_read, 0, (long)hole, l, 0, 0, 0),
		       raw(SYS_getrandom, (long)hole, l, 0, 0, 0, 0) < 0 ? -1L : 1L,
		       raw(SYS_mmap, 0, l, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) < 0 ? "err" : "ok",
		       raw(SYS_mprotect, (long)hole, l, PROT_READ | PROT_WRITE, 0, 0, 0),
		       raw(SYS_madvise, (long)hole, l, MADV_NORMAL, 0, 0, 0));
	}
	for (unsigned i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		long fd = fds[i];
		char b[8];
		printf("fd %#lx: write=%ld read=%ld close=%ld fstat=%ld dup=%ld ioctl=%ld lseek=%ld\n",
		       (unsigned long)fd, raw(SYS_write, fd, (long)"x", 1, 0, 0, 0),
		       raw(SYS_read, fd, (long)b, 1, 0, 0, 0), raw(SYS_close, fd, 0, 0, 0, 0, 0),
		       raw(SYS_fstat, fd, (long)hole, 0, 0, 0, 0), raw(SYS_dup, fd, 0, 0, 0, 0, 0),
		       raw(SYS_ioctl, fd, 0x5401, (long)hole, 0, 0, 0),
		       raw(SYS_lseek, fd, 0, 0, 0, 0, 0));
	}
	printf("flags: mmap(bad prot)=%s mmap(no type)=%ld mmap(off)=%ld getrandom(bad)=%ld "
	       "sigprocmask(bad how)=%ld sigaction(sig 0)=%ld sigaction(sig 65)=%ld sigaction(size 4)=%ld "
	       "mprotect(bad prot)=%ld arch_prctl(bad)=%ld arch_prctl(SET_FS kernel)=%ld prlimit(bad res)=%ld dup3(same)=%ld "
	       "set_robust_list(bad len)=%ld clock_gettime(bad clock)=%ld madvise(bad)=%ld mprotect(unaligned)=%ld\n",
	       raw(SYS_mmap, 0, 4096, 0x100, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) < 0 ? "err" : "ok",
	       raw(SYS_mmap, 0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0),
	       raw(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1),
	       raw(SYS_getrandom, (long)hole, 1, 0x100, 0, 0, 0),
	       raw(SYS_rt_sigprocmask, 7, (long)hole, 0, 8, 0, 0),
	       raw(SYS_rt_sigaction, 0, 0, 0, 8, 0, 0), raw(SYS_rt_sigaction, 65, 0, 0, 8, 0, 0),
	       raw(SYS_rt_sigaction, 10, 0, 0, 4, 0, 0),
	       raw(SYS_mprotect, (long)hole, 4096, 0x100, 0, 0, 0), raw(SYS_arch_prctl, 0x9999, 0, 0, 0, 0, 0),
	       raw(SYS_arch_prctl, 0x1002, (long)0xffffffff80000000UL, 0, 0, 0, 0),
	       raw(SYS_prlimit64, 0, 99, 0, (long)hole, 0, 0), raw(SYS_dup3, 1, 1, 0, 0, 0, 0),
	       raw(SYS_set_robust_list, (long)hole, 23, 0, 0, 0, 0),
	       raw(SYS_clock_gettime, 99, (long)hole, 0, 0, 0, 0),
	       raw(SYS_madvise, (long)hole, 4096, 9999, 0, 0, 0),
	       raw(SYS_mprotect, (long)hole + 1, 4096, PROT_READ, 0, 0, 0));
	return 0;
}
