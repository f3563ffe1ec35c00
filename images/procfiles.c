/* /proc/self/auxv and /proc/stat, as programs read them:
 *   auxv: (type, value) pairs ending in AT_NULL, every one equal to what
 *         getauxval() says (but AT_HWCAP, which static glibc rewrites),
 *         with the entries the loader must give;
 *   stat: "cpu " and "cpu0" lines of at least 8 numbers, btime in the
 *         past, processes and procs_running at least 1;
 *   cpuinfo: one "processor" block per online CPU (sysconf), the model
 *         name and family of the `cpuid` instruction, and the flags of
 *         the features cpuid reports (sse2, ssse3, sse4_2, avx, avx2).
 * Only properties are printed, never values.
 */
#include <cpuid.h>
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

/* Is `flag` a whole word of the flags line? */
static int has_flag(const char *flags, const char *flag)
{
	size_t n = strlen(flag);
	for (const char *p = strstr(flags, flag); p; p = strstr(p + 1, flag))
		if (p[-1] == ' ' && (p[n] == ' ' || p[n] == 0 || p[n] == '\n'))
			return 1;
	return 0;
}

static void cpuinfo(void)
{
	static char buf[1 << 20];
	long n = slurp("/proc/cpuinfo", buf, sizeof buf);
	printf("cpuinfo readable: %s\n", n > 0 ? "yes" : "no");
	if (n <= 0)
		return;
	unsigned a, b, c, d, brand[12];
	for (unsigned i = 0; i < 3; i++)
		__cpuid(0x80000002 + i, brand[4 * i], brand[4 * i + 1], brand[4 * i + 2],
			brand[4 * i + 3]);
	char name[49];
	memcpy(name, brand, 48);
	name[48] = 0;
	char *nm = name;
	while (*nm == ' ')
		nm++;
	for (char *e = nm + strlen(nm); e > nm && e[-1] == ' ';)
		*--e = 0;
	__cpuid(1, a, b, c, d);
	unsigned family = (a >> 8) & 0xf;
	if (family == 0xf)
		family += (a >> 20) & 0xff;
	int processors = 0, name_ok = 1, family_ok = 1, flags_ok = 1, lines = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *v = strchr(line, ':');
		if (!v)
			continue;
		v += v[1] == ' ' ? 2 : 1;
		lines++;
		if (!strncmp(line, "processor\t", 10))
			processors++;
		else if (!strncmp(line, "model name\t", 11))
			name_ok &= !strcmp(v, nm);
		else if (!strncmp(line, "cpu family\t", 11))
			family_ok &= (unsigned)atoi(v) == family;
		else if (!strncmp(line, "flags\t", 6)) {
			__builtin_cpu_init();
			flags_ok &= has_flag(v, "sse2") == !!__builtin_cpu_supports("sse2");
			flags_ok &= has_flag(v, "ssse3") == !!__builtin_cpu_supports("ssse3");
			flags_ok &= has_flag(v, "sse4_2") == !!__builtin_cpu_supports("sse4.2");
			flags_ok &= has_flag(v, "avx") == !!__builtin_cpu_supports("avx");
			flags_ok &= has_flag(v, "avx2") == !!__builtin_cpu_supports("avx2");
		}
	}
	printf("cpuinfo processors = online CPUs: %s\n",
	       processors == sysconf(_SC_NPROCESSORS_ONLN) ? "yes" : "no");
	printf("cpuinfo model name and family as cpuid: %s\n", name_ok && family_ok ? "yes" : "no");
	printf("cpuinfo flags as cpuid: %s\n", flags_ok && lines > 10 ? "yes" : "no");
}

int main(void)
{
	auxv();
	stat();
	cpuinfo();
	return 0;
}
