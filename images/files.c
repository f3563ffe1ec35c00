/* Files as a program uses them, in the directory argv[1] (a fresh empty
 * directory: natively a temp dir, in the sandbox a writable mount). Prints
 * names and properties only, so the output is the same in both. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#define SHOW(label, expr) do { long r_ = (long)(expr); int e_ = errno; \
	printf("%s: %ld%s%s\n", label, r_ < 0 ? -1L : r_, r_ < 0 ? " " : "", r_ < 0 ? strerror(e_) : ""); } while (0)
static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }
static void list(const char *d)
{
	DIR *dir = opendir(d);
	if (!dir) { printf("opendir %s: %s\n", d, strerror(errno)); return; }
	char *names[64]; int n = 0; struct dirent *e;
	while ((e = readdir(dir)) && n < 64)
		names[n++] = strdup(e->d_name);
	closedir(dir);
	qsort(names, n, sizeof *names, cmp);
	printf("ls %s:", d);
	for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
	printf("\n");
}
int main(int argc, char **argv)
{
	if (argc < 2) return 2;
	SHOW("chdir", chdir(argv[1]));
	int fd = open("a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	SHOW("create", fd >= 0);
	SHOW("write", write(fd, "hello, files\n", 13));
	SHOW("pwrite", pwrite(fd, "HELLO", 5, 0));
	SHOW("fsync", fsync(fd));
	SHOW("close", close(fd));
	SHOW("open excl", open("a.txt", O_CREAT | O_EXCL | O_WRONLY, 0644));
	/* An existing file with O_CREAT (a shell's `> file`, fopen "w"): the
	 * mode is ignored, the file truncated. */
	fd = open("a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0600);
	SHOW("recreate existing", fd >= 0);
	SHOW("rewrite", write(fd, "hello, files\n", 13));
	SHOW("close again", close(fd));
	SHOW("creat existing", close(creat("a.txt", 0644)) == 0 ? 0 : -1);
	fd = open("a.txt", O_CREAT | O_WRONLY, 0600);
	SHOW("rewrite after creat", write(fd, "hello, files\n", 13));
	close(fd);
	SHOW("open missing", open("missing.txt", O_RDONLY));
	char buf[64] = {0};
	fd = open("a.txt", O_RDONLY | O_CLOEXEC);
	SHOW("read", read(fd, buf, sizeof buf - 1));
	printf("content: %s", buf);
	SHOW("lseek end", lseek(fd, 0, SEEK_END));
	SHOW("pread", pread(fd, buf, 5, 7));
	printf("pread content: %.5s\n", buf);
	SHOW("write to O_RDONLY", write(fd, "x", 1));
	SHOW("fcntl getfd cloexec", fcntl(fd, F_GETFD) & FD_CLOEXEC);
	struct stat st;
	SHOW("fstat", fstat(fd, &st));
	printf("size %lld, regular %d, mode %o\n", (long long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);
	close(fd);
	SHOW("mkdir", mkdir("d", 0755));
	SHOW("mkdir again", mkdir("d", 0755));
	SHOW("rename", rename("a.txt", "d/b.txt"));
	SHOW("stat old", stat("a.txt", &st));
	SHOW("stat new", stat("d/b.txt", &st));
	SHOW("link", link("d/b.txt", "hard.txt"));
	SHOW("stat nlink", stat("hard.txt", &st) == 0 ? (long)st.st_nlink : -1L);
	SHOW("symlink", symlink("d/b.txt", "sym"));
	char target[64] = {0};
	SHOW("readlink", readlink("sym", target, sizeof target - 1));
	printf("target: %s\n", target);
	SHOW("lstat is link", lstat("sym", &st) == 0 && S_ISLNK(st.st_mode));
	SHOW("stat through link size", stat("sym", &st) == 0 ? (long)st.st_size : -1L);
	/* statx by number (musl has no wrapper): the kernel's struct statx. */
	unsigned char sx[256];
	SHOW("statx", syscall(SYS_statx, AT_FDCWD, "sym", 0, 0x7ff, sx));
	unsigned int mask, nlink;
	unsigned short mode;
	unsigned long long size;
	memcpy(&mask, sx, 4);
	memcpy(&nlink, sx + 16, 4);
	memcpy(&mode, sx + 28, 2);
	memcpy(&size, sx + 40, 8);
	printf("statx size %llu, regular %d, nlink %u, mask has size %d\n", size, S_ISREG(mode), nlink, (mask & 0x200) != 0);
	SHOW("statx nofollow", syscall(SYS_statx, AT_FDCWD, "sym", AT_SYMLINK_NOFOLLOW, 0x7ff, sx));
	memcpy(&mode, sx + 28, 2);
	printf("statx nofollow is link: %d\n", S_ISLNK(mode));
	SHOW("access R", access("sym", R_OK));
	SHOW("access missing", access("nope", F_OK));
	SHOW("chmod", chmod("hard.txt", 0600));
	SHOW("mode after chmod", stat("hard.txt", &st) == 0 ? (long)(st.st_mode & 0777) : -1L);
	SHOW("truncate", truncate("hard.txt", 3));
	SHOW("size after truncate", stat("d/b.txt", &st) == 0 ? (long)st.st_size : -1L);
	list(".");
	list("d");
	SHOW("rmdir nonempty", rmdir("d"));
	SHOW("unlink", unlink("d/b.txt"));
	SHOW("rmdir", rmdir("d"));
	SHOW("unlink dir", unlink("."));
	char cwd[256];
	SHOW("getcwd", getcwd(cwd, sizeof cwd) != NULL);
	SHOW("chdir missing", chdir("nowhere"));
	int p[2];
	SHOW("pipe", pipe(p));
	SHOW("pipe write", write(p[1], "through a pipe", 14));
	SHOW("pipe read", read(p[0], buf, sizeof buf));
	SHOW("lseek pipe", lseek(p[0], 0, SEEK_SET));
	int nul = open("/dev/null", O_WRONLY);
	SHOW("/dev/null write", write(nul, "x", 1));
	int zero = open("/dev/zero", O_RDONLY);
	memset(buf, 7, 8);
	SHOW("/dev/zero read", read(zero, buf, 8));
	printf("zeros: %d\n", buf[0] == 0 && buf[7] == 0);
	int full = open("/dev/full", O_WRONLY);
	SHOW("/dev/full write", write(full, "x", 1));
	SHOW("dup2", dup2(nul, 40));
	SHOW("fcntl dupfd", fcntl(nul, F_DUPFD, 50));
	SHOW("umask", umask(077));
	fd = open("private", O_CREAT | O_WRONLY, 0666);
	SHOW("mode under umask", fstat(fd, &st) == 0 ? (long)(st.st_mode & 0777) : -1L);
	unlink("private"); unlink("hard.txt"); unlink("sym");
	list(".");
	return 0;
}
