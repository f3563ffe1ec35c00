/* --tmpfs directories: private on the host, capped in size, and removed
 * however kvmcage ends (sandbox only).
 *
 *   tmpfs hold DIR       write DIR/x, print "ready", then read stdin to EOF
 *                        (the test looks at the host directory meanwhile,
 *                        or signals kvmcage) and print "done"
 *   tmpfs fill DIR MIB   write MIB MiB to DIR/f in 64 KiB writes until one
 *                        fails or comes up short; print how far it got (to
 *                        the 64 KiB) and the errno, then hold as above
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "errname.h"

static void hold(void)
{
	char buf[256];
	printf("ready\n");
	fflush(stdout);
	while (read(0, buf, sizeof buf) > 0)
		;
	printf("done\n");
}

int main(int argc, char **argv)
{
	char path[512];
	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "hold")) {
		snprintf(path, sizeof path, "%s/x", argv[2]);
		int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "data\n", 5) != 5) {
			printf("write x: errno %s\n", errname(errno));
			return 1;
		}
		close(fd);
		hold();
		return 0;
	}
	if (!strcmp(argv[1], "fill") && argc > 3) {
		static char buf[1 << 16];
		long want = atol(argv[3]) << 20, done = 0;
		int err = 0;
		memset(buf, 'f', sizeof buf);
		snprintf(path, sizeof path, "%s/f", argv[2]);
		int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		if (fd < 0) {
			printf("open f: errno %s\n", errname(errno));
			return 1;
		}
		while (done < want) {
			long n = write(fd, buf, sizeof buf);
			if (n < 0) {
				err = errno;
				break;
			}
			done += n;
			if (n < (long)sizeof buf) {
				/* A short write: the next one says why. */
				n = write(fd, buf, sizeof buf);
				err = n < 0 ? errno : 0;
				break;
			}
		}
		printf("wrote %ld KiB of %ld: %s\n", done >> 16 << 6, want >> 10,
		       err ? errname(err) : "no error");
		hold();
		return 0;
	}
	return 2;
}
