/* exit(N) from argv[1]; "ret N" returns N from main; "big" exits 256+7. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "ret") == 0)
		return atoi(argv[2]);
	if (argc > 1 && strcmp(argv[1], "big") == 0)
		_exit(256 + 7);
	exit(argc > 1 ? atoi(argv[1]) : 0);
}
