/* dup() until EMFILE under a soft RLIMIT_NOFILE of 256: then closes
 * them all again. Counts descriptors inherited at start (a test runner may
 * pass some), so the total is the same everywhere. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
int main(void)
{
	struct rlimit rl = { 256, 256 };
	printf("setrlimit: %d\n", setrlimit(RLIMIT_NOFILE, &rl));
	int inherited = 0;
	for (int i = 0; i < 256; i++)
		inherited += fcntl(i, F_GETFD) >= 0;
	int n = 0, fd;
	while ((fd = dup(1)) >= 0)
		n++;
	printf("open before failure: %d, errno %s\n", inherited + n, strerror(errno));
	printf("dup2 to 256: %d %s\n", dup2(1, 256), strerror(errno));
	int closed = 0;
	for (int i = 3; i < 256; i++)
		closed += close(i) == 0;
	printf("closed all above 2: %d, dup again: %d\n", closed == inherited + n - 3, dup(1));
	/* 100,000 opens without closing: the first ones succeed up to the
	 * limit, every later one is EMFILE. */
	int opened = 0, emfile = 0;
	for (int i = 0; i < 100000; i++) {
		int f = open("/dev/null", O_RDONLY);
		if (f >= 0)
			opened++;
		else if (errno == EMFILE)
			emfile++;
	}
	printf("100000 opens: %d open at the limit, %d EMFILE\n", 4 + opened, emfile);
	return 0;
}
