/* task.c: background tasks (mp_submit and the task handles).
 *
 * A task is a heap record with a reference count: one reference for the
 * queue, one for the handle. Its state moves PENDING -> RUNNING -> DONE or
 * PENDING -> CANCELLED by CAS, so exactly one thread runs it, or nobody.
 * The pool counts tasks `inflight` (submitted, not finished or cancelled);
 * mp_pool_destroy waits for that count to reach 0. */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <time.h>

enum { T_PENDING, T_RUNNING, T_DONE, T_CANCELLED };

struct mp_task {
    _Atomic uint32_t state;
    _Atomic uint32_t waiters;       /* threads in futex_wait on state */
    _Atomic uint32_t refs;
    int result;
    mp_fn fn;
    void *arg;
    mp_pool *pool;                  /* valid while the task is inflight */
    mp_task *next;                  /* queue link, under pool->tmu */
};

static void unref(mp_task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        free(t);
}

/* `n` tasks of the pool have settled: the destroyer waits for 0. */
static void inflight_done(mp_pool *pool, uint32_t n)
{
    if (atomic_fetch_sub_explicit(&pool->inflight, n, memory_order_seq_cst) == n) {
        mp_ctx *d = atomic_load_explicit(&pool->destroyer, memory_order_seq_cst);
        if (d)
            mp_wake_ctx(pool, d);
    }
}

/* The task will never run again (done or cancelled): wake its waiters.
 * The caller then counts it out of `inflight` (a worker once per batch). */
static void settle(mp_task *t, uint32_t state)
{
    atomic_store_explicit(&t->state, state, memory_order_seq_cst);
    if (atomic_load_explicit(&t->waiters, memory_order_seq_cst))
        mp_futex_wake(&t->state, INT_MAX);
}

static void run(mp_task *t)
{
    t->result = t->fn(t->arg);
    settle(t, T_DONE);
}

int mp_submit(mp_pool *pool, mp_fn fn, void *arg, mp_task **out)
{
    if (!pool || !fn)
        return MP_EINVAL;
    mp_task *t = malloc(sizeof *t);
    if (!t)
        return MP_ENOMEM;
    atomic_init(&t->state, T_PENDING);
    atomic_init(&t->waiters, 0);
    atomic_init(&t->refs, out ? 2 : 1);
    t->result = 0;
    t->fn = fn;
    t->arg = arg;
    t->pool = pool;
    t->next = NULL;

    pthread_mutex_lock(&pool->tmu);
    if (pool->shutdown) {
        pthread_mutex_unlock(&pool->tmu);
        free(t);
        return MP_ESHUTDOWN;
    }
    if (pool->ttail)
        pool->ttail->next = t;
    else
        pool->thead = t;
    pool->ttail = t;
    atomic_fetch_add_explicit(&pool->inflight, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->tq_len, 1, memory_order_seq_cst);
    pthread_mutex_unlock(&pool->tmu);

    mp_wake_idle(pool, 1);
    if (out)
        *out = t;
    return MP_OK;
}

/* Tasks a worker takes from the queue under one lock: a share of the queue
 * (so a long queue of tiny tasks costs one lock per batch), one when the
 * queue is short (so long tasks spread over the workers). */
#define MP_TASK_BATCH_MAX 16u

/* True when the worker should go back to foreground work. */
static bool foreground_waiting(mp_pool *pool, mp_ctx *ctx)
{
    return ctx && ctx->index > 0 &&
           (mp_bcast_pending(ctx) || mp_flat_open(pool, ctx, memory_order_relaxed));
}

bool mp_task_run_one(mp_pool *pool, mp_ctx *ctx)
{
    if (atomic_load_explicit(&pool->tq_len, memory_order_relaxed) == 0)
        return false;
    pthread_mutex_lock(&pool->tmu);
    uint32_t len = atomic_load_explicit(&pool->tq_len, memory_order_relaxed);
    uint32_t want = len / (2 * pool->nthreads);
    want = want < 1 ? 1 : want > MP_TASK_BATCH_MAX ? MP_TASK_BATCH_MAX : want;
    mp_task *batch = pool->thead, *last = NULL;
    uint32_t got = 0;
    for (mp_task *t = batch; t && got < want; t = t->next) {
        last = t;
        got++;
    }
    if (got) {
        pool->thead = last->next;
        if (!pool->thead)
            pool->ttail = NULL;
        last->next = NULL;
        atomic_fetch_sub_explicit(&pool->tq_len, got, memory_order_relaxed);
    }
    pthread_mutex_unlock(&pool->tmu);
    if (!got)
        return false;

    uint32_t ran = 0;
    while (batch) {
        mp_task *t = batch;
        batch = t->next;
        uint32_t expect = T_PENDING;
        if (atomic_compare_exchange_strong_explicit(&t->state, &expect, T_RUNNING,
                                                    memory_order_acquire, memory_order_relaxed)) {
            run(t);
            ran++;
        }
        unref(t);
        if (batch && foreground_waiting(pool, ctx)) {
            /* Give the rest back, at the head: they keep their order. */
            mp_task *tail = batch;
            uint32_t n = 1;
            while (tail->next) {
                tail = tail->next;
                n++;
            }
            pthread_mutex_lock(&pool->tmu);
            tail->next = pool->thead;
            pool->thead = batch;
            if (!pool->ttail)
                pool->ttail = tail;
            atomic_fetch_add_explicit(&pool->tq_len, n, memory_order_seq_cst);
            pthread_mutex_unlock(&pool->tmu);
            break;
        }
    }
    if (ran) {
        atomic_fetch_add_explicit(&pool->tasks_run, ran, memory_order_relaxed);
        inflight_done(pool, ran);
    }
    return true;
}

int mp_task_wait(mp_task *t)
{
    if (!t)
        return MP_EINVAL;
    uint32_t s = T_PENDING;
    if (atomic_compare_exchange_strong_explicit(&t->state, &s, T_RUNNING,
                                                memory_order_acquire, memory_order_acquire)) {
        /* Not started: run it here, as a thread of its pool. */
        mp_pool *pool = t->pool;
        mp_link link;
        mp_ctx *ctx;
        bool entered = mp_enter(pool, &link, &ctx, false);
        run(t);
        atomic_fetch_add_explicit(&pool->tasks_run, 1, memory_order_relaxed);
        inflight_done(pool, 1);
        if (entered)
            mp_leave(&link);    /* the last touch of the pool */
        return t->result;
    }

    /* A worker waiting here must still run broadcast parts addressed to
     * it; it sleeps in short slices so that a broadcast is not held up
     * for longer than one slice (see docs/design.md). */
    bool is_worker = false;
    for (mp_link *k = mp_tls_top; k; k = k->outer)
        if (k->ctx && k->index > 0)
            is_worker = true;
    const struct timespec slice = {0, 1000000};
    unsigned spins = 0;
    while ((s = atomic_load_explicit(&t->state, memory_order_acquire)) < T_DONE) {
        if (mp_bcast_run_thread())
            continue;
        if (++spins < 2000) {
            mp_cpu_relax();
            continue;
        }
        atomic_fetch_add_explicit(&t->waiters, 1, memory_order_seq_cst);
        s = atomic_load_explicit(&t->state, memory_order_seq_cst);
        if (s < T_DONE)
            mp_futex_wait(&t->state, s, is_worker ? &slice : NULL);
        atomic_fetch_sub_explicit(&t->waiters, 1, memory_order_relaxed);
    }
    return s == T_CANCELLED ? MP_ECANCELED : t->result;
}

int mp_task_done(const mp_task *t)
{
    if (!t)
        return MP_EINVAL;
    return atomic_load_explicit(&((mp_task *)t)->state, memory_order_acquire) >= T_DONE;
}

int mp_task_cancel(mp_task *t)
{
    if (!t)
        return MP_EINVAL;
    uint32_t s = T_PENDING;
    if (atomic_compare_exchange_strong_explicit(&t->state, &s, T_CANCELLED,
                                                memory_order_acq_rel, memory_order_acquire)) {
        /* Still queued: whoever dequeues it drops it. */
        settle(t, T_CANCELLED);
        inflight_done(t->pool, 1);
        return MP_OK;
    }
    return s == T_CANCELLED ? MP_OK : MP_EBUSY;
}

void mp_task_release(mp_task *t)
{
    if (t)
        unref(t);
}
