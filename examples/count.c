/*
 * count.c: count to n on one thread, then split over a micropool pool.
 *
 * Counting is the smallest job there is, so it measures what a pool costs:
 * below some n, handing parts of the loop to other threads and waiting for
 * them takes longer than the whole loop on one thread. The program prints,
 * for n = 2^10 .. 2^24, the median time of both and the smallest n from
 * which the pool wins at every larger n that was measured.
 *
 * usage: count [--threads T] [--pin] [--quick]
 *   --threads T  threads of the pool, the calling thread counted
 *                (default: the CPUs this process may run on)
 *   --pin        pin worker i to the i-th CPU of the affinity mask
 *   --quick      n = 2^10 .. 2^22 and fewer runs (a few seconds at most)
 *
 * Exit status 0 when every count came out right, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <micropool.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The empty asm claims to read and change `c`, so the compiler has to keep
 * one increment per iteration instead of replacing the loop by `end -
 * begin` or vectorizing it. */
static uint64_t count_range(size_t begin, size_t end)
{
    uint64_t c = 0;
    for (size_t i = begin; i < end; i++) {
        c++;
        __asm__ __volatile__("" : "+r"(c));
    }
    return c;
}

static int count_map(void *arg, size_t begin, size_t end, void *acc)
{
    (void)arg;
    *(uint64_t *)acc += count_range(begin, end);
    return 0;
}

static void count_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

/* One contiguous share per thread (MP_SPLIT_STATIC, the cheapest split for
 * uniform work); grain 1 so that even the smallest n is really split
 * instead of run inline. */
static int pool_count(mp_pool *pool, size_t n, uint64_t *out)
{
    *out = 0;
    return mp_reduce(pool, n, 1, MP_SPLIT_STATIC, out, sizeof *out,
                     count_map, count_combine, NULL);
}

static uint64_t now_ns(void)
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

static double median_ns(uint64_t *v, size_t count)
{
    qsort(v, count, sizeof *v, cmp_u64);
    if (count % 2)
        return (double)v[count / 2];
    return ((double)v[count / 2 - 1] + (double)v[count / 2]) / 2.0;
}

/* "123.4 us": a duration in the unit that keeps it readable. */
static const char *fmt_time(char *buf, size_t size, double ns)
{
    if (ns < 1e4)
        snprintf(buf, size, "%7.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, size, "%7.1f us", ns / 1e3);
    else
        snprintf(buf, size, "%7.2f ms", ns / 1e6);
    return buf;
}

/* The load of the machine, printed with the times: where other processes
 * keep the CPUs busy, the pool's threads wait for a CPU too. */
static void print_machine(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double load = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1.0;
        fclose(f);
    }
    if (load < 0.0)
        printf("machine: %ld CPUs online\n", cpus);
    else
        printf("machine: %ld CPUs online, load average %.2f over the last "
               "minute%s\n", cpus, load,
               load >= 1.0 ? " (other processes were busy: times are noisy)"
                           : "");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: count [--threads T] [--pin] [--quick]\n");
}

int main(int argc, char **argv)
{
    unsigned threads = 0;
    int pin = 0, quick = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            unsigned long t = strtoul(argv[++i], &end, 10);
            if (*end != '\0' || t > MP_THREADS_MAX) {
                fprintf(stderr, "count: bad thread count '%s'\n", argv[i]);
                return 2;
            }
            threads = (unsigned)t;
        } else if (strcmp(argv[i], "--pin") == 0) {
            pin = 1;
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = threads;
    cfg.pin = pin;
    mp_pool *pool;
    int rc = mp_pool_create(&cfg, &pool);
    if (rc != MP_OK) {
        fprintf(stderr, "count: mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    unsigned t = mp_pool_threads(pool);

    /* Sample counts: many runs where a run is short, at least min_runs
     * where it is long; the budget keeps the whole table to about a second
     * (quick) or a few seconds. */
    const unsigned lo = 10, hi = quick ? 22 : 24;
    const size_t budget = quick ? (size_t)1 << 26 : (size_t)1 << 28;
    const size_t min_runs = quick ? 11 : 21, max_runs = quick ? 301 : 1001;

    printf("count to n: one thread vs a pool of %u thread%s%s "
           "(mp_reduce, MP_SPLIT_STATIC, grain 1)\n",
           t, t == 1 ? "" : "s", pin ? ", workers pinned" : "");
    printf("median wall-clock time of %zu..%zu runs per n "
           "(runs of both kinds interleaved)\n", min_runs, max_runs);
    print_machine();
    if (t == 1)
        printf("note: a pool of 1 thread runs everything inline, "
               "so both columns measure the same loop\n");

    uint64_t *seq_t = malloc(max_runs * sizeof *seq_t);
    uint64_t *pool_t = malloc(max_runs * sizeof *pool_t);
    double seq_med[32], pool_med[32];
    if (!seq_t || !pool_t) {
        fprintf(stderr, "count: out of memory\n");
        return 1;
    }

    /* Warm-up: start the workers and fault in their stacks. */
    for (int i = 0; i < 100; i++) {
        uint64_t c;
        if ((rc = pool_count(pool, (size_t)1 << lo, &c)) != MP_OK)
            break;
    }

    int wrong = 0;
    printf("%10s %12s %12s %10s\n", "n", "sequential", "pool", "seq/pool");
    for (unsigned k = lo; k <= hi && rc == MP_OK; k++) {
        size_t n = (size_t)1 << k;
        size_t runs = budget / n;
        runs = runs < min_runs ? min_runs : runs > max_runs ? max_runs : runs;

        for (size_t r = 0; r < runs; r++) {
            uint64_t t0 = now_ns();
            uint64_t c_seq = count_range(0, n);
            uint64_t t1 = now_ns();
            uint64_t c_pool;
            rc = pool_count(pool, n, &c_pool);
            uint64_t t2 = now_ns();
            if (rc != MP_OK)
                break;
            if (c_seq != n || c_pool != n) {
                fprintf(stderr, "count: wrong count at n=%zu: sequential %llu, "
                        "pool %llu\n", n, (unsigned long long)c_seq,
                        (unsigned long long)c_pool);
                wrong = 1;
            }
            seq_t[r] = t1 - t0;
            pool_t[r] = t2 - t1;
        }
        if (rc != MP_OK)
            break;
        seq_med[k] = median_ns(seq_t, runs);
        pool_med[k] = median_ns(pool_t, runs);
        char a[32], b[32];
        printf("%10zu %12s %12s %9.2fx\n", n,
               fmt_time(a, sizeof a, seq_med[k]),
               fmt_time(b, sizeof b, pool_med[k]), seq_med[k] / pool_med[k]);
    }
    if (rc != MP_OK) {
        fprintf(stderr, "count: mp_reduce: %s\n", mp_strerror(rc));
        return 1;
    }

    /* The smallest n from which the pool is faster at every larger n. */
    unsigned from = hi + 1;
    while (from > lo && pool_med[from - 1] < seq_med[from - 1])
        from--;
    if (from > hi)
        printf("the pool did not beat one thread at n = 2^%u, the largest n "
               "measured\n", hi);
    else
        printf("the pool is faster at every n >= %zu (2^%u) measured here\n",
               (size_t)1 << from, from);

    mp_stats st = { .size = sizeof st };
    if (mp_pool_stats(pool, &st) == MP_OK)
        printf("pool statistics: %llu operations, %llu steals, %llu sleeps, "
               "%llu wake-ups\n", (unsigned long long)st.jobs,
               (unsigned long long)st.steals, (unsigned long long)st.sleeps,
               (unsigned long long)st.wakeups);

    free(seq_t);
    free(pool_t);
    rc = mp_pool_destroy(pool);
    if (rc != MP_OK) {
        fprintf(stderr, "count: mp_pool_destroy: %s\n", mp_strerror(rc));
        return 1;
    }
    if (wrong)
        return 1;
    printf("all counts verified\n");
    return 0;
}
