/* Tries to reach the host file argv[2] (outside every mount) from the
 * read-only mount argv[1] and the writable mount argv[3]. Every attempt
 * must fail; prints each result as an errno name. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static const char *err(long r)
{
	if (r >= 0) return "SUCCEEDED";
	switch (errno) {
	case ENOENT: return "ENOENT";
	case EROFS: return "EROFS";
	case ELOOP: return "ELOOP";
	case EXDEV: return "EXDEV";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case ENOTDIR: return "ENOTDIR";
	case EXDEV + 1000: return "";
	default: return strerror(errno);
	}
}
#define TRY(label, expr) do { errno = 0; long r_ = (long)(expr); printf("%s: %s\n", label, err(r_)); } while (0)
int main(int argc, char **argv)
{
	if (argc < 4) return 2;
	const char *ro = argv[1], *secret = argv[2], *rw = argv[3];
	char p[512];
	TRY("absolute host path", open(secret, O_RDONLY));
	snprintf(p, sizeof p, "%s/../../../../../%s", ro, secret);
	TRY("dot-dot out of the mount", open(p, O_RDONLY));
	snprintf(p, sizeof p, "%s/abs_link", ro);
	TRY("absolute symlink", open(p, O_RDONLY));
	snprintf(p, sizeof p, "%s/rel_link", ro);
	TRY("relative symlink", open(p, O_RDONLY));
	snprintf(p, sizeof p, "%s/loop", ro);
	TRY("symlink loop", open(p, O_RDONLY));
	snprintf(p, sizeof p, "/proc/self/root%s", secret);
	TRY("/proc/self/root", open(p, O_RDONLY));
	snprintf(p, sizeof p, "/proc/self/cwd/../../../..%s", secret);
	TRY("/proc/self/cwd", open(p, O_RDONLY));
	int dfd = open(ro, O_RDONLY | O_DIRECTORY);
	TRY("openat dirfd ../..", openat(dfd, "../../../../../etc/passwd", O_RDONLY));
	TRY("write on read-only mount", open(ro, O_WRONLY));
	snprintf(p, sizeof p, "%s/new.txt", ro);
	TRY("create on read-only mount", open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof p, "%s/file.txt", ro);
	TRY("truncate on read-only mount", truncate(p, 0));
	TRY("chmod on read-only mount", chmod(p, 0777));
	TRY("unlink on read-only mount", unlink(p));
	TRY("mkdir at the root", mkdir("/newdir", 0755));
	snprintf(p, sizeof p, "%s/escape_link", rw);
	TRY("symlink to the host file", symlink(secret, p));
	TRY("open through it", open(p, O_RDWR));
	TRY("chmod through it", chmod(p, 0777));
	TRY("truncate through it", truncate(p, 0));
	char q[512];
	snprintf(q, sizeof q, "%s/file.txt", ro);
	snprintf(p, sizeof p, "%s/moved.txt", rw);
	TRY("rename across mounts", rename(q, p));
	TRY("link across mounts", link(q, p));
	snprintf(p, sizeof p, "%s/hard", rw);
	TRY("link to the host file", link(secret, p));
	/* The program's root is the sandbox's "/", never a host path. */
	long n = readlink("/proc/self/root", q, sizeof q - 1);
	if (n >= 0) {
		q[n] = 0;
		printf("readlink /proc/self/root: %s\n", q);
	} else {
		TRY("readlink /proc/self/root", n);
	}
	return 0;
}
