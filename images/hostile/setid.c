/* Set-user-ID and set-group-ID files must not be planted on the host
 * (sandbox only).
 *
 *   setid RW RO   run with --mount D:RW:rw --mount E:RO:ro, where the test made
 *                 D/pre mode 04755 on the host. The program creates files with
 *                 S_ISUID/S_ISGID in their mode every way it can (creat, open
 *                 O_CREAT, chmod, fchmod, fchmodat, mkdir), and writes into
 *                 D/pre. Afterwards the test requires that no host file under
 *                 D carries S_ISUID or S_ISGID. chmod of the read-only mount's
 *                 root is EROFS and E's mode does not change.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "errname.h"

static char path[512];

static const char *in(const char *dir, const char *name)
{
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

static void put(int fd)
{
	if (fd >= 0) {
		write(fd, "#!/bin/sh\nid\n", 13);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: setid RWDIR RODIR\n");
		return 2;
	}
	const char *d = argv[1], *e = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(0);
	int fd;

	fd = creat(in(d, "a"), 04755);
	check("creat a 04755", fd);
	put(fd);

	fd = creat(in(d, "b"), 0755);
	put(fd);
	check("chmod b 04755", chmod(in(d, "b"), 04755));

	fd = open(in(d, "f"), O_CREAT | O_WRONLY, 0755);
	check("fchmod f 06755", fchmod(fd, 06755));
	put(fd);

	check("mkdir dir 02755", mkdir(in(d, "dir"), 02755));
	check("mkdir dir2", mkdir(in(d, "dir2"), 0755));
	check("chmod dir2 02775", chmod(in(d, "dir2"), 02775));
	/* Inside a directory that may have kept S_ISGID. */
	fd = open(in(d, "dir/in"), O_CREAT | O_WRONLY, 02755);
	check("open dir/in 02755", fd);
	put(fd);
	check("mkdir dir/sub", mkdir(in(d, "dir/sub"), 0755));

	fd = open(in(d, "c"), O_CREAT | O_WRONLY, 06777);
	check("open c 06777", fd);
	put(fd);

	fd = creat(in(d, "g"), 0644);
	put(fd);
	check("fchmodat g 06755", fchmodat(AT_FDCWD, in(d, "g"), 06755, 0));

	fd = open(in(d, "t"), O_CREAT | O_EXCL | O_RDWR | O_TRUNC, 04711);
	check("open t O_EXCL 04711", fd);
	put(fd);

	/* A set-user-ID file the host already had: writing to it must clear the
	 * bit, as Linux does for a writer without CAP_FSETID. */
	fd = open(in(d, "pre"), O_WRONLY);
	check("open pre O_WRONLY", fd);
	if (fd >= 0) {
		check("write pre", write(fd, "changed\n", 8));
		close(fd);
	}

	/* The read-only mount's root. */
	check("chmod ro root", chmod(e, 0777));
	check("chmod ro root/.", chmod(in(e, "."), 0777));
	check("chmod ro root/sub/..", chmod(in(e, "sub/.."), 0777));
	fd = open(e, O_RDONLY | O_DIRECTORY);
	check("fchmod ro root", fchmod(fd, 0777));
	check("fchmodat ro root", fchmodat(AT_FDCWD, e, 04777, 0));
	return 0;
}
