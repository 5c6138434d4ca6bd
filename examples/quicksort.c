/*
 * quicksort.c: a parallel quicksort built on mp_join.
 *
 * Each call partitions its range, then sorts the two halves with mp_join:
 * the calling thread sorts the left half while an idle thread of the pool
 * may take the right one. Ranges of at most `cutoff` elements are sorted
 * sequentially, since a join costs far more than sorting a few elements.
 *
 * The program sorts the same random ints three ways and prints the median
 * time of each: qsort(3), this quicksort on one thread, and this quicksort
 * on the pool. Every result is checked against qsort's.
 *
 * usage: quicksort [--n N] [--cutoff C] [--threads T] [--quick]
 *   --n N        elements to sort (default 1000000)
 *   --cutoff C   ranges of at most C elements are sorted sequentially
 *                (default 5000)
 *   --threads T  threads of the pool, the calling thread counted
 *                (default: the CPUs this process may run on)
 *   --quick      5 runs of each instead of 11
 *
 * Exit status 0 when every sort was verified, 1 otherwise.
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

/* ---------------------------------------------------------------- sorting */

static void swap_int(int *x, int *y)
{
    int t = *x;
    *x = *y;
    *y = t;
}

static void insertion_sort(int *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int v = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

/* Hoare's partition of a[0..n), n >= 3, around the median of the first,
 * middle and last elements, which is moved to a[0] first. Returns p with
 * 1 <= p < n such that every element of a[0..p) is <= every element of
 * a[p..n). */
static size_t partition(int *a, size_t n)
{
    size_t mid = n / 2, last = n - 1;
    if (a[mid] < a[0])
        swap_int(&a[mid], &a[0]);
    if (a[last] < a[0])
        swap_int(&a[last], &a[0]);
    if (a[last] < a[mid])
        swap_int(&a[last], &a[mid]);
    swap_int(&a[0], &a[mid]);

    int pivot = a[0];
    size_t i = 0, j = n;
    for (;;) {
        /* The first scan of i stops at a[0] itself; a[0]'s final value
         * (<= pivot) stops the later scans of j, so neither runs off. */
        while (a[i] < pivot)
            i++;
        do
            j--;
        while (a[j] > pivot);
        if (i >= j)
            return j + 1;
        swap_int(&a[i], &a[j]);
        i++;
    }
}

/* Sequential quicksort: recurse into the smaller half, loop on the larger
 * one, so the stack stays O(log n) deep whatever the input. Never inlined,
 * so that the one-thread runs and the pool's leaves execute the same
 * machine code. */
__attribute__((noinline))
static void sort_seq(int *a, size_t n)
{
    while (n > 16) {
        size_t p = partition(a, n);
        if (p < n - p) {
            sort_seq(a, p);
            a += p;
            n -= p;
        } else {
            sort_seq(a + p, n - p);
            n = p;
        }
    }
    insertion_sort(a, n);
}

typedef struct sort_job {
    mp_pool *pool;
    int     *a;
    size_t   n;
    size_t   cutoff;
} sort_job;

static int sort_par(void *arg)
{
    const sort_job *job = arg;
    if (job->n <= job->cutoff) {
        sort_seq(job->a, job->n);
        return 0;
    }
    size_t p = partition(job->a, job->n);
    sort_job left = { job->pool, job->a, p, job->cutoff };
    sort_job right = { job->pool, job->a + p, job->n - p, job->cutoff };
    return mp_join(job->pool, sort_par, &left, sort_par, &right);
}

static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* ---------------------------------------------------------------- timing */

/* The median of v[0..count) in milliseconds. */
static double median_ms(uint64_t *v, size_t count)
{
    return median_ns(v, count) / 1e6;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || v > SIZE_MAX / sizeof(int))
        return -1;
    *out = (size_t)v;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: quicksort [--n N] [--cutoff C] [--threads T] [--quick]\n");
}

enum { SORT_QSORT, SORT_SEQ, SORT_POOL, SORT_KINDS };

int main(int argc, char **argv)
{
    size_t n = 1000000, cutoff = 5000, threads = 0;
    int quick = 0;

    for (int i = 1; i < argc; i++) {
        size_t *target = NULL;
        if (strcmp(argv[i], "--n") == 0)
            target = &n;
        else if (strcmp(argv[i], "--cutoff") == 0)
            target = &cutoff;
        else if (strcmp(argv[i], "--threads") == 0)
            target = &threads;
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
        if (target) {
            const char *option = argv[i];
            if (i + 1 >= argc || parse_size(argv[++i], target) != 0) {
                fprintf(stderr, "quicksort: %s needs a non-negative number\n",
                        option);
                return 2;
            }
        }
    }
    if (threads > MP_THREADS_MAX) {
        fprintf(stderr, "quicksort: at most %u threads\n", MP_THREADS_MAX);
        return 2;
    }
    if (cutoff < 16)
        cutoff = 16;   /* sort_seq's own threshold; less only adds joins */

    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = (unsigned)threads;
    mp_pool *pool;
    int rc = mp_pool_create(&cfg, &pool);
    if (rc != MP_OK) {
        fprintf(stderr, "quicksort: mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    unsigned t = mp_pool_threads(pool);
    const size_t runs = quick ? 5 : 11;

    size_t bytes = (n ? n : 1) * sizeof(int);
    int *input = malloc(bytes), *expect = malloc(bytes), *work = malloc(bytes);
    if (!input || !expect || !work) {
        fprintf(stderr, "quicksort: out of memory for %zu ints\n", n);
        return 1;
    }
    uint64_t state = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < n; i++)
        input[i] = (int)(uint32_t)(next_random(&state) >> 32);

    memcpy(expect, input, n * sizeof(int));
    qsort(expect, n, sizeof(int), cmp_int);
    for (size_t i = 1; i < n; i++) {
        if (expect[i - 1] > expect[i]) {
            fprintf(stderr, "quicksort: qsort(3) left index %zu unsorted\n", i);
            return 1;
        }
    }

    /* Runs of the three kinds take turns, so that a slow spell of the
     * machine does not fall on one kind only. */
    machine_probe probe;
    machine_probe_read(&probe);
    uint64_t times[SORT_KINDS][11];
    int bad = 0;
    for (size_t r = 0; r < runs && rc == MP_OK; r++) {
        for (int kind = 0; kind < SORT_KINDS; kind++) {
            memcpy(work, input, n * sizeof(int));
            sort_job job = { pool, work, n, cutoff };
            uint64_t t0 = now_ns();
            if (kind == SORT_QSORT)
                qsort(work, n, sizeof(int), cmp_int);
            else if (kind == SORT_SEQ)
                sort_seq(work, n);
            else
                rc = sort_par(&job);
            times[kind][r] = now_ns() - t0;
            if (rc != MP_OK)
                break;
            if (n && memcmp(work, expect, n * sizeof(int)) != 0) {
                fprintf(stderr, "quicksort: %s gave a wrong result\n",
                        kind == SORT_QSORT ? "qsort(3)"
                        : kind == SORT_SEQ ? "the sequential quicksort"
                                           : "the parallel quicksort");
                bad = 1;
            }
        }
    }
    if (rc != MP_OK) {
        fprintf(stderr, "quicksort: mp_join: %s\n", mp_strerror(rc));
        return 1;
    }

    double ms[SORT_KINDS];
    for (int kind = 0; kind < SORT_KINDS; kind++)
        ms[kind] = median_ms(times[kind], runs);

    printf("sort %zu random ints; median of %zu runs each\n", n, runs);
    printf("  qsort(3), one thread                 %9.2f ms\n", ms[SORT_QSORT]);
    printf("  this quicksort, one thread           %9.2f ms\n", ms[SORT_SEQ]);
    printf("  this quicksort, mp_join, %3u thread%s %9.2f ms  "
           "(sequential below %zu elements)\n",
           t, t == 1 ? " " : "s", ms[SORT_POOL], cutoff);
    printf("  speed-up of the pool: %.2fx over qsort(3), %.2fx over the same "
           "quicksort on one thread\n",
           ms[SORT_QSORT] / ms[SORT_POOL], ms[SORT_SEQ] / ms[SORT_POOL]);
    if (t == 1)
        printf("  note: a pool of 1 thread runs both halves of every join "
               "itself\n");
    if (!bad)
        printf("  every result verified equal to qsort(3)'s sorted output\n");
    machine_probe_report(&probe);

    free(input);
    free(expect);
    free(work);
    rc = mp_pool_destroy(pool);
    if (rc != MP_OK) {
        fprintf(stderr, "quicksort: mp_pool_destroy: %s\n", mp_strerror(rc));
        return 1;
    }
    return bad ? 1 : 0;
}
