/* AF_UNIX sockets, run as `sockets DIR` (it works in DIR with relative
 * socket paths only, so the names it prints are the same natively and in
 * the sandbox):
 *   (a) socketpair STREAM, DGRAM and SEQPACKET: write/read, send/recv,
 *       sendto/recvfrom, sendmsg/recvmsg with 3 iovecs, MSG_PEEK,
 *       MSG_DONTWAIT, FIONREAD, message boundaries (truncation, MSG_TRUNC in
 *       and out), empty messages, getsockopt/setsockopt, getsockname/
 *       getpeername, fstat, fcntl, SOCK_CLOEXEC|SOCK_NONBLOCK, bad pointers;
 *   (b) shutdown and close: EOF, EPIPE, ECONNREFUSED, poll bits;
 *   (c) socketpair and socket errors (AF_INET on stdout only as an error of
 *       socketpair; socket(AF_INET) itself on stderr: the sandbox has no
 *       network);
 *   (d) path sockets: bind/listen/connect/accept4, names, stat, the errors
 *       of bind and connect, a dangling socket file, a 108-byte path,
 *       SEQPACKET with boundaries, nonblocking accept;
 *   (e) DGRAM path sockets: sendto/recvfrom with the sender's name,
 *       unbound senders, connected datagram sockets, EPROTOTYPE;
 *   (f) abstract names, autobind;
 *   (g) SCM_RIGHTS (MSG_CMSG_CLOEXEC, MSG_CTRUNC, a bad descriptor);
 *   (h) SIGPIPE: counted by a handler, not with MSG_NOSIGNAL, pending when
 *       blocked; SO_PEERCRED names this process.
 * Prints results, errno names and properties only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "hostile/errname.h"

/* The abstract name ends in 8 random hex digits, so that runs at the same
 * time (natively, all share one namespace) do not collide; names print
 * with them as XXXXXXXX. */
#define ABSTRACT_PREFIX "kvmcage-test-sockets-"
static char abstract_name[64], suffix[9];
#define NOBODY "kvmcage-test-sockets-nobody-bound-this"

static char buf[4096];

/* The lowest free descriptor number, to show that nothing leaked (only
 * compared, never printed). */
static int lowest_free(void)
{
	int fd = dup(0);
	close(fd);
	return fd;
}

/* A call that returns a descriptor: 0 for one (closed again), or the
 * errno. */
static void say_fd(const char *what, int fd)
{
	say(what, fd < 0 ? -1 : 0);
	if (fd >= 0)
		close(fd);
}

static void intopt(const char *what, int fd, int level, int opt);

/* socketpair's result, and SO_TYPE of a pair it made (then closed). */
static void say_pair(const char *what, int r, int *sv)
{
	say(what, r);
	if (r == 0) {
		intopt("  SO_TYPE", sv[0], SOL_SOCKET, SO_TYPE);
		close(sv[0]);
		close(sv[1]);
	}
}

static void head(const char *s)
{
	printf("== %s ==\n", s);
}

/* say() and the bytes read, for a call that returned a length. */
static void got(const char *what, long r, const char *data)
{
	if (r < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: %ld \"%.*s\"\n", what, r, (int)r, data);
}

static socklen_t pathaddr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strncpy(a->sun_path, path, sizeof a->sun_path);
	return sizeof *a;
}

/* An abstract name: a NUL, then the name; the length counts the name's
 * bytes only. */
static socklen_t abstractaddr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, name, strlen(name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

/* A name as returned by getsockname, getpeername, accept or recvfrom:
 * the length, the family, and the path, '@' for the NUL of an abstract
 * name. */
static void show_name(const char *what, long r, struct sockaddr_un *a, socklen_t len)
{
	if (r < 0) {
		printf("%s: -1 %s\n", what, errname(errno));
		return;
	}
	printf("%s: %ld len %u", what, r, (unsigned)len);
	if (len >= sizeof(sa_family_t))
		printf(" family %s", a->sun_family == AF_UNIX ? "AF_UNIX" : "other");
	if (len > offsetof(struct sockaddr_un, sun_path)) {
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (n > sizeof a->sun_path)
			n = sizeof a->sun_path;
		if (a->sun_path[0] == 0) {
			char name[sizeof a->sun_path + 1];
			memcpy(name, a->sun_path + 1, n - 1);
			name[n - 1] = 0;
			char *at = suffix[0] ? strstr(name, suffix) : NULL;
			if (at)
				memset(at, 'X', 8);
			printf(" @%.*s", (int)n - 1, name);
		}
		else
			printf(" path %.*s (%zu bytes)", (int)n, a->sun_path,
			       strnlen(a->sun_path, n));
	} else {
		printf(" unnamed");
	}
	printf("\n");
}

static void sockname(const char *what, int fd)
{
	struct sockaddr_un a;
	memset(&a, 0x55, sizeof a);
	socklen_t len = sizeof a;
	long r = getsockname(fd, (struct sockaddr *)&a, &len);
	show_name(what, r, &a, len);
}

static void peername(const char *what, int fd)
{
	struct sockaddr_un a;
	memset(&a, 0x55, sizeof a);
	socklen_t len = sizeof a;
	long r = getpeername(fd, (struct sockaddr *)&a, &len);
	show_name(what, r, &a, len);
}

static void intopt(const char *what, int fd, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof v;
	long r = getsockopt(fd, level, opt, &v, &len);
	if (r < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		printf("%s: %d (len %u)\n", what, v, (unsigned)len);
}

static void pollbits(const char *what, int fd)
{
	struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
	int r = poll(&p, 1, 0);
	printf("%s: %d", what, r);
	if (p.revents & POLLIN)
		printf(" POLLIN");
	if (p.revents & POLLOUT)
		printf(" POLLOUT");
	if (p.revents & POLLRDHUP)
		printf(" POLLRDHUP");
	if (p.revents & POLLHUP)
		printf(" POLLHUP");
	if (p.revents & POLLERR)
		printf(" POLLERR");
	if (p.revents & ~(POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLERR))
		printf(" %#x", p.revents & ~(POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLERR));
	printf("\n");
}

static void msgflags(const char *what, int f)
{
	printf("%s:", what);
	if (!f)
		printf(" none");
	if (f & MSG_TRUNC)
		printf(" MSG_TRUNC");
	if (f & MSG_CTRUNC)
		printf(" MSG_CTRUNC");
	if (f & MSG_EOR)
		printf(" MSG_EOR");
	if (f & MSG_CMSG_CLOEXEC)
		printf(" MSG_CMSG_CLOEXEC");
	if (f & ~(MSG_TRUNC | MSG_CTRUNC | MSG_EOR | MSG_CMSG_CLOEXEC))
		printf(" %#x", f & ~(MSG_TRUNC | MSG_CTRUNC | MSG_EOR | MSG_CMSG_CLOEXEC));
	printf("\n");
}

static void fdflags(const char *what, int fd)
{
	int fl = fcntl(fd, F_GETFL), fd_fl = fcntl(fd, F_GETFD);
	printf("%s: rdwr %d nonblock %d cloexec %d\n", what, (fl & O_ACCMODE) == O_RDWR,
	       (fl & O_NONBLOCK) != 0, (fd_fl & FD_CLOEXEC) != 0);
}

/* Read what is queued without blocking, so one check's leftovers do not
 * reach the next. */
static void drain(int fd)
{
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

static const char *tname(int type)
{
	switch (type) {
	case SOCK_STREAM: return "stream";
	case SOCK_DGRAM: return "dgram";
	case SOCK_SEQPACKET: return "seqpacket";
	}
	return "?";
}

/* (a) one socketpair type. */
static void pair(int type)
{
	char t[64];
	int sv[2];
	snprintf(t, sizeof t, "socketpair %s", tname(type));
	head(t);
	say("socketpair", socketpair(AF_UNIX, type, 0, sv));

	/* write/read both ways */
	say("write", write(sv[0], "hello", 5));
	got("read", read(sv[1], buf, sizeof buf), buf);
	say("write back", write(sv[1], "olleh", 5));
	got("read back", read(sv[0], buf, sizeof buf), buf);

	/* send/recv */
	say("send", send(sv[0], "sent", 4, 0));
	got("recv", recv(sv[1], buf, sizeof buf, 0), buf);

	/* sendto/recvfrom: no address on a connected pair; the sender is
	 * unnamed, so recvfrom's length comes back 0 */
	say("sendto", sendto(sv[0], "to", 2, 0, NULL, 0));
	{
		struct sockaddr_un from;
		memset(&from, 0x55, sizeof from);
		socklen_t fl = sizeof from;
		got("recvfrom", recvfrom(sv[1], buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), buf);
		printf("recvfrom addrlen: %u\n", (unsigned)fl);
	}
	{
		struct sockaddr_un a;
		pathaddr(&a, "nowhere");
		say("sendto with an address", sendto(sv[0], "x", 1, 0, (struct sockaddr *)&a, sizeof a));
		drain(sv[1]);
	}

	/* sendmsg/recvmsg with 3 iovecs each side */
	{
		struct iovec out[3] = {{"abc", 3}, {"defg", 4}, {"hi", 2}};
		struct msghdr m;
		memset(&m, 0, sizeof m);
		m.msg_iov = out;
		m.msg_iovlen = 3;
		say("sendmsg 3 iovecs", sendmsg(sv[0], &m, 0));
		char a[2], b[4], c[10];
		memset(c, 0, sizeof c);
		struct iovec in[3] = {{a, 2}, {b, 4}, {c, 10}};
		memset(&m, 0, sizeof m);
		m.msg_iov = in;
		m.msg_iovlen = 3;
		long r = recvmsg(sv[1], &m, 0);
		say("recvmsg 3 iovecs", r);
		printf("iovecs: \"%.2s\" \"%.4s\" \"%.*s\"\n", a, b, r > 6 ? (int)r - 6 : 0, c);
		msgflags("recvmsg flags", m.msg_flags);
	}

	/* MSG_PEEK leaves the data queued */
	say("send peek", send(sv[0], "peek", 4, 0));
	got("recv MSG_PEEK", recv(sv[1], buf, sizeof buf, MSG_PEEK), buf);
	got("recv after peek", recv(sv[1], buf, sizeof buf, 0), buf);

	/* nothing queued */
	say("recv MSG_DONTWAIT empty", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	{
		int n = -1;
		say("FIONREAD empty", ioctl(sv[1], FIONREAD, &n));
		printf("FIONREAD value: %d\n", n);
	}

	/* two messages queued: a stream counts all bytes, a datagram socket
	 * the first message only */
	send(sv[0], "abc", 3, 0);
	send(sv[0], "defgh", 5, 0);
	{
		int n = -1;
		say("FIONREAD", ioctl(sv[1], FIONREAD, &n));
		printf("FIONREAD value: %d\n", n);
	}
	drain(sv[1]);

	/* boundaries: a short buffer takes part of a message and drops the
	 * rest (a stream keeps it) */
	say("send 11", send(sv[0], "hello world", 11, 0));
	say("send 4", send(sv[0], "next", 4, 0));
	got("recv 5 of 11", recv(sv[1], buf, 5, 0), buf);
	got("recv next", recv(sv[1], buf, 6, 0), buf);
	drain(sv[1]);
	{
		send(sv[0], "hello world", 11, 0);
		struct iovec in = {buf, 5};
		struct msghdr m;
		memset(&m, 0, sizeof m);
		m.msg_iov = &in;
		m.msg_iovlen = 1;
		got("recvmsg 5 of 11", recvmsg(sv[1], &m, 0), buf);
		msgflags("recvmsg flags", m.msg_flags);
		drain(sv[1]);
	}
	if (type != SOCK_STREAM) {
		/* MSG_TRUNC asks for the real length */
		send(sv[0], "hello world", 11, 0);
		say("recv MSG_TRUNC into 5 (the full length)", recv(sv[1], buf, 5, MSG_TRUNC));
		/* an empty message is a message */
		say("send empty", send(sv[0], "", 0, 0));
		say("recv empty", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
		say("recv after empty", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
		/* too big for the send buffer */
		char *big = calloc(1, 1 << 20);
		say("send 1 MiB message", send(sv[0], big, 1 << 20, MSG_DONTWAIT));
		free(big);
	} else {
		say("send empty", send(sv[0], "", 0, 0));
		say("recv on empty stream", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	}

	/* bad pointers, through syscall() (musl's sendmsg copies the header) */
	say("send from a bad pointer", syscall(SYS_sendto, sv[0], (void *)8, 4, 0, NULL, 0));
	send(sv[0], "kept", 4, 0);
	say("recv into a bad pointer", syscall(SYS_recvfrom, sv[1], (void *)8, 4, 0, NULL, NULL));
	got("recv after the bad pointer", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), buf);
	say("sendmsg bad msghdr", syscall(SYS_sendmsg, sv[0], (void *)8, 0));
	say("recvmsg bad msghdr", syscall(SYS_recvmsg, sv[1], (void *)8, 0));

	/* options */
	intopt("SO_TYPE", sv[0], SOL_SOCKET, SO_TYPE);
	printf("SO_TYPE is the type: %d\n", ({
		       int v = 0;
		       socklen_t l = sizeof v;
		       getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l);
		       v == type;
	       }));
	intopt("SO_DOMAIN", sv[0], SOL_SOCKET, SO_DOMAIN);
	intopt("SO_PROTOCOL", sv[0], SOL_SOCKET, SO_PROTOCOL);
	intopt("SO_ACCEPTCONN", sv[0], SOL_SOCKET, SO_ACCEPTCONN);
	intopt("SO_ERROR", sv[0], SOL_SOCKET, SO_ERROR);
	intopt("SO_PASSCRED", sv[0], SOL_SOCKET, SO_PASSCRED);
	intopt("unknown option", sv[0], SOL_SOCKET, 9999);
	{
		int v = 65536, now = 0;
		socklen_t l = sizeof now;
		say("setsockopt SO_SNDBUF", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
		say("getsockopt SO_SNDBUF", getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &now, &l));
		printf("SO_SNDBUF at least what was set: %d\n", now >= v);
		say("setsockopt SO_RCVBUF", setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
		say("setsockopt short optlen", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, 2));
	}

	/* names: the pair is unnamed */
	sockname("getsockname", sv[0]);
	peername("getpeername", sv[0]);

	struct stat st;
	say("fstat", fstat(sv[0], &st));
	printf("S_ISSOCK: %d mode %04o size %lld\n", S_ISSOCK(st.st_mode), st.st_mode & 07777,
	       (long long)st.st_size);
	fdflags("fcntl", sv[0]);
	pollbits("poll idle", sv[0]);
	send(sv[1], "x", 1, 0);
	pollbits("poll with data", sv[0]);
	drain(sv[0]);
	close(sv[0]);
	close(sv[1]);

	/* with flags: the read end is nonblocking without MSG_DONTWAIT */
	say("socketpair CLOEXEC|NONBLOCK",
	    socketpair(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv));
	fdflags("fcntl [0]", sv[0]);
	fdflags("fcntl [1]", sv[1]);
	say("read empty nonblocking", read(sv[1], buf, sizeof buf));
	say("write", write(sv[0], "nb", 2));
	got("read", read(sv[1], buf, sizeof buf), buf);
	if (type == SOCK_STREAM) {
		/* fill it: the amount is the host's, only the end is shown */
		long total = 0, r;
		memset(buf, 'z', sizeof buf);
		while ((r = write(sv[0], buf, sizeof buf)) > 0)
			total += r;
		printf("filled: wrote some %d, then %s\n", total > 0, errname(errno));
		pollbits("poll full", sv[0]);
		while (read(sv[1], buf, sizeof buf) > 0)
			;
		pollbits("poll drained", sv[0]);
	}
	close(sv[0]);
	close(sv[1]);
}

/* (b) shutdown and close, SIGPIPE ignored. */
static void endings(int type)
{
	char t[64];
	int sv[2];
	snprintf(t, sizeof t, "endings %s", tname(type));
	head(t);
	socketpair(AF_UNIX, type, 0, sv);
	say("write before shutdown", write(sv[0], "last", 4));
	say("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR));
	got("peer reads", read(sv[1], buf, sizeof buf), buf);
	if (type != SOCK_DGRAM)
		say("peer reads again (EOF)", read(sv[1], buf, sizeof buf));
	else
		say("peer reads again", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	say("write after SHUT_WR", write(sv[0], "x", 1));
	say("peer still writes", write(sv[1], "back", 4));
	got("read from peer", read(sv[0], buf, sizeof buf), buf);
	pollbits("poll on the shut side", sv[0]);
	pollbits("poll on the peer", sv[1]);
	say("shutdown bad how", shutdown(sv[0], 7));
	say("shutdown SHUT_RDWR", shutdown(sv[0], SHUT_RDWR));
	close(sv[0]);
	close(sv[1]);

	socketpair(AF_UNIX, type, 0, sv);
	say("write before close", write(sv[0], "bye", 3));
	close(sv[0]);
	pollbits("poll after peer close", sv[1]);
	got("read queued data", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), buf);
	say("read at end", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	say("write after peer close", write(sv[1], "x", 1));
	say("write again", write(sv[1], "x", 1));
	close(sv[1]);
}

/* (c) errors of socketpair and socket. */
static void errors(void)
{
	int sv[2];
	head("socket errors");
	say("socketpair AF_INET", socketpair(AF_INET, SOCK_STREAM, 0, sv));
	say("socketpair bad type", socketpair(AF_UNIX, 99, 0, sv));
	/* AF_UNIX takes SOCK_RAW as SOCK_DGRAM, and protocol PF_UNIX as 0 */
	say_pair("socketpair SOCK_RAW", socketpair(AF_UNIX, SOCK_RAW, 0, sv), sv);
	say_pair("socketpair protocol PF_UNIX", socketpair(AF_UNIX, SOCK_STREAM, PF_UNIX, sv), sv);
	say("socketpair bad protocol", socketpair(AF_UNIX, SOCK_STREAM, 2, sv));
	say("socketpair SOCK_RDM", socketpair(AF_UNIX, SOCK_RDM, 0, sv));
	say("socketpair bad flags", syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM | 0x100000, 0, sv));
	int lowest = lowest_free();
	say("socketpair bad sv", socketpair(AF_UNIX, SOCK_STREAM, 0, (int *)8));
	printf("socketpair EFAULT left no descriptors: %d\n", lowest_free() == lowest);
	say("socketpair unknown family", socketpair(12345, SOCK_STREAM, 0, sv));

	int in = socket(AF_INET, SOCK_STREAM, 0);
	fprintf(stderr, "socket AF_INET: %s\n", in >= 0 ? "ok" : errname(errno));
	if (in >= 0)
		close(in);
	say("socket AF_UNIX bad type", socket(AF_UNIX, 99, 0));
	say_fd("socket AF_UNIX SOCK_RAW", socket(AF_UNIX, SOCK_RAW, 0));
	say_fd("socket AF_UNIX protocol PF_UNIX", socket(AF_UNIX, SOCK_STREAM, PF_UNIX));
	say("socket AF_UNIX bad protocol", socket(AF_UNIX, SOCK_STREAM, 2));
	say("socket AF_UNIX SOCK_RDM", socket(AF_UNIX, SOCK_RDM, 0));
	say("socket AF_UNIX SOCK_PACKET", socket(AF_UNIX, SOCK_PACKET, 0));
	say("socket unknown family", socket(12345, SOCK_STREAM, 0));
	say("socket bad flags", syscall(SYS_socket, AF_UNIX, SOCK_STREAM | 0x100000, 0));
	int p[2];
	pipe(p);
	intopt("getsockopt on a pipe", p[0], SOL_SOCKET, SO_TYPE);
	say("send on a pipe", send(p[1], "x", 1, 0));
	say("bind on a pipe", bind(p[0], NULL, 0));
	close(p[0]);
	close(p[1]);
	say("getsockname bad fd", getsockname(-1, NULL, NULL));
}

/* (d) path sockets */
static void paths(void)
{
	struct sockaddr_un a, b;
	socklen_t al = pathaddr(&a, "s1");
	head("path sockets");

	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	say("socket", l >= 0 ? 0 : -1);
	sockname("getsockname before bind", l);
	say("listen before bind", listen(l, 5));
	say("bind s1", bind(l, (struct sockaddr *)&a, al));
	say("bind again (bound)", bind(l, (struct sockaddr *)&a, al));
	sockname("getsockname listener", l);
	say("accept before listen", accept(l, NULL, NULL));
	say("listen", listen(l, 5));
	say("listen again", listen(l, 8));
	intopt("SO_ACCEPTCONN", l, SOL_SOCKET, SO_ACCEPTCONN);
	peername("getpeername listener", l);
	{
		int n = -1;
		say("FIONREAD on a listener", ioctl(l, FIONREAD, &n));
	}
	say("read on a listener", read(l, buf, 1));
	pollbits("poll listener idle", l);

	struct stat st;
	say("stat s1", stat("s1", &st));
	printf("S_ISSOCK: %d\n", S_ISSOCK(st.st_mode));
	say("open s1", open("s1", O_RDONLY));

	int other = socket(AF_UNIX, SOCK_STREAM, 0);
	say("bind s1 from another socket", bind(other, (struct sockaddr *)&a, al));
	close(other);

	/* nonblocking accept: nothing pending */
	fcntl(l, F_SETFL, O_NONBLOCK);
	say("accept nonblocking, none pending", accept(l, NULL, NULL));
	fcntl(l, F_SETFL, 0);

	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	say("write unconnected", write(c, "x", 1));
	say("connect", connect(c, (struct sockaddr *)&a, al));
	say("connect again", connect(c, (struct sockaddr *)&a, al));
	pollbits("poll listener pending", l);
	memset(&b, 0x55, sizeof b);
	socklen_t bl = sizeof b;
	int s = accept4(l, (struct sockaddr *)&b, &bl, SOCK_CLOEXEC);
	show_name("accept4 CLOEXEC (peer name)", s >= 0 ? 0 : -1, &b, bl);
	fdflags("accepted", s);
	sockname("getsockname accepted", s);
	peername("getpeername accepted", s);
	sockname("getsockname client", c);
	peername("getpeername client", c);
	intopt("SO_ACCEPTCONN accepted", s, SOL_SOCKET, SO_ACCEPTCONN);
	say("client writes", write(c, "to server", 9));
	got("server reads", read(s, buf, sizeof buf), buf);
	say("server writes", write(s, "to client", 9));
	got("client reads", read(c, buf, sizeof buf), buf);
	{
		struct ucred cr;
		socklen_t cl = sizeof cr;
		say("SO_PEERCRED", getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl));
		printf("SO_PEERCRED: len %u pid is mine %d uid is mine %d gid is mine %d\n",
		       (unsigned)cl, cr.pid == getpid(), cr.uid == getuid(), cr.gid == getgid());
	}
	close(s);
	close(c);

	/* a client with a name of its own */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	socklen_t cl2 = pathaddr(&b, "c1");
	say("bind client c1", bind(c, (struct sockaddr *)&b, cl2));
	say("connect from c1", connect(c, (struct sockaddr *)&a, al));
	memset(&b, 0x55, sizeof b);
	bl = sizeof b;
	s = accept4(l, (struct sockaddr *)&b, &bl, SOCK_NONBLOCK);
	show_name("accept4 NONBLOCK (peer name)", s >= 0 ? 0 : -1, &b, bl);
	fdflags("accepted", s);
	peername("getpeername accepted", s);
	say("read nonblocking accepted", read(s, buf, sizeof buf));
	close(s);
	close(c);
	unlink("c1");

	/* accept with a short address buffer: the full length comes back */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	cl2 = pathaddr(&b, "client-two");
	bind(c, (struct sockaddr *)&b, cl2);
	connect(c, (struct sockaddr *)&a, al);
	memset(&b, 0x55, sizeof b);
	bl = 4;
	s = accept(l, (struct sockaddr *)&b, &bl);
	printf("accept into 4 bytes: %d len %u path starts \"%.2s\"\n", s >= 0 ? 0 : -1,
	       (unsigned)bl, b.sun_path);
	close(s);
	close(c);
	unlink("client-two");
	/* syscall(): musl's accept4 retries a failed call as accept() */
	say("accept4 bad flags", syscall(SYS_accept4, l, NULL, NULL, 0x4));

	/* errors of connect and bind */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	socklen_t nl = pathaddr(&b, "nonexistent");
	say("connect nonexistent", connect(c, (struct sockaddr *)&b, nl));
	int f = open("regular", O_CREAT | O_WRONLY, 0644);
	close(f);
	nl = pathaddr(&b, "regular");
	say("connect to a regular file", connect(c, (struct sockaddr *)&b, nl));
	say("bind over a regular file", bind(c, (struct sockaddr *)&b, nl));
	unlink("regular");
	nl = pathaddr(&b, "nodir/s");
	say("connect through a missing dir", connect(c, (struct sockaddr *)&b, nl));
	say("bind in a missing dir", bind(c, (struct sockaddr *)&b, nl));
	say("connect len 1", connect(c, (struct sockaddr *)&a, 1));
	say("connect len too long", connect(c, (struct sockaddr *)&a, sizeof a + 1));
	{
		struct sockaddr_un inet = a;
		inet.sun_family = AF_INET;
		say("connect wrong family", connect(c, (struct sockaddr *)&inet, al));
		say("bind wrong family", bind(c, (struct sockaddr *)&inet, al));
	}
	say("connect bad address pointer", connect(c, (struct sockaddr *)8, al));
	{
		int d = socket(AF_UNIX, SOCK_DGRAM, 0);
		say("connect dgram to a stream listener", connect(d, (struct sockaddr *)&a, al));
		close(d);
	}
	close(c);

	/* a path longer than sun_path */
	{
		char longer[sizeof(struct sockaddr_un) + 16];
		memset(longer, 'a', sizeof longer);
		((struct sockaddr_un *)longer)->sun_family = AF_UNIX;
		c = socket(AF_UNIX, SOCK_STREAM, 0);
		say("bind longer than sun_path", bind(c, (struct sockaddr *)longer, sizeof longer));
		say("connect longer than sun_path", connect(c, (struct sockaddr *)longer, sizeof longer));
		/* exactly 108 bytes, no NUL: allowed */
		struct sockaddr_un full;
		full.sun_family = AF_UNIX;
		memset(full.sun_path, 'b', sizeof full.sun_path);
		say("bind 108-byte path", bind(c, (struct sockaddr *)&full, sizeof full));
		char name[sizeof full.sun_path + 1];
		memset(name, 'b', sizeof full.sun_path);
		name[sizeof full.sun_path] = 0;
		say("stat 108-byte path", stat(name, &st));
		struct {
			struct sockaddr_un a;
			char more[16];
		} wide;
		memset(&wide, 0x55, sizeof wide);
		socklen_t wl = sizeof wide;
		long r = getsockname(c, (struct sockaddr *)&wide, &wl);
		show_name("getsockname 108-byte path", r, &wide.a, wl);
		printf("byte after sun_path: %s\n",
		       wl > sizeof wide.a ? (wide.more[0] == 0 ? "NUL" : "other") : "not written");
		memset(&wide, 0x55, sizeof wide);
		wl = sizeof wide.a;
		r = getsockname(c, (struct sockaddr *)&wide, &wl);
		printf("getsockname 108-byte path into 110: %ld len %u, byte after %s\n", r,
		       (unsigned)wl, wide.more[0] == 0x55 ? "untouched" : "written");
		close(c);
		unlink(name);
	}

	/* the listener closes: its file stays, and refuses */
	close(l);
	say("stat s1 after close", stat("s1", &st));
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	say("connect to a closed listener's file", connect(c, (struct sockaddr *)&a, al));
	/* bound but not listening */
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	socklen_t ql = pathaddr(&b, "notlistening");
	bind(l, (struct sockaddr *)&b, ql);
	say("connect to a socket not listening", connect(c, (struct sockaddr *)&b, ql));
	close(l);
	close(c);
	unlink("notlistening");
	say("unlink s1", unlink("s1"));
	say("stat s1 after unlink", stat("s1", &st));

	/* SEQPACKET over a path */
	head("path seqpacket");
	l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	al = pathaddr(&a, "q1");
	say("bind q1", bind(l, (struct sockaddr *)&a, al));
	say("listen", listen(l, 1));
	c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	say("connect", connect(c, (struct sockaddr *)&a, al));
	s = accept(l, NULL, NULL);
	say("accept", s >= 0 ? 0 : -1);
	say("send 3", send(c, "one", 3, 0));
	say("send 5", send(c, "three", 5, 0));
	got("recv 10", recv(s, buf, 10, 0), buf);
	got("recv 2 of 5", recv(s, buf, 2, 0), buf);
	say("recv empty", recv(s, buf, 10, MSG_DONTWAIT));
	{
		int st2 = socket(AF_UNIX, SOCK_STREAM, 0);
		say("connect stream to a seqpacket listener", connect(st2, (struct sockaddr *)&a, al));
		close(st2);
	}
	close(c);
	say("recv after close", recv(s, buf, 10, 0));
	close(s);
	close(l);
	unlink("q1");
}

/* (e) datagram path sockets */
static void datagrams(void)
{
	struct sockaddr_un a, b, from;
	socklen_t al = pathaddr(&a, "d1"), bl = pathaddr(&b, "d2"), fl;
	head("path datagrams");
	int d1 = socket(AF_UNIX, SOCK_DGRAM, 0), d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
	say("bind d1", bind(d1, (struct sockaddr *)&a, al));
	say("bind d2", bind(d2, (struct sockaddr *)&b, bl));
	say("listen on dgram", listen(d1, 1));
	say("send unconnected", send(d2, "x", 1, 0));
	say("sendto d1", sendto(d2, "ping", 4, 0, (struct sockaddr *)&a, al));
	memset(&from, 0x55, sizeof from);
	fl = sizeof from;
	long r = recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	got("recvfrom", r, buf);
	show_name("sender", r, &from, fl);
	say("sendto d2", sendto(d1, "pong", 4, 0, (struct sockaddr *)&b, bl));
	{
		struct iovec in = {buf, sizeof buf};
		struct msghdr m;
		memset(&m, 0, sizeof m);
		memset(&from, 0x55, sizeof from);
		m.msg_name = &from;
		m.msg_namelen = sizeof from;
		m.msg_iov = &in;
		m.msg_iovlen = 1;
		r = recvmsg(d2, &m, 0);
		got("recvmsg", r, buf);
		show_name("sender", r, &from, m.msg_namelen);
	}

	/* an unnamed sender */
	int u = socket(AF_UNIX, SOCK_DGRAM, 0);
	say("sendto d1 unnamed", sendto(u, "anon", 4, 0, (struct sockaddr *)&a, al));
	memset(&from, 0x55, sizeof from);
	fl = sizeof from;
	r = recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	got("recvfrom", r, buf);
	printf("recvfrom addrlen: %u\n", (unsigned)fl);
	sockname("unnamed sender's name", u);

	/* a connected datagram socket */
	say("connect u to d1", connect(u, (struct sockaddr *)&a, al));
	peername("getpeername u", u);
	say("send on connected", send(u, "conn", 4, 0));
	got("recv", recv(d1, buf, sizeof buf, 0), buf);
	say("sendto d2 from connected u", sendto(u, "elsewhere", 9, 0, (struct sockaddr *)&b, bl));
	got("d2 recv", recv(d2, buf, sizeof buf, MSG_DONTWAIT), buf);
	/* d1 is not connected to u: u does not accept d2's datagrams */
	say("connect d1 to d2", connect(d1, (struct sockaddr *)&b, bl));
	say("u sends to d1 now connected elsewhere", send(u, "no", 2, 0));
	{
		struct sockaddr_un none;
		memset(&none, 0, sizeof none);
		none.sun_family = AF_UNSPEC;
		say("disconnect d1 (AF_UNSPEC)", connect(d1, (struct sockaddr *)&none, sizeof none));
	}
	say("u sends to d1 again", send(u, "yes", 3, 0));
	got("d1 recv", recv(d1, buf, sizeof buf, MSG_DONTWAIT), buf);

	socklen_t nl = pathaddr(&from, "nonexistent");
	say("sendto nonexistent", sendto(d2, "x", 1, 0, (struct sockaddr *)&from, nl));
	{
		int l = socket(AF_UNIX, SOCK_STREAM, 0);
		nl = pathaddr(&from, "stream");
		bind(l, (struct sockaddr *)&from, nl);
		listen(l, 1);
		say("sendto a stream listener", sendto(d2, "x", 1, 0, (struct sockaddr *)&from, nl));
		close(l);
		unlink("stream");
	}
	/* d1 closes: the socket file stays and refuses */
	close(d1);
	say("sendto closed d1's file", sendto(d2, "x", 1, 0, (struct sockaddr *)&a, al));
	say("send on u, whose peer closed", send(u, "x", 1, 0));
	say("send on u again", send(u, "x", 1, 0));
	close(d2);
	close(u);
	unlink("d1");
	unlink("d2");
}

/* (f) abstract names */
static void abstract(void)
{
	struct sockaddr_un a, b;
	unsigned char rnd[4] = {0};
	syscall(SYS_getrandom, rnd, sizeof rnd, 0);
	snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	snprintf(abstract_name, sizeof abstract_name, "%s%s", ABSTRACT_PREFIX, suffix);
	socklen_t al = abstractaddr(&a, abstract_name);
	head("abstract names");
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	say("bind abstract", bind(l, (struct sockaddr *)&a, al));
	sockname("getsockname", l);
	say("listen", listen(l, 1));
	{
		int o = socket(AF_UNIX, SOCK_STREAM, 0);
		say("bind the same name again", bind(o, (struct sockaddr *)&a, al));
		close(o);
	}
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	say("connect", connect(c, (struct sockaddr *)&a, al));
	int s = accept(l, NULL, NULL);
	say("accept", s >= 0 ? 0 : -1);
	peername("getpeername client", c);
	sockname("getsockname accepted", s);
	say("client writes", write(c, "abstract", 8));
	got("server reads", read(s, buf, sizeof buf), buf);
	say("server writes", write(s, "reply", 5));
	got("client reads", read(c, buf, sizeof buf), buf);
	close(s);
	close(c);
	{
		struct stat st;
		say("no file for it (stat)", stat(abstract_name, &st));
	}
	/* the name is exactly its length: padded with NULs it is another */
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	say("connect to the name padded with NULs", connect(c, (struct sockaddr *)&a, sizeof a));
	socklen_t bl = abstractaddr(&b, NOBODY);
	say("connect to a name nobody bound", connect(c, (struct sockaddr *)&b, bl));
	close(c);
	close(l);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	say("connect after the listener closed", connect(c, (struct sockaddr *)&a, al));
	close(c);

	/* autobind: binding just the family picks an abstract name of five
	 * hex digits */
	c = socket(AF_UNIX, SOCK_DGRAM, 0);
	sa_family_t fam = AF_UNIX;
	say("bind family only (autobind)", bind(c, (struct sockaddr *)&fam, sizeof fam));
	memset(&b, 0x55, sizeof b);
	bl = sizeof b;
	long r = getsockname(c, (struct sockaddr *)&b, &bl);
	int hex = 1;
	for (socklen_t i = 3; i < bl; i++)
		hex &= (b.sun_path[i - 2] >= '0' && b.sun_path[i - 2] <= '9') ||
		       (b.sun_path[i - 2] >= 'a' && b.sun_path[i - 2] <= 'f');
	printf("autobound name: %ld len %u abstract %d hex %d\n", r, (unsigned)bl, b.sun_path[0] == 0,
	       hex);
	/* a datagram to the autobound name */
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	say("sendto the autobound name", sendto(d, "auto", 4, 0, (struct sockaddr *)&b, bl));
	got("recv", recv(c, buf, sizeof buf, 0), buf);
	close(d);
	close(c);
}

/* (g) SCM_RIGHTS */
/* recvmsg with room for `room` bytes of control data; returns how many
 * descriptors came. */
static int recv_fds(int s, int *fds, size_t room, int flags, int *mflags)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)];
	char data[8];
	struct iovec io = {data, sizeof data};
	struct msghdr m;
	memset(&m, 0, sizeof m);
	memset(ctl, 0, sizeof ctl);
	m.msg_iov = &io;
	m.msg_iovlen = 1;
	m.msg_control = room ? ctl : NULL;
	m.msg_controllen = room;
	long r = recvmsg(s, &m, flags);
	*mflags = m.msg_flags;
	if (r < 0)
		return -1;
	int n = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		printf("cmsg level %s type %s len %u\n", c->cmsg_level == SOL_SOCKET ? "SOL_SOCKET" : "?",
		       c->cmsg_type == SCM_RIGHTS ? "SCM_RIGHTS" : "?", (unsigned)c->cmsg_len);
		int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds + n, CMSG_DATA(c), k * sizeof(int));
		n += k;
	}
	return n;
}

static long send_fds(int s, const int *fds, int n)
{
	char ctl[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec io = {"F", 1};
	struct msghdr m;
	memset(&m, 0, sizeof m);
	memset(ctl, 0, sizeof ctl);
	m.msg_iov = &io;
	m.msg_iovlen = 1;
	m.msg_control = ctl;
	m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	return sendmsg(s, &m, 0);
}

static void rights(void)
{
	int sv[2], p[2], fds[4], mf, rd = -1;
	head("SCM_RIGHTS");
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pipe(p);
	say("sendmsg pipe read end", send_fds(sv[0], &p[0], 1));
	close(p[0]);
	int n = recv_fds(sv[1], fds, CMSG_SPACE(sizeof(int)), MSG_CMSG_CLOEXEC, &mf);
	printf("received descriptors: %d\n", n);
	msgflags("recvmsg flags", mf);
	if (n == 1) {
		struct stat st;
		fstat(fds[0], &st);
		printf("received: fifo %d cloexec %d\n", S_ISFIFO(st.st_mode),
		       (fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
		say("write into the pipe", write(p[1], "through the pipe", 16));
		got("SCM_RIGHTS read through the received descriptor", read(fds[0], buf, sizeof buf), buf);
		rd = fds[0];
	}

	/* without MSG_CMSG_CLOEXEC */
	send_fds(sv[0], &p[1], 1);
	n = recv_fds(sv[1], fds, CMSG_SPACE(sizeof(int)), 0, &mf);
	printf("received: %d cloexec %d\n", n, n == 1 && (fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
	if (n == 1) {
		/* the received write end reaches the same pipe */
		say("write through the received write end", write(fds[0], "w", 1));
		close(fds[0]);
	}

	/* three descriptors, room for one: MSG_CTRUNC, one arrives */
	int three[3] = {p[1], p[1], p[1]};
	int lowest = lowest_free();
	say("sendmsg three descriptors", send_fds(sv[0], three, 3));
	n = recv_fds(sv[1], fds, CMSG_LEN(sizeof(int)), 0, &mf);
	printf("received with room for one: %d\n", n);
	msgflags("recvmsg flags", mf);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	/* no control buffer at all */
	send_fds(sv[0], three, 3);
	n = recv_fds(sv[1], fds, 0, 0, &mf);
	printf("received with no room: %d\n", n);
	msgflags("recvmsg flags", mf);
	/* room for 2, space for 2 in CMSG_SPACE(4) */
	send_fds(sv[0], three, 3);
	n = recv_fds(sv[1], fds, CMSG_SPACE(sizeof(int)), 0, &mf);
	printf("received with CMSG_SPACE(4) bytes: %d\n", n);
	msgflags("recvmsg flags", mf);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	printf("no descriptors leaked: %d\n", lowest_free() == lowest);

	int bad = -1;
	say("sendmsg a bad descriptor", send_fds(sv[0], &bad, 1));
	say("nothing queued after it", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
	/* a descriptor over a datagram pair, with MSG_PEEK first */
	int dv[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, dv);
	send_fds(dv[0], &p[1], 1);
	n = recv_fds(dv[1], fds, CMSG_SPACE(sizeof(int)), 0, &mf);
	printf("dgram received: %d\n", n);
	if (n == 1) {
		say("write through it", write(fds[0], "d", 1));
		close(fds[0]);
	}
	close(p[1]);
	got("the pipe holds", read(rd, buf, sizeof buf), buf);
	say("then EOF: every write end is closed", read(rd, buf, sizeof buf));
	close(rd);
	close(dv[0]);
	close(dv[1]);
	close(sv[0]);
	close(sv[1]);
}

static volatile int pipes;

static void on_pipe(int sig)
{
	(void)sig;
	pipes++;
}

/* (h) SIGPIPE */
static void sigpipe(void)
{
	int sv[2];
	head("SIGPIPE");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_pipe;
	sigaction(SIGPIPE, &sa, NULL);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	close(sv[1]);
	say("write to a closed peer", write(sv[0], "x", 1));
	printf("SIGPIPE handled: %d\n", pipes);
	say("send MSG_NOSIGNAL", send(sv[0], "x", 1, MSG_NOSIGNAL));
	printf("SIGPIPE handled: %d\n", pipes);
	say("send", send(sv[0], "x", 1, 0));
	printf("SIGPIPE handled: %d\n", pipes);

	sigset_t set, pend;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	say("write, SIGPIPE blocked", write(sv[0], "x", 1));
	sigpending(&pend);
	printf("SIGPIPE pending: %d handled: %d\n", sigismember(&pend, SIGPIPE), pipes);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	printf("after unblocking, handled: %d\n", pipes);
	close(sv[0]);

	/* SEQPACKET and a shut-down writer raise it too; DGRAM does not */
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
	close(sv[1]);
	say("seqpacket write to a closed peer", write(sv[0], "x", 1));
	printf("SIGPIPE handled: %d\n", pipes);
	close(sv[0]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	shutdown(sv[0], SHUT_WR);
	say("write after SHUT_WR", write(sv[0], "x", 1));
	printf("SIGPIPE handled: %d\n", pipes);
	close(sv[0]);
	close(sv[1]);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	close(sv[1]);
	say("dgram write to a closed peer", write(sv[0], "x", 1));
	printf("SIGPIPE handled: %d\n", pipes);
	close(sv[0]);
	signal(SIGPIPE, SIG_IGN);
}

/* sendmmsg and recvmmsg over a datagram pair: counts, msg_len, an empty
 * queue, MSG_WAITFORONE, a bad vector. */
static void batches(void)
{
	head("sendmmsg/recvmmsg");
	int sv[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	char *texts[3] = {"one", "three", "fifteen chars.."};
	struct iovec siov[3];
	struct mmsghdr out[3];
	memset(out, 0, sizeof out);
	for (int i = 0; i < 3; i++) {
		siov[i] = (struct iovec){texts[i], strlen(texts[i])};
		out[i].msg_hdr.msg_iov = &siov[i];
		out[i].msg_hdr.msg_iovlen = 1;
	}
	say("sendmmsg 3", sendmmsg(sv[0], out, 3, 0));
	printf("msg_len: %u %u %u\n", out[0].msg_len, out[1].msg_len, out[2].msg_len);
	say("sendmmsg 0", sendmmsg(sv[0], out, 0, 0));
	char bufs[4][32];
	struct iovec riov[4];
	struct mmsghdr in[4];
	memset(in, 0, sizeof in);
	for (int i = 0; i < 4; i++) {
		riov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
		in[i].msg_hdr.msg_iov = &riov[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	int n = recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL);
	say("recvmmsg 4, 3 queued", n);
	for (int i = 0; i < n; i++)
		printf("  %u \"%.*s\"\n", in[i].msg_len, (int)in[i].msg_len, bufs[i]);
	say("recvmmsg empty, MSG_DONTWAIT", recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL));
	sendmmsg(sv[0], out, 2, 0);
	say("recvmmsg MSG_WAITFORONE, 2 queued", recvmmsg(sv[1], in, 4, MSG_WAITFORONE, NULL));
	/* (raw: musl's wrapper reads the vector itself) */
	say("sendmmsg bad vector", syscall(SYS_sendmmsg, sv[0], 8L, 2L, 0L));
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	if (argc < 2 || chdir(argv[1]) < 0) {
		fprintf(stderr, "usage: sockets DIR\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGPIPE, SIG_IGN);
	pair(SOCK_STREAM);
	pair(SOCK_DGRAM);
	pair(SOCK_SEQPACKET);
	endings(SOCK_STREAM);
	endings(SOCK_DGRAM);
	endings(SOCK_SEQPACKET);
	errors();
	paths();
	datagrams();
	abstract();
	rights();
	sigpipe();
	batches();
	printf("done\n");
	return 0;
}
