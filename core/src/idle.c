/* idle.c: how an idle worker sleeps, and how a pool's threads are woken.
 * A sleeper announces itself, checks once more with seq_cst loads, and
 * sleeps on its thread's park word; a waker publishes with a seq_cst
 * operation, then reads the announcement. See docs/design.md, "Idling". */
#include "pool.h"

/* A worker that knows no period looks for work again after this long. */
#define MP_RECHECK_NS 50000000u

static void wake(mp_pool *pool, mp_thread *t)
{
    mp__park_wake(t);
    atomic_fetch_add_explicit(&pool->idle.wakeups, 1, memory_order_relaxed);
}

void mp__wake_idle(mp_pool *pool, unsigned n)
{
    /* The common case when workers are busy or spinning: one load, no
     * system call. */
    if (atomic_load_explicit(&pool->idle.sleepers, memory_order_seq_cst) == 0)
        return;
    for (unsigned i = 0; i < pool->nworkers && n > 0; i++) {
        mp_ctx *w = &pool->ctxs[i];
        if (atomic_load_explicit(&w->idle.sleeping, memory_order_relaxed) &&
            atomic_exchange_explicit(&w->idle.sleeping, 0, memory_order_acq_rel)) {
            wake(pool, atomic_load_explicit(&w->thread, memory_order_acquire));
            n--;
        }
    }
}

void mp__wake_worker(mp_pool *pool, mp_ctx *w)
{
    if (atomic_load_explicit(&pool->idle.sleepers, memory_order_seq_cst) != 0 &&
        atomic_load_explicit(&w->idle.sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&w->idle.sleeping, 0, memory_order_acq_rel))
        wake(pool, atomic_load_explicit(&w->thread, memory_order_acquire));
}

void mp__wake_ctx(mp_pool *pool, mp_ctx *ctx)
{
    mp_thread *t = atomic_load_explicit(&ctx->thread, memory_order_seq_cst);
    if (t && (atomic_load_explicit(&t->waiting, memory_order_seq_cst) ||
              atomic_load_explicit(&ctx->idle.sleeping, memory_order_seq_cst)))
        wake(pool, t);
}

void mp__wake_waiter(mp_pool *pool, mp_thread *t)
{
    if (atomic_load_explicit(&t->waiting, memory_order_seq_cst))
        wake(pool, t);
}

bool mp__idle_sleep(mp_ctx *self, bool (*visible)(mp_ctx *self), uint64_t *until)
{
    mp_pool *pool = self->pool;
    mp_thread *t = atomic_load_explicit(&self->thread, memory_order_relaxed);
    uint32_t p = atomic_load_explicit(&t->park, memory_order_acquire);
    /* seq_cst, not only before the seq_cst `sleepers` increment: a
     * broadcaster reads `sleeping` without reading `sleepers`
     * (mp__wake_ctx), so this store itself must be in the total order
     * before the checks below (docs/design.md, "Idling"). */
    atomic_store_explicit(&self->idle.sleeping, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&pool->idle.sleepers, 1, memory_order_seq_cst);
    bool watch = false;
    if (!visible(self)) {
        mp__count(&self->count.sleeps);
        mp__trace_begin(pool, MP_TRACE_SLEEP, NULL);
        uint64_t now = mp__now_ns();
        mp__warm_asleep(pool, now);
        uint64_t from = mp__warm_watch_from(pool, now, until);
        if (from == 0) {
            /* No rhythm yet: look again later by itself, so that no caller
             * has to pay a wake-up for it to learn one (waking an idle
             * CPU can cost the waker tens of microseconds). */
            mp__futex_wait_until(&t->park, p, now + MP_RECHECK_NS);
        } else if (from > now && mp__futex_wait_until(&t->park, p, from)) {
            /* woken (or the word moved): not by the timer */
        } else {
            watch = true;
            if (from > now)
                mp__warm_timer_late(pool, mp__now_ns() - from);
        }
        mp__trace_end(pool, MP_TRACE_SLEEP, NULL);
        uint64_t sent = atomic_load_explicit(&t->woken_at, memory_order_relaxed);
        if (!watch && sent > now) {
            uint64_t ran = mp__now_ns();
            if (ran > sent)
                mp__warm_woke(pool, sent - now, ran - sent);
        }
    }
    atomic_store_explicit(&self->idle.sleeping, 0, memory_order_relaxed);
    atomic_fetch_sub_explicit(&pool->idle.sleepers, 1, memory_order_relaxed);
    return watch;
}
