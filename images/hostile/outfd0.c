/* Output through descriptor 0: when stdin, stdout and stderr are one
 * read-write description (a terminal), writes to fd 0 reach the same
 * terminal, so --max-output must count them (sandbox only).
 *
 *   outfd0 [FD]   writes 4 MiB to FD (default 0) in 4 KiB writes, no newline;
 *                 the test runs it with a pty as stdin, stdout and stderr and
 *                 --max-output 65536, and requires status 124 and at most
 *                 65536 + 4096 bytes on the pty. Also dup(0) and /dev/stdin
 *                 as writers: "dup", "devstdin", "procfd" (/proc/self/fd/0).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[4096];
	const char *how = argc > 1 ? argv[1] : "0";
	int fd;
	memset(buf, 'x', sizeof buf);
	if (!strcmp(how, "dup"))
		fd = dup(0);
	else if (!strcmp(how, "devstdin"))
		fd = open("/dev/stdin", O_WRONLY);
	else if (!strcmp(how, "procfd"))
		fd = open("/proc/self/fd/0", O_WRONLY);
	else
		fd = atoi(how);
	if (fd < 0)
		return 3;
	for (int i = 0; i < 1024; i++)
		if (write(fd, buf, sizeof buf) != sizeof buf)
			return 4;
	return 0;
}
