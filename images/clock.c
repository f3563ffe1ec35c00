/* clock_gettime in a loop: through the vDSO this makes no system call.
 * Prints the realtime clock in ns so a test can compare it with the host. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		clock_gettime(CLOCK_MONOTONIC, &b);
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	int ok = b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec);
	printf("monotonic ok: %d\n", ok);
	fprintf(stderr, "realtime_ns %lld\n", (long long)rt.tv_sec * 1000000000LL + rt.tv_nsec);
	return 0;
}
