/* A thread started 1.5 s after the program, on a vCPU made then: its vDSO
 * clock (the guest TSC of that vCPU) must agree with the host's clock
 * (the syscall) and never run behind what the first thread read before
 * creating it. Prints only the verdicts. */
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static long long before;
static int ordered = 1, close_enough = 1;

static void *late(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        struct timespec a, b, c;
        clock_gettime(CLOCK_MONOTONIC, &a);           /* vDSO */
        syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b); /* the kernel */
        clock_gettime(CLOCK_MONOTONIC, &c);           /* vDSO */
        if (i == 0 && ns(a) < before)
            ordered = 0;
        /* The kernel's reading falls between the two vDSO readings, give
         * or take 1 ms for the two clocks' different sources. */
        if (ns(b) < ns(a) - 1000000 || ns(b) > ns(c) + 1000000)
            close_enough = 0;
        if (ns(c) < ns(a))
            ordered = 0;
    }
    return NULL;
}

int main(void)
{
    struct timespec t, sleep = {1, 500000000};
    nanosleep(&sleep, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t);
    before = ns(t);
    pthread_t th;
    if (pthread_create(&th, NULL, late, NULL) != 0)
        return 1;
    pthread_join(th, NULL);
    printf("late thread: vDSO never behind the first thread: %s\n", ordered ? "yes" : "no");
    printf("late thread: vDSO within 1 ms of the syscall: %s\n", close_enough ? "yes" : "no");
    return 0;
}
