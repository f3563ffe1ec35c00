/* Vectored and positioned I/O, sendfile, statfs, fadvise and poll on files
 * and pipes in the directory argv[1]; results computed before printing. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/statfs.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) != 0) return 2;
	int fd = open("f", O_CREAT | O_RDWR | O_TRUNC, 0644);
	struct iovec w[2] = {{"hello ", 6}, {"world\n", 6}};
	long r = pwritev(fd, w, 2, 0);
	printf("pwritev %ld\n", r);
	char a[4] = {0}, b[8] = {0};
	struct iovec rv[2] = {{a, 3}, {b, 7}};
	r = preadv(fd, rv, 2, 1);
	printf("preadv %ld [%s][%s]\n", r, a, b);
	int out = open("g", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	off_t off = 6;
	r = sendfile(out, fd, &off, 100);
	printf("sendfile %ld, offset now %ld\n", r, (long)off);
	char g[16] = {0};
	int gi = open("g", O_RDONLY);
	r = read(gi, g, sizeof g - 1);
	printf("copied %ld: %s", r, g);
	struct statfs s1, s2;
	int x = fstatfs(fd, &s1), y = statfs(".", &s2);
	printf("fstatfs %d statfs %d same fs %d\n", x, y, s1.f_type == s2.f_type);
	printf("fadvise %d, on a pipe %d\n", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL), 0);
	int p[2];
	pipe(p);
	r = posix_fadvise(p[0], 0, 0, POSIX_FADV_NORMAL);
	printf("fadvise pipe %ld\n", r);
	struct pollfd pf[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {999, POLLIN, 0}};
	r = poll(pf, 3, 100);
	printf("poll %ld: %d %d %d\n", r, pf[0].revents, pf[1].revents, pf[2].revents);
	struct pollfd one = {p[0], POLLIN, 0};
	r = poll(&one, 1, 50);
	printf("poll timeout %ld\n", r);
	write(p[1], "x", 1);
	r = poll(&one, 1, -1);
	printf("poll ready %ld %d\n", r, one.revents);
	fd_set rs, ws;
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_SET(p[0], &rs);
	FD_SET(p[1], &ws);
	struct timeval tv = {0, 100000};
	r = select(p[1] + 1, &rs, &ws, NULL, &tv);
	printf("select %ld: read %d write %d\n", r, FD_ISSET(p[0], &rs) != 0, FD_ISSET(p[1], &ws) != 0);
	char c;
	read(p[0], &c, 1);
	FD_ZERO(&rs);
	FD_SET(p[0], &rs);
	struct timespec ts = {0, 30000000};
	r = pselect(p[0] + 1, &rs, NULL, NULL, &ts, NULL);
	printf("pselect timeout %ld\n", r);
	FD_ZERO(&rs);
	FD_SET(900, &rs);
	r = select(901, &rs, NULL, NULL, &tv);
	printf("select bad fd %ld\n", r);
	return 0;
}
