/* Calls that block forever, for --timeout: natively `timeout 1 blockers MODE`
 * exits 124, and under `kvmcage run --timeout 1` so must it. Each call is
 * made through syscall() so the named syscall is the one that blocks.
 *
 *   futex       FUTEX_WAIT_PRIVATE on a word holding the expected value, no timeout
 *   sleep       nanosleep({INT64_MAX, 0})
 *   read        read from an empty pipe whose write end stays open
 *   pause       pause()
 *   sigsuspend  rt_sigsuspend with an empty mask; no signal ever comes
 *   poll        poll(POLLIN) on that pipe with timeout -1
 *
 * If a call ever returns, the program says what it returned and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int word = 7;

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int fds[2];
	char buf[16];
	long r;
	if (pipe(fds) != 0)
		return 1;
	printf("blocking in %s\n", mode);
	fflush(stdout);
	if (strcmp(mode, "futex") == 0) {
		r = syscall(SYS_futex, &word, 128 /* FUTEX_WAIT_PRIVATE */, 7, NULL, NULL, 0);
	} else if (strcmp(mode, "sleep") == 0) {
		struct timespec ts = { INT64_MAX, 0 };
		r = syscall(SYS_nanosleep, &ts, NULL);
	} else if (strcmp(mode, "read") == 0) {
		r = syscall(SYS_read, fds[0], buf, sizeof buf);
	} else if (strcmp(mode, "pause") == 0) {
		r = syscall(SYS_pause);
	} else if (strcmp(mode, "sigsuspend") == 0) {
		uint64_t empty = 0;
		r = syscall(SYS_rt_sigsuspend, &empty, sizeof empty);
	} else if (strcmp(mode, "poll") == 0) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		r = syscall(SYS_poll, &p, 1, -1);
	} else {
		fprintf(stderr, "usage: blockers futex|sleep|read|pause|sigsuspend|poll\n");
		return 2;
	}
	printf("%s returned %ld (errno %d)\n", mode, r, r < 0 ? errno : 0);
	return 0;
}
