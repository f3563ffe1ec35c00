/* Random system calls with hostile arguments from a fixed seed, through
 * `syscall` and `int 0x80`. Calls that would end or wreck the program itself
 * (exit, kill, munmap of its own text, ...) or block forever are skipped;
 * everything else goes to the sandbox. Prints a checksum of the results:
 * the run must end, and the host must survive. Sandbox only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t state = 0x2545F4914F6CDD1DULL;
static uint64_t rnd(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

#include "rawsys.h"

static long sys32(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return ret;
}

/* Calls that end, signal, block, or remap the caller itself. */
static int skip64(long nr)
{
	switch (nr) {
	case 3: /* close */ case 7: /* poll */ case 9: /* mmap */ case 10: /* mprotect */
	case 11: /* munmap */ case 12: /* brk */ case 13: /* rt_sigaction */
	case 14: /* rt_sigprocmask */ case 15: /* rt_sigreturn */ case 23: /* select */
	case 25: /* mremap */ case 28: /* madvise */ case 33: /* dup2 */ case 34: /* pause */
	case 35: /* nanosleep */ case 56: case 57: case 58: /* clone, fork, vfork */
	case 59: /* execve */ case 60: /* exit */ case 61: /* wait4 */ case 62: /* kill */
	case 130: /* rt_sigsuspend */ case 157: /* prctl */ case 158: /* arch_prctl */
	case 200: /* tkill */ case 202: /* futex */ case 230: /* clock_nanosleep */
	case 231: /* exit_group */ case 232: /* epoll_wait */ case 234: /* tgkill */
	case 270: /* pselect6 */ case 271: /* ppoll */ case 281: /* epoll_pwait */
	case 292: /* dup3 */ case 322: /* execveat */ case 435: /* clone3 */
	case 436: /* close_range: as close, it would close stdout */
		return 1;
	}
	return 0;
}

static int skip32(long nr)
{
	switch (nr) {
	case 1: case 2: case 6: case 11: case 29: case 37: case 45: case 63: case 67:
	case 72: case 90: case 91: case 119: case 120: case 125: case 142: case 162:
	case 163: case 168: case 172: case 173: case 174: case 175: case 179: case 190:
	case 192: case 219: case 238: case 240: case 252: case 265: case 267: case 270:
	case 308: case 309: case 330: case 358: case 407: case 435:
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	char *buf = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(buf + 2 * 4096, 4096);
	uint64_t pool[] = {
		0, 1, 2, 3, 0xff, 0x1000, 0x7fffffff, 0xffffffff, 0x100000000ULL,
		(uint64_t)buf, (uint64_t)buf + 4096 - 1, (uint64_t)buf + 2 * 4096 - 8,
		(uint64_t)buf + 2 * 4096, 0x7ffffffff000ULL, 0x800000000000ULL,
		0xffff800000000000ULL, 0xffffffff80000000ULL, ~0ULL, (uint64_t)-4096,
		(uint64_t)-1 >> 1, 0x8000000000000000ULL,
	};
	const int np = sizeof pool / sizeof pool[0];
	uint64_t sum = 0;
	long done = 0, i386 = 0;
	while (done < n) {
		uint64_t r = rnd();
		long a[6];
		for (int k = 0; k < 6; k++)
			a[k] = (long)((rnd() & 3) == 0 ? rnd() : pool[rnd() % np]);
		/* Keep scratch contents random so structs read from it vary. */
		if ((r & 63) == 0)
			for (int k = 0; k < 2 * 4096; k += 8)
				*(uint64_t *)(buf + k) = rnd();
		long ret;
		if ((r & 15) == 0) {
			long nr = (long)(rnd() % 460);
			if (skip32(nr))
				continue;
			ret = sys32(nr, a[0], a[1], a[2]);
			i386++;
		} else {
			long nr = (long)(rnd() % 520);
			if ((rnd() & 255) == 0)
				nr = (long)rnd(); /* a wild number */
			if (skip64(nr))
				continue;
			/* Never let a call point fd 0-2 elsewhere or read a blocking fd. */
			if ((nr == 0 || nr == 17 || nr == 19 || nr == 295) && (a[0] & 0xffffffff) <= 2)
				a[0] = 0;
			ret = raw(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		}
		sum = sum * 31 + (uint64_t)ret;
		done++;
	}
	printf("done %ld calls (%ld via int 0x80), checksum %016llx\n", done, i386,
	       (unsigned long long)sum);
	return 0;
}
