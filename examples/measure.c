/* measure.c: timing and machine-load helpers shared by the C examples. */
#define _POSIX_C_SOURCE 200809L
#include "measure.h"

#include <micropool.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

double median_ns(uint64_t *v, size_t count)
{
    qsort(v, count, sizeof *v, cmp_u64);
    if (count % 2)
        return (double)v[count / 2];
    return ((double)v[count / 2 - 1] + (double)v[count / 2]) / 2.0;
}

int parse_threads(const char *prog, const char *s, unsigned *out)
{
    char *end;
    unsigned long t = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || t > MP_THREADS_MAX) {
        fprintf(stderr, "%s: bad thread count '%s'\n", prog, s);
        return -1;
    }
    *out = (unsigned)t;
    return 0;
}

uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Du;
}

void machine_probe_read(machine_probe *p)
{
    unsigned long long v[8] = { 0 };
    FILE *f = fopen("/proc/stat", "r");
    p->ok = f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                        &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                        &v[7]) >= 5;
    if (f)
        fclose(f);
    p->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    p->busy = p->total - v[3] - v[4];          /* all but idle and iowait */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    p->self = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void machine_probe_report(const machine_probe *start)
{
    machine_probe end;
    machine_probe_read(&end);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN), hz = sysconf(_SC_CLK_TCK);
    if (!start->ok || !end.ok || hz <= 0 || end.total <= start->total) {
        printf("machine: %ld CPUs online\n", cpus);
        return;
    }
    double total = (double)(end.total - start->total) / (double)hz;
    double others = (double)(end.busy - start->busy) / (double)hz -
                    (end.self - start->self);
    double share = others > 0.0 ? others / total : 0.0;
    printf("machine: %ld CPUs online; other processes used %.0f%% of their "
           "time during the measurements%s\n", cpus, 100.0 * share,
           share > 0.2 ? " (the times above are disturbed)" : "");
}
