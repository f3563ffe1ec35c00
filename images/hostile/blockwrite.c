/* Writes that block forever (sandbox only: natively they never end, so the
 * test only runs them under kvmcage --timeout 1, which must stop each with
 * status 124 within seconds: a blocked host call is no way around the
 * timeout).
 *
 *   blockwrite pipe      pipe(), then one 1 MiB write into it; nobody reads
 *   blockwrite zero      fill a pipe, then sendfile from /dev/zero into it
 *   blockwrite file DIR  fill a pipe, then sendfile from a 64 KiB file made in
 *                        DIR (a --tmpfs) into it
 *   blockwrite stdout    write to stdout forever (the test never reads it)
 *   blockwrite stdoutv   the same with writev
 *   blockwrite stdoutsf DIR
 *                        the same with sendfile from a 64 KiB file in DIR
 * Each prints what the call returned if it ever returns, and exits 0.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>
#include "errname.h"

/* A pipe whose buffer is full: the next blocking write waits forever. */
static void full_pipe(int p[2])
{
	static char buf[4096];
	pipe(p);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	while (write(p[1], buf, sizeof buf) > 0)
		;
	fcntl(p[1], F_SETFL, 0);
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "pipe";
	int p[2];
	if (!strcmp(op, "pipe")) {
		size_t n = 1 << 20;
		char *buf = calloc(1, n);
		pipe(p);
		printf("writing\n");
		fflush(stdout);
		ret("write 1 MiB", write(p[1], buf, n));
	} else if (!strcmp(op, "zero")) {
		full_pipe(p);
		int z = open("/dev/zero", O_RDONLY);
		printf("sendfile\n");
		fflush(stdout);
		ret("sendfile /dev/zero", sendfile(p[1], z, NULL, 1 << 16));
	} else if (!strcmp(op, "file") && argc > 2) {
		static char buf[1 << 16];
		char path[512];
		snprintf(path, sizeof path, "%s/src", argv[2]);
		int f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
		write(f, buf, sizeof buf);
		full_pipe(p);
		printf("sendfile\n");
		fflush(stdout);
		ret("sendfile file", sendfile(p[1], f, &(off_t){ 0 }, sizeof buf));
	} else if (!strcmp(op, "stdout")) {
		static char buf[1 << 16];
		memset(buf, 'x', sizeof buf);
		for (;;)
			if (write(1, buf, sizeof buf) < 0) {
				fprintf(stderr, "write: errno %s\n", errname(errno));
				return 0;
			}
	} else if (!strcmp(op, "stdoutv")) {
		static char buf[1 << 16];
		memset(buf, 'x', sizeof buf);
		struct iovec iov[2] = { { buf, sizeof buf / 2 }, { buf, sizeof buf / 2 } };
		for (;;)
			if (writev(1, iov, 2) < 0) {
				fprintf(stderr, "writev: errno %s\n", errname(errno));
				return 0;
			}
	} else if (!strcmp(op, "stdoutsf") && argc > 2) {
		static char buf[1 << 16];
		char path[512];
		memset(buf, 'x', sizeof buf);
		snprintf(path, sizeof path, "%s/src", argv[2]);
		int f = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
		write(f, buf, sizeof buf);
		for (;;)
			if (sendfile(1, f, &(off_t){ 0 }, sizeof buf) < 0) {
				fprintf(stderr, "sendfile: errno %s\n", errname(errno));
				return 0;
			}
	} else {
		return 2;
	}
	return 0;
}
