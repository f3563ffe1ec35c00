/* chroot in the directory argv[1], which gets root/etc/x ("inside"),
 * root/bin/ with symlinks up -> "/", esc -> "../../../../etc/x",
 * abs -> "/etc/x":
 *   errors first: a missing path (ENOENT), a file (ENOTDIR), NULL (EFAULT),
 *     "" (ENOENT) -- all checked before privilege, as is search
 *     permission (EACCES unprivileged, on stderr);
 *   chroot("root"): "chroot: ok", or "chroot: errno EPERM" unprivileged,
 *     and then nothing else but "done";
 *   as root: absolute paths, "..", symlinks to "/" and escaping ones all
 *     resolve inside; the cwd left outside still reaches outside (getcwd
 *     says "(unreachable)"), as does a directory fd opened before; /proc
 *     is not in the new root, but a /proc/self fd opened before reads
 *     root and cwd relative to it; mkdir inside; a nested chroot, and
 *     chroot(".") from the cwd outside it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostile/errname.h"

static void show_file(const char *what, int dirfd, const char *path)
{
	char buf[64];
	int fd = openat(dirfd, path, O_RDONLY);
	if (fd < 0) {
		printf("%s: errno %s\n", what, errname(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = 0;
	close(fd);
	printf("%s: %s", what, buf);
}

/* The getcwd system call, not libc's (glibc turns "(unreachable)" into
 * ENOENT): the path if it is inside the root, else only that it is not. */
static void cwd(const char *what)
{
	char buf[4096];
	long n = syscall(SYS_getcwd, buf, sizeof buf);
	if (n < 0)
		printf("%s: errno %s\n", what, errname(errno));
	else if (strncmp(buf, "(unreachable)", 13) == 0)
		printf("%s: (unreachable)...\n", what);
	else
		printf("%s: %s\n", what, buf);
}

static void link_at(const char *what, int dirfd, const char *path)
{
	char buf[4096];
	ssize_t n = readlinkat(dirfd, path, buf, sizeof buf - 1);
	if (n < 0) {
		printf("%s: errno %s\n", what, errname(errno));
		return;
	}
	buf[n] = 0;
	printf("%s: %s\n", what, buf);
}

static int same_inode(const char *a, const char *b)
{
	struct stat x, y;
	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) != 0)
		return 2;
	setvbuf(stdout, NULL, _IONBF, 0);
	umask(022);
	mkdir("root", 0755);
	mkdir("root/etc", 0755);
	mkdir("root/bin", 0755);
	int fd = open("root/etc/x", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write(fd, "inside\n", 7);
	close(fd);
	symlink("/", "root/bin/up");
	symlink("../../../../etc/x", "root/bin/esc");
	symlink("/etc/x", "root/bin/abs");
	mkdir("root/locked", 0755);

	check("chroot missing", chroot("missing"));
	check("chroot missing parent", chroot("missing/dir"));
	check("chroot a file", chroot("root/etc/x"));
	check("chroot through a file", chroot("root/etc/x/y"));
	check("chroot NULL", chroot(NULL));
	check("chroot empty", chroot(""));
	/* EACCES unprivileged (no search permission), ENOENT as root: on
	 * stderr, as it depends on privilege (and the mode is put back, so
	 * the directory can be removed) */
	chmod("root/locked", 0);
	if (chroot("root/locked/sub") < 0)
		fprintf(stderr, "chroot through a locked dir: errno %s\n", errname(errno));
	chmod("root/locked", 0755);

	int outside = open(".", O_RDONLY | O_DIRECTORY);
	int proc = open("/proc/self", O_RDONLY | O_DIRECTORY);
	if (check("chroot", chroot("root")) < 0) {
		printf("done\n");
		return 0;
	}
	cwd("cwd, left outside");
	show_file("relative to the cwd outside", AT_FDCWD, "root/etc/x");
	show_file("/etc/x", AT_FDCWD, "/etc/x");
	show_file("/../../etc/x", AT_FDCWD, "/../../etc/x");
	show_file("/bin/up/etc/x", AT_FDCWD, "/bin/up/etc/x");
	show_file("/bin/up/../../etc/x", AT_FDCWD, "/bin/up/../../etc/x");
	show_file("/bin/esc", AT_FDCWD, "/bin/esc");
	show_file("/bin/abs", AT_FDCWD, "/bin/abs");
	show_file("fd from before, root/etc/x", outside, "root/etc/x");
	show_file("/proc/self/status", AT_FDCWD, "/proc/self/status");
	printf("/.. is /: %d\n", same_inode("/..", "/"));
	printf("/bin/up is /: %d\n", same_inode("/bin/up", "/"));
	link_at("/proc/self/root", proc, "root");

	check("chdir /", chdir("/"));
	cwd("cwd");
	link_at("/proc/self/cwd", proc, "cwd");
	check("chdir ..", chdir(".."));
	cwd("cwd");
	check("chdir ../../..", chdir("../../.."));
	cwd("cwd");
	check("chdir bin", chdir("bin"));
	cwd("cwd");
	check("chdir up", chdir("up"));
	cwd("cwd");
	check("fchdir to the fd from before", fchdir(outside));
	cwd("cwd");
	check("chdir root/bin", chdir("root/bin"));
	cwd("cwd, back inside");
	check("chdir /", chdir("/"));

	check("mkdir /made", mkdir("/made", 0755));
	struct stat st;
	printf("made, seen from outside: %d\n", fstatat(outside, "root/made", &st, 0) == 0 &&
						       S_ISDIR(st.st_mode));
	check("symlink /made/link -> /etc", symlink("/etc", "/made/link"));
	show_file("/made/link/x", AT_FDCWD, "/made/link/x");
	check("rename /made/link -> /etc/link", rename("/made/link", "/etc/link"));
	show_file("/etc/link/x", AT_FDCWD, "/etc/link/x");

	/* chroot again, below: the cwd (the old root) is outside the new one */
	check("chroot /bin", chroot("/bin"));
	cwd("cwd");
	show_file("/etc/x", AT_FDCWD, "/etc/x");
	show_file("/up/etc/x", AT_FDCWD, "/up/etc/x");
	show_file("/esc", AT_FDCWD, "/esc");
	show_file("relative etc/x", AT_FDCWD, "etc/x");
	link_at("/proc/self/root", proc, "root");
	/* and back up: chroot to the cwd outside */
	check("chroot .", chroot("."));
	cwd("cwd");
	show_file("/etc/x", AT_FDCWD, "/etc/x");
	link_at("/proc/self/root", proc, "root");
	printf("done\n");
	return 0;
}
