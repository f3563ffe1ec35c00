/* System V IPC, one process:
 *   shm: shmget (private and keyed, EINVAL/ENOENT/EEXIST), shmat twice
 *     (aliasing), SHM_RDONLY, SHM_RND, SHM_REMAP, shmdt, IPC_STAT fields,
 *     IPC_SET, IPC_RMID while attached (SHM_DEST, attach still allowed,
 *     gone after the last detach);
 *   sem: semget, SETVAL/GETVAL/SETALL/GETALL/GETPID/GETNCNT/GETZCNT,
 *     semop (atomic multi-op, IPC_NOWAIT, SEM_UNDO, EFBIG, ERANGE),
 *     semtimedop timing out, IPC_STAT, IPC_RMID;
 *   msg: msgsnd/msgrcv by type (0, exact, negative, MSG_EXCEPT),
 *     MSG_NOERROR, E2BIG, ENOMSG, msg_qbytes lowered with IPC_SET, IPC_RMID.
 * The host's IPC namespace is shared: keyed objects use a fixed unlikely
 * key, removed first and at the end; ids, pids and times are never
 * printed, only compared. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hostile/errname.h"

#define PG 4096
#define KEY ((key_t)0x6b766d63)
#ifndef SHM_REMAP
#define SHM_REMAP 040000
#endif
#ifndef SHM_DEST
#define SHM_DEST 01000
#endif
#ifndef MSG_EXCEPT
#define MSG_EXCEPT 020000
#endif
#ifdef __GLIBC__
#define PERM_KEY(p) ((p).__key)
#else
#define PERM_KEY(p) ((p).__ipc_perm_key)
#endif

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static sigjmp_buf jb;
static void on_fault(int sig)
{
	siglongjmp(jb, sig);
}
/* Write one byte, reporting the signal that stops the access. */
static const char *poke(volatile char *p, char c)
{
	int sig = sigsetjmp(jb, 1);
	if (sig == 0) {
		*p = c;
		return "ok";
	}
	return sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : "signal";
}

static const char *attached(void *p)
{
	static char buf[32];
	if (p != (void *)-1)
		return "ok";
	snprintf(buf, sizeof buf, "-1 %s", errname(errno));
	return buf;
}

static void stat_shm(int id)
{
	struct shmid_ds ds;
	memset(&ds, 0, sizeof ds);
	if (shmctl(id, IPC_STAT, &ds) < 0) {
		say("shmctl IPC_STAT", -1);
		return;
	}
	printf("shm: segsz %lu, nattch %lu, mode %o, dest %d, key %#x, cpid %d, lpid %d, "
	       "uid %d, cuid %d\n",
	       (unsigned long)ds.shm_segsz, (unsigned long)ds.shm_nattch,
	       ds.shm_perm.mode & 0777, (ds.shm_perm.mode & SHM_DEST) != 0,
	       (unsigned)PERM_KEY(ds.shm_perm), ds.shm_cpid == getpid(), ds.shm_lpid == getpid(),
	       ds.shm_perm.uid == geteuid(), ds.shm_perm.cuid == geteuid());
}

static void remove_leftovers(void)
{
	int id = shmget(KEY, 0, 0);
	if (id >= 0)
		shmctl(id, IPC_RMID, NULL);
	id = semget(KEY, 0, 0);
	if (id >= 0)
		semctl(id, 0, IPC_RMID);
	id = msgget(KEY, 0);
	if (id >= 0)
		msgctl(id, IPC_RMID, NULL);
}

static void shm(void)
{
	int id = shmget(IPC_PRIVATE, 2 * PG, IPC_CREAT | 0600);
	say("shmget private", id < 0 ? -1 : 0);
	if (id < 0)
		return;
	stat_shm(id);
	char *a = shmat(id, NULL, 0);
	char *b = shmat(id, NULL, 0);
	printf("shmat: %s, %s, different: %d\n", attached(a), attached(b), a != b);
	if (a == (void *)-1 || b == (void *)-1)
		return;
	int zero = 1;
	for (int i = 0; i < 2 * PG; i++)
		zero &= a[i] == 0;
	printf("zero-filled: %d\n", zero);
	memcpy(a + PG, "sysv shm", 8);
	b[5] = '!';
	printf("aliases: %.8s %c\n", b + PG, a[5]);
	stat_shm(id);
	char *ro = shmat(id, NULL, SHM_RDONLY);
	printf("shmat SHM_RDONLY: %s, reads: %.8s, write: %s\n", attached(ro), ro + PG,
	       poke(ro, 'x'));
	say("shmdt read-only", shmdt(ro));
	say("shmdt", shmdt(b));
	say("shmdt again", shmdt(b));
	say("shmdt unaligned", shmdt(a + 1));
	stat_shm(id);

	/* attach addresses: SHM_RND rounds down to SHMLBA; a used range needs
	 * SHM_REMAP */
	char *hole = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, 4 * PG);
	printf("shmat unaligned: %s\n", attached(shmat(id, hole + PG + 5, 0)));
	char *r = shmat(id, hole + PG + 5, SHM_RND);
	printf("shmat SHM_RND: %s, rounded down: %d, sees: %.8s\n", attached(r), r == hole + PG,
	       r + PG);
	printf("shmat over it: %s\n", attached(shmat(id, hole + PG, 0)));
	char *rr = shmat(id, hole + PG, SHM_REMAP);
	printf("shmat SHM_REMAP: %s, same address: %d\n", attached(rr), rr == hole + PG);
	say("shmdt", shmdt(rr));
	printf("shmat SHM_REMAP without an address: %s\n", attached(shmat(id, NULL, SHM_REMAP)));
	printf("shmat bad id: %s\n", attached(shmat(-1, NULL, 0)));
	say("shmctl bad cmd", shmctl(id, 12345, NULL));
	say("shmctl bad id", shmctl(-1, IPC_RMID, NULL));

	/* IPC_SET changes the mode bits */
	struct shmid_ds ds;
	shmctl(id, IPC_STAT, &ds);
	ds.shm_perm.mode = 0640;
	say("shmctl IPC_SET", shmctl(id, IPC_SET, &ds));
	stat_shm(id);

	/* detached from everything, the data stays until IPC_RMID */
	say("shmdt", shmdt(a));
	stat_shm(id);
	a = shmat(id, NULL, 0);
	printf("reattached: %s, sees: %.8s %c\n", attached(a), a + PG, a[5]);

	/* removed while attached: marked SHM_DEST, key private, still
	 * attachable (Linux), gone after the last detach */
	say("shmctl IPC_RMID attached", shmctl(id, IPC_RMID, NULL));
	stat_shm(id);
	a[6] = '?';
	b = shmat(id, NULL, 0);
	printf("shmat after IPC_RMID: %s\n", attached(b));
	if (b != (void *)-1) {
		printf("sees: %.8s %c\n", b + PG, b[6]);
		stat_shm(id);
		shmdt(b);
	}
	say("shmdt last", shmdt(a));
	say("shmctl IPC_STAT after the last detach", shmctl(id, IPC_STAT, &ds));
	printf("shmat after removal: %s\n", attached(shmat(id, NULL, 0)));

	/* shmget errors and keys */
	say("shmget size 0", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
	say("shmget missing key", shmget(KEY, PG, 0600));
	id = shmget(KEY, PG + 1, IPC_CREAT | IPC_EXCL | 0600);
	say("shmget key create", id < 0 ? -1 : 0);
	say("shmget key create again", shmget(KEY, PG, IPC_CREAT | IPC_EXCL | 0600));
	printf("shmget key existing: same %d\n", shmget(KEY, 0, 0) == id);
	printf("shmget key IPC_CREAT: same %d\n", shmget(KEY, PG, IPC_CREAT | 0600) == id);
	say("shmget key larger", shmget(KEY, 2 * PG, 0));
	stat_shm(id);
	a = shmat(id, NULL, 0);
	printf("size rounded up in the mapping, second page: %s\n", poke(a + PG + 10, 'y'));
	say("shmctl IPC_RMID", shmctl(id, IPC_RMID, NULL));
	say("shmget key after IPC_RMID", shmget(KEY, 0, 0));
	shmdt(a);
}

static void show_all(int id)
{
	unsigned short v[3] = {9, 9, 9};
	union semun arg = {.array = v};
	if (semctl(id, 0, GETALL, arg) < 0)
		say("semctl GETALL", -1);
	else
		printf("GETALL: %d %d %d\n", v[0], v[1], v[2]);
}

static void sem(void)
{
	int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
	say("semget", id < 0 ? -1 : 0);
	if (id < 0)
		return;
	show_all(id);
	union semun arg;
	struct semid_ds ds;
	arg.buf = &ds;
	say("semctl IPC_STAT", semctl(id, 0, IPC_STAT, arg));
	printf("sem_nsems %lu, mode %o, uid %d\n", (unsigned long)ds.sem_nsems,
	       ds.sem_perm.mode & 0777, ds.sem_perm.uid == geteuid());
	arg.val = 5;
	say("semctl SETVAL", semctl(id, 0, SETVAL, arg));
	say("semctl GETVAL", semctl(id, 0, GETVAL));
	arg.val = 32768;
	say("semctl SETVAL 32768", semctl(id, 0, SETVAL, arg));
	arg.val = -1;
	say("semctl SETVAL -1", semctl(id, 0, SETVAL, arg));
	say("semctl GETVAL sem 3", semctl(id, 3, GETVAL));
	unsigned short init[3] = {1, 2, 3};
	arg.array = init;
	say("semctl SETALL", semctl(id, 0, SETALL, arg));
	show_all(id);

	struct sembuf op[2];
	op[0] = (struct sembuf){.sem_num = 0, .sem_op = 1, .sem_flg = 0};
	say("semop +1", semop(id, op, 1));
	say("semctl GETPID is mine", semctl(id, 0, GETPID) == getpid());
	op[0] = (struct sembuf){.sem_num = 1, .sem_op = -3, .sem_flg = IPC_NOWAIT};
	say("semop -3 IPC_NOWAIT", semop(id, op, 1));
	/* all or nothing: the first op is undone when the second would block */
	op[0] = (struct sembuf){.sem_num = 0, .sem_op = -1, .sem_flg = 0};
	op[1] = (struct sembuf){.sem_num = 1, .sem_op = -5, .sem_flg = IPC_NOWAIT};
	say("semop two ops, second blocks", semop(id, op, 2));
	show_all(id);
	op[1].sem_op = -2;
	say("semop two ops", semop(id, op, 2));
	show_all(id);
	op[0] = (struct sembuf){.sem_num = 1, .sem_op = 0, .sem_flg = 0};
	say("semop wait for zero on zero", semop(id, op, 1));
	op[0] = (struct sembuf){.sem_num = 2, .sem_op = 0, .sem_flg = IPC_NOWAIT};
	say("semop wait for zero IPC_NOWAIT", semop(id, op, 1));
	op[0] = (struct sembuf){.sem_num = 3, .sem_op = 1, .sem_flg = 0};
	say("semop sem 3", semop(id, op, 1));
	say("semop no ops", semop(id, op, 0));
	op[0] = (struct sembuf){.sem_num = 2, .sem_op = 32767, .sem_flg = 0};
	say("semop past 32767", semop(id, op, 1));

	op[0] = (struct sembuf){.sem_num = 1, .sem_op = -1, .sem_flg = 0};
	struct timespec t0, t1, to = {0, 50 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	say("semtimedop 50 ms", semtimedop(id, op, 1, &to));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("waited at least 50 ms: %d\n", ms >= 50);
	to.tv_nsec = 1000000000;
	say("semtimedop bad timeout", semtimedop(id, op, 1, &to));
	to.tv_nsec = 0;
	op[0].sem_op = 1;
	say("semtimedop that need not wait", semtimedop(id, op, 1, &to));

	op[0] = (struct sembuf){.sem_num = 2, .sem_op = 1, .sem_flg = SEM_UNDO};
	say("semop SEM_UNDO", semop(id, op, 1));
	op[0].sem_op = -4;
	say("semop -4 SEM_UNDO", semop(id, op, 1));
	show_all(id);
	say("semctl GETNCNT", semctl(id, 1, GETNCNT));
	say("semctl GETZCNT", semctl(id, 1, GETZCNT));
	say("semctl bad cmd", semctl(id, 0, 12345));

	arg.buf = &ds;
	semctl(id, 0, IPC_STAT, arg);
	ds.sem_perm.mode = 0640;
	say("semctl IPC_SET", semctl(id, 0, IPC_SET, arg));
	semctl(id, 0, IPC_STAT, arg);
	printf("mode %o\n", ds.sem_perm.mode & 0777);

	say("semctl IPC_RMID", semctl(id, 0, IPC_RMID));
	op[0] = (struct sembuf){.sem_num = 0, .sem_op = 1, .sem_flg = 0};
	say("semop after IPC_RMID", semop(id, op, 1));
	say("semctl GETVAL after IPC_RMID", semctl(id, 0, GETVAL));

	say("semget 0 sems", semget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
	say("semget -1 sems", semget(IPC_PRIVATE, -1, IPC_CREAT | 0600));
	say("semget missing key", semget(KEY, 2, 0600));
	id = semget(KEY, 2, IPC_CREAT | IPC_EXCL | 0600);
	say("semget key create", id < 0 ? -1 : 0);
	say("semget key create again", semget(KEY, 2, IPC_CREAT | IPC_EXCL | 0600));
	printf("semget key existing: same %d\n", semget(KEY, 0, 0) == id);
	say("semget key more sems", semget(KEY, 3, 0));
	say("semctl IPC_RMID", semctl(id, 0, IPC_RMID));
}

struct msg {
	long mtype;
	char mtext[64];
};

static void send(int id, long type, const char *text)
{
	struct msg m = {.mtype = type};
	strcpy(m.mtext, text);
	char what[96];
	snprintf(what, sizeof what, "msgsnd %ld \"%s\"", type, text);
	say(what, msgsnd(id, &m, strlen(text), IPC_NOWAIT));
}

static void recv(int id, size_t size, long type, int flags)
{
	const char *how = flags & MSG_EXCEPT ? " MSG_EXCEPT" : flags & MSG_NOERROR ? " MSG_NOERROR" : "";
	struct msg m;
	memset(&m, 0, sizeof m);
	ssize_t n = msgrcv(id, &m, size, type, flags | IPC_NOWAIT);
	if (n < 0)
		printf("msgrcv %zu %ld%s: -1 %s\n", size, type, how, errname(errno));
	else
		printf("msgrcv %zu %ld%s: %ld, type %ld, \"%.*s\"\n", size, type, how, (long)n,
		       m.mtype, (int)n, m.mtext);
}

static void msg_stat(int id)
{
	struct msqid_ds ds;
	if (msgctl(id, IPC_STAT, &ds) < 0) {
		say("msgctl IPC_STAT", -1);
		return;
	}
	printf("msg: qnum %lu, cbytes %lu, mode %o, lspid %d, lrpid %d\n",
	       (unsigned long)ds.msg_qnum, (unsigned long)ds.msg_cbytes, ds.msg_perm.mode & 0777,
	       ds.msg_lspid == getpid(), ds.msg_lrpid == getpid());
}

static void msg(void)
{
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	say("msgget", id < 0 ? -1 : 0);
	if (id < 0)
		return;
	msg_stat(id);
	send(id, 3, "three");
	send(id, 1, "one");
	send(id, 2, "two");
	send(id, 1, "uno");
	msg_stat(id);
	recv(id, 64, 0, 0);  /* the first: three */
	recv(id, 64, 2, 0);  /* exactly type 2 */
	recv(id, 64, -3, 0); /* the lowest type <= 3, first of them: one */
	recv(id, 64, 1, MSG_EXCEPT);
	recv(id, 64, 5, 0);
	recv(id, 64, -3, 0);
	recv(id, 64, 0, 0);
	msg_stat(id);

	send(id, 4, "a longer message");
	recv(id, 4, 0, 0); /* E2BIG, and the message stays */
	msg_stat(id);
	recv(id, 4, 0, MSG_NOERROR);
	msg_stat(id);
	send(id, 5, "");
	recv(id, 64, 5, 0);

	struct msg m = {.mtype = 0};
	say("msgsnd type 0", msgsnd(id, &m, 1, IPC_NOWAIT));
	m.mtype = -1;
	say("msgsnd type -1", msgsnd(id, &m, 1, IPC_NOWAIT));
	m.mtype = 1;
	say("msgsnd size -1", msgsnd(id, &m, (size_t)-1, IPC_NOWAIT));
	say("msgrcv size -1", msgrcv(id, &m, (size_t)-1, 0, IPC_NOWAIT));
	say("msgsnd bad id", msgsnd(-1, &m, 1, IPC_NOWAIT));
	say("msgctl bad cmd", msgctl(id, 12345, NULL));

	/* a full queue: msg_qbytes lowered (no privilege needed) */
	struct msqid_ds ds;
	msgctl(id, IPC_STAT, &ds);
	ds.msg_qbytes = 64;
	ds.msg_perm.mode = 0640;
	say("msgctl IPC_SET qbytes 64", msgctl(id, IPC_SET, &ds));
	msgctl(id, IPC_STAT, &ds);
	printf("qbytes %lu, mode %o\n", (unsigned long)ds.msg_qbytes, ds.msg_perm.mode & 0777);
	memset(m.mtext, 'm', 40);
	say("msgsnd 40", msgsnd(id, &m, 40, IPC_NOWAIT));
	say("msgsnd 40 more", msgsnd(id, &m, 40, IPC_NOWAIT));
	say("msgsnd 24 more", msgsnd(id, &m, 24, IPC_NOWAIT));
	say("msgsnd 1 more", msgsnd(id, &m, 1, IPC_NOWAIT));
	say("msgsnd 65, larger than the queue", msgsnd(id, &m, 65, IPC_NOWAIT));
	msg_stat(id);

	say("msgctl IPC_RMID", msgctl(id, IPC_RMID, NULL));
	say("msgsnd after IPC_RMID", msgsnd(id, &m, 1, IPC_NOWAIT));
	say("msgrcv after IPC_RMID", msgrcv(id, &m, 64, 0, IPC_NOWAIT));

	say("msgget missing key", msgget(KEY, 0600));
	id = msgget(KEY, IPC_CREAT | IPC_EXCL | 0600);
	say("msgget key create", id < 0 ? -1 : 0);
	say("msgget key create again", msgget(KEY, IPC_CREAT | IPC_EXCL | 0600));
	printf("msgget key existing: same %d\n", msgget(KEY, 0) == id);
	say("msgctl IPC_RMID", msgctl(id, IPC_RMID, NULL));
	say("msgget key after IPC_RMID", msgget(KEY, 0));
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	setvbuf(stdout, NULL, _IONBF, 0);
	remove_leftovers();
	shm();
	sem();
	msg();
	remove_leftovers();
	printf("done\n");
	return 0;
}
