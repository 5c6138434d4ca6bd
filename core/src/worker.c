/* worker.c: a worker's thread: its sources of work, its idle spin, and
 * its stop; and mp_yield, one piece of work from those sources. See
 * docs/design.md, "Idling" and "mp_yield". */
#include "pool.h"

#include <stdio.h>
#include <sys/prctl.h>

/* A worker's six sources of work, in priority order: broadcast parts, a
 * loop part addressed to this worker, the flat loop, foreground jobs of
 * other threads, scope tasks, background tasks. find_work runs one round
 * of them; work_visible is the check before sleeping, with seq_cst loads.
 * The two must agree, source for source: work that find_work would run
 * and work_visible does not see lets a worker sleep with work queued. */
static bool find_work(mp_ctx *self)
{
    mp_pool *pool = self->pool;
    return mp__bcast_run_one(self) || mp__mailbox_run_one(self) || mp__flat_run_one(self) ||
           mp__deque_run_one(self) || mp__scope_run_one(pool) || mp__task_run_one(pool, self);
}

static bool work_visible(mp_ctx *self)
{
    mp_pool *pool = self->pool;
    return mp__bcast_visible(self) || mp__mailbox_visible(self) || mp__flat_visible(self) ||
           mp__deque_visible(pool) || mp__scope_visible(pool) || mp__task_visible(pool, self) ||
           atomic_load_explicit(&pool->stop, memory_order_seq_cst) != 0;
}

/* The idle spin adapts to how work arrives. A worker spins for `window`
 * (at most spin_us) before it sleeps. If work came less than spin_us after
 * it gave up, a longer spin would have caught it: back to the full window.
 * If the sleep was longer, the spin was CPU time spent for nothing: halve
 * the window, down to an eighth of spin_us. So a pool that gets one small
 * job every millisecond stops burning its spin window each time, while
 * back-to-back calls keep the full window. */
static uint64_t next_window(const mp_pool *pool, uint64_t window, uint64_t gave_up)
{
    uint64_t full = pool->spin_ns;
    if (full == 0 || gave_up == 0)
        return full;
    if (mp__now_ns() - gave_up < full)
        return full;
    return window / 2 > full / 8 ? window / 2 : full / 8;
}

/* How many idle rounds between two clock reads of the spin: 64, fewer
 * in a pool of many threads, since a round tries to steal from every
 * deque (a round of a 1024-thread pool took tens of microseconds on a
 * 2-CPU machine, and 64 of them spun for milliseconds where the
 * window said 20 us). About 64 deques scanned per clock read. */
static unsigned spin_mask(const mp_pool *pool)
{
    unsigned rounds = 64;
    for (unsigned d = pool->nthreads - 1; d > 1 && rounds > 1; d >>= 1)
        rounds >>= 1;
    return rounds - 1;
}

void *mp__worker_main(void *arg)
{
    mp_ctx *self = arg;
    mp_pool *pool = self->pool;
    mp_link link;
    mp__link_push(&link, pool, self, (int)self->index);
    mp__thread_adopt(atomic_load_explicit(&self->thread, memory_order_relaxed));

    /* "<name>-<i>" cut to the 15 characters Linux keeps, set before the
     * start hook runs so that the hook sees it. */
    char tname[40];
    snprintf(tname, sizeof tname, "%s-%u", pool->name, self->index);
    tname[15] = '\0';
    pthread_setname_np(pthread_self(), tname);

    if (pool->on_thread_start)
        pool->on_thread_start(pool->hook_arg, self->index);

    /* A worker keeping watch wakes by a timer: let it fire on time. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);

    mp_spin spin;
    mp__spin_init(&spin, spin_mask(pool));
    uint64_t window = pool->spin_ns;
    bool watching = false;              /* woke by its timer, spins until spin.deadline */
    for (;;) {
        if (find_work(self)) {
            if (watching) {             /* the call it kept watch for */
                mp__warm_stamp(pool, mp__now_ns());
                watching = false;
            }
            mp__idle_spinning(&self->idle, 1);   /* polling again */
            mp__spin_reset(&spin);
            continue;
        }
        if (atomic_load_explicit(&pool->stop, memory_order_acquire))
            break;
        if (mp__spin_on(&spin, window)) {
            mp__idle_spinning(&self->idle, 1);
            continue;
        }
        mp__idle_spinning(&self->idle, 0);
        uint64_t gave_up = watching ? 0 : spin.deadline;
        uint64_t until = 0;
        watching = mp__idle_sleep(self, work_visible, &until);
        mp__spin_reset(&spin);
        if (watching)
            spin.deadline = until;      /* mp__spin_on spins until then */
        else
            window = next_window(pool, window, gave_up);
    }
    mp__idle_spinning(&self->idle, 0);

    if (pool->on_thread_stop)
        pool->on_thread_stop(pool->hook_arg, self->index);
    mp__link_pop(&link);
    return NULL;
}

/* mp_yield: one piece of the work the calling thread may run, from the
 * sources a worker looks at, in its order (but its own deque first, and
 * no broadcast parts, which every wait runs as its duty); a thread that
 * is in no call of the pool looks at background tasks only. */
int mp_yield(mp_pool *pool)
{
    if (!pool)
        return MP_EINVAL;
    mp_link *l = mp__link_find(pool);
    if (l && l->ctx) {
        mp_ctx *c = l->ctx;
        bool worker = c->index > 0;
        return mp__deque_run_own(c) || mp__deque_run_one(c) ||
               (worker && (mp__mailbox_run_one(c) || mp__flat_run_one(c))) ||
               mp__scope_run_one(pool) || mp__task_run_single(pool, c);
    }
    mp_link link;
    mp_ctx *ctx;
    bool entered = mp__enter(pool, &link, &ctx, false);
    bool ran = ctx && mp__task_run_single(pool, ctx);
    if (entered)
        mp__leave(&link);
    return ran;
}

void mp__workers_stop(mp_pool *pool, unsigned started)
{
    /* Not through the wakers' announcements: every worker is woken, and
     * one whose check missed `stop` finds its park word moved. */
    atomic_store_explicit(&pool->stop, 1, memory_order_seq_cst);
    for (unsigned i = 0; i < started; i++)
        mp__park_wake(atomic_load_explicit(&pool->ctxs[i].thread, memory_order_acquire));
    for (unsigned i = 0; i < started; i++)
        pthread_join(pool->threads[i], NULL);
}

