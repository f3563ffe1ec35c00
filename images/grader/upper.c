/* Echoes stdin to stdout in upper case, then the byte count to stderr. */
#include <ctype.h>
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	char buf[4096];
	long total = 0;
	ssize_t n;
	while ((n = read(0, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			buf[i] = toupper((unsigned char)buf[i]);
		write(1, buf, n);
		total += n;
	}
	fprintf(stderr, "upper: %ld bytes\n", total);
	return 0;
}
