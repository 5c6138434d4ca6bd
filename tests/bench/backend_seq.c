/*
 * backend_seq.c: the sequential baselines. "seq" is what one thread does
 * without any pool (plain recursive fib, a counting loop, the C library's
 * qsort, a job run by the caller itself); "seq-quicksort" is the very quicksort the parallel rows run,
 * without the joins, so that a sort's speed-up can be read both ways.
 */
#define _GNU_SOURCE

#include "bench.h"

#include <stdlib.h>

static const char *seq_start(unsigned threads)
{
    (void)threads;
    return NULL;
}

static void seq_stop(void)
{
}

static long seq_fib(int n)
{
    return bench_fib_seq(n);
}

static uint64_t seq_count(uint64_t n)
{
    return bench_count_range(0, n);
}

/* The idle test's baseline: what posting a job every 1 ms costs the
 * caller by itself (its timer, its call), with no pool at all. */
static void seq_post(bench_job_fn fn, void *arg)
{
    fn(arg);
}

static void seq_qsort(int *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_int);
}

static int seq_suite_root(bench_job_fn fn, void *arg)
{
    return fn(arg);
}

const bench_backend bench_seq = {
    .name = "seq",
    .start = seq_start,
    .stop = seq_stop,
    .fib = seq_fib,
    .count = seq_count,
    .post = seq_post,
    .sort = seq_qsort,
    .suite_root = seq_suite_root,
    .suite_serial = 1,
};

const bench_backend bench_seq_quicksort = {
    .name = "seq-quicksort",
    .start = seq_start,
    .stop = seq_stop,
    .sort = bench_quicksort_seq,
};
