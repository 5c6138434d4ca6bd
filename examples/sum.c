/*
 * sum.c: parallel sums with mp_reduce.
 *
 * Part 1 sums an array of 32-bit integers into a 64-bit total, on one
 * thread and with mp_reduce, and prints the median time of both. A sum
 * does one addition per element it reads from memory, so how far it
 * scales depends on the machine's memory bandwidth as much as on its
 * cores.
 *
 * Part 2 sums an array of doubles of mixed sign and magnitude. Floating
 * point addition is not associative: a sum cut into parts that depend on
 * the number of threads may round differently on another machine. With
 * MP_DETERMINISTIC the parts and the order in which they are combined
 * depend only on (n, grain), so the result has the same bits whatever the
 * number of threads; the program checks that on pools of 1..T threads.
 *
 * usage: sum [--threads T] [--quick]
 *   --threads T  threads of the pool of part 1 (default: the CPUs this
 *                process may run on); part 2 tries every count from 1 to
 *                the larger of T and 4
 *   --quick      2^22 integers and 15 runs instead of 2^24 and 51
 *
 * Exit status 0 when every sum was verified, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <micropool.h>

#include "measure.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- folds */

/* The folds are never inlined, so that the one-thread runs and the pool's
 * parts execute the same machine code. */
__attribute__((noinline))
static int sum_u32_map(void *arg, size_t begin, size_t end, void *acc)
{
    const uint32_t *v = arg;
    uint64_t s = 0;
    for (size_t i = begin; i < end; i++)
        s += v[i];
    *(uint64_t *)acc += s;
    return 0;
}

static void sum_u64_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

__attribute__((noinline))
static int sum_f64_map(void *arg, size_t begin, size_t end, void *acc)
{
    const double *v = arg;
    double s = *(double *)acc;
    for (size_t i = begin; i < end; i++)
        s += v[i];
    *(double *)acc = s;
    return 0;
}

static void sum_f64_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(double *)acc += *(const double *)other;
}

/* ---------------------------------------------------------------- helpers */

/* The median of v[0..count) in milliseconds. */
static double median_ms(uint64_t *v, size_t count)
{
    return median_ns(v, count) / 1e6;
}

static uint64_t bits_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static int make_pool(unsigned threads, mp_pool **out)
{
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = threads;
    int rc = mp_pool_create(&cfg, out);
    if (rc != MP_OK)
        fprintf(stderr, "sum: mp_pool_create(%u threads): %s\n", threads,
                mp_strerror(rc));
    return rc;
}

/* ---------------------------------------------------------------- part 1 */

static int integer_sum(unsigned threads, int quick)
{
    const size_t n = quick ? (size_t)1 << 22 : (size_t)1 << 24;
    const size_t runs = quick ? 15 : 51;
    uint32_t *v = malloc(n * sizeof *v);
    uint64_t *seq_t = malloc(runs * sizeof *seq_t);
    uint64_t *pool_t = malloc(runs * sizeof *pool_t);
    if (!v || !seq_t || !pool_t) {
        fprintf(stderr, "sum: out of memory\n");
        return 1;
    }
    uint64_t state = 0x9E3779B97F4A7C15u, expect = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = (uint32_t)(next_random(&state) >> 32);
        expect += v[i];
    }

    mp_pool *pool;
    int rc = make_pool(threads, &pool);
    if (rc != MP_OK)
        return 1;
    unsigned t = mp_pool_threads(pool);

    int bad = 0;
    for (size_t r = 0; r < runs; r++) {
        uint64_t s_seq = 0, s_pool = 0;
        uint64_t t0 = now_ns();
        sum_u32_map(v, 0, n, &s_seq);
        uint64_t t1 = now_ns();
        rc = mp_reduce(pool, n, 0, MP_SPLIT_DYNAMIC, &s_pool, sizeof s_pool,
                       sum_u32_map, sum_u64_combine, v);
        uint64_t t2 = now_ns();
        if (rc != MP_OK) {
            fprintf(stderr, "sum: mp_reduce: %s\n", mp_strerror(rc));
            bad = 1;
            break;
        }
        if (s_seq != expect || s_pool != expect) {
            fprintf(stderr, "sum: wrong integer sum: expected %llu, one thread "
                    "%llu, pool %llu\n", (unsigned long long)expect,
                    (unsigned long long)s_seq, (unsigned long long)s_pool);
            bad = 1;
        }
        seq_t[r] = t1 - t0;
        pool_t[r] = t2 - t1;
    }
    if (rc == MP_OK) {
        double a = median_ms(seq_t, runs), b = median_ms(pool_t, runs);
        printf("integer sum of %zu uint32 values (%zu MiB), median of %zu runs\n",
               n, n * sizeof *v >> 20, runs);
        printf("  one thread               %8.2f ms\n", a);
        printf("  mp_reduce, %3u thread%s  %8.2f ms  (%.2fx)\n",
               t, t == 1 ? " " : "s", b, a / b);
        if (!bad)
            printf("  both equal the expected total %llu\n",
                   (unsigned long long)expect);
    }
    int drc = mp_pool_destroy(pool);
    if (drc != MP_OK) {
        fprintf(stderr, "sum: mp_pool_destroy: %s\n", mp_strerror(drc));
        bad = 1;
    }
    free(v);
    free(seq_t);
    free(pool_t);
    return bad;
}

/* ---------------------------------------------------------------- part 2 */

static int float_sum(unsigned max_threads)
{
    const size_t n = 1000000;
    double *v = malloc(n * sizeof *v);
    if (!v) {
        fprintf(stderr, "sum: out of memory\n");
        return 1;
    }
    /* Values from 2^-30 to 2^30 in size, of both signs: adding them in a
     * different order rounds differently. */
    uint64_t state = 0xD1B54A32D192ED03u;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next_random(&state);
        double mantissa = (double)(r >> 11) / 9007199254740992.0;  /* [0,1) */
        double x = ldexp(mantissa, (int)(r % 61) - 30);
        v[i] = (r >> 10) & 1 ? -x : x;
    }
    double plain = 0.0;
    sum_f64_map(v, 0, n, &plain);

    printf("float64 sum of %zu values of mixed sign and magnitude, "
           "mp_reduce with grain 0\n", n);
    printf("  %7s  %-40s  %s\n", "threads", "MP_DETERMINISTIC",
           "MP_SPLIT_DYNAMIC (for comparison)");

    int bad = 0;
    uint64_t first = 0;
    for (unsigned t = 1; t <= max_threads && !bad; t++) {
        mp_pool *pool;
        if (make_pool(t, &pool) != MP_OK) {
            bad = 1;
            break;
        }
        double det = 0.0, dyn = 0.0;
        int rc = mp_reduce(pool, n, 0, MP_DETERMINISTIC, &det, sizeof det,
                           sum_f64_map, sum_f64_combine, v);
        if (rc == MP_OK)
            rc = mp_reduce(pool, n, 0, MP_SPLIT_DYNAMIC, &dyn, sizeof dyn,
                           sum_f64_map, sum_f64_combine, v);
        int drc = mp_pool_destroy(pool);
        if (rc != MP_OK || drc != MP_OK) {
            fprintf(stderr, "sum: %s: %s\n",
                    rc != MP_OK ? "mp_reduce" : "mp_pool_destroy",
                    mp_strerror(rc != MP_OK ? rc : drc));
            bad = 1;
            break;
        }
        printf("  %7u  0x%016llx %-21.17g  0x%016llx %.17g\n", t,
               (unsigned long long)bits_of(det), det,
               (unsigned long long)bits_of(dyn), dyn);
        if (t == 1)
            first = bits_of(det);
        else if (bits_of(det) != first) {
            fprintf(stderr, "sum: MP_DETERMINISTIC gave different bits with "
                    "%u threads than with 1\n", t);
            bad = 1;
        }
    }
    printf("  a plain loop, left to right: 0x%016llx %.17g\n",
           (unsigned long long)bits_of(plain), plain);
    if (!bad)
        printf("  MP_DETERMINISTIC: the same bits with 1..%u threads\n",
               max_threads);
    free(v);
    return bad;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sum [--threads T] [--quick]\n");
}

int main(int argc, char **argv)
{
    unsigned threads = 0;
    int quick = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (parse_threads("sum", argv[++i], &threads) != 0)
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

    machine_probe probe;
    machine_probe_read(&probe);
    int bad = integer_sum(threads, quick);
    unsigned max_threads = threads > 4 ? threads : 4;
    if (threads == 0) {
        /* As many as the default pool would have, if that is more than 4. */
        mp_pool *pool;
        if (make_pool(0, &pool) != MP_OK)
            return 1;
        unsigned t = mp_pool_threads(pool);
        mp_pool_destroy(pool);
        if (t > max_threads)
            max_threads = t;
    }
    bad |= float_sum(max_threads);
    machine_probe_report(&probe);
    return bad ? 1 : 0;
}
