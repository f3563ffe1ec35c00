/* Spins forever without a syscall (for --timeout and --cpu-time). */
int main(void)
{
	volatile unsigned long n = 0;
	for (;;)
		n++;
}
