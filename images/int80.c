/* The i386 system call ABI from 64-bit code: int $0x80 with the number in
 * EAX and arguments in EBX, ECX, EDX. Pointers must be below 4 GiB: a
 * stack buffer is not, so that write is EFAULT, as on Linux. */
#include <stdio.h>
static char msg[] = "written by int 0x80\n";
static long int80(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return r;
}
int main(void)
{
	char stack_msg[] = "never\n";
	fflush(stdout);
	long r = int80(4 /* write */, 1, (long)msg, sizeof msg - 1);
	printf("int80 write static buffer: %ld\n", r);
	r = int80(4, 1, (long)stack_msg, sizeof stack_msg - 1);
	printf("int80 write stack buffer (above 4 GiB): %ld\n", r);
	printf("int80 getpid > 0: %d\n", int80(20, 0, 0, 0) > 0);
	printf("int80 bad number: %ld\n", int80(100000, 0, 0, 0));
	fflush(stdout);
	int80(1 /* exit */, 42, 0, 0);
	return 0;
}
