/* /proc/self/maps names and /proc/self/map_files links of a private
 * /dev/zero mapping (anonymous memory Linux names "/dev/zero"), a private
 * file mapping and shared anonymous memory ("/dev/zero (deleted)"); a
 * map_files name that is not exactly a mapping's "start-end" is ENOENT. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void show(const char *what, void *p, size_t len)
{
	unsigned long a = (unsigned long)p, b = a + len;
	char line[512], name[64], link[256];
	const char *mapname = "(none)";
	FILE *m = fopen("/proc/self/maps", "r");
	while (m && fgets(line, sizeof line, m)) {
		if (strtoul(line, NULL, 16) == a) {
			line[strcspn(line, "\n")] = 0;
			mapname = strlen(line) > 73 ? line + 73 : "";
			break;
		}
	}
	printf("%s: maps name \"%s\"", what, mapname);
	if (m)
		fclose(m);
	snprintf(name, sizeof name, "/proc/self/map_files/%lx-%lx", a, b);
	ssize_t n = readlink(name, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	printf(", map_files link %s\n", n > 0 ? link : strerror(errno));
	snprintf(name, sizeof name, "/proc/self/map_files/0%lx-%lx", a, b);
	printf("  leading zero: %s\n", readlink(name, link, sizeof link) < 0 ? strerror(errno) : "found");
}

int main(void)
{
	int zero = open("/dev/zero", O_RDONLY), self = open("/proc/self/exe", O_RDONLY);
	void *z = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, zero, 0);
	void *f = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, self, 0);
	void *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (z == MAP_FAILED || f == MAP_FAILED || s == MAP_FAILED || a == MAP_FAILED)
		return 1;
	show("private /dev/zero", z, 8192);
	char exe[256];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = 0;
	unsigned long fa = (unsigned long)f;
	char name[64], link[256];
	snprintf(name, sizeof name, "/proc/self/map_files/%lx-%lx", fa, fa + 4096);
	n = readlink(name, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	printf("private file: map_files link is the program: %s\n", n > 0 && !strcmp(link, exe) ? "yes" : "no");
	show("shared anonymous", s, 4096);
	show("private anonymous", a, 4096);
	return 0;
}
