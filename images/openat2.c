/* openat2(2)'s RESOLVE_* restrictions on a small tree the program makes in
 * its working directory: BENEATH, IN_ROOT, NO_SYMLINKS, NO_MAGICLINKS,
 * NO_XDEV and CACHED, each with the errno Linux gives. argv[1] is an empty
 * writable directory; compare with the native run. (glibc: it names errnos
 * with strerrorname_np.) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int dir;

static void try(const char *what, const char *path, unsigned long long flags,
                unsigned long long resolve) {
    struct open_how how = {.flags = flags, .mode = flags & O_CREAT ? 0600 : 0,
                           .resolve = resolve};
    long fd = syscall(SYS_openat2, dir, path, &how, sizeof how);
    if (fd < 0) {
        printf("%-40s %s\n", what, strerrorname_np(errno));
        return;
    }
    /* Where it landed, relative to the tree. */
    char buf[64] = "";
    struct stat st;
    fstat(fd, &st);
    int n = pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
    }
    printf("%-40s ok %s %s\n", what, S_ISDIR(st.st_mode) ? "dir" : "file",
           n > 0 ? buf : "-");
    close(fd);
}

int main(int argc, char **argv) {
    if (argc > 1 && chdir(argv[1]) != 0) {
        perror(argv[1]);
        return 1;
    }
    mkdir("top", 0755);
    mkdir("top/sub", 0755);
    FILE *f = fopen("top/sub/file", "w");
    fputs("inside\n", f);
    fclose(f);
    f = fopen("outside", "w");
    fputs("outside\n", f);
    fclose(f);
    symlink("sub/file", "top/rel");
    symlink("../outside", "top/up");
    symlink("/top/sub/file", "top/abs");
    symlink("/proc/self/exe", "top/magic");
    dir = open("top", O_PATH | O_DIRECTORY);

    try("plain", "sub/file", O_RDONLY, 0);
    try("beneath: inside", "sub/file", O_RDONLY, RESOLVE_BENEATH);
    try("beneath: relative symlink", "rel", O_RDONLY, RESOLVE_BENEATH);
    try("beneath: .. and back", "sub/../sub/file", O_RDONLY, RESOLVE_BENEATH);
    try("beneath: .. out", "../outside", O_RDONLY, RESOLVE_BENEATH);
    try("beneath: symlink out", "up", O_RDONLY, RESOLVE_BENEATH);
    try("beneath: absolute path", "/top/sub/file", O_RDONLY, RESOLVE_BENEATH);
    try("beneath: absolute symlink", "abs", O_RDONLY, RESOLVE_BENEATH);
    try("beneath: magic link", "magic", O_RDONLY, RESOLVE_BENEATH);
    try("in_root: absolute path", "/sub/file", O_RDONLY, RESOLVE_IN_ROOT);
    try("in_root: .. clamps", "../../sub/file", O_RDONLY, RESOLVE_IN_ROOT);
    try("in_root: symlink out stays in", "up", O_RDONLY, RESOLVE_IN_ROOT);
    try("in_root: / is the tree", "/", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
    try("no_symlinks: plain", "sub/file", O_RDONLY, RESOLVE_NO_SYMLINKS);
    try("no_symlinks: symlink", "rel", O_RDONLY, RESOLVE_NO_SYMLINKS);
    try("no_symlinks: nofollow path", "rel", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
    try("no_magiclinks: ordinary symlink", "rel", O_RDONLY, RESOLVE_NO_MAGICLINKS);
    try("no_magiclinks: /proc/self/exe", "magic", O_RDONLY, RESOLVE_NO_MAGICLINKS);
    try("no_xdev: same mount", "sub/file", O_RDONLY, RESOLVE_NO_XDEV);
    try("no_xdev: into /proc", "/proc/self/status", O_RDONLY, RESOLVE_NO_XDEV);
    try("cached: lookup", "sub/file", O_RDONLY, RESOLVE_CACHED);
    try("cached: O_CREAT", "sub/new", O_CREAT | O_WRONLY, RESOLVE_CACHED);
    try("cached: O_TRUNC", "sub/file", O_TRUNC | O_WRONLY, RESOLVE_CACHED);
    try("create beneath", "sub/new", O_CREAT | O_WRONLY, RESOLVE_BENEATH);
    try("create beneath, out", "../new", O_CREAT | O_WRONLY, RESOLVE_BENEATH);
    return 0;
}
