/* /proc/self/auxv and /proc/stat, as programs read them:
 *   auxv: (type, value) pairs ending in AT_NULL, every one equal to what
 *         getauxval() says (but AT_HWCAP, which static glibc rewrites),
 *         with the entries the loader must give;
 *   stat: "cpu " and "cpu0" lines of at least 8 numbers, btime in the
 *         past, processes and procs_running at least 1.
 * Only properties are printed, never values.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

static long slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = 0;
	return n;
}

static void auxv(void)
{
	static unsigned long v[512];
	long n = slurp("/proc/self/auxv", (char *)v, sizeof v);
	printf("auxv readable: %s\n", n > 0 ? "yes" : "no");
	if (n <= 0)
		return;
	printf("auxv whole pairs: %s\n", n % 16 == 0 ? "yes" : "no");
	long pairs = n / 16;
	int match = 1, ended = 0, seen_pagesz = 0, seen_random = 0, seen_execfn = 0,
	    seen_phdr = 0, seen_entry = 0;
	for (long i = 0; i < pairs; i++) {
		unsigned long type = v[2 * i], val = v[2 * i + 1];
		if (type == AT_NULL) {
			ended = i == pairs - 1;
			break;
		}
		/* static glibc's getauxval(AT_HWCAP) is its own rewrite of it */
		if (type != AT_HWCAP && getauxval(type) != val)
			match = 0;
		seen_pagesz |= type == AT_PAGESZ && val == 4096;
		seen_random |= type == AT_RANDOM;
		seen_execfn |= type == AT_EXECFN;
		seen_phdr |= type == AT_PHDR;
		seen_entry |= type == AT_ENTRY;
	}
	printf("auxv ends with AT_NULL: %s\n", ended ? "yes" : "no");
	printf("auxv equals getauxval: %s\n", match ? "yes" : "no");
	printf("auxv has AT_PAGESZ 4096, AT_RANDOM, AT_EXECFN, AT_PHDR, AT_ENTRY: %s\n",
	       seen_pagesz && seen_random && seen_execfn && seen_phdr && seen_entry ? "yes"
										    : "no");
}

static int numbers(const char *line)
{
	int count = 0;
	const char *p = strchr(line, ' ');
	while (p && *p) {
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		strtoull(p, (char **)&p, 10);
		count++;
	}
	return count;
}

static void stat(void)
{
	static char buf[65536];
	long n = slurp("/proc/stat", buf, sizeof buf);
	printf("stat readable: %s\n", n > 0 ? "yes" : "no");
	if (n <= 0)
		return;
	int cpu = 0, cpu0 = 0, btime = 0, procs = 0, running = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "cpu ", 4))
			cpu = numbers(line) >= 8;
		else if (!strncmp(line, "cpu0 ", 5))
			cpu0 = numbers(line) >= 8;
		else if (!strncmp(line, "btime ", 6)) {
			long long t = atoll(line + 6);
			btime = t > 0 && t <= (long long)time(NULL);
		} else if (!strncmp(line, "processes ", 10))
			procs = atoll(line + 10) >= 1;
		else if (!strncmp(line, "procs_running ", 14))
			running = atoll(line + 14) >= 1;
	}
	printf("stat cpu line: %s\n", cpu ? "yes" : "no");
	printf("stat cpu0 line: %s\n", cpu0 ? "yes" : "no");
	printf("stat btime in the past: %s\n", btime ? "yes" : "no");
	printf("stat processes, procs_running: %s\n", procs && running ? "yes" : "no");
}

int main(void)
{
	auxv();
	stat();
	return 0;
}
