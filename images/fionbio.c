/* The ioctls every descriptor takes: FIONBIO (what Python's setblocking
 * and asyncio use), FIOCLEX and FIONCLEX, on a socket, a pipe and
 * /dev/null; and ENOTTY for a terminal request on a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void show(const char *what, int fd) {
    int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
    printf("%-12s nonblock=%d cloexec=%d\n", what, !!(fl & O_NONBLOCK), !!(fdfl & FD_CLOEXEC));
}

int main(void) {
    int sv[2], p[2], on = 1, off = 0;
    char c;
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    int null = open("/dev/null", O_RDONLY);
    int fds[] = {sv[0], p[0], null};
    const char *names[] = {"socket", "pipe", "/dev/null"};
    for (int i = 0; i < 3; i++) {
        printf("FIONBIO on %s: %d\n", names[i], ioctl(fds[i], FIONBIO, &on));
        show(names[i], fds[i]);
        printf("FIOCLEX %s: %d\n", names[i], ioctl(fds[i], FIOCLEX));
        show(names[i], fds[i]);
    }
    ssize_t n = read(sv[0], &c, 1);
    printf("read empty socket: %zd %s\n", n, strerror(errno));
    n = read(p[0], &c, 1);
    printf("read empty pipe: %zd %s\n", n, strerror(errno));
    for (int i = 0; i < 3; i++) {
        ioctl(fds[i], FIONBIO, &off);
        ioctl(fds[i], FIONCLEX);
        show(names[i], fds[i]);
    }
    write(p[1], "x", 1);
    printf("blocking read: %zd\n", read(p[0], &c, 1));
    struct winsize ws;
    int r = ioctl(p[0], TIOCGWINSZ, &ws);
    printf("TIOCGWINSZ on a pipe: %d %s\n", r, strerror(errno));
    r = ioctl(99, FIONBIO, &on);
    printf("FIONBIO on a bad fd: %d %s\n", r, strerror(errno));
    return 0;
}
