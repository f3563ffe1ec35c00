/* Fork children that wait (in a read of a pipe nobody writes, so they
 * also end if this process dies) until fork fails or a cap is reached
 * (10000, or argv[1]); then SIGKILL each one, reap them all (each must
 * have died of SIGKILL), and fork once more: the limit counts live
 * processes, so there is room again. Prints how many forks succeeded and
 * what stopped them. Under a process limit of N for the user (natively
 * `ulimit -u N` as a user with no other processes; RLIMIT_NPROC is not
 * enforced for root), N-1 forks and then EAGAIN; with argv[1] = M below
 * any limit, "forked M, then no error (the cap)". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long cap = 10000;
	if (argc > 1)
		cap = atol(argv[1]);
	if (cap < 0)
		cap = 0;
	pid_t *pids = malloc(((size_t)cap + 1) * sizeof *pids);
	int fds[2];
	if (!pids || pipe(fds) != 0) {
		perror("setup");
		return 2;
	}
	signal(SIGCHLD, SIG_DFL); /* children must wait to be reaped */
	fflush(stdout);
	long n = 0;
	int err = 0;
	for (; n < cap; n++) {
		pid_t p = fork();
		if (p < 0) {
			err = errno;
			break;
		}
		if (p == 0) {
			char c;
			close(fds[1]);
			/* Blocks until killed; EOF if the parent is gone. */
			while (read(fds[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		pids[n] = p;
	}
	if (err)
		printf("forked %ld, then %s\n", n, err == EAGAIN ? "EAGAIN" : strerror(err));
	else
		printf("forked %ld, then no error (the cap)\n", n);
	printf("fork failed with EAGAIN: %s\n", err == EAGAIN ? "yes" : "no");
	fflush(stdout);

	long killed = 0, reaped = 0;
	for (long i = 0; i < n; i++)
		if (kill(pids[i], SIGKILL) == 0)
			killed++;
	for (long i = 0; i < n; i++) {
		int st;
		pid_t r;
		while ((r = waitpid(pids[i], &st, 0)) < 0 && errno == EINTR)
			;
		if (r == pids[i] && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			reaped++;
	}
	printf("killed all: %s\n", killed == n ? "yes" : "no");
	printf("reaped all: %s\n", reaped == n ? "yes" : "no");
	errno = 0;
	int st;
	printf("no children left: %s\n", wait(&st) == -1 && errno == ECHILD ? "yes" : "no");

	/* The limit counts live processes: after the reaping there is room. */
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		_exit(7);
	int again = p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 7;
	printf("after reaping: fork works: %s\n", again ? "yes" : "no");
	return 0;
}
