/* pool.h: a pool and a thread's context in it, composed of each
 * mechanism's part. Every field says which file writes it; the
 * mechanisms' headers say what their parts hold. The call order of the
 * files, with no circle: thread, park, wait; slot, idle; the mechanisms
 * (deque, loop and mailbox, broadcast, scope, task and record, warm);
 * worker; pool.
 * See docs/design.md, "Threads and contexts". */
#ifndef MP_POOL_H
#define MP_POOL_H

#include "broadcast.h"
#include "deque.h"
#include "idle.h"
#include "loop.h"
#include "mailbox.h"
#include "record.h"
#include "scope.h"
#include "slot.h"
#include "task.h"
#include "trace.h"
#include "wait.h"
#include "warm.h"

/* A thread's context in one pool. Workers own one each; threads from
 * outside the pool borrow a slot (slot.c) for the length of a call. */
struct mp_ctx {
    /* Who runs on this context: a worker's record (pool.c), or the
     * borrower's (slot.c). Read by wakers. */
    alignas(MP_CACHELINE) _Atomic(mp_thread *) thread;
    mp_idle idle;                   /* idle.c (spinning: mp__idle_spinning) */
    mp_slot slot;                   /* slot.c */

    /* The owner's line. */
    alignas(MP_CACHELINE) mp_pool *pool;    /* pool.c, slot.c: at creation */
    unsigned index;                 /* 0 for borrowed slots, i for worker i */
    uint64_t bseen;                 /* broadcast.c: broadcasts run */
    uint64_t flat_seen;             /* loop.c: the last flat loop joined */
    mp_counters count;              /* the owner, through mp__count */
    mp_record_batch records;        /* record.c: records dropped here */

    mp_mailbox mb;                  /* mailbox.c */
    mp_deque dq;                    /* deque.c; its entries come last */
};

/* The part of a context that is zeroed when it is made; the deque's
 * entries after it are left as the allocator gave them (untouched pages
 * stay unmapped). */
#define MP_CTX_HEAD offsetof(mp_ctx, dq.jobs)

struct mp_pool {
    /* pool.c, at creation. */
    unsigned nthreads;              /* N, the caller counted */
    unsigned nworkers;              /* N - 1 */
    uint64_t spin_ns;
    mp_tracer tracer;               /* trace.c's reading of mp_config.trace */
    mp_ctx *ctxs;                   /* nworkers workers, then external slots */
    unsigned nctxs;

    mp_slots slots;                 /* slot.c */
    mp_idlers idle;                 /* idle.c */
    alignas(MP_CACHELINE) _Atomic uint32_t stop;    /* pool.c: workers exit */
    mp_flat flat;                   /* loop.c */
    mp_bcasts bc;                   /* broadcast.c */
    mp_scopes sc;                   /* scope.c */
    mp_taskq tq;                    /* taskq.c (shutdown: task.c) */
    mp_tasks tasks;                 /* task.c, after.c */
    mp_readys ready;                /* ready.c */
    mp_records records;             /* record.c */
    mp_warm warm;                   /* warm.c */

    /* pool.c, at creation: the configuration kept for the workers. */
    int pin;
    size_t stack_size;              /* 0: the system's default */
    char name[16];
    void (*on_thread_start)(void *, unsigned);
    void (*on_thread_stop)(void *, unsigned);
    void *hook_arg;
    pthread_t *threads;
};

/* shared.c: mp_pool_destroy drops a reference to the shared pool: true
 * when the caller goes on to destroy `pool` (another pool, or the shared
 * pool's last reference). */
MP_HIDDEN bool mp__shared_release(mp_pool *pool);

/* worker.c: a worker's thread, and its stop. */
MP_HIDDEN void *mp__worker_main(void *ctx);
MP_HIDDEN void mp__workers_stop(mp_pool *pool, unsigned started);

/* This thread's context in `pool` when it is the innermost link's. */
static inline mp_ctx *mp__ctx_fast(const mp_pool *pool)
{
    mp_ctx *c = mp__tls_ctx;
    return (c && c->pool == pool) ? c : NULL;
}

/* The tracing hooks around a piece of work (trace.h): one test of a field
 * the pool's creation wrote, when the pool has none. */
static inline void mp__trace_begin(const mp_pool *pool, int kind, const char *name)
{
    if (MP_UNLIKELY(pool->tracer.begin != NULL))
        mp__trace_call(pool, false, kind, name);
}

static inline void mp__trace_end(const mp_pool *pool, int kind, const char *name)
{
    if (MP_UNLIKELY(pool->tracer.end != NULL))
        mp__trace_call(pool, true, kind, name);
}

/* Is a broadcast part pending for worker context ctx (a relaxed poll)? */
static inline bool mp__bcast_pending(mp_ctx *ctx)
{
    return ctx->index > 0 &&
           atomic_load_explicit(&ctx->pool->bc.pub, memory_order_relaxed) > ctx->bseen;
}

/* Is a flat loop open that ctx has not joined yet? */
static inline bool mp__flat_open(mp_pool *pool, mp_ctx *self, memory_order mo)
{
    uint64_t s = atomic_load_explicit(&pool->flat.seq, mo);
    return (s & 1) && s != self->flat_seen;
}

/* A wait of the thread on ctx (wait.h); w carries its duties. Its sleeps
 * count on ctx and are traced: the pool outlives a wait inside its
 * calls. */
static inline void mp__wait(mp_ctx *ctx, const mp_waiter *w)
{
    struct mp_sleep_note note = {&ctx->count.sleeps, &ctx->pool->tracer, ctx->index};
    mp__wait_on(atomic_load_explicit(&ctx->thread, memory_order_relaxed), ctx->pool->spin_ns,
                &note, ctx, w);
}

/* mp__wait until *word == 0. */
static inline void mp__wait_zero(mp_ctx *ctx, _Atomic uint32_t *word)
{
    struct mp_waiter w = {word, NULL, NULL, NULL, NULL, NULL, &mp__bcast_duties, 0};
    mp__wait(ctx, &w);
}

#endif
