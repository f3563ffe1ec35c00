/* mlock, mlock2, munlock, mlockall, munlockall within RLIMIT_MEMLOCK (the
 * same answers for root and for an unprivileged user): VmLck in
 * /proc/self/status as ranges are locked, split, unlocked; the errors
 * (EINVAL flags, ENOMEM for an unmapped range); and past the limit, run as
 * a user without CAP_IPC_LOCK ("limit" argument: the lines depend on
 * privilege, so tests compare them with the sandbox's uid). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "hostile/errname.h"

#define PG 4096

static long vmlck(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmLck:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	long base = vmlck();
	printf("VmLck at start: %ld kB\n", base);
	char *p = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	say("mlock 4 pages", mlock(p + PG, 4 * PG));
	printf("VmLck: +%ld kB\n", vmlck() - base);
	say("mlock unaligned, rounded", mlock(p + 5 * PG + 10, 10));
	printf("VmLck: +%ld kB\n", vmlck() - base);
	say("munlock the middle page", munlock(p + 2 * PG, PG));
	printf("VmLck: +%ld kB\n", vmlck() - base);
	say("mlock2 MLOCK_ONFAULT", syscall(SYS_mlock2, p, PG, 1));
	printf("VmLck: +%ld kB\n", vmlck() - base);
	say("mlock2 bad flag", syscall(SYS_mlock2, p, PG, 2));
	say("mlock length 0", mlock(p, 0));
	say("munlock all 8", munlock(p, 8 * PG));
	printf("VmLck: +%ld kB\n", vmlck() - base);
	munmap(p + 4 * PG, PG);
	say("mlock over a hole", mlock(p, 8 * PG));
	say("munlock over a hole", munlock(p, 8 * PG));
	printf("VmLck after the failures: +%ld kB\n", vmlck() - base);
	say("mlock of a locked, then unmapped range", mlock(p, PG));
	munmap(p, PG);
	printf("VmLck after munmap: +%ld kB\n", vmlck() - base);
	say("mlockall 0", mlockall(0));
	say("mlockall MCL_ONFAULT alone", mlockall(MCL_ONFAULT));
	say("mlockall bad flag", mlockall(0x100));
	say("munlockall", munlockall());
	printf("VmLck: %ld kB\n", vmlck());
	if (argc > 1 && !strcmp(argv[1], "limit")) {
		struct rlimit r = {64 * 1024, 64 * 1024};
		say("RLIMIT_MEMLOCK 64 KiB", setrlimit(RLIMIT_MEMLOCK, &r));
		char *q = mmap(NULL, 32 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		say("mlock 16 pages", mlock(q, 16 * PG));
		say("mlock 17 pages", mlock(q, 17 * PG));
		say("mlockall MCL_CURRENT", mlockall(MCL_CURRENT));
		say("mlockall MCL_FUTURE", mlockall(MCL_FUTURE));
		void *big = mmap(NULL, 64 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		printf("mmap past the limit under MCL_FUTURE: %s\n",
		       big == MAP_FAILED ? errname(errno) : "ok");
		munlockall();
		r.rlim_cur = r.rlim_max = 0;
		say("RLIMIT_MEMLOCK 0", setrlimit(RLIMIT_MEMLOCK, &r));
		say("mlock with limit 0", mlock(q, PG));
	}
	printf("done\n");
	return 0;
}
