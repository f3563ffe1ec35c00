/* exit() from one thread ends the whole process (exit_group) while three
 * others spin (with sched_yield, so one CPU is enough) and main is blocked
 * in pthread_join: "started", then status 7. The exiting thread first waits
 * until every spinner has gone round its loop, so all are really running. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_barrier_t bar;
static volatile unsigned long spins[3];

static void *spinner(void *arg)
{
	intptr_t me = (intptr_t)arg;
	pthread_barrier_wait(&bar);
	for (;;) {
		__atomic_add_fetch(&spins[me], 1, __ATOMIC_RELAXED);
		sched_yield();
	}
	return NULL;
}

static void *exiter(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&bar);
	for (int i = 0; i < 3; i++)
		while (__atomic_load_n(&spins[i], __ATOMIC_RELAXED) < 100)
			sched_yield();
	puts("started");
	exit(7); /* flushes stdout */
}

int main(void)
{
	pthread_t t[4];
	pthread_barrier_init(&bar, NULL, 4);
	for (intptr_t i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, spinner, (void *)i);
	pthread_create(&t[3], NULL, exiter, NULL);
	pthread_join(t[3], NULL);
	puts("join returned");
	return 1;
}
