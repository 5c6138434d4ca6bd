/* mp_broadcast: one part per thread, barriers, calls from workers, nested
 * broadcasts, external threads, errors. */
#include "support.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

TestSuite(broadcast, .timeout = 50);

#define MAXT 32

struct bc_record {
    mp_pool *pool;
    atomic_int runs[MAXT];
    pthread_t thread_of[MAXT];
    atomic_int wrong_count;
    atomic_int wrong_index;
    unsigned expect_count;
};

static int record_part(void *arg, unsigned index, unsigned count)
{
    struct bc_record *r = arg;
    if (count != r->expect_count)
        atomic_fetch_add(&r->wrong_count, 1);
    if (index >= MAXT || index >= count) {
        atomic_fetch_add(&r->wrong_index, 1);
        return 0;
    }
    if (mp_pool_thread_index(r->pool) != (int)index)
        atomic_fetch_add(&r->wrong_index, 1);
    r->thread_of[index] = pthread_self();
    atomic_fetch_add(&r->runs[index], 1);
    return 0;
}

Test(broadcast, from_outside_each_index_runs_once_on_its_own_thread)
{
    static const unsigned sizes[] = {1, 2, 4, 16};
    for (size_t k = 0; k < 4; k++) {
        unsigned n = sizes[k];
        mp_pool *pool = mpt_pool(n);
        pthread_t first[MAXT];
        for (int rep = 0; rep < 50; rep++) {
            struct bc_record *r = calloc(1, sizeof *r);
            r->pool = pool;
            r->expect_count = n;
            cr_assert_eq(mp_broadcast(pool, record_part, r), MP_OK);
            cr_assert_eq(atomic_load(&r->wrong_count), 0);
            cr_assert_eq(atomic_load(&r->wrong_index), 0, "part i sees thread index i");
            for (unsigned i = 0; i < n; i++)
                cr_assert_eq(atomic_load(&r->runs[i]), 1, "%u threads: index %u", n, i);
            cr_assert(pthread_equal(r->thread_of[0], pthread_self()), "the caller runs index 0");
            for (unsigned i = 0; i < n; i++)
                for (unsigned j = i + 1; j < n; j++)
                    cr_assert(!pthread_equal(r->thread_of[i], r->thread_of[j]),
                              "indices %u and %u on one thread", i, j);
            if (rep == 0)
                memcpy(first, r->thread_of, sizeof first);
            else
                for (unsigned i = 0; i < n; i++)
                    cr_assert(pthread_equal(first[i], r->thread_of[i]),
                              "index %u always runs on worker %u", i, i);
            free(r);
        }
        mpt_destroy(pool);
    }
}

/* A two-phase spinning barrier among all parts: it only completes if the
 * N parts really run at the same time. */
struct barrier {
    atomic_int arrived;
    atomic_int departed;
    atomic_int timeouts;
    unsigned n;
};

static int barrier_part(void *arg, unsigned index, unsigned count)
{
    struct barrier *b = arg;
    (void)index;
    (void)count;
    atomic_fetch_add(&b->arrived, 1);
    if (!mpt_wait_at_least(&b->arrived, (int)b->n, 10.0))
        atomic_fetch_add(&b->timeouts, 1);
    atomic_fetch_add(&b->departed, 1);
    if (!mpt_wait_at_least(&b->departed, (int)b->n, 10.0))
        atomic_fetch_add(&b->timeouts, 1);
    return 0;
}

Test(broadcast, a_barrier_among_the_parts_works)
{
    static const unsigned sizes[] = {2, 3, 4, 16};
    for (size_t k = 0; k < 4; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (int rep = 0; rep < 10; rep++) {
            struct barrier b = {.n = sizes[k]};
            cr_assert_eq(mp_broadcast(pool, barrier_part, &b), MP_OK);
            cr_assert_eq(atomic_load(&b.timeouts), 0, "%u threads: the barrier never filled",
                         sizes[k]);
            cr_assert_eq(atomic_load(&b.departed), (int)sizes[k]);
        }
        mpt_destroy(pool);
    }
}

/* ------------------------------------------------ called from a worker */

struct from_worker {
    mp_pool *pool;
    unsigned caller_index;      /* the worker that calls the inner broadcast */
    pthread_t outer_thread[MAXT];
    struct bc_record inner;
    atomic_int inner_rc;
    atomic_int index0_thread_index;
};

static int inner_from_worker_part(void *arg, unsigned index, unsigned count)
{
    struct from_worker *fw = arg;
    if (index == 0)
        atomic_store(&fw->index0_thread_index, mp_pool_thread_index(fw->pool));
    if (count != fw->inner.expect_count)
        atomic_fetch_add(&fw->inner.wrong_count, 1);
    if (index < MAXT) {
        fw->inner.thread_of[index] = pthread_self();
        atomic_fetch_add(&fw->inner.runs[index], 1);
    }
    return 0;
}

static int outer_part(void *arg, unsigned index, unsigned count)
{
    struct from_worker *fw = arg;
    (void)count;
    fw->outer_thread[index] = pthread_self();
    if (index == fw->caller_index)
        atomic_store(&fw->inner_rc, mp_broadcast(fw->pool, inner_from_worker_part, fw));
    return 0;
}

Test(broadcast, from_worker_k_that_worker_runs_k_and_0)
{
    unsigned n = 4;
    mp_pool *pool = mpt_pool(n);
    for (unsigned k = 1; k < n; k++) {
        struct from_worker *fw = calloc(1, sizeof *fw);
        fw->pool = pool;
        fw->caller_index = k;
        fw->inner.expect_count = n;
        atomic_store(&fw->inner_rc, 99);
        atomic_store(&fw->index0_thread_index, -99);
        cr_assert_eq(mp_broadcast(pool, outer_part, fw), MP_OK);
        cr_assert_eq(atomic_load(&fw->inner_rc), MP_OK);
        cr_assert_eq(atomic_load(&fw->inner.wrong_count), 0);
        for (unsigned i = 0; i < n; i++)
            cr_assert_eq(atomic_load(&fw->inner.runs[i]), 1, "inner index %u", i);
        cr_assert(pthread_equal(fw->inner.thread_of[0], fw->outer_thread[k]),
                  "worker %u runs index 0 of its broadcast", k);
        cr_assert(pthread_equal(fw->inner.thread_of[k], fw->outer_thread[k]));
        for (unsigned i = 1; i < n; i++)
            cr_assert(pthread_equal(fw->inner.thread_of[i], fw->outer_thread[i]),
                      "worker %u runs its own index", i);
        cr_assert_eq(atomic_load(&fw->index0_thread_index), (int)k,
                     "index 0 runs on worker %u, whose thread index stays %u", k, k);
        free(fw);
    }
    mpt_destroy(pool);
}

static int broadcast_task(void *arg)
{
    struct from_worker *fw = arg;
    fw->outer_thread[fw->caller_index] = pthread_self();
    return mp_broadcast(fw->pool, inner_from_worker_part, fw);
}

Test(broadcast, from_a_background_task_on_a_worker)
{
    mp_pool *pool = mpt_pool(2);
    struct from_worker *fw = calloc(1, sizeof *fw);
    fw->pool = pool;
    fw->caller_index = 1;
    fw->inner.expect_count = 2;
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(pool, broadcast_task, fw, &t), MP_OK);
    /* Let the worker take it (do not wait: that could run it here). */
    for (int i = 0; i < 20000 && !mp_task_done(t); i++)
        mpt_spin_us(500);
    cr_assert_eq(mp_task_wait(t), MP_OK);
    mp_task_release(t);
    cr_assert_eq(atomic_load(&fw->inner.runs[0]), 1);
    cr_assert_eq(atomic_load(&fw->inner.runs[1]), 1);
    if (!pthread_equal(fw->outer_thread[1], pthread_self()))
        cr_assert(pthread_equal(fw->inner.thread_of[0], fw->inner.thread_of[1]),
                  "the worker that called runs both indices");
    free(fw);
    mpt_destroy(pool);
}

/* --------------------------------------------------------------- nested */

struct nest {
    mp_pool *pool;
    unsigned n;
    atomic_int cell[MAXT][MAXT];
    atomic_int wrong;
    atomic_int rc;
};

struct nest_inner {
    struct nest *nest;
    unsigned outer;
};

static int nest_inner_part(void *arg, unsigned index, unsigned count)
{
    struct nest_inner *ni = arg;
    if (count != ni->nest->n || index >= count)
        atomic_fetch_add(&ni->nest->wrong, 1);
    else
        atomic_fetch_add(&ni->nest->cell[ni->outer][index], 1);
    return 0;
}

static int nest_outer_part(void *arg, unsigned index, unsigned count)
{
    struct nest *nest = arg;
    (void)count;
    struct nest_inner ni = {nest, index};
    int rc = mp_broadcast(nest->pool, nest_inner_part, &ni);
    if (rc != 0)
        atomic_store(&nest->rc, rc);
    return rc;
}

Test(broadcast, every_part_of_a_broadcast_broadcasts_again)
{
    static const unsigned sizes[] = {1, 2, 3, 4, 8};
    for (size_t k = 0; k < 5; k++) {
        unsigned n = sizes[k];
        mp_pool *pool = mpt_pool(n);
        for (int rep = 0; rep < 10; rep++) {
            struct nest *nest = calloc(1, sizeof *nest);
            nest->pool = pool;
            nest->n = n;
            cr_assert_eq(mp_broadcast(pool, nest_outer_part, nest), MP_OK);
            cr_assert_eq(atomic_load(&nest->rc), 0);
            cr_assert_eq(atomic_load(&nest->wrong), 0);
            for (unsigned i = 0; i < n; i++)
                for (unsigned j = 0; j < n; j++)
                    cr_assert_eq(atomic_load(&nest->cell[i][j]), 1,
                                 "%u threads: inner part %u of outer part %u", n, j, i);
            free(nest);
        }
        mpt_destroy(pool);
    }
}

/* Broadcasts from inside loop bodies, wherever those run. */
struct bc_in_loop {
    mp_pool *pool;
    atomic_int parts;
    atomic_int bad;
};

static int count_part(void *arg, unsigned index, unsigned count)
{
    struct bc_in_loop *b = arg;
    if (index >= count || count != mp_pool_threads(b->pool))
        atomic_fetch_add(&b->bad, 1);
    atomic_fetch_add(&b->parts, 1);
    return 0;
}

static int bc_body(void *arg, size_t begin, size_t end)
{
    struct bc_in_loop *b = arg;
    for (size_t i = begin; i < end; i++) {
        int rc = mp_broadcast(b->pool, count_part, b);
        if (rc != 0)
            return rc;
    }
    return 0;
}

Test(broadcast, from_inside_loop_bodies)
{
    static const unsigned sizes[] = {2, 3};
    for (size_t k = 0; k < 2; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        struct bc_in_loop b = {.pool = pool};
        cr_assert_eq(mp_for(pool, 100, 1, 0, bc_body, &b), MP_OK);
        cr_assert_eq(atomic_load(&b.bad), 0);
        cr_assert_eq(atomic_load(&b.parts), 100 * (int)sizes[k]);
        mpt_destroy(pool);
    }
}

struct ext_bc {
    mp_pool *pool;
    int failures;
};

static void *external_broadcaster(void *arg)
{
    struct ext_bc *e = arg;
    unsigned n = mp_pool_threads(e->pool);
    for (int rep = 0; rep < 100; rep++) {
        struct bc_record *r = calloc(1, sizeof *r);
        r->pool = e->pool;
        r->expect_count = n;
        if (mp_broadcast(e->pool, record_part, r) != MP_OK)
            e->failures++;
        if (atomic_load(&r->wrong_count) || atomic_load(&r->wrong_index))
            e->failures++;
        for (unsigned i = 0; i < n; i++)
            if (atomic_load(&r->runs[i]) != 1)
                e->failures++;
        if (!pthread_equal(r->thread_of[0], pthread_self()))
            e->failures++;
        free(r);
    }
    return NULL;
}

Test(broadcast, from_several_external_threads_at_once)
{
    mp_pool *pool = mpt_pool(3);
    enum { T = 4 };
    pthread_t th[T];
    struct ext_bc e[T];
    for (int i = 0; i < T; i++) {
        e[i] = (struct ext_bc){pool, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, external_broadcaster, &e[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(e[i].failures, 0, "thread %d", i);
    }
    mpt_destroy(pool);
}

/* --------------------------------------------------------------- errors */

struct bc_fail {
    unsigned bad;
    int value;
    atomic_int runs;
};

static int fail_part(void *arg, unsigned index, unsigned count)
{
    struct bc_fail *f = arg;
    (void)count;
    atomic_fetch_add(&f->runs, 1);
    return index == f->bad ? f->value : 0;
}

Test(broadcast, the_error_of_a_part_comes_back_unchanged)
{
    static const int values[] = {1, 42, INT_MAX, -1, -5000, INT_MIN};
    static const unsigned sizes[] = {1, 2, 3, 16};
    for (size_t k = 0; k < 4; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++)
            for (unsigned bad = 0; bad < sizes[k]; bad += sizes[k] > 3 ? 5 : 1) {
                struct bc_fail f = {bad, values[v], 0};
                cr_assert_eq(mp_broadcast(pool, fail_part, &f), values[v],
                             "%u threads, part %u fails", sizes[k], bad);
                cr_assert_leq(atomic_load(&f.runs), (int)sizes[k]);
            }
        /* The pool still broadcasts to everybody afterwards. */
        struct bc_fail ok = {MAXT, 0, 0};
        cr_assert_eq(mp_broadcast(pool, fail_part, &ok), MP_OK);
        cr_assert_eq(atomic_load(&ok.runs), (int)sizes[k]);
        mpt_destroy(pool);
    }
}

Test(broadcast, null_arguments_are_einval)
{
    mp_pool *pool = mpt_pool(2);
    struct bc_fail f = {0, 1, 0};
    cr_assert_eq(mp_broadcast(NULL, fail_part, &f), MP_EINVAL);
    cr_assert_eq(mp_broadcast(pool, NULL, &f), MP_EINVAL);
    cr_assert_eq(atomic_load(&f.runs), 0);
    mpt_destroy(pool);
}

/* ------------------------------------------------------- across pools */

/* Worker 1 of pool a waits inside mp_broadcast(b); worker 1 of b then
 * broadcasts on a, whose part 1 is addressed to the waiting worker. A
 * thread waiting inside any micropool call still runs the part addressed
 * to it (abi-v1), so this completes. */
struct cross {
    mp_pool *a, *b;
    atomic_int inner_parts;
    atomic_int rc_b, rc_inner;
};

static struct cross *cross_ctx;

static int cross_leaf(void *arg, unsigned index, unsigned count)
{
    (void)arg;
    (void)index;
    (void)count;
    atomic_fetch_add(&cross_ctx->inner_parts, 1);
    return 0;
}

static int cross_on_b(void *arg, unsigned index, unsigned count)
{
    (void)arg;
    (void)count;
    if (index == 1)
        atomic_store(&cross_ctx->rc_inner, mp_broadcast(cross_ctx->a, cross_leaf, NULL));
    return 0;
}

static int cross_on_a(void *arg, unsigned index, unsigned count)
{
    (void)arg;
    (void)count;
    if (index == 1)
        atomic_store(&cross_ctx->rc_b, mp_broadcast(cross_ctx->b, cross_on_b, NULL));
    return 0;
}

Test(broadcast, a_worker_waiting_in_another_pool_still_runs_its_part, .timeout = 10)
{
    struct cross c = {.a = mpt_pool(2), .b = mpt_pool(2), .rc_b = 99, .rc_inner = 99};
    cross_ctx = &c;
    for (int rep = 0; rep < 20; rep++) {
        atomic_store(&c.inner_parts, 0);
        cr_assert_eq(mp_broadcast(c.a, cross_on_a, NULL), MP_OK);
        cr_assert_eq(atomic_load(&c.rc_b), MP_OK);
        cr_assert_eq(atomic_load(&c.rc_inner), MP_OK);
        cr_assert_eq(atomic_load(&c.inner_parts), 2);
    }
    mpt_destroy(c.a);
    mpt_destroy(c.b);
}
