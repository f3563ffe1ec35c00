/* execve from a thread that is not the leader while main waits in
 * pthread_join and another thread spins: the other threads end, the
 * caller takes the leader's id, and the new image (/bin/echo) runs
 * alone: "new image", status 0. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char *self;

static void *spin(void *arg)
{
    (void)arg;
    for (;;)
        sched_yield();
    return NULL;
}

static void *execer(void *arg)
{
    (void)arg;
    usleep(20000);
    char *argv[] = {"echo", "new image", NULL};
    execv("/bin/echo", argv);
    perror("execv");
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    self = argv[0];
    pthread_t s, e;
    pthread_create(&s, NULL, spin, NULL);
    pthread_create(&e, NULL, execer, NULL);
    pthread_join(e, NULL);
    puts("join returned: the exec failed");
    return 1;
}
