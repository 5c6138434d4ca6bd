/* broadcast.c: mp_broadcast.
 *
 * A broadcast is a record on its caller's stack, appended to the pool's
 * list under bmu and numbered; bseq_pub is the newest number. Every worker
 * remembers the last number it has run (ctx->bseen) and runs the parts
 * addressed to it strictly in number order, whenever it is idle or waiting
 * inside a call. A record leaves the list only when all its parts have
 * run, so a worker that has not run its part always finds it. */
#include "internal.h"

struct mp_bcast {
    mp_bcast *next;
    uint64_t seq;
    mp_broadcast_fn fn;
    void *arg;
    unsigned count;
    _Atomic uint32_t remaining;     /* parts not yet finished */
    _Atomic int err;
    mp_ctx *waiter;                 /* the caller, woken at 0 */
};

static void run_part(mp_bcast *b, unsigned index)
{
    if (!atomic_load_explicit(&b->err, memory_order_relaxed)) {
        int r = b->fn(b->arg, index, b->count);
        int zero = 0;
        if (r)
            atomic_compare_exchange_strong_explicit(&b->err, &zero, r, memory_order_relaxed,
                                                    memory_order_relaxed);
    }
    mp_ctx *w = b->waiter;          /* b may be gone after the decrement */
    if (atomic_fetch_sub_explicit(&b->remaining, 1, memory_order_seq_cst) == 1)
        mp_wake_ctx(w->pool, w);
}

bool mp_bcast_run_pending(mp_ctx *ctx)
{
    mp_pool *pool = ctx->pool;
    bool ran = false;
    if (ctx->index == 0)
        return false;
    while (ctx->bseen < atomic_load_explicit(&pool->bseq_pub, memory_order_acquire)) {
        uint64_t want = ctx->bseen + 1;
        pthread_mutex_lock(&pool->bmu);
        mp_bcast *b = pool->bhead;
        while (b && b->seq != want)
            b = b->next;
        pthread_mutex_unlock(&pool->bmu);
        /* Marked before running: a part that broadcasts again must not
         * run this one a second time. */
        ctx->bseen = want;
        run_part(b, ctx->index);
        ran = true;
    }
    return ran;
}

bool mp_bcast_run_thread(void)
{
    bool ran = false;
    for (mp_link *l = mp_tls_top; l; l = l->outer)
        if (l->ctx && l->index > 0 && mp_bcast_pending(l->ctx))
            ran |= mp_bcast_run_pending(l->ctx);
    return ran;
}

bool mp_bcast_pending_thread_sc(void)
{
    for (mp_link *l = mp_tls_top; l; l = l->outer)
        if (l->ctx && l->index > 0 && mp_bcast_pending_sc(l->ctx))
            return true;
    return false;
}

int mp_broadcast(mp_pool *pool, mp_broadcast_fn fn, void *arg)
{
    if (!pool || !fn)
        return MP_EINVAL;
    mp_link link;
    mp_ctx *ctx;
    bool entered = mp_enter(pool, &link, &ctx, true);
    mp_count(&ctx->count.jobs);

    mp_bcast b = {.fn = fn, .arg = arg, .count = pool->nthreads, .waiter = ctx};
    atomic_init(&b.remaining, pool->nthreads);
    atomic_init(&b.err, 0);

    if (pool->nthreads > 1) {
        pthread_mutex_lock(&pool->bmu);
        b.seq = ++pool->bseq_last;
        if (pool->btail)
            pool->btail->next = &b;
        else
            pool->bhead = &b;
        pool->btail = &b;
        atomic_store_explicit(&pool->bseq_pub, b.seq, memory_order_seq_cst);
        pthread_mutex_unlock(&pool->bmu);
        for (unsigned i = 0; i < pool->nworkers; i++)
            mp_wake_ctx(pool, &pool->ctxs[i]);
        /* A worker runs its own part (and any earlier broadcast's). */
        mp_bcast_run_pending(ctx);
    }
    run_part(&b, 0);
    mp_wait_zero(ctx, &b.remaining);

    if (pool->nthreads > 1) {
        pthread_mutex_lock(&pool->bmu);
        mp_bcast **pp = &pool->bhead, *prev = NULL;
        while (*pp != &b) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        *pp = b.next;
        if (pool->btail == &b)
            pool->btail = prev;
        pthread_mutex_unlock(&pool->bmu);
    }
    if (entered)
        mp_leave(&link);
    return atomic_load_explicit(&b.err, memory_order_relaxed);
}
