/* A shared mapping's page written by one thread while another makes it
 * read-only and writable again, 2000 times: the writer's stores that land
 * in a read-only moment fault (its SIGSEGV handler returns, and the store
 * is made again), the rest go on; the program ends normally. Under
 * kvmcage each downgrade makes KVM forget its translations of the page
 * while the writer's vCPU may be storing to it: that must never refuse
 * the store on the host (a KVM_RUN failing with EFAULT would end the
 * run). MAP_SHARED anonymous memory and a MAP_SHARED file (in argv[1] if
 * given, else /dev/shm). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile int *page;
static volatile int stop;
static volatile unsigned long stores;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code != SEGV_ACCERR || si->si_addr != (void *)page) {
		write(1, "fault elsewhere\n", 16);
		_exit(3);
	}
}

static void *writer(void *arg)
{
	(void)arg;
	while (!stop) {
		*page = 1;
		__atomic_add_fetch(&stores, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int run(const char *what, volatile int *p)
{
	if (p == MAP_FAILED) {
		printf("%s: mmap failed\n", what);
		return 1;
	}
	page = p;
	stop = 0;
	stores = 0;
	pthread_t t;
	pthread_create(&t, NULL, writer, NULL);
	while (__atomic_load_n(&stores, __ATOMIC_RELAXED) < 100)
		;
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		bad |= mprotect((void *)p, 4096, PROT_READ);
		bad |= mprotect((void *)p, 4096, PROT_READ | PROT_WRITE);
	}
	unsigned long before = __atomic_load_n(&stores, __ATOMIC_RELAXED);
	while (__atomic_load_n(&stores, __ATOMIC_RELAXED) < before + 100)
		;
	stop = 1;
	pthread_join(t, NULL);
	printf("%s: 2000 downgrades, mprotect ok: %s, the writer went on: yes, value %d\n", what,
	       bad ? "no" : "yes", *p);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	int r = run("shared anonymous", mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					     MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	char path[256];
	snprintf(path, sizeof path, "%s/shmprotect.%d", argc > 1 ? argv[1] : "/dev/shm", getpid());
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 4096) != 0) {
		printf("shared file: cannot make it\n");
		return 1;
	}
	unlink(path);
	r |= run("shared file", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	return r;
}
