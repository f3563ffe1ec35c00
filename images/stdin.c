/* Copies stdin to stdout with read/write, then reports the byte count:
 * stdin passes through, and a read blocks until input or EOF. */
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	char buf[1000];
	long total = 0;
	ssize_t n;
	while ((n = read(0, buf, sizeof buf)) > 0) {
		write(1, buf, n);
		total += n;
	}
	printf("read %ld bytes, last result %zd\n", total, n);
	return 0;
}
