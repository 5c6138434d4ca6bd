/* The allocation promises: mp_join, mp_for and mp_reduce with accumulators
 * of up to MP_ACC_INLINE_MAX bytes never allocate on the heap (apart from
 * a thread's one-time set-up).
 *
 * It links ../common/alloc_count.c, which replaces malloc and friends with
 * counting wrappers around glibc's, so it is built only without
 * sanitizers (they bring their own allocator). */
#include "support.h"

#include "alloc_count.h"

#include <stdlib.h>
#include <string.h>

TestSuite(alloc, .timeout = 30);

/* ----------------------------------------------------------- workloads */

struct fib {
    mp_pool *pool;
    int n;
    long result;
};

static int fib_task(void *arg)
{
    struct fib *f = arg;
    if (f->n < 2) {
        f->result = f->n;
        return 0;
    }
    struct fib x = {f->pool, f->n - 1, 0}, y = {f->pool, f->n - 2, 0};
    int rc = mp_join(f->pool, fib_task, &x, fib_task, &y);
    f->result = x.result + y.result;
    return rc;
}

static int touch_body(void *arg, size_t begin, size_t end)
{
    atomic_long *sum = arg;
    long s = 0;
    for (size_t i = begin; i < end; i++)
        s += (long)i;
    atomic_fetch_add(sum, s);
    return 0;
}

struct acc64 {
    uint64_t v[MP_ACC_INLINE_MAX / sizeof(uint64_t)];
};

static int acc_map(void *arg, size_t begin, size_t end, void *acc)
{
    (void)arg;
    struct acc64 *a = acc;
    for (size_t i = begin; i < end; i++)
        a->v[i % 8] += i;
    return 0;
}

static void acc_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    struct acc64 *a = acc;
    const struct acc64 *b = other;
    for (int i = 0; i < 8; i++)
        a->v[i] += b->v[i];
}

/* Returns the number of wrong results (no assertion while counting:
 * reporting one may allocate). */
static int run_workloads(mp_pool *pool, int rounds)
{
    int wrong = 0;
    for (int r = 0; r < rounds; r++) {
        struct fib f = {pool, 12, 0};
        wrong += fib_task(&f) != 0 || f.result != 144;
        atomic_long sum = 0;
        wrong += mp_for(pool, 10000, 1, 0, touch_body, &sum) != MP_OK;
        wrong += mp_for(pool, 10000, 0, MP_SPLIT_STATIC, touch_body, &sum) != MP_OK;
        wrong += atomic_load(&sum) != 10000L * 9999;
        static const unsigned flags[] = {0, MP_SPLIT_STATIC, MP_DETERMINISTIC};
        for (int k = 0; k < 3; k++) {
            struct acc64 acc;
            memset(&acc, 0, sizeof acc);
            wrong += mp_reduce(pool, 100000, 10, flags[k], &acc, sizeof acc, acc_map,
                               acc_combine, NULL) != MP_OK;
            uint64_t total = 0;
            for (int i = 0; i < 8; i++)
                total += acc.v[i];
            wrong += total != 100000ull * 99999 / 2;
        }
    }
    return wrong;
}

Test(alloc, join_for_and_small_reduce_never_allocate)
{
    static const unsigned sizes[] = {1, 2, 4};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        /* Warm up: lazy per-thread set-up may allocate once. */
        cr_assert_eq(run_workloads(pool, 20), 0);
        mpt_alloc_count_start();
        int wrong = run_workloads(pool, 50);
        long n = mpt_alloc_count_stop();
        cr_assert_eq(wrong, 0, "wrong results");
        /* A thread may set itself up once, on its first wait (the engine
         * keeps a parking record per thread); the operations themselves
         * allocate nothing, so 50 rounds of about 400 joins, 2 loops and 3
         * reductions each stay at most one allocation per thread. */
        cr_assert_leq(n, (long)sizes[k],
                      "%u threads: %ld heap allocations in 50 rounds of join, for, reduce",
                      sizes[k], n);
        mpt_destroy(pool);
    }
}

Test(alloc, the_counting_allocator_sees_allocations)
{
    mpt_alloc_count_start();
    void *volatile p = malloc(100);
    long n = mpt_alloc_count_stop();
    free(p);
    cr_assert_eq(n, 1, "the malloc wrapper is in use");
    /* and sees what a shared library allocates, as the pool's would be */
    cr_assert_eq(mpt_alloc_count_probe(), 0, "the malloc wrapper sees libc's strdup");
}

/* ------------------------------------------------------- task records */

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

/* A chain of n tasks, each after the one before, each handle released
 * once its dependent is in; the wait on the last runs them all on the
 * waiting thread, inside the pool, so that each record's last reference
 * goes there. Returns the number of failed calls. */
static int chain(mp_pool *pool, int n)
{
    int wrong = 0;
    mp_task *prev = NULL, *t = NULL;
    for (int i = 0; i < n; i++) {
        mp_task_opts o;
        mp_task_opts_init(&o);
        o.after = &prev;
        o.nafter = prev ? 1 : 0;
        wrong += mp_submit_ex(pool, nothing, NULL, &o, &t) != MP_OK;
        if (prev)
            mp_task_release(prev);
        prev = t;
    }
    wrong += mp_task_wait(t) != 0;
    mp_task_release(t);
    return wrong;
}

Test(alloc, task_records_come_back_to_their_pool)
{
    /* One thread: the caller runs every task, in the wait, holding one of
     * the pool's slots; only the last record is freed outside it. */
    mp_pool *pool = mpt_pool(1);
    cr_assert_eq(chain(pool, 1024), 0);
    mpt_alloc_count_start();
    int wrong = 0;
    for (int r = 0; r < 20; r++)
        wrong += chain(pool, 1024);
    long n = mpt_alloc_count_stop();
    cr_assert_eq(wrong, 0);
    /* Without the cache every record is a malloc (20 x 1024). With it a
     * round needs at most the records not yet handed back (one batch)
     * and the one freed outside the pool. */
    cr_assert_leq(n, 20 * 64, "%ld heap allocations for 20 chains of 1024 tasks", n);
    mpt_destroy(pool);
}

Test(alloc, the_record_cache_keeps_no_more_than_its_bound)
{
    mp_pool *pool = mpt_pool(1);
    cr_assert_eq(chain(pool, 16384), 0);    /* 16384 records dropped in the pool */
    mpt_alloc_count_start();
    int wrong = chain(pool, 16384);
    long n = mpt_alloc_count_stop();
    cr_assert_eq(wrong, 0);
    /* The cache kept 4096 of them (docs/design.md, "Task records"): the
     * rest had to be made again; give or take a batch of 32. */
    cr_assert(n >= 16384 - 4096 - 64 && n <= 16384 - 4096 + 64,
              "%ld heap allocations for a chain of 16384 tasks after one as long", n);
    mpt_destroy(pool);
}
