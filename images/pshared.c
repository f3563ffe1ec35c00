/* Futexes across processes: a process-shared mutex, condition variable
 * and semaphore in a MAP_SHARED anonymous mapping made before fork. Two
 * processes increment one counter under the mutex (the total must be
 * exact), the parent waits on the condition variable until the child
 * sets a flag, and each waits on a semaphore the other posts. A private
 * futex on the same address in each process stays private (a wake in one
 * reaches no waiter of the other). */
#include <errno.h>
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 20000

struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sem_t to_child, to_parent;
	long counter;
	int flag;
};

static int private_word;

int main(void)
{
	struct shared *s = mmap(0, sizeof *s, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return 1;
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&s->mu, &ma);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
	pthread_cond_init(&s->cv, &ca);
	sem_init(&s->to_child, 1, 0);
	sem_init(&s->to_parent, 1, 0);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		for (int i = 0; i < ROUNDS; i++) {
			pthread_mutex_lock(&s->mu);
			s->counter++;
			pthread_mutex_unlock(&s->mu);
		}
		/* The parent waits on the semaphore first. */
		sem_post(&s->to_parent);
		sem_wait(&s->to_child);
		pthread_mutex_lock(&s->mu);
		s->flag = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		/* A private wake on the address the parent waits on privately. */
		int woke = (int)syscall(SYS_futex, &private_word,
					FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
		_exit(woke == 0 ? 0 : 3);
	}
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&s->mu);
		s->counter++;
		pthread_mutex_unlock(&s->mu);
	}
	sem_wait(&s->to_parent);
	printf("1 semaphore: the child's post woke the parent: yes\n");
	sem_post(&s->to_child);
	pthread_mutex_lock(&s->mu);
	while (!s->flag)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	printf("2 condition: the parent saw the child's flag: yes\n");
	/* A private wait with a timeout: the child's private wake is not ours. */
	struct timespec ts = {0, 200 * 1000 * 1000};
	long r = syscall(SYS_futex, &private_word, FUTEX_WAIT_PRIVATE, 0, &ts, 0, 0);
	printf("3 private: wait ended by %s\n",
	       r == -1 && errno == ETIMEDOUT ? "its timeout" : "a wake");
	int st;
	waitpid(c, &st, 0);
	printf("4 mutex: counter %ld of %d; child exit %d\n", s->counter, 2 * ROUNDS,
	       WEXITSTATUS(st));
	printf("pshared: done\n");
	return 0;
}
