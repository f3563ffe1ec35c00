/* What a fork's child gets of memory the parent marked (Linux's
 * VM_WIPEONFORK, VM_DONTCOPY and VM_DROPPABLE):
 *  1 MADV_WIPEONFORK: the child reads zeros, the parent keeps its bytes;
 *    a page next to the marked one is copied as usual.
 *  2 MADV_KEEPONFORK undoes it.
 *  3 MADV_DONTFORK: the child has no mapping there (its read faults,
 *    mincore says ENOMEM), MADV_DOFORK undoes it.
 *  4 the errors: WIPEONFORK on a file mapping or on shared anonymous
 *    memory is EINVAL, KEEPONFORK on a file mapping is not; over a hole
 *    ENOMEM.
 *  5 MAP_DROPPABLE: only private anonymous memory, not locked (EINVAL);
 *    MADV_PAGEOUT drops its pages (they read back as zeros; up to 10 tries
 *    a second apart, as the kernel's selftest); it is wiped on fork and
 *    KEEPONFORK on it is EINVAL.
 * Each line prints the same natively and under kvmcage. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

#define PAGE 4096

static const char *err(int r)
{
	static char buf[32];
	if (r == 0)
		return "0";
	switch (errno) {
	case EINVAL:
		return "EINVAL";
	case ENOMEM:
		return "ENOMEM";
	case EPERM:
		return "EPERM";
	}
	snprintf(buf, sizeof buf, "errno %d", errno);
	return buf;
}

static int all(const unsigned char *p, size_t n, unsigned char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

/* Fork; the child returns `probe(p)` as its exit status. */
static int in_child(int (*probe)(unsigned char *), unsigned char *p)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(probe(p));
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFSIGNALED(st))
		return 100 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* 1: both pages zero; 2: first page 'W', second 'N'; 0: anything else. */
static int classify(unsigned char *p)
{
	if (all(p, PAGE, 0) && all(p + PAGE, PAGE, 'N'))
		return 1;
	if (all(p, PAGE, 'W') && all(p + PAGE, PAGE, 'N'))
		return 2;
	return 0;
}

static sigjmp_buf jump;
static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(jump, 1);
}

/* 1: the first page is not mapped (a read faults and mincore says
 * ENOMEM) and the second is 'N'; 2: both are as the parent wrote them. */
static int mapped(unsigned char *p)
{
	unsigned char vec[1];
	int gone = mincore(p, PAGE, vec) != 0 && errno == ENOMEM;
	signal(SIGSEGV, on_segv);
	int faulted = 0;
	if (sigsetjmp(jump, 1))
		faulted = 1;
	else
		(void)*(volatile unsigned char *)p;
	if (gone && faulted && all(p + PAGE, PAGE, 'N'))
		return 1;
	if (!gone && !faulted && classify(p) == 2)
		return 2;
	return 0;
}

static int dropped_probe(unsigned char *p)
{
	return all(p, 2 * PAGE, 0) ? 1 : 0;
}

static const char *yes(int b)
{
	return b ? "yes" : "no";
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	unsigned char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	memset(p, 'W', PAGE);
	memset(p + PAGE, 'N', PAGE);

	/* 1 */
	int r = madvise(p, PAGE, MADV_WIPEONFORK);
	int c = in_child(classify, p);
	printf("1 wipe: madvise %s; child sees zeros there and the next page copied: %s; parent keeps its bytes: %s\n",
	       err(r), yes(c == 1), yes(classify(p) == 2));

	/* 2 */
	r = madvise(p, PAGE, MADV_KEEPONFORK);
	c = in_child(classify, p);
	printf("2 keep: madvise %s; child sees the parent's bytes: %s\n", err(r),
	       yes(c == 2));

	/* 3 */
	r = madvise(p, PAGE, MADV_DONTFORK);
	c = in_child(mapped, p);
	printf("3 dontfork: madvise %s; child has no mapping there and the next page copied: %s\n",
	       err(r), yes(c == 1));
	r = madvise(p, PAGE, MADV_DOFORK);
	c = in_child(mapped, p);
	printf("3 dofork: madvise %s; child has both pages: %s\n", err(r),
	       yes(c == 2));

	/* 4 */
	char path[] = "/tmp/wipeonforkXXXXXX";
	int fd = mkstemp(path);
	int ok = fd >= 0 && ftruncate(fd, PAGE) == 0;
	unsigned char *f = ok ? mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE, fd, 0)
			      : MAP_FAILED;
	if (f != MAP_FAILED) {
		printf("4 errors: WIPEONFORK on a private file mapping: %s\n",
		       err(madvise(f, PAGE, MADV_WIPEONFORK)));
		printf("4 errors: KEEPONFORK on a private file mapping: %s\n",
		       err(madvise(f, PAGE, MADV_KEEPONFORK)));
		munmap(f, PAGE);
	}
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	unsigned char *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s != MAP_FAILED) {
		printf("4 errors: WIPEONFORK on shared anonymous memory: %s\n",
		       err(madvise(s, PAGE, MADV_WIPEONFORK)));
		munmap(s, PAGE);
	}
	unsigned char *h = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h != MAP_FAILED) {
		munmap(h + PAGE, PAGE);
		printf("4 errors: WIPEONFORK over a hole: %s\n",
		       err(madvise(h, 3 * PAGE, MADV_WIPEONFORK)));
		printf("4 errors: an unknown advice: %s\n",
		       err(madvise(h, PAGE, 1000)));
		munmap(h, 3 * PAGE);
	}

	/* 5 */
	void *d = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_DROPPABLE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
	printf("5 droppable: with MAP_LOCKED: %s\n",
	       d == MAP_FAILED ? err(-1) : "mapped");
	fd = open("/proc/self/exe", O_RDONLY);
	d = fd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_READ, MAP_DROPPABLE, fd, 0);
	printf("5 droppable: of a file: %s\n", d == MAP_FAILED ? err(-1) : "mapped");
	if (fd >= 0)
		close(fd);
	unsigned char *q = mmap(NULL, 2 * 1024 * 1024, PROT_READ | PROT_WRITE,
				MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED) {
		printf("5 droppable: anonymous: %s\n", err(-1));
		return 1;
	}
	memset(q, 'A', 2 * PAGE);
	c = in_child(dropped_probe, q);
	printf("5 droppable: a child sees zeros: %s; the parent its bytes: %s\n",
	       yes(c == 1), yes(all(q, 2 * PAGE, 'A')));
	printf("5 droppable: KEEPONFORK: %s\n",
	       err(madvise(q, PAGE, MADV_KEEPONFORK)));
	memset(q, 'A', 2 * 1024 * 1024);
	int dropped = 0;
	for (int tries = 0; tries < 10 && !dropped; tries++) {
		if (madvise(q, 2 * 1024 * 1024, MADV_PAGEOUT) != 0) {
			printf("5 droppable: MADV_PAGEOUT: %s\n", err(-1));
			break;
		}
		dropped = memchr(q, 'A', 2 * 1024 * 1024) == NULL;
		if (!dropped)
			sleep(1);
	}
	printf("5 droppable: MADV_PAGEOUT dropped every page: %s\n", yes(dropped));
	printf("wipeonfork: done\n");
	return 0;
}
