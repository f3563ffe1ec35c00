/* preadv2/pwritev2 with their RWF_* flags and an offset of -1, a pipe's
 * buffer size (F_GETPIPE_SZ/F_SETPIPE_SZ), and getgroups. argv[1] is a
 * writable directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef RWF_APPEND
#define RWF_APPEND 0x10
#endif

static void say(const char *what, long r) {
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0)
        return 2;
    int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    struct iovec w[2] = {{"hello ", 6}, {"world\n", 6}};
    say("pwritev2 at 0", pwritev2(fd, w, 2, 0, 0));
    say("pwritev2 dsync at 3", pwritev2(fd, w, 1, 3, RWF_DSYNC));
    say("pwritev2 append", pwritev2(fd, w + 1, 1, 0, RWF_APPEND));
    say("pwritev2 sync at -1", pwritev2(fd, w, 1, -1, RWF_SYNC));
    say("position", lseek(fd, 0, SEEK_CUR));
    char a[5] = {0}, b[64] = {0};
    struct iovec r[2] = {{a, 4}, {b, sizeof b - 1}};
    say("preadv2 at 0 nowait", preadv2(fd, r, 2, 0, RWF_NOWAIT));
    printf("read: [%s][%s]\n", a, b);
    lseek(fd, 2, SEEK_SET);
    memset(a, 0, sizeof a);
    say("preadv2 at -1", preadv2(fd, r, 1, -1, 0));
    printf("read: [%s] position %ld\n", a, (long)lseek(fd, 0, SEEK_CUR));
    say("preadv2 bad flag", preadv2(fd, r, 1, 0, 0x40000000));
    say("preadv2 bad offset", preadv2(fd, r, 1, -5, 0));
    int p[2];
    pipe(p);
    say("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
    say("F_SETPIPE_SZ 128K", fcntl(p[1], F_SETPIPE_SZ, 128 * 1024));
    say("F_GETPIPE_SZ after", fcntl(p[0], F_GETPIPE_SZ));
    say("F_SETPIPE_SZ 3", fcntl(p[1], F_SETPIPE_SZ, 3));
    say("F_GETPIPE_SZ on a file", fcntl(fd, F_GETPIPE_SZ));
    gid_t g[8];
    say("getgroups(0)", getgroups(0, NULL));
    say("getgroups(-1)", getgroups(-1, g));
    return 0;
}
