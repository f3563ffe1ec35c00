/* Signals and blocking calls between threads:
 *   (default)  sigwait in a thread for a process signal everyone blocks;
 *              pthread_kill to a thread spinning in ring 3 with no syscall;
 *              a FIFO opened by two threads; clone with a kernel-half TLS
 *              (EPERM); a thread exiting with a bogus robust list; an
 *              alarm() set by a thread that then ends reaches main
 *              spinning in ring 3.
 *   spin       a thread spins while main waits in pthread_join (for
 *              --cpu-time: the spinning thread's CPU counts).
 *   cputimer   a CLOCK_PROCESS_CPUTIME_ID timer, 1 ms periodic, armed by a
 *              thread that spins while main waits in pthread_join: its
 *              SIGALRMs go to the spinning thread (Linux 6.3 on), also
 *              while its handler, which blocks SIGALRM, runs; 10 rounds of
 *              100 signals. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <semaphore.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void *waiter(void *arg)
{
    sigset_t *set = arg;
    int sig = 0;
    if (sigwait(set, &sig) != 0)
        return (void *)-1L;
    return (void *)(long)sig;
}

static volatile int spun;
static void on_usr2(int s) { (void)s; spun = 1; }

static void *spinner(void *arg)
{
    (void)arg;
    while (!spun)
        ; /* no syscall: only a kick out of the guest delivers */
    return NULL;
}

static void *fifo_reader(void *path)
{
    char c = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || read(fd, &c, 1) != 1)
        return NULL;
    close(fd);
    return (void *)(long)c;
}

static void *bad_robust(void *arg)
{
    (void)arg;
    syscall(SYS_set_robust_list, (void *)-8L, 24);
    return (void *)7L;
}

static sem_t fired;
static void on_timer(union sigval v)
{
    if (v.sival_int == 42)
        sem_post(&fired);
}

static volatile sig_atomic_t rang;

static void on_alarm(int sig)
{
    (void)sig;
    rang = 1;
}

static void *set_alarm(void *arg)
{
    (void)arg;
    alarm(1);
    return NULL;
}

static void *forever(void *arg)
{
    (void)arg;
    for (volatile unsigned long i = 0;; i++)
        ;
    return NULL;
}

static pthread_t cpu_spinner;
static volatile int cpu_left, cpu_strays;

static void on_cpu_alarm(int sig)
{
    (void)sig;
    if (!pthread_equal(pthread_self(), cpu_spinner))
        cpu_strays++;
    cpu_left--;
}

static void *cpu_timer_spin(void *arg)
{
    (void)arg;
    struct itimerspec ms = { { 0, 1000000 }, { 0, 1000000 } };
    timer_t id;
    usleep(10000); /* main is in pthread_join by now */
    cpu_left = 100;
    if (timer_create(CLOCK_PROCESS_CPUTIME_ID, NULL, &id) != 0 ||
        timer_settime(id, 0, &ms, NULL) != 0)
        return (void *)-1L;
    while (cpu_left > 0)
        ;
    timer_delete(id);
    return NULL;
}

static int cpu_timer_rounds(void)
{
    signal(SIGALRM, on_cpu_alarm);
    int clean = 0;
    for (int i = 0; i < 10; i++) {
        void *r = NULL;
        cpu_strays = 0;
        if (pthread_create(&cpu_spinner, NULL, cpu_timer_spin, NULL) != 0)
            return 1;
        pthread_join(cpu_spinner, &r);
        if (r != NULL)
            return 1;
        clean += cpu_strays == 0;
    }
    printf("rounds whose CPU-timer signals all reached the spinning thread: %d of 10\n",
           clean);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "cputimer") == 0)
        return cpu_timer_rounds();
    if (argc > 1 && strcmp(argv[1], "spin") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, forever, NULL);
        pthread_join(t, NULL);
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);

    /* 1: everyone blocks SIGUSR1; one thread sigwaits for it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t w;
    pthread_create(&w, NULL, waiter, &set);
    usleep(20000);
    kill(getpid(), SIGUSR1);
    void *got;
    pthread_join(w, &got);
    printf("sigwait in a thread got: %s\n", (long)got == SIGUSR1 ? "SIGUSR1" : "something else");

    /* 2: a thread spinning in user mode takes a pthread_kill. */
    signal(SIGUSR2, on_usr2);
    pthread_t s;
    pthread_create(&s, NULL, spinner, NULL);
    usleep(20000);
    pthread_kill(s, SIGUSR2);
    pthread_join(s, NULL);
    printf("spinning thread took SIGUSR2: %d\n", spun);

    /* 3: a FIFO whose two ends two threads open. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/threadsig-fifo-%d", getpid());
    unlink(path);
    if (mkfifo(path, 0600) != 0) {
        printf("mkfifo: %s\n", strerror(errno));
        return 1;
    }
    pthread_t r;
    pthread_create(&r, NULL, fifo_reader, path);
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, "x", 1) != 1)
        return 1;
    close(fd);
    pthread_join(r, &got);
    unlink(path);
    printf("fifo between threads: %c\n", (char)(long)got);

    /* 4: clone with a kernel-half TLS is EPERM (nothing starts). */
    static char stack[4096] __attribute__((aligned(16)));
    long rc = syscall(SYS_clone,
                      CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                          CLONE_SYSVSEM | CLONE_SETTLS,
                      stack + sizeof stack, NULL, NULL, 0xffff800000000000UL);
    printf("clone with a kernel-half TLS: %ld %s\n", rc, rc < 0 && errno == EPERM ? "EPERM" : "?");

    /* 5: a thread whose robust list head is garbage exits cleanly. */
    pthread_t b;
    pthread_create(&b, NULL, bad_robust, NULL);
    pthread_join(b, &got);
    printf("thread with a bogus robust list joined: %ld\n", (long)got);

    /* 6: a SIGEV_THREAD timer: the C library's helper thread is named by
     * tid (SIGEV_THREAD_ID) and runs the function. */
    sem_init(&fired, 0, 0);
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = on_timer;
    ev.sigev_value.sival_int = 42;
    timer_t tm;
    int made = timer_create(CLOCK_MONOTONIC, &ev, &tm) == 0;
    struct itimerspec its = {{0, 0}, {0, 10000000}};
    if (made)
        timer_settime(tm, 0, &its, NULL);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    int ran = made && sem_timedwait(&fired, &until) == 0;
    printf("SIGEV_THREAD timer: created %d, its function ran %d\n", made, ran);

    /* 7: alarm() from a thread that ends at once; main spins with no
     * syscall (bounded: about 10 s natively) until SIGALRM comes. */
    signal(SIGALRM, on_alarm);
    pthread_t a;
    pthread_create(&a, NULL, set_alarm, NULL);
    pthread_join(a, NULL);
    for (volatile unsigned long i = 0; !rang && i < 10000000000UL; i++)
        ;
    printf("alarm set by an ended thread reached spinning main: %s\n", rang ? "yes" : "no");
    return 0;
}
