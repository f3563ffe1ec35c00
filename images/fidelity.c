/* Bugs a new user and the kernel's nolibc-test found (issue 13), each
 * compared with native Linux. Run with DIR, a writable directory, at the
 * same path natively and in the sandbox (--mount DIR:DIR:rw).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static void res(const char *what, long r)
{
	if (r < 0)
		printf("%s: errno %d (%s)\n", what, errno, strerror(errno));
	else
		printf("%s: %ld\n", what, r);
	fflush(stdout);
}

static char big[1 << 20];

int main(int argc, char **argv)
{
	char p[4096], q[4096];
	if (argc < 2)
		return 2;
	snprintf(p, sizeof p, "%s/existing", argv[1]);
	FILE *f = fopen(p, "w");
	if (!f)
		return 3;
	fputs("hello\n", f);
	fclose(f);
	/* musl's fopen passes a mode without O_CREAT, and O_LARGEFILE. */
	f = fopen(p, "r");
	res("fopen r of an existing file", f ? 0 : -1);
	if (f) {
		char line[16] = "";
		fgets(line, sizeof line, f);
		printf("read back: %s", line);
		fclose(f);
	}
	res("open O_RDONLY|O_LARGEFILE with mode 0666",
	    syscall(SYS_open, p, O_RDONLY | 0100000, 0666) >= 0 ? 0 : -1);
	res("open O_NOATIME", open(p, O_RDONLY | O_NOATIME) >= 0 ? 0 : -1);
	res("open O_SYNC|O_DSYNC for writing", open(p, O_WRONLY | O_SYNC | O_DSYNC) >= 0 ? 0 : -1);
	res("open O_PATH", open(p, O_PATH) >= 0 ? 0 : -1);
	res("open O_NOCTTY", open(p, O_RDONLY | O_NOCTTY) >= 0 ? 0 : -1);
	/* Whole reads from the devices. */
	int z = open("/dev/zero", O_RDONLY);
	res("read 1 MiB of /dev/zero", read(z, big, sizeof big));
	int u = open("/dev/urandom", O_RDONLY);
	res("read 1 MiB of /dev/urandom", read(u, big, sizeof big));
	/* Linux checks EEXIST before EROFS or EPERM. */
	res("mkdir /", mkdir("/", 0755));
	res("mkdir /proc", mkdir("/proc", 0755));
	res("symlink onto /dev/null", symlink("x", "/dev/null"));
	res("chmod /proc/self", chmod("/proc/self", 0755));
	/* Through a non-directory: ENOTDIR. */
	snprintf(q, sizeof q, "%s/existing/x", argv[1]);
	res("utimensat through a file", utimensat(AT_FDCWD, q, NULL, 0));
	res("stat through a file", stat(q, &(struct stat){0}));
	res("open through a file", open(q, O_RDONLY));
	/* copy_file_range with both offsets. */
	int in = open(p, O_RDONLY);
	snprintf(q, sizeof q, "%s/copy", argv[1]);
	int out = open(q, O_RDWR | O_CREAT | O_TRUNC, 0644);
	off_t oi = 1, oo = 3;
	res("copy_file_range with offsets", copy_file_range(in, &oi, out, &oo, 100, 0));
	printf("offsets after: %lld %lld\n", (long long)oi, (long long)oo);
	char back[16] = "";
	res("pread copy", pread(out, back, sizeof back - 1, 0));
	printf("copy holds: %zu bytes, tail %s", strlen(back + 3) + 3, back + 3);
	unlink(q);
	unlink(p);
	/* The /proc files programs commonly read exist and parse. */
	const char *pf[] = {"/proc/uptime", "/proc/loadavg", "/proc/meminfo",
			    "/proc/filesystems", "/proc/self/stat", "/proc/self/cmdline",
			    "/proc/self/comm", "/proc/sys/kernel/osrelease",
			    "/proc/sys/kernel/ostype", 0};
	for (int i = 0; pf[i]; i++) {
		FILE *x = fopen(pf[i], "r");
		printf("%s: %s\n", pf[i], x ? "readable" : strerror(errno));
		if (!x)
			continue;
		char line[512] = "";
		fgets(line, sizeof line, x);
		fclose(x);
		if (!strcmp(pf[i], "/proc/self/stat")) {
			int pid;
			char comm[64], st;
			int n = sscanf(line, "%d %63s %c", &pid, comm, &st);
			printf("  stat: %d fields, comm %s\n", n, comm);
		} else if (!strcmp(pf[i], "/proc/meminfo")) {
			unsigned long kb = 0;
			printf("  MemTotal > 0: %d\n", sscanf(line, "MemTotal: %lu kB", &kb) == 1 && kb > 0);
		} else if (!strcmp(pf[i], "/proc/sys/kernel/ostype")) {
			printf("  %s", line);
		}
	}
	struct statvfs sv;
	int r = statvfs("/", &sv);
	printf("statvfs /: %d, blocks > 0: %d, files > 0: %d\n", r, sv.f_blocks > 0, sv.f_files > 0);
	return 0;
}
