/* Facts about the host that the program must not learn (sandbox only):
 * where its file lies on the host, the host's kernel release and name, the
 * user kvmcage runs as, and the host's device numbers.
 *
 *   facts [DIR]   prints /proc/self/exe (readlink, and the first bytes
 *                 through open), the path column of /proc/self/maps,
 *                 AT_EXECFN, uname, the four ids and /proc/self/status's Uid
 *                 and Gid lines; with DIR (a writable mount), creates DIR/made
 *                 and prints its owner and st_dev, and DIR/probe's st_dev
 *                 (a file the test made). The test checks the output holds no
 *                 host path, the release is not the host's, the nodename is
 *                 "kvmcage" (or --hostname's), the ids are 1000 (or --uid's and
 *                 --gid's), and st_dev is not the host's.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "errname.h"

static void proc_lines(const char *path, const char *prefix)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: errno %s\n", path, errname(errno));
		return;
	}
	int n = 0, r;
	while (n < (int)sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
		n += r;
	buf[n] = 0;
	close(fd);
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (prefix && !strncmp(l, prefix, strlen(prefix))) {
			for (char *t = l; *t; t++)
				if (*t == '\t')
					*t = ' ';
			printf("%s\n", l);
		} else if (!prefix) {
			/* maps: the path column, if any (after five fields). */
			char *p = l;
			for (int f = 0; f < 5 && p; f++) {
				p = strchr(p, ' ');
				while (p && *p == ' ')
					p++;
			}
			if (p && *p)
				printf("maps path: %s\n", p);
		}
	}
}

int main(int argc, char **argv)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("exe: %s\n", n >= 0 ? buf : errname(errno));
	int fd = open("/proc/self/exe", O_RDONLY);
	unsigned char m[4] = { 0 };
	if (fd >= 0) {
		read(fd, m, 4);
		close(fd);
	}
	printf("exe magic: %s\n", fd < 0 ? errname(errno) : !memcmp(m, "\177ELF", 4) ? "ELF" : "not ELF");
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	printf("execfn: %s\n", execfn ? execfn : "(none)");
	proc_lines("/proc/self/maps", NULL);

	struct utsname u;
	uname(&u);
	printf("sysname: %s\nnodename: %s\nrelease: %s\nmachine: %s\n", u.sysname, u.nodename,
	       u.release, u.machine);
	gethostname(buf, sizeof buf);
	printf("hostname: %s\n", buf);
	fd = open("/proc/sys/kernel/hostname", O_RDONLY);
	printf("/proc/sys/kernel/hostname: %s\n", fd < 0 ? errname(errno) : "opened");

	printf("ids: %d %d %d %d\n", getuid(), geteuid(), getgid(), getegid());
	uid_t r, e, s;
	getresuid(&r, &e, &s);
	printf("resuid: %d %d %d\n", r, e, s);
	gid_t gr, ge, gs;
	getresgid(&gr, &ge, &gs);
	printf("resgid: %d %d %d\n", gr, ge, gs);
	proc_lines("/proc/self/status", "Uid:");
	proc_lines("/proc/self/status", "Gid:");

	if (argc > 1) {
		struct stat st;
		snprintf(buf, sizeof buf, "%s/made", argv[1]);
		fd = open(buf, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		if (fd < 0 || fstat(fd, &st) < 0) {
			printf("made: errno %s\n", errname(errno));
		} else {
			printf("made owner: %d %d\n", st.st_uid, st.st_gid);
			printf("made dev: %lu\n", (unsigned long)st.st_dev);
		}
		if (stat(buf, &st) == 0)
			printf("made stat owner: %d %d\n", st.st_uid, st.st_gid);
		snprintf(buf, sizeof buf, "%s/probe", argv[1]);
		if (stat(buf, &st) == 0)
			printf("probe dev: %lu\n", (unsigned long)st.st_dev);
		else
			printf("probe: errno %s\n", errname(errno));
		if (stat(argv[1], &st) == 0)
			printf("dir dev: %lu\n", (unsigned long)st.st_dev);
	}
	return 0;
}
