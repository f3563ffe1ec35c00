/* Fill a --tmpfs past its size through a shared mapping, where no write()
 * is there to check: a 64 MiB sparse file mapped MAP_SHARED and written,
 * then a 256 KiB one that fits. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "errname.h"

static void fill(const char *path, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	say("ftruncate", ftruncate(fd, len));
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	printf("mmap %zu KiB: %s\n", len >> 10, p == MAP_FAILED ? errname(errno) : "ok");
	if (p != MAP_FAILED) {
		memset(p, 1, len);
		printf("written\n");
	}
	close(fd);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	char path[256];
	snprintf(path, sizeof path, "%s/big", dir);
	fill(path, 64 << 20);
	snprintf(path, sizeof path, "%s/small", dir);
	fill(path, 256 << 10);
	return 0;
}
