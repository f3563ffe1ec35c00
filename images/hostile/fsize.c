/* RLIMIT_FSIZE of 4096 bytes against every way of growing a file: the
 * program sets the limit itself (so the native run has it too; under
 * kvmcage --max-file-size 4096 sets the same) and ignores SIGXFSZ, so each
 * call's answer is visible: a short write up to the limit, then EFBIG.
 *
 *   fsize DIR    DIR is a writable directory holding src8k, 8192 bytes the
 *                test put there. Same output natively and under kvmcage; the
 *                test also checks that no file in DIR grew past 4096 bytes
 *                (except src8k).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "errname.h"

static char path[512];
static const char *dir;

static const char *in(const char *name)
{
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

static int make(const char *name, int flags)
{
	return open(in(name), O_CREAT | O_TRUNC | O_RDWR | flags, 0644);
}

static void size(const char *name)
{
	struct stat st;
	if (stat(in(name), &st) == 0)
		printf("size %s: %ld\n", name, (long)st.st_size);
	else
		printf("size %s: errno %s\n", name, errname(errno));
}

int main(int argc, char **argv)
{
	static char buf[8192];
	if (argc < 2)
		return 2;
	dir = argv[1];
	memset(buf, 'z', sizeof buf);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit rl = { 4096, 4096 };
	setrlimit(RLIMIT_FSIZE, &rl);
	getrlimit(RLIMIT_FSIZE, &rl);
	printf("limit: %lu %lu\n", (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);

	/* write and pwritev straddling the limit, then past it. */
	int fd = make("w", 0);
	ret("write 8192", write(fd, buf, 8192));
	ret("write more", write(fd, buf, 1));
	close(fd);
	fd = make("v", 0);
	struct iovec iov[2] = { { buf, 2048 }, { buf, 2048 } };
	ret("pwritev 4096 at 2048", pwritev(fd, iov, 2, 2048));
	ret("pwritev 4096 at 4096", pwritev(fd, iov, 2, 4096));
	ret("pwritev 1 at 1<<40", pwritev(fd, iov, 1, 1L << 40));
	ret("pwrite64 at 4095", pwrite(fd, buf, 100, 4095));
	close(fd);

	/* O_APPEND: Linux's pwrite appends, whatever the offset. */
	fd = make("app", O_APPEND);
	ret("write 4000", write(fd, buf, 4000));
	ret("pwrite64 200 at 0 on O_APPEND", pwrite(fd, buf, 200, 0));
	ret("pwrite64 again on O_APPEND", pwrite(fd, buf, 200, 0));
	ret("writev on O_APPEND", writev(fd, iov, 2));
	close(fd);

	/* Growing by size changes. */
	fd = make("t", 0);
	ret("truncate 8192", truncate(in("t"), 8192));
	ret("truncate 4096", truncate(in("t"), 4096));
	ret("ftruncate 8192", ftruncate(fd, 8192));
	ret("ftruncate 4097", ftruncate(fd, 4097));
	ret("ftruncate 100", ftruncate(fd, 100));
	close(fd);
	fd = make("fa", 0);
	ret("fallocate 8192", fallocate(fd, 0, 0, 8192));
	ret("fallocate 4096 at 4096", fallocate(fd, 0, 4096, 4096));
	ret("fallocate KEEP_SIZE 8192", fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192));
	int e = posix_fallocate(fd, 0, 8192);
	errno = e;
	ret("posix_fallocate 8192", e ? -1 : 0);
	ret("fallocate 4096", fallocate(fd, 0, 0, 4096));
	close(fd);

	/* Copies into a file. */
	int src = open(in("src8k"), O_RDONLY);
	fd = make("cfr", 0);
	loff_t off_in = 0, off_out = 0;
	ret("copy_file_range 8192", copy_file_range(src, &off_in, fd, &off_out, 8192, 0));
	ret("copy_file_range more", copy_file_range(src, &off_in, fd, &off_out, 8192, 0));
	off_in = 0;
	off_out = 2048;
	ret("copy_file_range 8192 at 2048", copy_file_range(src, &off_in, fd, &off_out, 8192, 0));
	close(fd);
	fd = make("sf", 0);
	off_t soff = 0;
	ret("sendfile 8192", sendfile(fd, src, &soff, 8192));
	ret("sendfile more", sendfile(fd, src, &soff, 8192));
	close(fd);
	fd = make("sfpos", 0);
	lseek(fd, 4000, SEEK_SET);
	soff = 0;
	ret("sendfile 8192 at 4000", sendfile(fd, src, &soff, 8192));
	close(fd);

	const char *names[] = { "w", "v", "app", "t", "fa", "cfr", "sf", "sfpos" };
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		size(names[i]);
	return 0;
}
