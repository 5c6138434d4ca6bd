/*
 * backend_micropool.c: the micropool rows. Two backends share one pool:
 * "micropool" and "micropool-handles", which differ only in how the
 * background tasks are waited for (detached with a counter, or one handle
 * per task waited one by one).
 */
#define _GNU_SOURCE

#include "bench.h"
#include "suite.h"

#include <micropool.h>

#include <stdio.h>
#include <stdlib.h>

static mp_pool *pool;
static mp_config cfg;

/* the suite's joins are mp_join on this pool (suite.h) */
mp_pool *suite_mp_pool;

static const char *mpb_start(unsigned threads)
{
    static char why[96];
    mp_config_init(&cfg);
    cfg.threads = threads;
    cfg.stack_size = bench_stack_size;
    int rc = mp_pool_create(&cfg, &pool);
    if (rc != MP_OK) {
        snprintf(why, sizeof why, "mp_pool_create: %s", mp_strerror(rc));
        return why;
    }
    suite_mp_pool = pool;
    return NULL;
}

static void mpb_stop(void)
{
    if (mp_pool_destroy(pool) != MP_OK) {
        fprintf(stderr, "micropool: mp_pool_destroy failed\n");
        exit(1);
    }
}

static void check(int rc, const char *what)
{
    if (rc != MP_OK) {
        fprintf(stderr, "micropool: %s: %s\n", what, mp_strerror(rc));
        exit(1);
    }
}

/* ---------------------------------------------------------------- fork-join */
static int mark_map(void *arg, size_t begin, size_t end, void *acc)
{
    (void)arg;
    for (size_t i = begin; i < end; i++)
        bench_mark_part();
    *(uint64_t *)acc += end - begin;
    return 0;
}

static void add_u64(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

static uint64_t mpb_empty_reduce(unsigned threads)
{
    uint64_t acc = 0;
    check(mp_reduce(pool, threads, 1, MP_SPLIT_STATIC, &acc, sizeof acc, mark_map, add_u64, NULL),
          "mp_reduce");
    return acc;
}

/* ---------------------------------------------------------------- join */
struct fib_frame {
    int n;
    long r;
};

static int fib_join(void *arg)
{
    struct fib_frame *f = arg;
    if (f->n < 2) {
        f->r = f->n;
        return 0;
    }
    struct fib_frame a = { f->n - 1, 0 }, b = { f->n - 2, 0 };
    int rc = mp_join(pool, fib_join, &a, fib_join, &b);
    f->r = a.r + b.r;
    return rc;
}

static long mpb_fib(int n)
{
    struct fib_frame f = { n, 0 };
    check(fib_join(&f), "mp_join");
    return f.r;
}

/* ---------------------------------------------------------------- counting */
static int count_map(void *arg, size_t begin, size_t end, void *acc)
{
    (void)arg;
    *(uint64_t *)acc += bench_count_range(begin, end);
    return 0;
}

static uint64_t mpb_count(uint64_t n)
{
    uint64_t acc = 0;
    check(mp_reduce(pool, (size_t)n, 1, MP_SPLIT_STATIC, &acc, sizeof acc, count_map, add_u64, NULL),
          "mp_reduce");
    return acc;
}

/* ---------------------------------------------------------------- wake-up */
static void mpb_post(bench_job_fn fn, void *arg)
{
    check(mp_submit(pool, fn, arg, NULL), "mp_submit");
}

/* ---------------------------------------------------------------- tasks */
static int mpb_tasks_detached(size_t n)
{
    uint64_t before = bench_ticks();
    for (size_t i = 0; i < n; i++)
        check(mp_submit(pool, bench_tick, NULL, NULL), "mp_submit");
    if (cfg.threads == 1) {
        /* A pool of one thread has no worker: detached tasks run when
         * the pool is destroyed. */
        check(mp_pool_destroy(pool), "mp_pool_destroy");
        check(mp_pool_create(&cfg, &pool), "mp_pool_create");
    }
    /* Detached tasks have no handle: poll the counter, sleeping between
     * looks so that the waiting thread leaves its CPU to the workers. A
     * counter that stops moving for 10 s is a lost task or wake-up. */
    uint64_t seen = bench_ticks(), since = bench_now_ns();
    while (seen - before < n) {
        bench_sleep_ns(20000);
        uint64_t now = bench_ticks();
        if (now != seen) {
            seen = now;
            since = bench_now_ns();
        } else if (bench_now_ns() - since > 10000000000u) {
            fprintf(stderr, "micropool: %llu of %zu detached tasks ran; no progress for 10 s\n",
                    (unsigned long long)(seen - before), n);
            exit(1);
        }
    }
    return 0;
}

static int mpb_tasks_handles(size_t n)
{
    mp_task **h = malloc(n * sizeof *h);
    if (!h)
        return -1;
    for (size_t i = 0; i < n; i++)
        check(mp_submit(pool, bench_tick, NULL, &h[i]), "mp_submit");
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad |= mp_task_wait(h[i]) != 0;
        mp_task_release(h[i]);
    }
    free(h);
    return bad;
}

/* ---------------------------------------------------------------- sort */
struct sort_part {
    int *v;
    size_t n;
};

static int sort_join(void *arg)
{
    struct sort_part *p = arg;
    if (p->n <= BENCH_SORT_CUTOFF) {
        bench_quicksort_seq(p->v, p->n);
        return 0;
    }
    size_t m = bench_partition(p->v, p->n);
    struct sort_part lo = { p->v, m }, hi = { p->v + m, p->n - m };
    return mp_join(pool, sort_join, &lo, sort_join, &hi);
}

static void mpb_sort(int *v, size_t n)
{
    struct sort_part p = { v, n };
    check(sort_join(&p), "mp_join");
}

/* ---------------------------------------------------------------- suite */
/* The root runs on the calling thread, a member of the pool (T counts it). */
static int mpb_suite_root(bench_job_fn fn, void *arg)
{
    return fn(arg);
}

/* The spin window is at most MP_SPIN_US_DEFAULT (20 us): 5 ms is far past it. */
const bench_backend bench_micropool = {
    .name = "micropool",
    .start = mpb_start,
    .stop = mpb_stop,
    .settle_ms = 5,
    .empty_reduce = mpb_empty_reduce,
    .fib = mpb_fib,
    .count = mpb_count,
    .post = mpb_post,
    .tasks = mpb_tasks_detached,
    .sort = mpb_sort,
    .suite_root = mpb_suite_root,
};

const bench_backend bench_micropool_handles = {
    .name = "micropool-handles",
    .start = mpb_start,
    .stop = mpb_stop,
    .settle_ms = 5,
    .tasks = mpb_tasks_handles,
};
