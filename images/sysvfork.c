/* System V IPC across fork: a segment attached before fork is the same
 * memory in both processes (and one more attachment); semaphores and a
 * message queue made by the parent pass work between the two, each side
 * blocking until the other acts; a second attachment in the child sees
 * the same bytes; the child's exit takes its attachments away. */
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

struct msg {
	long type;
	char text[32];
};

static void sem_add(int sem, int n, int v)
{
	struct sembuf op = {(unsigned short)n, (short)v, 0};
	if (semop(sem, &op, 1) != 0)
		perror("semop");
}

int main(void)
{
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	int *p = shmat(id, 0, 0);
	int sem = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	if (id < 0 || p == (void *)-1 || sem < 0 || q < 0) {
		perror("setup");
		return 1;
	}
	*p = 1;
	struct shmid_ds ds;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		*p = 2;
		sem_add(sem, 1, 1);  /* written */
		sem_add(sem, 0, -1); /* wait for the parent */
		struct msg m = {7, "from the child"};
		msgsnd(q, &m, sizeof m.text, 0);
		int *p2 = shmat(id, 0, 0);
		printf("2 child: a second attachment sees %d, the parent's %d\n", p2[0], p2[1]);
		fflush(stdout);
		_exit(0);
	}
	shmctl(id, IPC_STAT, &ds);
	printf("1 parent: attachments after fork: %ld\n", (long)ds.shm_nattch);
	sem_add(sem, 1, -1); /* wait until the child wrote */
	printf("1 parent: sees the child's write: %d\n", *p);
	p[1] = 3;
	fflush(stdout);
	sem_add(sem, 0, 1);
	struct msg m;
	ssize_t n = msgrcv(q, &m, sizeof m.text, 0, 0);
	int st;
	waitpid(c, &st, 0);
	printf("3 parent: got %zd bytes of type %ld: %s\n", n, m.type, m.text);
	shmctl(id, IPC_STAT, &ds);
	printf("3 parent: child exit %d, attachments left: %ld\n", WEXITSTATUS(st),
	       (long)ds.shm_nattch);
	shmctl(id, IPC_RMID, 0);
	semctl(sem, 0, IPC_RMID);
	msgctl(q, IPC_RMID, 0);
	printf("sysvfork: done\n");
	return 0;
}
