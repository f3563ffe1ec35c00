/* Nested mounts must not be bypassed through symlinks (sandbox only, except
 * "loop").
 *
 *   nested tree   run with --mount OUTER:/w:rw --mount OUTER/protected:/w/protected:ro
 *                 --tmpfs /w/secrets, where the host holds OUTER/protected/file
 *                 and OUTER/secrets/key. Symlinks the program makes in the
 *                 writable /w (relative, absolute, a chain of two, one to the
 *                 file itself) and paths through them by absolute path, by a
 *                 dirfd and after chdir: every change under protected/ is
 *                 EROFS, and secrets/ is the empty tmpfs (ENOENT, nothing
 *                 listed), never the host's OUTER/secrets.
 *   nested cross  run with --mount A:/a:rw --mount B:/b:ro, B/f on the host:
 *                 a symlink in /a to /b/f (absolute, and ../b/f) reads B/f, and
 *                 opening it for writing is EROFS.
 *   nested loop DIR
 *                 chains of 40 and 41 symlinks in DIR: 40 resolve, 41 is ELOOP.
 *                 Run natively on a temp dir and under kvmcage on a mounted dir;
 *                 the output must be the same.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errname.h"

/* Every change under the read-only mount, through prefix P (a path to the
 * protected directory: "/w/lnk", "lnk" after chdir("/w"), ...). */
static void changes(const char *tag, const char *p)
{
	char a[256], b[256], what[300];
	int fd;

#define PATH(buf, name) snprintf(buf, sizeof buf, "%s/%s", p, name)
#define WHAT(op) (snprintf(what, sizeof what, "%s %s", tag, op), what)
	PATH(a, "file");
	fd = open(a, O_WRONLY);
	check(WHAT("open O_WRONLY"), fd);
	if (fd >= 0) {
		write(fd, "PWNED\n", 6);
		close(fd);
	}
	fd = open(a, O_RDWR | O_TRUNC);
	check(WHAT("open O_TRUNC"), fd);
	if (fd >= 0)
		close(fd);
	check(WHAT("truncate"), truncate(a, 0));
	check(WHAT("chmod"), chmod(a, 0777));
	PATH(b, "file2");
	check(WHAT("rename"), rename(a, b));
	check(WHAT("link"), link(a, b));
	check(WHAT("unlink"), unlink(a));
	PATH(b, "new");
	fd = creat(b, 0644);
	check(WHAT("creat"), fd);
	if (fd >= 0)
		close(fd);
	PATH(b, "dir");
	check(WHAT("mkdir"), mkdir(b, 0755));
	PATH(b, "sym");
	check(WHAT("symlink"), symlink("file", b));
	/* Reading is allowed and gives the host file. */
	fd = open(a, O_RDONLY);
	char buf[64] = "";
	if (fd >= 0) {
		int n = read(fd, buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = 0;
		close(fd);
	}
	printf("%s read: %s", tag, fd >= 0 ? buf : "failed\n");
#undef PATH
#undef WHAT
}

/* The tmpfs under prefix P must be empty: the host directory it covers is
 * never seen. */
static void secrets(const char *tag, const char *p)
{
	char a[256], what[300];
	snprintf(a, sizeof a, "%s/key", p);
	snprintf(what, sizeof what, "%s open key", tag);
	int fd = open(a, O_RDONLY);
	check(what, fd);
	if (fd >= 0) {
		char buf[64];
		int n = read(fd, buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = 0;
		printf("%s key content: %s\n", tag, buf);
		close(fd);
	}
	struct stat st;
	snprintf(what, sizeof what, "%s stat key", tag);
	check(what, stat(a, &st));
	DIR *d = opendir(p);
	printf("%s list:", tag);
	if (!d) {
		printf(" failed %s", errname(errno));
	} else {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				printf(" %s", e->d_name);
		closedir(d);
	}
	printf("\n");
	fflush(stdout);
}

static int tree(void)
{
	check("symlink lnk", symlink("protected", "/w/lnk"));
	check("symlink alnk", symlink("/w/protected", "/w/alnk"));
	check("symlink ch1", symlink("protected", "/w/ch1"));
	check("symlink ch2", symlink("ch1", "/w/ch2"));
	check("symlink dlnk", symlink("./sub/../protected", "/w/dlnk"));
	check("symlink s", symlink("secrets", "/w/s"));
	check("symlink as", symlink("/w/secrets", "/w/as"));
	check("symlink sch", symlink("s", "/w/sch"));
	check("symlink flnk", symlink("protected/file", "/w/flnk"));
	check("symlink klnk", symlink("secrets/key", "/w/klnk"));
	mkdir("/w/sub", 0755);

	/* The mount itself, as a control. */
	changes("direct", "/w/protected");
	secrets("direct", "/w/secrets");

	/* Absolute paths through the links. */
	changes("lnk", "/w/lnk");
	changes("alnk", "/w/alnk");
	changes("chain", "/w/ch2");
	changes("dotdot", "/w/dlnk");
	secrets("s", "/w/s");
	secrets("as", "/w/as");
	secrets("schain", "/w/sch");

	/* A link to the file itself. */
	int fd = open("/w/flnk", O_WRONLY);
	check("flnk open O_WRONLY", fd);
	check("flnk truncate", truncate("/w/flnk", 0));
	check("flnk chmod", chmod("/w/flnk", 0777));
	fd = open("/w/klnk", O_RDONLY);
	check("klnk open", fd);
	if (fd >= 0) {
		char buf[64];
		int n = read(fd, buf, sizeof buf - 1);
		buf[n > 0 ? n : 0] = 0;
		printf("klnk content: %s\n", buf);
	}

	/* Through a directory descriptor of /w. */
	int dfd = open("/w", O_RDONLY | O_DIRECTORY);
	check("dirfd open /w", dfd);
	fd = openat(dfd, "lnk/file", O_WRONLY);
	check("dirfd openat O_WRONLY", fd);
	fd = openat(dfd, "lnk/new", O_WRONLY | O_CREAT, 0644);
	check("dirfd openat O_CREAT", fd);
	check("dirfd unlinkat", unlinkat(dfd, "lnk/file", 0));
	check("dirfd renameat", renameat(dfd, "lnk/file", dfd, "lnk/file2"));
	check("dirfd mkdirat", mkdirat(dfd, "lnk/dir", 0755));
	check("dirfd fchmodat", fchmodat(dfd, "lnk/file", 0777, 0));
	check("dirfd symlinkat", symlinkat("x", dfd, "lnk/sym"));
	fd = openat(dfd, "s/key", O_RDONLY);
	check("dirfd openat s/key", fd);
	/* A descriptor of the protected directory, opened through the link. */
	int pfd = open("/w/lnk", O_RDONLY | O_DIRECTORY);
	check("pfd open /w/lnk", pfd);
	fd = openat(pfd, "file", O_WRONLY);
	check("pfd openat O_WRONLY", fd);
	fd = openat(pfd, "new", O_WRONLY | O_CREAT, 0644);
	check("pfd openat O_CREAT", fd);
	check("pfd unlinkat", unlinkat(pfd, "file", 0));
	check("pfd mkdirat", mkdirat(pfd, "dir", 0755));
	check("pfd fchmod", fchmod(pfd, 0777));

	/* Relative paths after chdir. */
	check("chdir /w", chdir("/w"));
	changes("cwd-w", "lnk");
	secrets("cwd-w", "s");
	check("chdir /w/lnk", chdir("/w/lnk"));
	changes("cwd-lnk", ".");
	check("chdir /w/s", chdir("/w/s"));
	secrets("cwd-s", ".");
	check("chdir /w/ch2", chdir("/w/ch2"));
	changes("cwd-chain", ".");
	return 0;
}

static void slurp(const char *what, const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: errno %s\n", what, errname(errno));
		return;
	}
	int n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	close(fd);
	printf("%s: %s", what, buf);
}

static int cross(void)
{
	check("symlink /a/l", symlink("/b/f", "/a/l"));
	check("symlink /a/r", symlink("../b/f", "/a/r"));
	check("symlink /a/d", symlink("/b", "/a/d"));
	slurp("read /a/l", "/a/l");
	slurp("read /a/r", "/a/r");
	slurp("read /a/d/f", "/a/d/f");
	check("write /a/l", open("/a/l", O_WRONLY));
	check("write /a/r", open("/a/r", O_WRONLY));
	check("write /a/d/f", open("/a/d/f", O_WRONLY));
	check("creat /a/d/new", creat("/a/d/new", 0644));
	check("truncate /a/l", truncate("/a/l", 0));
	check("chmod /a/l", chmod("/a/l", 0777));
	fflush(stdout);
	return 0;
}

static int loop(const char *dir)
{
	char a[512], b[512];
	if (chdir(dir) < 0)
		return perror("chdir"), 1;
	int fd = creat("target", 0644);
	write(fd, "end\n", 4);
	close(fd);
	check("symlink l1", symlink("target", "l1"));
	for (int i = 2; i <= 41; i++) {
		snprintf(a, sizeof a, "l%d", i - 1);
		snprintf(b, sizeof b, "l%d", i);
		if (symlink(a, b) < 0)
			return perror("symlink"), 1;
	}
	/* Directories too: d1 -> ., d2 -> d1, ... */
	check("symlink d1", symlink(".", "d1"));
	for (int i = 2; i <= 41; i++) {
		snprintf(a, sizeof a, "d%d", i - 1);
		snprintf(b, sizeof b, "d%d", i);
		symlink(a, b);
	}
	struct stat st;
	check("open l40", open("l40", O_RDONLY));
	check("open l41", open("l41", O_RDONLY));
	check("stat l40", stat("l40", &st));
	check("stat l41", stat("l41", &st));
	check("lstat l41", lstat("l41", &st));
	check("open d40/target", open("d40/target", O_RDONLY));
	check("open d41/target", open("d41/target", O_RDONLY));
	/* 20 + 20 links in two components: the count is per path walk. */
	check("open d20/l20", open("d20/l20", O_RDONLY));
	check("open d21/l20", open("d21/l20", O_RDONLY));
	check("open l41 O_NOFOLLOW", open("l41", O_RDONLY | O_NOFOLLOW));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);
	if (argc > 1 && !strcmp(argv[1], "tree"))
		return tree();
	if (argc > 1 && !strcmp(argv[1], "cross"))
		return cross();
	if (argc > 2 && !strcmp(argv[1], "loop"))
		return loop(argv[2]);
	fprintf(stderr, "usage: nested tree|cross|loop DIR\n");
	return 2;
}
