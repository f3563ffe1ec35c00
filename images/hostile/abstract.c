/* Connect to the abstract AF_UNIX name argv[1] (without its leading NUL)
 * and to the path argv[2] if given, and print what each gave. Run against a
 * socket the host listens on: natively both connect; in the sandbox the
 * abstract name is the sandbox's own (ECONNREFUSED) and the path is not in
 * the view (ENOENT). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "errname.h"

static void try(const char *what, const char *name, int abstract)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	size_t n = strlen(name);
	if (n > sizeof sa.sun_path - 1)
		n = sizeof sa.sun_path - 1;
	memcpy(sa.sun_path + abstract, name, n);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	int r = connect(s, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + abstract + n);
	say(what, r);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		try("connect abstract", argv[1], 1);
	if (argc > 2)
		try("connect path", argv[2], 0);
	return 0;
}
