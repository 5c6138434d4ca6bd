/* mp_for: coverage, partitions, sizes from 0 to SIZE_MAX, nesting,
 * external threads, errors. */
#include "support.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

TestSuite(loop, .timeout = 50);

static const unsigned all_flags[] = {MP_SPLIT_DYNAMIC, MP_SPLIT_STATIC, MP_DETERMINISTIC,
                                     MP_SPLIT_STATIC | MP_DETERMINISTIC};

static int must_not_run(void *arg, size_t begin, size_t end)
{
    (void)begin;
    (void)end;
    atomic_fetch_add((atomic_int *)arg, 1);
    return 99;
}

Test(loop, n_zero_calls_nothing)
{
    static const unsigned sizes[] = {1, 2, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        atomic_int calls = 0;
        for (size_t f = 0; f < 4; f++) {
            cr_assert_eq(mp_for(pool, 0, 0, all_flags[f], must_not_run, &calls), MP_OK);
            cr_assert_eq(mp_for(pool, 0, 1, all_flags[f], must_not_run, &calls), MP_OK);
            cr_assert_eq(mp_for(pool, 0, 1000, all_flags[f], must_not_run, &calls), MP_OK);
        }
        cr_assert_eq(atomic_load(&calls), 0);
        mpt_destroy(pool);
    }
}

struct inline_check {
    mpt_ranges rs;
    pthread_t caller;
    atomic_int off_caller;
};

static int inline_body(void *arg, size_t begin, size_t end)
{
    struct inline_check *ic = arg;
    if (!pthread_equal(pthread_self(), ic->caller))
        atomic_fetch_add(&ic->off_caller, 1);
    mpt_ranges_add(&ic->rs, begin, end);
    return 0;
}

/* Runs mp_for and expects exactly one call [0, n) on the calling thread. */
static void expect_one_inline_call(mp_pool *pool, size_t n, size_t grain, unsigned flags)
{
    struct inline_check ic = {.caller = pthread_self()};
    mpt_ranges_init(&ic.rs, 16);
    cr_assert_eq(mp_for(pool, n, grain, flags, inline_body, &ic), MP_OK);
    cr_assert_eq(atomic_load(&ic.rs.count), 1u, "n=%zu grain=%zu flags=%u: one call", n, grain,
                 flags);
    cr_assert_eq(ic.rs.r[0].begin, 0u);
    cr_assert_eq(ic.rs.r[0].end, n);
    cr_assert_eq(atomic_load(&ic.off_caller), 0, "run inline on the caller");
    mpt_ranges_free(&ic.rs);
}

Test(loop, n_one_and_grain_at_least_n_run_inline_in_one_call)
{
    static const unsigned sizes[] = {2, 16};
    for (size_t k = 0; k < 2; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t f = 0; f < 2; f++) {
            expect_one_inline_call(pool, 1, 0, all_flags[f]);
            expect_one_inline_call(pool, 1, 1, all_flags[f]);
            expect_one_inline_call(pool, 100, 1000, all_flags[f]);
            expect_one_inline_call(pool, 100, 100, all_flags[f]);
            expect_one_inline_call(pool, 12345, SIZE_MAX, all_flags[f]);
        }
        mpt_destroy(pool);
    }
}

Test(loop, a_pool_of_one_thread_runs_inline_in_one_call)
{
    mp_pool *pool = mpt_pool(1);
    expect_one_inline_call(pool, 100000, 1, MP_SPLIT_DYNAMIC);
    expect_one_inline_call(pool, 100000, 0, MP_SPLIT_DYNAMIC);
    expect_one_inline_call(pool, 100000, 1, MP_SPLIT_STATIC);
    mpt_destroy(pool);
}

Test(loop, every_item_exactly_once_for_all_sizes_grains_and_flags)
{
    static const unsigned sizes[] = {1, 2, 3, 16};
    static const size_t ns[] = {2, 17, 1000, 100003};
    static const size_t grains[] = {0, 1, 7, 1000};
    for (size_t k = 0; k < 4; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t ni = 0; ni < 4; ni++)
            for (size_t gi = 0; gi < 4; gi++)
                for (size_t f = 0; f < 4; f++) {
                    mpt_cover c;
                    mpt_cover_init(&c, ns[ni]);
                    int rc = mp_for(pool, ns[ni], grains[gi], all_flags[f], mpt_cover_body, &c);
                    cr_assert_eq(rc, MP_OK);
                    cr_assert_eq(mpt_cover_wrong(&c), 0u,
                                 "threads=%u n=%zu grain=%zu flags=%u: %zu items wrong", sizes[k],
                                 ns[ni], grains[gi], all_flags[f], mpt_cover_wrong(&c));
                    mpt_cover_free(&c);
                }
        mpt_destroy(pool);
    }
}

static int record_body(void *arg, size_t begin, size_t end)
{
    mpt_ranges_add(arg, begin, end);
    return 0;
}

Test(loop, huge_n_up_to_size_max_is_covered_without_overflow)
{
    static const size_t ns[] = {SIZE_MAX, SIZE_MAX - 1, (size_t)1 << 40};
    mp_pool *pool = mpt_pool(4);
    for (size_t ni = 0; ni < 3; ni++)
        for (size_t f = 0; f < 4; f++) {
            size_t n = ns[ni];
            size_t grain = n / 16 + 1;
            mpt_ranges rs;
            mpt_ranges_init(&rs, 1024);
            cr_assert_eq(mp_for(pool, n, grain, all_flags[f], record_body, &rs), MP_OK);
            const char *why = mpt_ranges_check(&rs, n);
            cr_assert_null(why, "n=%zu grain=%zu flags=%u: %s", n, grain, all_flags[f], why);
            cr_assert_leq(atomic_load(&rs.count), 16u, "no range shorter than grain");
            mpt_ranges_free(&rs);
        }
    mpt_destroy(pool);
}

Test(loop, grain_zero_on_a_huge_n_picks_a_usable_grain)
{
    mp_pool *pool = mpt_pool(2);
    size_t n = (size_t)1 << 40;
    for (size_t f = 0; f < 4; f++) {
        mpt_ranges rs;
        mpt_ranges_init(&rs, (size_t)1 << 20);
        cr_assert_eq(mp_for(pool, n, 0, all_flags[f], record_body, &rs), MP_OK);
        const char *why = mpt_ranges_check(&rs, n);
        cr_assert_null(why, "flags=%u: %s (%zu ranges)", all_flags[f], why,
                       atomic_load(&rs.count));
        mpt_ranges_free(&rs);
    }
    mpt_destroy(pool);
}

Test(loop, static_split_gives_at_most_one_contiguous_part_per_thread)
{
    static const unsigned sizes[] = {2, 3, 8, 16};
    static const size_t ns[] = {1, 2, 3, 7, 8, 9, 1001, 100000};
    for (size_t k = 0; k < 4; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t g = 0; g < 2; g++) {
                mpt_ranges rs;
                mpt_ranges_init(&rs, 4096);
                size_t n = ns[ni];
                cr_assert_eq(mp_for(pool, n, g, MP_SPLIT_STATIC, record_body, &rs), MP_OK);
                size_t parts = atomic_load(&rs.count);
                const char *why = mpt_ranges_check(&rs, n);
                cr_assert_null(why, "threads=%u n=%zu: %s", sizes[k], n, why);
                cr_assert_leq(parts, sizes[k], "threads=%u n=%zu: %zu parts", sizes[k], n, parts);
                cr_assert_leq(parts, n);
                mpt_ranges_free(&rs);
            }
        mpt_destroy(pool);
    }
}

/* The deterministic partition depends on (n, grain) only. */
Test(loop, deterministic_partition_is_the_same_on_any_thread_count)
{
    struct {
        size_t n, grain, parts;
    } cases[] = {{1000, 100, 10}, {1000, 300, 4}, {99991, 1000, 64}, {100000, 0, 64},
                 {640, 10, 64}, {65, 1, 64}};
    static const unsigned sizes[] = {2, 3, 4, 8};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        mpt_range first[MP_REDUCE_PARTS_MAX + 1];
        size_t first_count = 0;
        for (size_t k = 0; k < 4; k++) {
            mp_pool *pool = mpt_pool(sizes[k]);
            mpt_ranges rs;
            mpt_ranges_init(&rs, 4096);
            cr_assert_eq(mp_for(pool, cases[ci].n, cases[ci].grain, MP_DETERMINISTIC, record_body,
                                &rs),
                         MP_OK);
            const char *why = mpt_ranges_check(&rs, cases[ci].n);
            cr_assert_null(why, "%s", why);
            size_t count = atomic_load(&rs.count);
            cr_assert_eq(count, cases[ci].parts, "n=%zu grain=%zu: %zu parts, want %zu",
                         cases[ci].n, cases[ci].grain, count, cases[ci].parts);
            if (k == 0) {
                first_count = count;
                memcpy(first, rs.r, count * sizeof *first);
            } else {
                cr_assert_eq(count, first_count);
                cr_assert(memcmp(first, rs.r, count * sizeof *first) == 0,
                          "n=%zu grain=%zu: partition differs on %u threads", cases[ci].n,
                          cases[ci].grain, sizes[k]);
            }
            mpt_ranges_free(&rs);
            mpt_destroy(pool);
        }
    }
}

Test(loop, unknown_flags_and_null_arguments_are_einval_before_any_call)
{
    mp_pool *pool = mpt_pool(2);
    atomic_int calls = 0;
    static const unsigned bad[] = {4u, 8u, 0x100u, 1u << 31, 0xFFFFFFFFu, MP_SPLIT_STATIC | 4u};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(mp_for(pool, 1000, 1, bad[i], must_not_run, &calls), MP_EINVAL,
                     "flags %#x", bad[i]);
        cr_assert_eq(mp_for(pool, 0, 1, bad[i], must_not_run, &calls), MP_EINVAL,
                     "flags %#x with n = 0", bad[i]);
    }
    cr_assert_eq(mp_for(NULL, 1000, 1, 0, must_not_run, &calls), MP_EINVAL);
    cr_assert_eq(mp_for(pool, 1000, 1, 0, NULL, &calls), MP_EINVAL);
    cr_assert_eq(mp_for(NULL, 0, 1, 0, must_not_run, &calls), MP_EINVAL);
    cr_assert_eq(mp_for(pool, 0, 1, 0, NULL, &calls), MP_EINVAL);
    cr_assert_eq(atomic_load(&calls), 0);
    mpt_destroy(pool);
}

static int sum_null_arg(void *arg, size_t begin, size_t end)
{
    return arg == NULL && begin < end ? 0 : 5;
}

Test(loop, a_null_arg_is_passed_on)
{
    mp_pool *pool = mpt_pool(2);
    cr_assert_eq(mp_for(pool, 1000, 1, 0, sum_null_arg, NULL), MP_OK);
    mpt_destroy(pool);
}

/* Two parts that wait for each other: only real parallelism finishes.
 * Each part first works for 20 ms: a pool wakes a sleeping worker for a
 * loop only when its parts are long enough to pay for the wake-up
 * (docs/design.md, "Bursts and periods"); shorter ones its caller runs
 * alone, and these two would then wait for each other in vain. */
struct rendezvous {
    atomic_int arrived;
    atomic_int timed_out;
};

static int rendezvous_body(void *arg, size_t begin, size_t end)
{
    struct rendezvous *r = arg;
    if (begin == 0 && end == 2)
        return 0; /* not split: nothing to meet */
    mpt_spin_us(20000);
    atomic_fetch_add(&r->arrived, 1);
    if (!mpt_wait_at_least(&r->arrived, 2, 10.0))
        atomic_store(&r->timed_out, 1);
    return 0;
}

Test(loop, split_parts_really_run_in_parallel)
{
    static const unsigned sizes[] = {2, 16};
    static const unsigned flags[] = {MP_SPLIT_DYNAMIC, MP_SPLIT_STATIC};
    for (size_t k = 0; k < 2; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (int r = 0; r < 40; r++) {
            struct rendezvous rv = {0};
            cr_assert_eq(mp_for(pool, 2, 1, flags[r % 2], rendezvous_body, &rv), MP_OK);
            cr_assert_eq(atomic_load(&rv.timed_out), 0,
                         "the two halves never ran at the same time (%u threads, flags %u)",
                         sizes[k], flags[r % 2]);
        }
        mpt_destroy(pool);
    }
}

/* A task that holds the only worker until released. */
static int hold_worker(void *arg)
{
    atomic_int *gate = arg;
    atomic_store(&gate[0], 1);
    mpt_wait_at_least(&gate[1], 1, 20.0);
    return 0;
}

struct held {
    mpt_cover c;
    mp_pool *pool;
    atomic_int off_caller;
};

static int held_body(void *arg, size_t begin, size_t end)
{
    struct held *h = arg;
    if (mp_pool_thread_index(h->pool) != 0)
        atomic_fetch_add(&h->off_caller, 1);
    return mpt_cover_body(&h->c, begin, end);
}

/* The share addressed to a worker that is busy elsewhere is taken back by
 * the caller: the loop finishes while the worker is still held. The first
 * call of a loop the pool has not measured always splits; once splitting
 * it was measured slower than running it alone, the caller may run it as
 * one part. */
Test(loop, a_static_share_of_a_busy_worker_runs_on_the_caller)
{
    mp_pool *pool = mpt_pool(2);
    atomic_int gate[2] = {0, 0};
    mp_task *t;
    cr_assert_eq(mp_submit(pool, hold_worker, gate, &t), MP_OK);
    cr_assert(mpt_wait_at_least(&gate[0], 1, 10.0), "the worker never started the task");
    for (int r = 0; r < 100; r++) {
        struct held h = {.pool = pool};
        mpt_cover_init(&h.c, 1000);
        cr_assert_eq(mp_for(pool, 1000, 1, MP_SPLIT_STATIC, held_body, &h), MP_OK);
        unsigned calls = (unsigned)atomic_load(&h.c.calls);
        if (r == 0)
            cr_assert_eq(calls, 2u, "the first call splits: one share per thread");
        else
            cr_assert(calls == 1 || calls == 2, "%u shares for 2 threads", calls);
        cr_assert_eq(mpt_cover_wrong(&h.c), 0u);
        cr_assert_eq(atomic_load(&h.off_caller), 0, "the held worker ran a share");
        mpt_cover_free(&h.c);
    }
    atomic_store(&gate[1], 1);
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    mpt_destroy(pool);
}

/* Work measured in instructions, not in wall time: a callback preempted
 * by another thread of its CPU takes longer. */
static _Atomic uint64_t work_sink;

static void work_units(uint64_t n)
{
    uint64_t x = 0;
    for (uint64_t i = 0; i < n; i++) {
        x += i ^ (x >> 3);
        __asm__ volatile("" : "+r"(x));
    }
    atomic_fetch_add_explicit(&work_sink, x, memory_order_relaxed);
}

static int units_body(void *arg, size_t begin, size_t end)
{
    work_units(*(const uint64_t *)arg * (end - begin));
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* With the whole process on one CPU, a woken worker can only run instead
 * of the caller, never beside it: a cold call that wakes it is never
 * faster than the caller alone. After a few calls the pool must stop
 * waking it (all but the probes, one call in 64). Before the pool looked
 * at where woken workers ran, every one of these calls woke the worker. */
Test(loop, a_worker_that_shares_the_callers_cpu_stops_being_woken)
{
    cpu_set_t one, all;
    cr_assert_eq(sched_getaffinity(0, sizeof all, &all), 0);
    int cpu = -1;
    for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++)
        if (CPU_ISSET(c, &all))
            cpu = c;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);

    /* about 15 us of work per item, 2 items: a share outlasts a wake-up */
    uint64_t t0 = now_ns();
    work_units(1000000);
    uint64_t per_us = 1000000000u / (now_ns() - t0 + 1) + 1;
    uint64_t units = 15 * per_us;

    mp_pool *pool = mpt_pool(2);
    mp_stats before = {.size = sizeof before}, after = {.size = sizeof after};
    const int warm_up = 200, judged = 640;
    for (int r = 0; r < warm_up + judged; r++) {
        if (r == warm_up)
            cr_assert_eq(mp_pool_stats(pool, &before), MP_OK);
        /* 60 us of the caller's own work between calls: the worker's spin
         * window (20 us) runs out and every call finds it asleep */
        work_units(60 * per_us);
        cr_assert_eq(mp_for(pool, 2, 1, MP_SPLIT_STATIC, units_body, &units), MP_OK);
    }
    cr_assert_eq(mp_pool_stats(pool, &after), MP_OK);
    uint64_t woken = after.wakeups - before.wakeups;
    cr_assert(woken <= (uint64_t)judged / 5,
              "%llu wake-ups in %d cold calls on one CPU: woken calls are never faster here",
              (unsigned long long)woken, judged);
    mpt_destroy(pool);
    cr_assert_eq(sched_setaffinity(0, sizeof all, &all), 0);
}

/* -------------------------------------------------------------- nesting */

struct grid {
    mp_pool *pool;
    mp_pool *inner_pool;
    size_t rows, cols;
    atomic_uchar *hits;
    unsigned inner_flags;
};

struct row {
    struct grid *g;
    size_t r;
};

static int inner_body(void *arg, size_t begin, size_t end)
{
    struct row *row = arg;
    for (size_t c = begin; c < end; c++)
        atomic_fetch_add(&row->g->hits[row->r * row->g->cols + c], 1);
    return 0;
}

static int outer_body(void *arg, size_t begin, size_t end)
{
    struct grid *g = arg;
    for (size_t r = begin; r < end; r++) {
        struct row row = {g, r};
        int rc = mp_for(g->inner_pool, g->cols, 1, g->inner_flags, inner_body, &row);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void run_grid(mp_pool *outer, mp_pool *inner, size_t rows, size_t cols, unsigned flags)
{
    struct grid g = {outer, inner, rows, cols, calloc(rows * cols, 1), flags};
    cr_assert_eq(mp_for(outer, rows, 1, flags, outer_body, &g), MP_OK);
    size_t wrong = 0;
    for (size_t i = 0; i < rows * cols; i++)
        wrong += g.hits[i] != 1;
    cr_assert_eq(wrong, 0u, "%zu of %zu cells not hit exactly once", wrong, rows * cols);
    free(g.hits);
}

Test(loop, nested_loops_on_the_same_pool_and_across_pools)
{
    mp_pool *a = mpt_pool(3), *b = mpt_pool(2);
    for (size_t f = 0; f < 4; f++) {
        run_grid(a, a, 50, 40, all_flags[f]);
        run_grid(a, b, 30, 300, all_flags[f]);
        run_grid(b, a, 30, 300, all_flags[f]);
    }
    mpt_destroy(a);
    mpt_destroy(b);
}

struct ext_loop {
    mp_pool *pool;
    size_t n;
    unsigned flags;
    size_t wrong;
    int rc;
};

static void *external_looper(void *arg)
{
    struct ext_loop *e = arg;
    e->wrong = 0;
    e->rc = 0;
    for (int r = 0; r < 30 && e->rc == 0 && e->wrong == 0; r++) {
        mpt_cover c; /* mpt_cover_init aborts, never asserts: usable here */
        mpt_cover_init(&c, e->n);
        e->rc = mp_for(e->pool, e->n, 3, e->flags, mpt_cover_body, &c);
        e->wrong = mpt_cover_wrong(&c);
        mpt_cover_free(&c);
    }
    return NULL;
}

Test(loop, loops_from_several_external_threads_at_once)
{
    mp_pool *pool = mpt_pool(3);
    enum { T = 6 };
    pthread_t th[T];
    struct ext_loop e[T];
    for (int i = 0; i < T; i++) {
        e[i] = (struct ext_loop){pool, 20000u + (size_t)i * 7, all_flags[i % 4], 0, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, external_looper, &e[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(e[i].rc, MP_OK, "thread %d", i);
        cr_assert_eq(e[i].wrong, 0u, "thread %d", i);
    }
    mpt_destroy(pool);
}

/* --------------------------------------------------------------- errors */

struct fail_at {
    size_t bad;          /* the item whose part fails */
    int value;
    atomic_long items;   /* items processed */
    atomic_long calls;
    atomic_int fail_all; /* every part fails */
};

static int fail_at_body(void *arg, size_t begin, size_t end)
{
    struct fail_at *f = arg;
    atomic_fetch_add(&f->calls, 1);
    atomic_fetch_add(&f->items, (long)(end - begin));
    if (atomic_load(&f->fail_all) || (f->bad >= begin && f->bad < end))
        return f->value;
    return 0;
}

Test(loop, the_error_of_the_failing_part_comes_back_unchanged)
{
    static const int values[] = {1, 42, INT_MAX, -1, -4096, -100000, INT_MIN};
    static const unsigned sizes[] = {1, 2, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++)
            for (size_t f = 0; f < 4; f++) {
                size_t n = 10000;
                size_t where[] = {0, n / 2, n - 1};
                for (int w = 0; w < 3; w++) {
                    struct fail_at fa = {.bad = where[w], .value = values[v]};
                    cr_assert_eq(mp_for(pool, n, 1, all_flags[f], fail_at_body, &fa), values[v],
                                 "threads=%u flags=%u failing item %zu", sizes[k], all_flags[f],
                                 where[w]);
                }
            }
        mpt_destroy(pool);
    }
}

Test(loop, after_a_failure_the_parts_not_started_are_skipped)
{
    static const unsigned sizes[] = {2, 4, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        size_t n = 1000000;
        struct fail_at fa = {.bad = SIZE_MAX, .value = 5, .fail_all = 1};
        cr_assert_eq(mp_for(pool, n, 1, MP_SPLIT_DYNAMIC, fail_at_body, &fa), 5);
        cr_assert_lt(atomic_load(&fa.items), (long)n,
                     "%u threads: every part ran although each one failed (%ld calls)", sizes[k],
                     atomic_load(&fa.calls));
        /* Deterministic: 64 parts at most; far fewer may start. */
        struct fail_at fd = {.bad = SIZE_MAX, .value = 6, .fail_all = 1};
        cr_assert_eq(mp_for(pool, n, 1, MP_DETERMINISTIC, fail_at_body, &fd), 6);
        cr_assert_lt(atomic_load(&fd.calls), 64, "%u threads: deterministic parts skipped",
                     sizes[k]);
        /* The pool is unaffected afterwards. */
        mpt_cover c;
        mpt_cover_init(&c, 50000);
        cr_assert_eq(mp_for(pool, 50000, 1, 0, mpt_cover_body, &c), MP_OK);
        cr_assert_eq(mpt_cover_wrong(&c), 0u);
        mpt_cover_free(&c);
        mpt_destroy(pool);
    }
}

/* A failure in one loop does not disturb a concurrent loop on the pool. */
struct concurrent_fail {
    mp_pool *pool;
    int good;
    int rounds_ok;
    int rounds;
};

static void *concurrent_looper(void *arg)
{
    struct concurrent_fail *cf = arg;
    for (int r = 0; r < cf->rounds; r++) {
        if (cf->good) {
            mpt_cover c;
            c.n = 20000;
            c.hits = calloc(c.n, 1);
            atomic_init(&c.bad_range, 0);
            atomic_init(&c.calls, 0);
            int rc = mp_for(cf->pool, c.n, 1, 0, mpt_cover_body, &c);
            if (rc == MP_OK && mpt_cover_wrong(&c) == 0)
                cf->rounds_ok++;
            free(c.hits);
        } else {
            struct fail_at fa = {.bad = 9999, .value = 1234};
            if (mp_for(cf->pool, 20000, 1, 0, fail_at_body, &fa) == 1234)
                cf->rounds_ok++;
        }
    }
    return NULL;
}

Test(loop, a_failing_loop_does_not_affect_a_concurrent_one)
{
    mp_pool *pool = mpt_pool(3);
    enum { T = 4 };
    pthread_t th[T];
    struct concurrent_fail cf[T];
    for (int i = 0; i < T; i++) {
        cf[i] = (struct concurrent_fail){pool, i % 2, 0, 100};
        cr_assert_eq(pthread_create(&th[i], NULL, concurrent_looper, &cf[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(cf[i].rounds_ok, cf[i].rounds, "thread %d (%s)", i,
                     cf[i].good ? "good loops" : "failing loops");
    }
    mpt_destroy(pool);
}

static int nested_fail_body(void *arg, size_t begin, size_t end)
{
    mp_pool *pool = arg;
    (void)end;
    if (begin <= 77 && 77 < end) {
        struct fail_at fa = {.bad = 5, .value = 4321};
        return mp_for(pool, 100, 1, 0, fail_at_body, &fa);
    }
    return 0;
}

Test(loop, an_inner_error_returned_by_the_body_reaches_the_outer_caller)
{
    mp_pool *pool = mpt_pool(2);
    cr_assert_eq(mp_for(pool, 100, 1, 0, nested_fail_body, pool), 4321);
    mpt_destroy(pool);
}
