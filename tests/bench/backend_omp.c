/*
 * backend_omp.c: the OpenMP rows, built once with GCC (libgomp) and once
 * with clang -fopenmp=libomp (LLVM's libomp). The wait policy comes from
 * the environment (OMP_WAIT_POLICY), which the driver sets per row.
 */
#define _GNU_SOURCE

#include "bench.h"
#include "suite.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* An idle libomp thread spins for KMP_BLOCKTIME (200 ms by default)
 * before it sleeps; libgomp's default policy spins a little, its passive
 * policy not at all (its active policy never sleeps). The harness waits
 * this long before it measures a wake-up from sleep. */
#ifdef BENCH_LIBOMP
#define OMP_SETTLE_MS 250
#else
#define OMP_SETTLE_MS 5
#endif

static const char *ob_start(unsigned threads)
{
    omp_set_dynamic(0);
    omp_set_num_threads((int)threads);
    int got = 0;
#pragma omp parallel
    {
#pragma omp single
        got = omp_get_num_threads();
    }
    if ((unsigned)got != threads)
        return "the OpenMP runtime did not give the requested number of threads";
    return NULL;
}

static void ob_stop(void)
{
}

static uint64_t ob_empty_reduce(unsigned threads)
{
    (void)threads;
    uint64_t s = 0;
#pragma omp parallel reduction(+ : s)
    {
        bench_mark_part();
        s += 1;
    }
    return s;
}

static long ob_fib_task(int n)
{
    if (n < 2)
        return n;
    long x, y;
#pragma omp task shared(x) firstprivate(n)
    x = ob_fib_task(n - 1);
    y = ob_fib_task(n - 2);
#pragma omp taskwait
    return x + y;
}

static long ob_fib(int n)
{
    long r = 0;
#pragma omp parallel
    {
#pragma omp single
        r = ob_fib_task(n);
    }
    return r;
}

static uint64_t ob_count(uint64_t n)
{
    uint64_t total = 0;
#pragma omp parallel reduction(+ : total)
    {
        uint64_t t = (uint64_t)omp_get_thread_num(), k = (uint64_t)omp_get_num_threads();
        total += bench_count_range(n * t / k, n * (t + 1) / k);
    }
    return total;
}

static void ob_post(bench_job_fn fn, void *arg)
{
#pragma omp parallel
    {
        if (omp_get_thread_num() == 1)
            fn(arg);
    }
}

static void ob_sort_task(int *v, size_t n)
{
    if (n <= BENCH_SORT_CUTOFF) {
        bench_quicksort_seq(v, n);
        return;
    }
    size_t m = bench_partition(v, n);
#pragma omp task firstprivate(v, m)
    ob_sort_task(v, m);
    ob_sort_task(v + m, n - m);
#pragma omp taskwait
}

static void ob_sort(int *v, size_t n)
{
#pragma omp parallel
    {
#pragma omp single
        ob_sort_task(v, n);
    }
}

/* The suite's join: b as a task, a on this thread, then taskwait. */
int suite_join(bench_job_fn a, void *a_arg, bench_job_fn b, void *b_arg)
{
    int rb = 0;
#pragma omp task shared(rb) firstprivate(b, b_arg)
    rb = b(b_arg);
    int ra = a(a_arg);
#pragma omp taskwait
    return ra ? ra : rb;
}

static int ob_suite_root(bench_job_fn fn, void *arg)
{
    int rc = 0;
#pragma omp parallel
    {
#pragma omp single
        rc = fn(arg);
    }
    return rc;
}

static const bench_backend bench_omp = {
    .name = "omp",
    .start = ob_start,
    .stop = ob_stop,
    .settle_ms = OMP_SETTLE_MS,
    .empty_reduce = ob_empty_reduce,
    .fib = ob_fib,
    .count = ob_count,
    .post = ob_post,
    .sort = ob_sort,
    .suite_root = ob_suite_root,
};

const bench_backend *const bench_backends[] = { &bench_omp, NULL };
