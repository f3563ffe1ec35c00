/* Workload for benches/threads.rs (not a differential test):
 *   threadbench create N   N x (pthread_create + pthread_join of a thread
 *                          that returns at once); prints ns per pair
 *   threadbench compute T  the same fixed integer work split over T
 *                          threads; prints the wall time in ms and a
 *                          checksum (the same for every T) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORK 400000000ULL

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *nothing(void *arg) { return arg; }

struct part { uint64_t from, to, sum; };

static void *work(void *arg)
{
    struct part *p = arg;
    uint64_t x = 0;
    for (uint64_t i = p->from; i < p->to; i++)
        x += (i * 2654435761u) >> 7 ^ i;
    p->sum = x;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    long n = atol(argv[2]);
    if (strcmp(argv[1], "create") == 0) {
        double t0 = now();
        for (long i = 0; i < n; i++) {
            pthread_t t;
            if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0)
                return 1;
        }
        printf("%.0f\n", (now() - t0) / n * 1e9);
        return 0;
    }
    if (n < 1 || n > 64)
        return 2;
    struct part parts[64];
    pthread_t t[64];
    double t0 = now();
    for (long i = 0; i < n; i++) {
        parts[i].from = WORK * i / n;
        parts[i].to = WORK * (i + 1) / n;
        if (pthread_create(&t[i], NULL, work, &parts[i]) != 0)
            return 1;
    }
    uint64_t sum = 0;
    for (long i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        sum += parts[i].sum;
    }
    printf("%.1f %llx\n", (now() - t0) * 1e3, (unsigned long long)sum);
    return 0;
}
