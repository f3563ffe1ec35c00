/* Administration calls as an unprivileged program meets them on Linux:
 * EPERM after the argument checks that come first, EACCES for
 * perf_event_open, success for the forms that need no privilege. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#define T(what, call) do { errno = 0; long r_ = (call); printf("%-28s %ld %s\n", what, r_, r_ < 0 ? strerrorname_np(errno) : ""); } while (0)
int main(void) {
    struct timespec ts = {0, 0};
    struct timeval tv = {0, 0};
    T("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
    T("umount2", umount2("/tmp", 0));
    T("umount2 bad flags", umount2("/tmp", 0x100));
    T("reboot", reboot(RB_AUTOBOOT));
    T("sethostname", sethostname("x", 1));
    T("settimeofday", settimeofday(&tv, NULL));
    T("clock_settime realtime", clock_settime(CLOCK_REALTIME, &ts));
    T("clock_settime monotonic", clock_settime(CLOCK_MONOTONIC, &ts));
    T("iopl 0", iopl(0));
    T("iopl 3", iopl(3));
    T("iopl 4", iopl(4));
    T("ioperm on", ioperm(0x80, 1, 1));
    T("ioperm off", ioperm(0x80, 1, 0));
    T("ioperm past 0xffff", ioperm(0xffff, 2, 1));
    T("syslog size", klogctl(10, NULL, 0));
    T("syslog open", klogctl(1, NULL, 0));
    T("syslog bad", klogctl(99, NULL, 0));
    T("acct", acct(NULL));
    T("swapoff", swapoff("/x"));
    T("delete_module", syscall(SYS_delete_module, "x", 0));
    T("bpf", syscall(SYS_bpf, 0, NULL, 0));
    T("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    T("vhangup", vhangup());
    T("pivot_root", syscall(SYS_pivot_root, "/", "/"));
    return 0;
}
