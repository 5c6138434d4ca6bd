/*
 * count.c: count to n on one thread, then split over a micropool pool.
 *
 * Counting is the smallest job there is, so it measures what a pool costs:
 * below some n, handing parts of the loop to other threads and waiting for
 * them takes longer than the whole loop on one thread. The program prints,
 * for n = 2^10 .. 2^24, the median time of the loop on one thread and on
 * two pools of T threads, one left to the OS scheduler and one with its
 * workers pinned (mp_config.pin = 1), and for each pool the smallest n from
 * which it wins at every larger n that was measured. The three take turns,
 * so every pool call comes after the pool rested while the other two ran:
 * this is a call after a gap, not back to back (the benchmark, tests/bench,
 * measures both), so its break-even is larger than the benchmark's.
 *
 * usage: count [--threads T] [--quick]
 *   --threads T  threads of the pools, the calling thread counted
 *                (default: the CPUs this process may run on)
 *   --quick      n = 2^10 .. 2^22 and fewer runs (a second or so)
 *
 * Exit status 0 when every count came out right, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <micropool.h>

#include "measure.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* The empty asm claims to read and change `c`, so the compiler has to keep
 * one increment per iteration instead of replacing the loop by `end -
 * begin` or vectorizing it. Never inlined: the sequential run and the
 * pool's parts then execute the very same machine code (a copy inlined
 * elsewhere can be laid out differently and run at another speed). */
__attribute__((noinline))
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

static void usage(FILE *f)
{
    fprintf(f, "usage: count [--threads T] [--quick]\n");
}

enum { RUN_SEQ, RUN_POOL, RUN_PINNED, RUN_KINDS };
static const char *const pool_name[RUN_KINDS] = { "", "pool", "pinned pool" };

/* The smallest k in [lo, hi] from which median[k] < seq[k] for every
 * larger k, or hi + 1 when it does not hold at hi. */
static unsigned wins_from(const double *seq, const double *median,
                          unsigned lo, unsigned hi)
{
    unsigned from = hi + 1;
    while (from > lo && median[from - 1] < seq[from - 1])
        from--;
    return from;
}

int main(int argc, char **argv)
{
    unsigned threads = 0;
    int quick = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (parse_threads("count", argv[++i], &threads) != 0)
                return 2;
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

    mp_pool *pools[RUN_KINDS] = { NULL, NULL, NULL };
    int rc = MP_OK;
    for (int kind = RUN_POOL; kind <= RUN_PINNED && rc == MP_OK; kind++) {
        mp_config cfg;
        mp_config_init(&cfg);
        cfg.threads = threads;
        cfg.pin = kind == RUN_PINNED;
        rc = mp_pool_create(&cfg, &pools[kind]);
    }
    if (rc != MP_OK) {
        fprintf(stderr, "count: mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    unsigned t = mp_pool_threads(pools[RUN_POOL]);

    /* Sample counts: many runs where a run is short, at least min_runs
     * where it is long; the budget bounds the time of the whole table. */
    const unsigned lo = 10, hi = quick ? 22 : 24;
    const size_t budget = quick ? (size_t)1 << 26 : (size_t)1 << 28;
    const size_t min_runs = quick ? 11 : 21, max_runs = quick ? 301 : 1001;

    printf("count to n on one thread, and split over a pool of %u thread%s "
           "(mp_reduce, MP_SPLIT_STATIC, grain 1)\n", t, t == 1 ? "" : "s");
    printf("pinned pool: the same with mp_config.pin = 1 (worker i on the "
           "i-th CPU); medians of %zu..%zu runs\n", min_runs, max_runs);
    printf("the three take turns, so each pool's call comes after the other two "
           "ran: a call on a pool that rested\n(its workers may be asleep), as in "
           "a program with serial work between its parallel calls; the benchmark "
           "measures\nback-to-back calls (tests/bench)\n");
    if (t == 1)
        printf("note: a pool of 1 thread runs everything inline, "
               "so every column measures the same loop\n");

    uint64_t *times[RUN_KINDS];
    double medians[RUN_KINDS][32];
    for (int kind = 0; kind < RUN_KINDS; kind++) {
        times[kind] = malloc(max_runs * sizeof *times[kind]);
        if (!times[kind]) {
            fprintf(stderr, "count: out of memory\n");
            return 1;
        }
    }

    /* Warm-up: start the workers and fault in their stacks. */
    for (int i = 0; i < 100 && rc == MP_OK; i++) {
        uint64_t c;
        for (int kind = RUN_POOL; kind <= RUN_PINNED && rc == MP_OK; kind++)
            rc = pool_count(pools[kind], (size_t)1 << lo, &c);
    }

    machine_probe probe;
    machine_probe_read(&probe);
    int wrong = 0;
    printf("%10s %12s %12s %8s %12s %8s\n", "n", "one thread", "pool",
           "speed-up", "pinned pool", "speed-up");
    for (unsigned k = lo; k <= hi && rc == MP_OK; k++) {
        size_t n = (size_t)1 << k;
        size_t runs = budget / n;
        runs = runs < min_runs ? min_runs : runs > max_runs ? max_runs : runs;

        /* The three kinds take turns, in a rotating order, so that each
         * follows each other kind as often: a pool's workers have been idle
         * for about as long before each of its runs. */
        for (size_t r = 0; r < runs && rc == MP_OK; r++) {
            for (int turn = 0; turn < RUN_KINDS; turn++) {
                int kind = (int)((r + (size_t)turn) % RUN_KINDS);
                uint64_t c;
                uint64_t t0 = now_ns();
                if (kind == RUN_SEQ)
                    c = count_range(0, n);
                else
                    rc = pool_count(pools[kind], n, &c);
                times[kind][r] = now_ns() - t0;
                if (rc != MP_OK)
                    break;
                if (c != n) {
                    fprintf(stderr, "count: the %s counted to %llu instead of "
                            "%zu\n", kind == RUN_SEQ ? "loop" : pool_name[kind],
                            (unsigned long long)c, n);
                    wrong = 1;
                }
            }
        }
        if (rc != MP_OK)
            break;
        for (int kind = 0; kind < RUN_KINDS; kind++)
            medians[kind][k] = median_ns(times[kind], runs);
        char a[32], b[32], c[32];
        double seq = medians[RUN_SEQ][k];
        printf("%10zu %12s %12s %7.2fx %12s %7.2fx\n", n,
               fmt_time(a, sizeof a, seq),
               fmt_time(b, sizeof b, medians[RUN_POOL][k]),
               seq / medians[RUN_POOL][k],
               fmt_time(c, sizeof c, medians[RUN_PINNED][k]),
               seq / medians[RUN_PINNED][k]);
    }
    if (rc != MP_OK) {
        fprintf(stderr, "count: mp_reduce: %s\n", mp_strerror(rc));
        return 1;
    }

    for (int kind = RUN_POOL; kind <= RUN_PINNED; kind++) {
        unsigned from = wins_from(medians[RUN_SEQ], medians[kind], lo, hi);
        if (from > hi)
            printf("%s: not faster than one thread at n = 2^%u, the largest "
                   "n measured\n", pool_name[kind], hi);
        else
            printf("%s: faster than one thread at every n >= %zu (2^%u) "
                   "measured here\n", pool_name[kind], (size_t)1 << from, from);
    }

    machine_probe_report(&probe);

    for (int kind = RUN_POOL; kind <= RUN_PINNED; kind++) {
        mp_stats st = { .size = sizeof st };
        if (mp_pool_stats(pools[kind], &st) == MP_OK)
            printf("%s statistics: %llu operations, %llu steals, %llu sleeps, "
                   "%llu wake-ups\n", pool_name[kind],
                   (unsigned long long)st.jobs, (unsigned long long)st.steals,
                   (unsigned long long)st.sleeps,
                   (unsigned long long)st.wakeups);
        rc = mp_pool_destroy(pools[kind]);
        if (rc != MP_OK) {
            fprintf(stderr, "count: mp_pool_destroy: %s\n", mp_strerror(rc));
            return 1;
        }
    }
    for (int kind = 0; kind < RUN_KINDS; kind++)
        free(times[kind]);
    if (wrong)
        return 1;
    printf("all counts verified\n");
    return 0;
}
