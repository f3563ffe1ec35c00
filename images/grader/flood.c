/* Writes 64-byte lines to stdout forever (for --max-output). */
#include <unistd.h>
int main(void)
{
	static const char line[] =
		"flood flood flood flood flood flood flood flood flood flood ..\n";
	for (;;)
		write(1, line, sizeof line - 1);
}
