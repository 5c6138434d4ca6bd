/* broadcast.c: mp_broadcast. A broadcast is a record on its caller's
 * stack, numbered and listed until all its parts have run; each worker
 * runs the parts addressed to it in number order. See docs/design.md,
 * "Broadcast". */
#include "pool.h"

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
    mp_ctx *w = b->waiter;          /* b may be gone after the decrement */
    mp__trace_begin(w->pool, MP_TRACE_BROADCAST, NULL);
    if (!atomic_load_explicit(&b->err, memory_order_relaxed))
        mp__first_error(&b->err, b->fn(b->arg, index, b->count));
    mp__trace_end(w->pool, MP_TRACE_BROADCAST, NULL);
    if (atomic_fetch_sub_explicit(&b->remaining, 1, memory_order_seq_cst) == 1)
        mp__wake_ctx(w->pool, w);
}

bool mp__bcast_run_one(mp_ctx *ctx)
{
    mp_pool *pool = ctx->pool;
    bool ran = false;
    if (ctx->index == 0)
        return false;
    while (ctx->bseen < atomic_load_explicit(&pool->bc.pub, memory_order_acquire)) {
        uint64_t want = ctx->bseen + 1;
        pthread_mutex_lock(&pool->bc.mu);
        mp_bcast *b = pool->bc.head;
        while (b && b->seq != want)
            b = b->next;
        pthread_mutex_unlock(&pool->bc.mu);
        /* Marked before running: a part that broadcasts again must not
         * run this one a second time. */
        ctx->bseen = want;
        run_part(b, ctx->index);
        ran = true;
    }
    return ran;
}

bool mp__bcast_visible(mp_ctx *ctx)
{
    return ctx->index > 0 &&
           atomic_load_explicit(&ctx->pool->bc.pub, memory_order_seq_cst) > ctx->bseen;
}

/* The duties of every wait: the parts addressed to any worker context of
 * this thread's chain (a worker of pool A waiting inside pool B still
 * runs A's broadcasts). */
static bool run_thread(void)
{
    bool ran = false;
    for (mp_link *l = mp__tls_top; l; l = l->outer)
        if (l->ctx && l->index > 0 && mp__bcast_pending(l->ctx))
            ran |= mp__bcast_run_one(l->ctx);
    return ran;
}

static bool pending_thread(void)
{
    for (mp_link *l = mp__tls_top; l; l = l->outer)
        if (l->ctx && l->index > 0 && mp__bcast_visible(l->ctx))
            return true;
    return false;
}

const mp_duties mp__bcast_duties = {run_thread, pending_thread};

int mp_broadcast(mp_pool *pool, mp_broadcast_fn fn, void *arg)
{
    if (!pool || !fn)
        return MP_EINVAL;
    mp_link link;
    mp_ctx *ctx;
    bool entered = mp__enter(pool, &link, &ctx, true);
    mp__count(&ctx->count.jobs);

    mp_bcast b = {.fn = fn, .arg = arg, .count = pool->nthreads, .waiter = ctx};
    atomic_init(&b.remaining, pool->nthreads);
    atomic_init(&b.err, 0);

    if (pool->nthreads > 1) {
        pthread_mutex_lock(&pool->bc.mu);
        b.seq = ++pool->bc.last;
        if (pool->bc.tail)
            pool->bc.tail->next = &b;
        else
            pool->bc.head = &b;
        pool->bc.tail = &b;
        atomic_store_explicit(&pool->bc.pub, b.seq, memory_order_seq_cst);
        pthread_mutex_unlock(&pool->bc.mu);
        for (unsigned i = 0; i < pool->nworkers; i++)
            mp__wake_ctx(pool, &pool->ctxs[i]);
        /* A worker runs its own part (and any earlier broadcast's). */
        mp__bcast_run_one(ctx);
    }
    run_part(&b, 0);
    mp__wait_zero(ctx, &b.remaining);

    if (pool->nthreads > 1) {
        pthread_mutex_lock(&pool->bc.mu);
        mp_bcast **pp = &pool->bc.head, *prev = NULL;
        while (*pp != &b) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        *pp = b.next;
        if (pool->bc.tail == &b)
            pool->bc.tail = prev;
        pthread_mutex_unlock(&pool->bc.mu);
    }
    if (entered)
        mp__leave(&link);
    return atomic_load_explicit(&b.err, memory_order_relaxed);
}
