/* Shared memory in the directory argv[1]:
 *   writable MAP_SHARED file mappings (coherent with pread/pwrite without
 *     msync, the tail past EOF, two mappings aliasing, a private mapping's
 *     own write kept out of the file, mremap, mprotect, MADV_DONTNEED,
 *     ftruncate growing and shrinking under a mapping, SIGBUS past EOF,
 *     the EACCES/ENODEV/EINVAL/EOPNOTSUPP cases);
 *   MAP_SHARED|MAP_ANONYMOUS and MAP_SHARED of /dev/zero;
 *   memfd_create (sizes, mappings, the /proc/self/fd link, seals, bad flags
 *     and names);
 *   shm_open/shm_unlink and sem_open/sem_unlink (files in /dev/shm: fixed
 *     names, removed first, so the output never holds a pid).
 * Only properties are printed, never addresses. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile/errname.h"

#define PG 4096
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#define MFD_ALLOW_SEALING 2U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 1
#define F_SEAL_SHRINK 2
#define F_SEAL_GROW 4
#define F_SEAL_WRITE 8
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 3
#endif

static const char *mapped(void *p)
{
	static char buf[32];
	if (p != MAP_FAILED)
		return "ok";
	snprintf(buf, sizeof buf, "-1 %s", errname(errno));
	return buf;
}

/* Touch one byte, reporting the signal that stops the access. */
static sigjmp_buf jb;
static void on_fault(int sig)
{
	siglongjmp(jb, sig);
}
static const char *touch(volatile char *p, int write)
{
	static char buf[32];
	int sig = sigsetjmp(jb, 1);
	if (sig == 0) {
		if (write)
			*p = 'w';
		snprintf(buf, sizeof buf, "%d", *p);
		return buf;
	}
	return sig == SIGBUS ? "SIGBUS" : sig == SIGSEGV ? "SIGSEGV" : "signal";
}

static int all(const char *p, int c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static long fsize(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

static char at(int fd, off_t off)
{
	char c = '?';
	if (pread(fd, &c, 1, off) != 1)
		c = '-';
	return c;
}

static void file_mappings(void)
{
	int fd = open("shared.dat", O_CREAT | O_RDWR | O_TRUNC, 0644);
	char page[PG];
	for (int i = 0; i < 3; i++) {
		memset(page, 'a' + i, PG);
		write(fd, page, PG);
	}
	memset(page, 't', 100);
	write(fd, page, 100);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared map: %s\n", mapped(p));
	if (p == MAP_FAILED)
		return;
	printf("bytes: %c %c %c %c, past EOF zero: %d\n", p[0], p[PG], p[2 * PG],
	       p[3 * PG], all(p + 3 * PG + 100, 0, PG - 100));

	/* the page cache is coherent: no msync needed either way */
	p[10] = 'X';
	printf("write through the mapping, pread: %c\n", at(fd, 10));
	pwrite(fd, "Y", 1, PG + 5);
	printf("pwrite, read through the mapping: %c\n", p[PG + 5]);
	write(fd, "W", 1); /* the file position is 3 pages + 100 */
	printf("size after write at the end: %ld\n", fsize(fd));
	printf("appended byte seen in the mapping: %c\n", p[3 * PG + 100]);
	say("msync MS_SYNC", msync(p, 4 * PG, MS_SYNC));
	say("msync MS_ASYNC", msync(p, PG, MS_ASYNC));
	say("msync MS_INVALIDATE", msync(p, PG, MS_INVALIDATE));
	say("msync bad flags", msync(p, PG, MS_SYNC | MS_ASYNC));
	say("msync unaligned", msync(p + 1, PG, MS_SYNC));

	/* bytes written past EOF in the last page stay out of the file */
	p[3 * PG + 200] = 'Q';
	printf("past-EOF write: size %ld, pread %c\n", fsize(fd), at(fd, 3 * PG + 200));

	/* two shared mappings of one file are the same memory */
	char *q = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("second shared map: %s\n", mapped(q));
	p[2 * PG + 7] = 'Z';
	q[2 * PG + 8] = 'V';
	printf("aliases: %c %c\n", q[2 * PG + 7], p[2 * PG + 8]);
	/* at an offset */
	char *o = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * PG);
	printf("at an offset: %c %c\n", o[7], o[8]);
	o[9] = 'O';
	printf("write at the offset, seen: %c %c\n", p[2 * PG + 9], at(fd, 2 * PG + 9));
	munmap(o, PG);

	/* a private mapping's own write never reaches the file */
	char *r = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("private map: %s, sees shared writes: %c\n", mapped(r), r[2 * PG + 7]);
	r[PG + 1] = 'P';
	printf("private write: file %c, shared %c, private %c\n", at(fd, PG + 1), p[PG + 1],
	       r[PG + 1]);
	p[PG + 2] = 'S';
	printf("shared write after the private copy, private sees: %c\n", r[PG + 2]);
	munmap(r, 4 * PG);

	/* mprotect read-only and back */
	say("mprotect PROT_READ", mprotect(p, 4 * PG, PROT_READ));
	printf("read-only: %c, write: %s\n", p[10], touch(p + 11, 1));
	say("mprotect back", mprotect(p, 4 * PG, PROT_READ | PROT_WRITE));
	p[11] = 'R';
	printf("after mprotect back, pread: %c\n", at(fd, 11));

	/* MADV_DONTNEED drops the pages from this mapping, not the data */
	say("madvise DONTNEED", madvise(p, 4 * PG, MADV_DONTNEED));
	printf("kept: %c %c %c\n", p[10], p[PG + 5], p[2 * PG + 7]);

	/* mremap keeps the shared mapping shared */
	munmap(q, 4 * PG);
	char *guard = mmap(p + 4 * PG, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	char *m = mremap(p, 4 * PG, 6 * PG, MREMAP_MAYMOVE);
	printf("mremap grow: %s\n", mapped(m));
	if (m != MAP_FAILED) {
		printf("kept: %c %c %c\n", m[10], m[PG + 5], m[2 * PG + 7]);
		m[12] = 'M';
		printf("write after mremap, pread: %c\n", at(fd, 12));
		printf("grown part past EOF: %s\n", touch(m + 5 * PG, 0));
		p = mremap(m, 6 * PG, 4 * PG, 0);
		printf("mremap shrink: %s\n", mapped(p));
	}
	if (guard != MAP_FAILED && guard != m + 4 * PG)
		munmap(guard, PG);

	/* the mapping outlives its descriptor and the munmap of the other */
	close(fd);
	p[13] = 'C';
	munmap(p, 4 * PG);
	fd = open("shared.dat", O_RDONLY);
	char buf[16] = {0};
	pread(fd, buf, 14, 0);
	printf("after munmap: %.14s, size %ld\n", buf, fsize(fd));

	/* errors */
	char *e = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared writable, O_RDONLY fd: %s\n", mapped(e));
	e = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	printf("shared read-only, O_RDONLY fd: %s\n", mapped(e));
	if (e != MAP_FAILED) {
		say("mprotect it writable", mprotect(e, PG, PROT_READ | PROT_WRITE));
		munmap(e, PG);
	}
	e = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("private writable, O_RDONLY fd: %s\n", mapped(e));
	if (e != MAP_FAILED)
		munmap(e, PG);
	close(fd);
	fd = open("shared.dat", O_WRONLY);
	e = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared writable, O_WRONLY fd: %s\n", mapped(e));
	e = mmap(NULL, PG, PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared write-only, O_WRONLY fd: %s\n", mapped(e));
	close(fd);
	fd = open("shared.dat", O_RDWR | O_APPEND);
	e = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("shared writable, O_APPEND fd: %s\n", mapped(e));
	close(fd);
	fd = open("shared.dat", O_RDWR);
	e = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 1);
	printf("unaligned offset: %s\n", mapped(e));
	e = mmap(NULL, PG, PROT_READ, MAP_SHARED_VALIDATE | 0x200000, fd, 0);
	printf("MAP_SHARED_VALIDATE with an unknown flag: %s\n", mapped(e));
	e = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE, fd, 0);
	printf("MAP_SHARED_VALIDATE: %s\n", mapped(e));
	if (e != MAP_FAILED)
		munmap(e, PG);
	e = mmap(NULL, PG, PROT_READ, MAP_SHARED | MAP_PRIVATE, fd, 0);
	printf("MAP_SHARED|MAP_PRIVATE: %s\n", mapped(e));
	if (e != MAP_FAILED)
		munmap(e, PG);
	close(fd);
	int dfd = open(".", O_RDONLY | O_DIRECTORY);
	e = mmap(NULL, PG, PROT_READ, MAP_SHARED, dfd, 0);
	printf("directory: %s\n", mapped(e));
	close(dfd);

	/* ftruncate under a mapping: a page made by growing the file reads
	 * zero, one cut off faults with SIGBUS, and growing again brings back
	 * zeros, not the old data */
	fd = open("grow.dat", O_CREAT | O_RDWR | O_TRUNC, 0644);
	memset(page, 'g', PG);
	write(fd, page, PG);
	write(fd, page, 100);
	char *g = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("grow map: %s\n", mapped(g));
	printf("page past EOF: %s\n", touch(g + 2 * PG, 0));
	printf("page past EOF, write: %s\n", touch(g + 2 * PG + 1, 1));
	say("ftruncate to 3 pages", ftruncate(fd, 3 * PG));
	printf("new page: %s, old tail zero: %d\n", touch(g + 2 * PG, 0),
	       all(g + PG + 100, 0, PG - 100));
	g[2 * PG + 3] = 'N';
	printf("write to the new page, pread: %c\n", at(fd, 2 * PG + 3));
	printf("fourth page still past EOF: %s\n", touch(g + 3 * PG, 0));
	say("ftruncate to 1 page", ftruncate(fd, PG));
	printf("cut-off page: %s\n", touch(g + 2 * PG + 3, 0));
	say("ftruncate to 3 pages again", ftruncate(fd, 3 * PG));
	printf("grown again: %s, zero: %d\n", touch(g + 2 * PG + 3, 0), all(g + PG, 0, 2 * PG));
	printf("first page kept: %c\n", g[0]);
	munmap(g, 4 * PG);
	close(fd);
}

static void anonymous(void)
{
	char *a = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("shared anonymous: %s, zero: %d\n", mapped(a), a != MAP_FAILED && all(a, 0, 3 * PG));
	if (a == MAP_FAILED)
		return;
	memset(a, 'x', 3 * PG);
	say("madvise DONTNEED", madvise(a, 3 * PG, MADV_DONTNEED));
	printf("kept after DONTNEED: %d\n", all(a, 'x', 3 * PG));
	char *b = mremap(a, 3 * PG, 6 * PG, MREMAP_MAYMOVE);
	printf("mremap grow: %s\n", mapped(b));
	if (b != MAP_FAILED) {
		/* the object keeps its size: the grown part is past its end */
		printf("kept: %d, grown part: %s\n", all(b, 'x', 3 * PG), touch(b + 3 * PG, 0));
		say("mprotect PROT_READ", mprotect(b, 6 * PG, PROT_READ));
		printf("write: %s\n", touch(b, 1));
		say("munmap", munmap(b, 6 * PG));
	}
	a = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 1);
	printf("shared anonymous, unaligned offset: %s\n", mapped(a));

	int z = open("/dev/zero", O_RDWR);
	char *d = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
	printf("/dev/zero shared: %s, zero: %d\n", mapped(d), d != MAP_FAILED && all(d, 0, 2 * PG));
	if (d != MAP_FAILED) {
		memset(d, 'z', 2 * PG);
		printf("writable: %d\n", all(d, 'z', 2 * PG));
		char c;
		printf("read(/dev/zero) still zero: %d\n", read(z, &c, 1) == 1 && c == 0);
		/* a second mapping of /dev/zero is new memory, not an alias */
		char *d2 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0);
		printf("second /dev/zero map zero: %d\n", d2 != MAP_FAILED && all(d2, 0, PG));
		munmap(d2, PG);
		munmap(d, 2 * PG);
	}
	close(z);
}

static void memfd(void)
{
	int fd = syscall(SYS_memfd_create, "kvmcage-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	say("memfd_create", fd < 0 ? -1 : 0);
	if (fd < 0)
		return;
	struct stat st;
	fstat(fd, &st);
	printf("regular: %d, size %ld, links %ld\n", S_ISREG(st.st_mode), (long)st.st_size,
	       (long)st.st_nlink);
	printf("cloexec: %d\n", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	printf("flags O_RDWR: %d\n", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	say("write", write(fd, "hello memfd", 11));
	say("ftruncate 2 pages", ftruncate(fd, 2 * PG));
	printf("size: %ld\n", fsize(fd));
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("mmap: %s\n", mapped(p));
	if (p != MAP_FAILED) {
		printf("sees: %.11s, rest zero: %d\n", p, all(p + 11, 0, 2 * PG - 11));
		memcpy(p + PG, "via map", 7);
		char buf[8] = {0};
		pread(fd, buf, 7, PG);
		printf("pread: %s\n", buf);
		pwrite(fd, "PW", 2, 0);
		printf("pwrite seen: %.2s\n", p);
	}
	char path[64], link[128];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n < 0 ? 0 : n] = 0;
	printf("link: %s\n", link);
	/* reopening through /proc/self/fd gives the same file */
	int again = open(path, O_RDWR);
	say("reopen via /proc/self/fd", again < 0 ? -1 : 0);
	if (again >= 0) {
		printf("same file: %c\n", at(again, PG));
		close(again);
	}

	say("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	say("F_ADD_SEALS SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	say("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	say("ftruncate smaller", ftruncate(fd, PG));
	say("ftruncate larger", ftruncate(fd, 3 * PG));
	say("F_ADD_SEALS WRITE while mapped writable", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	if (p != MAP_FAILED)
		munmap(p, 2 * PG);
	say("F_ADD_SEALS WRITE|GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW));
	say("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	say("write sealed", write(fd, "x", 1));
	say("pwrite sealed", pwrite(fd, "x", 1, 0));
	say("ftruncate larger sealed", ftruncate(fd, 4 * PG));
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("mmap shared writable sealed: %s\n", mapped(p));
	p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	printf("mmap shared read-only sealed: %s\n", mapped(p));
	if (p != MAP_FAILED) {
		say("mprotect it writable", mprotect(p, PG, PROT_READ | PROT_WRITE));
		munmap(p, PG);
	}
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	printf("mmap private writable sealed: %s\n", mapped(p));
	if (p != MAP_FAILED)
		munmap(p, PG);
	say("F_ADD_SEALS SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	say("F_ADD_SEALS after SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	say("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	close(fd);

	fd = syscall(SYS_memfd_create, "nosealing", 0);
	say("memfd_create without sealing", fd < 0 ? -1 : 0);
	say("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
	say("F_ADD_SEALS", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	printf("cloexec: %d\n", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	close(fd);
	int file = open("sealfile", O_CREAT | O_RDWR, 0600);
	say("F_GET_SEALS on a plain file", fcntl(file, F_GET_SEALS));
	say("F_ADD_SEALS on a plain file", fcntl(file, F_ADD_SEALS, F_SEAL_SHRINK));
	close(file);

	say("memfd_create bad flag", syscall(SYS_memfd_create, "bad", 0x1000));
	char name[260];
	memset(name, 'n', sizeof name);
	name[249] = 0;
	fd = syscall(SYS_memfd_create, name, 0);
	say("memfd_create name of 249", fd < 0 ? -1 : 0);
	close(fd);
	name[249] = 'n';
	name[250] = 0;
	say("memfd_create name of 250", syscall(SYS_memfd_create, name, 0));
	say("memfd_create NULL name", syscall(SYS_memfd_create, NULL, 0));
	fd = syscall(SYS_memfd_create, "", 0);
	say("memfd_create empty name", fd < 0 ? -1 : 0);
	n = -1;
	if (fd >= 0) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof link - 1);
	}
	link[n < 0 ? 0 : n] = 0;
	printf("link: %s\n", link);
	close(fd);
}

static void posix_shm(void)
{
	const char *name = "/kvmcage-test-shm";
	shm_unlink(name);
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	say("shm_open create", fd < 0 ? -1 : 0);
	if (fd < 0)
		return;
	struct stat st;
	fstat(fd, &st);
	printf("regular: %d, mode %o, size %ld\n", S_ISREG(st.st_mode), st.st_mode & 0777,
	       (long)st.st_size);
	printf("cloexec: %d\n", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	int ex = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	say("shm_open create again", ex < 0 ? -1 : 0);
	say("ftruncate", ftruncate(fd, 2 * PG));
	printf("size: %ld\n", fsize(fd));
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("mmap: %s\n", mapped(p));
	if (p == MAP_FAILED)
		return;
	memcpy(p + PG, "shm bytes", 9);
	int fd2 = shm_open(name, O_RDWR, 0);
	say("shm_open existing", fd2 < 0 ? -1 : 0);
	char *q = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	printf("second mmap: %s, sees: %.9s\n", mapped(q), q == MAP_FAILED ? "" : q + PG);
	int fd3 = shm_open(name, O_RDONLY, 0);
	say("shm_open read-only", fd3 < 0 ? -1 : 0);
	char *r = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd3, 0);
	printf("writable map of the read-only one: %s\n", mapped(r));
	close(fd3);
	char buf[10] = {0};
	printf("read: %ld %s\n", (long)pread(fd2, buf, 9, PG), buf);
	say("shm_unlink", shm_unlink(name));
	say("shm_unlink again", shm_unlink(name));
	say("shm_open after unlink", shm_open(name, O_RDWR, 0));
	if (q != MAP_FAILED) {
		q[0] = 'u';
		printf("mappings still alias after unlink: %c\n", p[0]);
	}
	close(fd);
	close(fd2);
	munmap(p, 2 * PG);
	if (q != MAP_FAILED)
		munmap(q, 2 * PG);
	fd = shm_open(name, O_CREAT | O_RDWR, 0600);
	printf("recreated size: %ld\n", fsize(fd));
	close(fd);
	shm_unlink(name);
	/* the names live in /dev/shm */
	fd = shm_open("/kvmcage-test-shm2", O_CREAT | O_RDWR, 0640);
	struct stat st2;
	printf("in /dev/shm: %d\n", stat("/dev/shm/kvmcage-test-shm2", &st2) == 0);
	printf("mode %o\n", st2.st_mode & 0777);
	close(fd);
	say("shm_unlink", shm_unlink("/kvmcage-test-shm2"));
	say("shm_open a name with a slash", shm_open("/kvmcage/x", O_CREAT | O_RDWR, 0600));
}

static void posix_sem(void)
{
	const char *name = "/kvmcage-test-sem";
	sem_unlink(name);
	sem_t *s = sem_open(name, O_CREAT, 0600, 2);
	say("sem_open", s == SEM_FAILED ? -1 : 0);
	if (s == SEM_FAILED)
		return;
	say("sem_wait", sem_wait(s));
	say("sem_wait", sem_wait(s));
	say("sem_trywait", sem_trywait(s));
	say("sem_post", sem_post(s));
	int v = -1;
	sem_getvalue(s, &v);
	printf("sem_getvalue: %d\n", v);
	sem_t *t = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
	say("sem_open O_EXCL existing", t == SEM_FAILED ? -1 : 0);
	t = sem_open(name, 0);
	say("sem_open existing", t == SEM_FAILED ? -1 : 0);
	if (t != SEM_FAILED) {
		say("sem_post through the other", sem_post(t));
		sem_getvalue(s, &v);
		printf("sem_getvalue: %d\n", v);
	}
	struct stat st;
	/* glibc names the file sem.NAME, musl NAME */
	printf("in /dev/shm: %d\n", stat("/dev/shm/sem.kvmcage-test-sem", &st) == 0 ||
					     stat("/dev/shm/kvmcage-test-sem", &st) == 0);
	say("sem_close", sem_close(s));
	say("sem_unlink", sem_unlink(name));
	say("sem_unlink again", sem_unlink(name));
	t = sem_open(name, 0);
	say("sem_open after unlink", t == SEM_FAILED ? -1 : 0);
}

int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) != 0)
		return 2;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	setvbuf(stdout, NULL, _IONBF, 0);
	umask(022);
	file_mappings();
	anonymous();
	memfd();
	posix_shm();
	posix_sem();
	printf("done\n");
	return 0;
}
