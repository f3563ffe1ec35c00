/* Sleeps whose length overflows any host clock arithmetic (sandbox only:
 * natively they never end). Run under --timeout 1: kvmcage must stop the
 * program with status 124, never panic.
 *
 *   sleepmax n   nanosleep({LONG_MAX, 0})
 *   sleepmax c   clock_nanosleep(CLOCK_MONOTONIC, 0, {LONG_MAX, 0})
 *   sleepmax a   clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, {LONG_MAX, 999999999})
 *   sleepmax b   clock_nanosleep(CLOCK_BOOTTIME, 0, {LONG_MAX, 999999999})
 *   sleepmax s   select(0, ..., {LONG_MAX, 999999})
 *   sleepmax p   ppoll(NULL, 0, {LONG_MAX, 999999999}, NULL)
 *   sleepmax e   pselect6(0, ..., {LONG_MAX, 999999999}, NULL)
 * Each prints what the call returned if it ever returns.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "errname.h"

int main(int argc, char **argv)
{
	char op = argc > 1 ? argv[1][0] : 'n';
	struct timespec ts = { LONG_MAX, 0 }, tsn = { LONG_MAX, 999999999 };
	struct timeval tv = { LONG_MAX, 999999 };
	long r;
	printf("sleeping %c\n", op);
	fflush(stdout);
	switch (op) {
	case 'n':
		r = syscall(SYS_nanosleep, &ts, NULL);
		break;
	case 'c':
		r = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
		break;
	case 'a':
		r = syscall(SYS_clock_nanosleep, CLOCK_REALTIME, TIMER_ABSTIME, &tsn, NULL);
		break;
	case 'b':
		r = syscall(SYS_clock_nanosleep, CLOCK_BOOTTIME, 0, &tsn, NULL);
		break;
	case 's':
		r = syscall(SYS_select, 0, NULL, NULL, NULL, &tv);
		break;
	case 'p':
		r = syscall(SYS_ppoll, NULL, 0, &tsn, NULL, 8);
		break;
	case 'e':
		r = syscall(SYS_pselect6, 0, NULL, NULL, NULL, &tsn, NULL);
		break;
	default:
		return 2;
	}
	check("returned", r);
	return 0;
}
