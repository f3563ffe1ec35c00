/* /proc/self/mem, pagemap and smaps, and MADV_POPULATE_*, as Linux:
 *  1 mem: pread of a variable; pwrite into a PROT_READ private page
 *    (FOLL_FORCE: the page changes, the mapping stays read-only); a read
 *    of PROT_NONE memory; EIO at an unmapped address; read after lseek.
 *  2 pagemap: a fresh anonymous page is not present, one written is
 *    (exclusive); MADV_POPULATE_READ/WRITE make pages present; a
 *    misaligned read is EINVAL.
 *  3 MADV_POPULATE errors: WRITE on PROT_READ and READ on PROT_NONE are
 *    EINVAL, a hole ENOMEM.
 *    (A page MADV_POPULATE_READ brought in is Linux's shared zero page,
 *    which smaps does not count: section 4 uses a mapping of its own.)
 *  4 smaps: Size and Rss of a 4-page mapping with 2 pages written; after
 *    mlock every page is resident and Locked, VmFlags has "lo".
 * Each line prints the same natively and under kvmcage. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

static const char *err(long r)
{
	static char buf[32];
	if (r >= 0) {
		snprintf(buf, sizeof buf, "%ld", r);
		return buf;
	}
	switch (errno) {
	case EINVAL:
		return "EINVAL";
	case ENOMEM:
		return "ENOMEM";
	case EIO:
		return "EIO";
	case EFAULT:
		return "EFAULT";
	}
	snprintf(buf, sizeof buf, "errno %d", errno);
	return buf;
}

static uint64_t pm(int fd, void *addr)
{
	uint64_t e = 0;
	if (pread(fd, &e, 8, (uintptr_t)addr / PAGE * 8) != 8)
		return ~0ull;
	return e;
}

static const char *present(uint64_t e)
{
	if (e == ~0ull)
		return "unreadable";
	return e >> 63 ? "present" : "not present";
}

/* The value of smaps field `name` (kB) of the mapping at `addr`, or the
 * VmFlags line's flags. */
static long smaps_field(void *addr, const char *name, char *flags)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	long v = -1;
	if (!f)
		return -2;
	while (fgets(line, sizeof line, f)) {
		unsigned long s, e;
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') &&
		    line[strcspn(line, " ") - 1] != ':') {
			in = (uintptr_t)addr >= s && (uintptr_t)addr < e;
			continue;
		}
		if (!in)
			continue;
		if (flags && strncmp(line, "VmFlags:", 8) == 0) {
			strcpy(flags, line + 8);
			flags[strcspn(flags, "\n")] = 0;
		}
		size_t n = strlen(name);
		if (strncmp(line, name, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

static volatile long secret = 0x1234567;

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int mem = open("/proc/self/mem", O_RDWR);
	int pmfd = open("/proc/self/pagemap", O_RDONLY);
	printf("0 open: mem %s, pagemap %s\n", mem >= 0 ? "ok" : err(-1),
	       pmfd >= 0 ? "ok" : err(-1));
	if (mem < 0 || pmfd < 0)
		return 1;

	/* 1 */
	long v = 0;
	long r = pread(mem, &v, sizeof v, (uintptr_t)&secret);
	printf("1 mem: pread of a variable %s, value right: %s\n", err(r),
	       v == secret ? "yes" : "no");
	char *ro = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r = pwrite(mem, "forced", 6, (uintptr_t)ro);
	printf("1 mem: pwrite into a PROT_READ page %s, page reads \"%.6s\"\n",
	       err(r), ro);
	char *none = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	strcpy(none, "hidden");
	mprotect(none, PAGE, PROT_NONE);
	char buf[8] = { 0 };
	r = pread(mem, buf, 6, (uintptr_t)none);
	printf("1 mem: pread of PROT_NONE memory %s, \"%s\"\n", err(r), buf);
	/* Three pages, the middle one unmapped: a hole that stays one. */
	char *h = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(h + PAGE, PAGE);
	char *gone = h + PAGE;
	r = pread(mem, buf, 4, (uintptr_t)gone);
	printf("1 mem: pread of an unmapped page %s\n", err(r));
	static char big[2 * PAGE];
	r = pread(mem, big, 2 * PAGE, (uintptr_t)(gone - 4));
	printf("1 mem: pread across into an unmapped page %s\n", err(r));
	lseek(mem, (uintptr_t)&secret, SEEK_SET);
	v = 0;
	r = read(mem, &v, sizeof v);
	printf("1 mem: read after lseek %s, value right: %s, offset moved: %s\n",
	       err(r), v == secret ? "yes" : "no",
	       lseek(mem, 0, SEEK_CUR) == (off_t)((uintptr_t)&secret + sizeof v) ? "yes" : "no");

	/* 2 */
	char *a = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("2 pagemap: fresh page %s\n", present(pm(pmfd, a)));
	a[0] = 1;
	uint64_t e = pm(pmfd, a);
	/* (The frame number is shown to root only: not compared.) */
	printf("2 pagemap: written page %s, exclusive %s\n", present(e),
	       (e >> 56) & 1 ? "yes" : "no");
	r = madvise(a + PAGE, PAGE, MADV_POPULATE_READ);
	printf("2 pagemap: MADV_POPULATE_READ %s, page %s\n", err(r),
	       present(pm(pmfd, a + PAGE)));
	r = madvise(a + 2 * PAGE, PAGE, MADV_POPULATE_WRITE);
	printf("2 pagemap: MADV_POPULATE_WRITE %s, page %s; the next %s\n", err(r),
	       present(pm(pmfd, a + 2 * PAGE)), present(pm(pmfd, a + 3 * PAGE)));
	uint64_t x;
	r = pread(pmfd, &x, 4, (uintptr_t)a / PAGE * 8);
	printf("2 pagemap: a 4-byte read %s\n", err(r));

	/* 3 */
	r = madvise(ro, PAGE, MADV_POPULATE_WRITE);
	printf("3 populate: WRITE on PROT_READ %s\n", err(r));
	r = madvise(none, PAGE, MADV_POPULATE_READ);
	printf("3 populate: READ on PROT_NONE %s\n", err(r));
	r = madvise(h, 3 * PAGE, MADV_POPULATE_READ);
	printf("3 populate: READ over a hole %s\n", err(r));
	munmap(a, 4 * PAGE);

	/* 4 */
	char *s = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s[0] = s[PAGE] = 1;
	printf("4 smaps: Size %ld kB, Rss %ld kB, Anonymous %ld kB\n",
	       smaps_field(s, "Size", NULL), smaps_field(s, "Rss", NULL),
	       smaps_field(s, "Anonymous", NULL));
	r = mlock(s, 4 * PAGE);
	char flags[256] = "";
	long rss = smaps_field(s, "Rss", flags);
	printf("4 smaps: mlock %s, Rss %ld kB, Locked %ld kB, VmFlags%s\n", err(r),
	       rss, smaps_field(s, "Locked", NULL), flags);
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	int rollup = f && fgets(line, sizeof line, f) && strstr(line, "[rollup]");
	printf("4 smaps_rollup: first line names [rollup]: %s\n", rollup ? "yes" : "no");
	printf("procmem: done\n");
	return 0;
}
