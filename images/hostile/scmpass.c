/* Pass a descriptor to itself over a socketpair (SCM_RIGHTS) and use the
 * received copy where the sandbox limits the original:
 *   scmpass tmpfs FILE  - fallocate 1 GiB through a received file of a
 *                         capped --tmpfs (must be ENOSPC, as through the
 *                         original);
 *   scmpass stdout      - write 1 MiB through a received stdout (must count
 *                         against --max-output). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "errname.h"

static int pass(int fd)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	char c = 'x';
	struct iovec iov = { &c, 1 };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	if (sendmsg(sv[0], &m, 0) != 1)
		return -1;
	memset(u.buf, 0, sizeof u.buf);
	m.msg_controllen = sizeof u.buf;
	if (recvmsg(sv[1], &m, 0) != 1)
		return -1;
	int got;
	memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof got);
	return got;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "tmpfs")) {
		int fd = open(argv[2], O_RDWR | O_CREAT, 0600);
		int got = pass(fd);
		close(fd);
		say("received", got < 0 ? -1 : 0);
		say("fallocate 1 GiB through it", fallocate(got, 0, 0, 1 << 30));
		say("write 4 MiB through it", ({
			static char big[4 << 20];
			write(got, big, sizeof big);
		}));
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "stdout")) {
		int got = pass(1);
		static char big[1 << 20];
		memset(big, 'y', sizeof big);
		long n = write(got, big, sizeof big);
		fprintf(stderr, "wrote %ld\n", n);
		return 0;
	}
	return 2;
}
