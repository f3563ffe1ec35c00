/* Bad pointers to read/write/uname/clock_gettime give -EFAULT, as Linux. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static void show(const char *what, long r)
{
	printf("%-34s = %ld", what, r);
	if (r < 0)
		printf(" (%s)", strerror(errno));
	printf("\n");
	errno = 0;
}
int main(void)
{
	show("write(1, 0x1, 10)", syscall(SYS_write, 1, (void *)1, 10));
	show("write(1, NULL, 0)", syscall(SYS_write, 1, NULL, 0));
	show("write(1, kernel half, 10)", syscall(SYS_write, 1, (void *)0xffff800000000000UL, 10));
	show("write(1, non-canonical, 10)", syscall(SYS_write, 1, (void *)0x0000800000000000UL, 10));
	show("write(1, top of user, 4096)", syscall(SYS_write, 1, (void *)0x7ffffffff000UL, 4096));
	show("write(1, wrap, -1)", syscall(SYS_write, 1, (void *)0x1000, (size_t)-1));
	show("read(0, NULL, 10)", syscall(SYS_read, 0, NULL, 10));
	show("uname(NULL)", syscall(SYS_uname, NULL));
	show("clock_gettime(0, 0x10)", syscall(SYS_clock_gettime, 0, (void *)0x10));
	show("write(-1, buf, 1)", syscall(SYS_write, -1, "x", 1));
	show("write(1<<32 | 1, buf, 0)", syscall(SYS_write, (1UL << 32) | 1, "x", 0));
	show("syscall 1000", syscall(1000));
	show("syscall -1", syscall(-1L));
	show("syscall x32 write", syscall(0x40000001L, 1, "x", 1));
	return 0;
}
