/* argv, envp and getenv as the program sees them. */
#include <stdio.h>
#include <stdlib.h>
extern char **environ;
int main(int argc, char **argv)
{
	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	int n = 0;
	for (char **e = environ; *e; e++, n++)
		printf("env: %s\n", *e);
	printf("envc=%d\n", n);
	const char *v = getenv("KVMCAGE_TEST");
	printf("getenv(KVMCAGE_TEST)=%s\n", v ? v : "(null)");
	return 0;
}
