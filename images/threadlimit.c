/* Create threads that wait on a pipe until pthread_create fails or 64
 * exist, then release and join them: prints how many were created and
 * the error that stopped it. Natively (no limit that low) all 64; under
 * `kvmcage --max-threads N`, N-1 and EAGAIN. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fds[2];

static void *waiter(void *arg)
{
    char c;
    (void)arg;
    while (read(fds[0], &c, 1) < 0 && errno == EINTR)
        ;
    return NULL;
}

int main(void)
{
    pthread_t t[64];
    int n = 0, err = 0;
    if (pipe(fds) != 0)
        return 2;
    for (; n < 64; n++) {
        err = pthread_create(&t[n], NULL, waiter, NULL);
        if (err != 0)
            break;
    }
    printf("created %d, then %s\n", n, err ? (err == EAGAIN ? "EAGAIN" : strerror(err)) : "no error");
    fflush(stdout);
    for (int i = 0; i < n; i++)
        if (write(fds[1], "x", 1) != 1)
            return 3;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    /* The limit counts live threads: after the joins there is room again. */
    pthread_t again;
    err = pthread_create(&again, NULL, waiter, NULL);
    if (err == 0) {
        if (write(fds[1], "x", 1) != 1)
            return 3;
        pthread_join(again, NULL);
    }
    printf("after joining: %s\n", err ? strerror(err) : "created one more");
    return 0;
}
