/* A descriptor number near RLIMIT_NOFILE must not cost the host memory in
 * proportion to the number (sandbox only: natively the limit is usually
 * lower). Run under --max-fds 1048576; the test checks kvmcage's peak RSS.
 *
 * dup2(0, 1000000) works and returns 1000000; the descriptor is usable and
 * closes; fcntl(F_DUPFD) from there finds the next free number; dup2 to the
 * limit itself is EBADF.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#include "errname.h"

int main(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("limit: %lu\n", (unsigned long)rl.rlim_cur);
	ret("dup2 1000000", dup2(1, 1000000));
	ret("write 1000000", write(1000000, "via 1000000\n", 12));
	ret("F_DUPFD 999999", fcntl(1, F_DUPFD, 999999));
	ret("F_DUPFD 1000000", fcntl(1, F_DUPFD, 1000000));
	ret("dup2 1048575", dup2(1, 1048575));
	ret("dup2 1048576", dup2(1, 1048576));
	ret("close 1000000", close(1000000));
	ret("close 1000001", close(1000001));
	ret("close 1048575", close(1048575));
	ret("close 999999", close(999999));
	ret("fcntl 1000000", fcntl(1000000, F_GETFD));
	ret("dup", dup(1));
	return 0;
}
