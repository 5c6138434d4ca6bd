/* task.c: background tasks (mp_submit and the task handles).
 *
 * The queue is a ring of entries (fn, arg, record) under one mutex, grown
 * by doubling when full; workers take a batch of entries per lock when the
 * queue is long. A detached task is only its entry: no heap record. A task
 * with a handle also has a heap record with a reference count (one for the
 * queue, one for the handle); its state moves PENDING -> RUNNING -> DONE or
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
};

typedef struct mp_task_entry {
    mp_fn fn;
    void *arg;
    mp_task *task;                  /* NULL for a detached task */
} mp_task_entry;

#define MP_TASK_RING_INITIAL 256u

int mp_task_queue_init(mp_pool *pool)
{
    pool->tring = malloc(MP_TASK_RING_INITIAL * sizeof *pool->tring);
    pool->tcap = MP_TASK_RING_INITIAL;
    return pool->tring ? MP_OK : MP_ENOMEM;
}

void mp_task_queue_free(mp_pool *pool)
{
    free(pool->tring);
}

/* Makes room for `more` entries; under tlock. */
static bool reserve(mp_pool *pool, uint32_t more)
{
    uint32_t count = pool->ttail - pool->thead;
    if (count + more <= pool->tcap)
        return true;
    uint32_t cap = pool->tcap;
    while (count + more > cap) {
        if (cap > UINT32_MAX / 2)
            return false;
        cap *= 2;
    }
    mp_task_entry *ring = malloc((size_t)cap * sizeof *ring);
    if (!ring)
        return false;
    for (uint32_t i = 0; i < count; i++)
        ring[i] = pool->tring[(pool->thead + i) & (pool->tcap - 1)];
    free(pool->tring);
    pool->tring = ring;
    pool->tcap = cap;
    pool->thead = 0;
    pool->ttail = count;
    return true;
}

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
    mp_task *t = NULL;
    if (out) {
        t = malloc(sizeof *t);
        if (!t)
            return MP_ENOMEM;
        atomic_init(&t->state, T_PENDING);
        atomic_init(&t->waiters, 0);
        atomic_init(&t->refs, 2);
        t->result = 0;
        t->fn = fn;
        t->arg = arg;
        t->pool = pool;
    }

    /* After an idle spell none of the lines this call touches is in this
     * CPU's cache, and the lock's exchange and the counters' locked adds
     * would fetch them one after another: ask for the counters' line and
     * for `sleepers` (read by mp_wake_idle) now, alongside the lock's. */
    __builtin_prefetch(&pool->tq_len, 1);
    __builtin_prefetch(&pool->sleepers, 0);
    mp_spin_lock(&pool->tlock);
    int rc = pool->shutdown ? MP_ESHUTDOWN : !reserve(pool, 1) ? MP_ENOMEM : MP_OK;
    if (rc != MP_OK) {
        mp_spin_unlock(&pool->tlock);
        free(t);
        return rc;
    }
    pool->tring[pool->ttail++ & (pool->tcap - 1)] = (mp_task_entry){fn, arg, t};
    atomic_fetch_add_explicit(&pool->inflight, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->tq_len, 1, memory_order_seq_cst);
    mp_spin_unlock(&pool->tlock);

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
    mp_task_entry batch[MP_TASK_BATCH_MAX];
    mp_spin_lock(&pool->tlock);
    uint32_t len = pool->ttail - pool->thead;
    uint32_t got = len / (2 * pool->nthreads);
    got = got < 1 ? 1 : got > MP_TASK_BATCH_MAX ? MP_TASK_BATCH_MAX : got;
    if (got > len)
        got = len;
    for (uint32_t i = 0; i < got; i++)
        batch[i] = pool->tring[pool->thead++ & (pool->tcap - 1)];
    atomic_fetch_sub_explicit(&pool->tq_len, got, memory_order_relaxed);
    mp_spin_unlock(&pool->tlock);
    if (!got)
        return false;
    mp_set_spinning(ctx, 0);

    uint32_t ran = 0;
    for (uint32_t i = 0; i < got; i++) {
        mp_task *t = batch[i].task;
        if (!t) {
            batch[i].fn(batch[i].arg);
            ran++;
        } else {
            uint32_t expect = T_PENDING;
            if (atomic_compare_exchange_strong_explicit(&t->state, &expect, T_RUNNING,
                                                        memory_order_acquire,
                                                        memory_order_relaxed)) {
                run(t);
                ran++;
            }
            unref(t);
        }
        if (i + 1 < got && foreground_waiting(pool, ctx)) {
            /* Give the rest back, at the head: they keep their order. */
            uint32_t rest = got - i - 1;
            mp_spin_lock(&pool->tlock);
            if (reserve(pool, rest)) {
                for (uint32_t k = got; k > i + 1; k--)
                    pool->tring[--pool->thead & (pool->tcap - 1)] = batch[k - 1];
                atomic_fetch_add_explicit(&pool->tq_len, rest, memory_order_seq_cst);
                got = i + 1;
            }
            mp_spin_unlock(&pool->tlock);
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
