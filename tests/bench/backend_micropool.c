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

#include <stdatomic.h>
#include <stdint.h>
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

/* ------------------------------------------------------- task graphs (1.1) */
/* The wavefront with prerequisites: each cell's task after its left and
 * upper neighbours' (mp_submit_ex), handles released as soon as both
 * dependents have been submitted. */
static int mpb_wavefront(unsigned n)
{
    mp_task **h = malloc((size_t)n * n * sizeof *h);
    if (!h)
        return -1;
    uint64_t before = bench_ticks();
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++) {
            mp_task *after[2];
            mp_task_opts o;
            mp_task_opts_init(&o);
            o.after = after;
            if (i > 0)
                after[o.nafter++] = h[(size_t)(i - 1) * n + j];
            if (j > 0)
                after[o.nafter++] = h[(size_t)i * n + j - 1];
            check(mp_submit_ex(pool, bench_tick, NULL, &o, &h[(size_t)i * n + j]), "mp_submit_ex");
            if (i > 0)  /* both of its dependents are in */
                mp_task_release(h[(size_t)(i - 1) * n + j]);
        }
    int bad = mp_task_wait(h[(size_t)n * n - 1]) != 0;
    for (unsigned j = 0; j < n; j++)
        mp_task_release(h[(size_t)(n - 1) * n + j]);
    free(h);
    /* The last cell ran after every other one. */
    return bad || bench_ticks() - before != (uint64_t)n * n;
}

/* The same graph the 1.0 way: a counter per cell, and the task that
 * takes a neighbour's count to 0 submits it (mp_submit, detached). */
struct wave {
    unsigned n;
    _Atomic uint32_t *left;         /* prerequisites not yet finished */
    _Atomic uint64_t done;
};

static struct wave wave;

static int wave_cell(void *arg)
{
    size_t c = (size_t)(uintptr_t)arg;
    unsigned n = wave.n, i = (unsigned)(c / n), j = (unsigned)(c % n);
    bench_tick(NULL);
    if (j + 1 < n && atomic_fetch_sub(&wave.left[c + 1], 1) == 1)
        check(mp_submit(pool, wave_cell, (void *)(uintptr_t)(c + 1), NULL), "mp_submit");
    if (i + 1 < n && atomic_fetch_sub(&wave.left[c + n], 1) == 1)
        check(mp_submit(pool, wave_cell, (void *)(uintptr_t)(c + n), NULL), "mp_submit");
    atomic_fetch_add_explicit(&wave.done, 1, memory_order_release);
    return 0;
}

static int mpb_wavefront_counters(unsigned n)
{
    size_t cells = (size_t)n * n;
    wave.n = n;
    wave.left = malloc(cells * sizeof *wave.left);
    if (!wave.left)
        return -1;
    for (size_t c = 0; c < cells; c++)
        atomic_init(&wave.left[c], (c / n > 0) + (c % n > 0));
    atomic_store(&wave.done, 0);
    /* (The harness runs this test with two threads or more: here only
     * workers run detached tasks.) */
    check(mp_submit(pool, wave_cell, (void *)0, NULL), "mp_submit");
    while (atomic_load_explicit(&wave.done, memory_order_acquire) != cells)
        bench_sleep_ns(20000);
    free(wave.left);
    return 0;
}

/* ---------------------------------------------------------------- priority */
static double prio_run(size_t nlow, int low, int high)
{
    bench_prio_reset();
    mp_task_opts o;
    mp_task_opts_init(&o);
    o.priority = low;
    for (size_t i = 0; i < nlow; i++)
        check(mp_submit_ex(pool, bench_prio_low, NULL, &o, NULL), "mp_submit_ex");
    o.priority = high;
    uint64_t t0 = bench_now_ns();
    check(mp_submit_ex(pool, bench_prio_high, NULL, &o, NULL), "mp_submit_ex");
    return bench_prio_wait(t0, nlow);
}

static double mpb_prio_latency(size_t nlow)
{
    return prio_run(nlow, MP_PRIO_LOW, MP_PRIO_HIGH);
}

/* The contrast: every task at one level, first in first out. */
static double mpb_prio_latency_fifo(size_t nlow)
{
    return prio_run(nlow, MP_PRIO_NORMAL, MP_PRIO_NORMAL);
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
    .wavefront = mpb_wavefront,
    .prio_latency = mpb_prio_latency,
    .suite_root = mpb_suite_root,
};

/* 1.0's ways of doing the graph and the queue: counters and mp_submit;
 * one level for every task. */
const bench_backend bench_micropool_fifo = {
    .name = "micropool-fifo",
    .start = mpb_start,
    .stop = mpb_stop,
    .settle_ms = 5,
    .wavefront = mpb_wavefront_counters,
    .prio_latency = mpb_prio_latency_fifo,
};

const bench_backend bench_micropool_handles = {
    .name = "micropool-handles",
    .start = mpb_start,
    .stop = mpb_stop,
    .settle_ms = 5,
    .tasks = mpb_tasks_handles,
};
