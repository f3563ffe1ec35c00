/* Read-only private file mappings share one copy of each file page
 * between mappings and processes (kvmcage's page cache), so nothing
 * written through one made writable later may show in another: a child's
 * store, a read(2) into the page, the parent's own store; a file rewritten with new contents (and size) maps
 * the new contents; the file itself never changes through a private
 * mapping. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static const char *yesno(int b) { return b ? "yes" : "no"; }

static void fill(const char *path, char c, int pages)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	char buf[PAGE];
	memset(buf, c, sizeof buf);
	for (int i = 0; i < pages; i++)
		write(fd, buf, sizeof buf);
	close(fd);
}

static int all(const char *p, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

int main(void)
{
	char path[] = "/tmp/kvmcage-pagecacheXXXXXX";
	int tmp = mkstemp(path);
	if (tmp < 0)
		return 1;
	close(tmp);
	fill(path, 'A', 3);
	int fd = open(path, O_RDONLY);
	char *ro = mmap(0, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("1 read-only mapping sees the file: %s\n", yesno(all(ro, 'A', 3 * PAGE)));
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		/* Mapped read-only (shared pages), then made writable. */
		char *rw = mmap(0, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
		mprotect(rw, 3 * PAGE, PROT_READ | PROT_WRITE);
		memset(rw + PAGE, 'X', PAGE);
		_exit(rw[PAGE] == 'X' && ro[PAGE] == 'A' ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	char *again = mmap(0, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("2 a child's store into its private mapping: child ok %s, "
	       "not in the parent's mappings: %s\n",
	       yesno(WIFEXITED(st) && WEXITSTATUS(st) == 0),
	       yesno(all(ro, 'A', 3 * PAGE) && all(again, 'A', 3 * PAGE)));
	char *rw = mmap(0, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	mprotect(rw, 3 * PAGE, PROT_READ | PROT_WRITE);
	int src = open("/dev/zero", O_RDONLY);
	ssize_t n = read(src, rw + 2 * PAGE, PAGE);
	close(src);
	printf("3 read(2) into a private mapping: %zd bytes, landed: %s, "
	       "other mappings unchanged: %s\n",
	       n, yesno(all(rw + 2 * PAGE, 0, PAGE)),
	       yesno(all(ro, 'A', 3 * PAGE) && all(again, 'A', 3 * PAGE)));
	rw[0] = 'Y';
	printf("4 a store into the parent's own private mapping stays there: %s\n",
	       yesno(rw[0] == 'Y' && ro[0] == 'A' && again[0] == 'A'));
	char buf[PAGE];
	int fd2 = open(path, O_RDONLY);
	n = pread(fd2, buf, PAGE, PAGE);
	close(fd2);
	printf("5 the file is unchanged: %s\n", yesno(n == PAGE && all(buf, 'A', PAGE)));
	fill(path, 'B', 4);
	int fd3 = open(path, O_RDONLY);
	char *fresh = mmap(0, 4 * PAGE, PROT_READ, MAP_PRIVATE, fd3, 0);
	printf("6 the rewritten file maps its new contents: %s\n",
	       yesno(all(fresh, 'B', 4 * PAGE)));
	unlink(path);
	printf("pagecache: done\n");
	return 0;
}
