/* AF_UNIX sockets between processes: a socketpair across fork carries
 * bytes both ways and a descriptor (SCM_RIGHTS: the child sends the read
 * end of a pipe it writes into, the parent reads from it); a child
 * connects to an abstract-namespace socket its parent bound, and to a
 * path socket. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *yesno(int b) { return b ? "yes" : "no"; }

static int send_fd(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = {&byte, 1};
	char ctl[CMSG_SPACE(sizeof(int))];
	memset(ctl, 0, sizeof ctl);
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof ctl;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	return (int)sendmsg(sock, &m, 0);
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = {&byte, 1};
	char ctl[CMSG_SPACE(sizeof(int))];
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = sizeof ctl;
	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

static int bound(struct sockaddr_un *a, socklen_t len)
{
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(s, (struct sockaddr *)a, len) != 0 || listen(s, 4) != 0)
		return -1;
	return s;
}

int main(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		close(sv[0]);
		char buf[16] = {0};
		read(sv[1], buf, 5);
		write(sv[1], strcmp(buf, "hello") == 0 ? "world" : "wrong", 5);
		int p[2];
		pipe(p);
		write(p[1], "via a passed pipe", 17);
		close(p[1]);
		send_fd(sv[1], p[0]);
		close(p[0]);
		_exit(0);
	}
	close(sv[1]);
	write(sv[0], "hello", 5);
	char buf[32] = {0};
	read(sv[0], buf, 5);
	printf("1 socketpair: the child answered: %s\n", buf);
	int fd = recv_fd(sv[0]);
	memset(buf, 0, sizeof buf);
	int n = fd >= 0 ? (int)read(fd, buf, sizeof buf - 1) : -1;
	printf("2 SCM_RIGHTS: read %d bytes from the passed pipe: %s\n", n, buf);
	waitpid(c, NULL, 0);

	struct sockaddr_un a = {AF_UNIX, ""};
	const char name[] = "kvmcage-unixfork-test";
	memcpy(a.sun_path + 1, name, sizeof name - 1);
	socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + sizeof name - 1);
	int ls = bound(&a, alen);
	struct sockaddr_un b = {AF_UNIX, "/tmp/kvmcage-unixfork.sock"};
	unlink(b.sun_path);
	int ps = bound(&b, sizeof b);
	fflush(stdout);
	c = fork();
	if (c == 0) {
		int s1 = socket(AF_UNIX, SOCK_STREAM, 0);
		int ok1 = connect(s1, (struct sockaddr *)&a, alen) == 0 && write(s1, "A", 1) == 1;
		int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
		int ok2 = connect(s2, (struct sockaddr *)&b, sizeof b) == 0 && write(s2, "P", 1) == 1;
		_exit(ok1 && ok2 ? 0 : 1);
	}
	int c1 = accept(ls, NULL, NULL), c2 = accept(ps, NULL, NULL);
	char x = 0, y = 0;
	read(c1, &x, 1);
	read(c2, &y, 1);
	int st;
	waitpid(c, &st, 0);
	printf("3 abstract: the child connected and wrote: %s\n", yesno(x == 'A'));
	printf("3 path: the child connected and wrote: %s; child exit %d\n", yesno(y == 'P'),
	       WEXITSTATUS(st));
	unlink(b.sun_path);
	printf("unixfork: done\n");
	return 0;
}
