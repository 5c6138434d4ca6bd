/* task.c: background tasks: mp_submit, the task handles, and the queue
 * (a chain of bounded rings of cells, each with its own sequence number,
 * after Vyukov's MPMC queue). See docs/design.md, "Background tasks". */
#include "pool.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

enum { T_PENDING, T_RUNNING, T_DONE, T_CANCELLED };

/* A thread in mp_task_wait, on its own stack, on its task's list while it
 * waits (under the task's wlock). */
typedef struct mp_task_waiter {
    mp_thread *thread;
    struct mp_task_waiter *next;
} mp_task_waiter;

struct mp_task {
    _Atomic uint32_t state;
    _Atomic uint32_t waiters;       /* entries on `wlist` (a hint for settle) */
    _Atomic uint32_t refs;
    int result;
    mp_fn fn;
    void *arg;
    mp_pool *pool;                  /* valid while the task is inflight */
    uint64_t spin_ns;               /* its pool's spin window, for waiters */
    mp_spinlock wlock;
    mp_task_waiter *wlist;
};

typedef struct mp_task_entry {
    mp_fn fn;
    void *arg;
    mp_task *task;                  /* NULL for a detached task */
} mp_task_entry;

/* A cell holds the entry for position p once seq == p + 1; it is free for
 * position p when seq == p (p + cap after the consumer of p - cap). Two
 * cells to a cache line. */
typedef struct mp_task_cell {
    _Atomic uint64_t seq;
    mp_task_entry e;
} mp_task_cell;

/* The tail's top bit: the ring is closed, producers go to `next`. */
#define SEG_CLOSED (UINT64_C(1) << 63)

typedef struct mp_task_seg {
    alignas(MP_CACHELINE) _Atomic uint64_t tail;    /* producers' next position */
    alignas(MP_CACHELINE) _Atomic uint64_t head;    /* consumers' next position */
    alignas(MP_CACHELINE) _Atomic(struct mp_task_seg *) next; /* set before closing */
    uint64_t mask;                  /* capacity - 1, a power of two */
    struct mp_task_seg *older;      /* pool->tq.segs list */
    alignas(MP_CACHELINE) mp_task_cell cells[];
} mp_task_seg;

#define MP_TASK_RING_INITIAL 1024u
#define MP_TASK_SIDE_INITIAL 64u

/* Tasks a worker takes from the queue at once: a share of the queue (so a
 * long queue of tiny tasks costs one claim per batch), one when the queue
 * is short (so long tasks spread over the workers). */
#define MP_TASK_BATCH_MAX 16u

static mp_task_seg *seg_new(uint64_t cap)
{
    size_t bytes;
    if (cap > SIZE_MAX || !mp__size_mul((size_t)cap, sizeof(mp_task_cell), &bytes) ||
        !mp__size_add(bytes, sizeof(mp_task_seg), &bytes))
        return NULL;
    mp_task_seg *g = aligned_alloc(MP_CACHELINE, bytes);
    if (!g)
        return NULL;
    atomic_init(&g->tail, 0);
    atomic_init(&g->head, 0);
    atomic_init(&g->next, NULL);
    g->mask = cap - 1;
    g->older = NULL;
    for (uint64_t i = 0; i < cap; i++)
        atomic_init(&g->cells[i].seq, i);
    return g;
}

int mp__taskq_init(mp_pool *pool)
{
    mp_task_seg *g = seg_new(MP_TASK_RING_INITIAL);
    pool->tq.side = malloc(MP_TASK_SIDE_INITIAL * sizeof *pool->tq.side);
    if (!g || !pool->tq.side) {
        free(g);
        return MP_ENOMEM;
    }
    pool->tq.side_cap = MP_TASK_SIDE_INITIAL;
    pool->tq.segs = g;
    pool->tq.first = g;
    atomic_init(&pool->tq.ptail, g);
    atomic_init(&pool->tq.chead, g);
    return MP_OK;
}

void mp__taskq_free(mp_pool *pool)
{
    for (mp_task_seg *g = pool->tq.segs, *o; g; g = o) {
        o = g->older;
        free(g);
    }
    free(pool->tq.side);
}

/* The ring `g` was full at position `t`: make the next one, twice as
 * large, unless another producer did. Returns the ring to try next, NULL
 * when no memory could be had. */
static mp_task_seg *grow(mp_pool *pool, mp_task_seg *g, uint64_t t)
{
    mp_task_seg *next = NULL;
    mp__spin_lock(&pool->tq.lock);
    uint64_t now = atomic_load_explicit(&g->tail, memory_order_relaxed);
    if (now & SEG_CLOSED) {
        next = atomic_load_explicit(&g->next, memory_order_acquire);
    } else if (now != t ||
               atomic_load_explicit(&g->cells[t & g->mask].seq, memory_order_acquire) == t) {
        next = g;                   /* room after all: try again */
    } else if (g->mask < UINT32_MAX && (next = seg_new((g->mask + 1) * 2)) != NULL) {
        atomic_store_explicit(&g->next, next, memory_order_release);
        /* Producers that load the closed tail go to `next`; the claims
         * made before stay in g, and consumers empty g before they move. */
        atomic_fetch_or_explicit(&g->tail, SEG_CLOSED, memory_order_seq_cst);
        atomic_store_explicit(&pool->tq.ptail, next, memory_order_release);
        next->older = pool->tq.segs;
        pool->tq.segs = next;
    }
    mp__spin_unlock(&pool->tq.lock);
    return next;
}

/* Claims a cell and publishes the entry in it, or an empty entry when the
 * pool is shutting down (MP_ESHUTDOWN). */
static int enqueue(mp_pool *pool, mp_task_entry e)
{
    /* seq_cst loads of a tail: a claim made after seeing a ring closed
     * follows the close in the total order, so destroy's walk, which loads
     * the tails in order, cannot stop at that ring while missing the claim
     * in its successor (see mp__taskq_drain). */
    mp_task_seg *g = atomic_load_explicit(&pool->tq.ptail, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
    mp_task_cell *c;
    for (;;) {
        if (t & SEG_CLOSED) {
            g = atomic_load_explicit(&g->next, memory_order_acquire);
            t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
            continue;
        }
        c = &g->cells[t & g->mask];
        uint64_t s = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t d = (int64_t)(s - t);
        if (d == 0) {
            /* The claim counts the task (seq_cst: see mp__taskq_drain). */
            if (atomic_compare_exchange_weak_explicit(&g->tail, &t, t + 1, memory_order_seq_cst,
                                                      memory_order_relaxed))
                break;
        } else if (d < 0) {
            /* Full: the cell still holds the entry of the previous lap. */
            g = grow(pool, g, t);
            if (!g)
                return MP_ENOMEM;
            t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
        } else {
            t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
        }
    }
    /* Destroy stores the flag before it counts the claims, this call
     * claimed before it loads the flag (all seq_cst): either it sees the
     * flag, or destroy counts the claim and waits for the task. */
    int rc = MP_OK;
    if (MP_UNLIKELY(atomic_load_explicit(&pool->tq.shutdown, memory_order_seq_cst))) {
        e = (mp_task_entry){NULL, NULL, NULL};
        rc = MP_ESHUTDOWN;
    }
    c->e = e;
    /* The publication that a sleeping worker's last check reads (seq_cst,
     * followed by mp__wake_idle's load of `sleepers`). */
    atomic_store_explicit(&c->seq, t + 1, memory_order_seq_cst);
    return rc;
}

/* The cells claimed so far in all rings (seq_cst loads, oldest first). */
static uint64_t claimed(mp_pool *pool)
{
    uint64_t n = 0;
    for (mp_task_seg *g = pool->tq.first;;) {
        uint64_t t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
        n += t & ~SEG_CLOSED;
        if (!(t & SEG_CLOSED))
            return n;
        g = atomic_load_explicit(&g->next, memory_order_seq_cst);
    }
}

/* Is the cell of position p published? */
static inline bool cell_full(mp_task_seg *g, uint64_t p)
{
    return atomic_load_explicit(&g->cells[p & g->mask].seq, memory_order_acquire) == p + 1;
}

/* Takes up to MP_TASK_BATCH_MAX entries from the rings into out. */
static uint32_t dequeue(mp_pool *pool, mp_task_entry *out)
{
    mp_task_seg *g = atomic_load_explicit(&pool->tq.chead, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&g->head, memory_order_relaxed);
    for (;;) {
        uint64_t s = atomic_load_explicit(&g->cells[h & g->mask].seq, memory_order_acquire);
        int64_t d = (int64_t)(s - (h + 1));
        if (d == 0) {
            /* A share of the queue: 2^k when the cell 2^k * 2N - 1 ahead
             * is published, without reading the producers' tail. */
            uint64_t span = 2u * (uint64_t)pool->nthreads;
            uint32_t want = 1;
            while (want < MP_TASK_BATCH_MAX && cell_full(g, h + span * want * 2 - 1))
                want *= 2;
            uint32_t got = 1;
            while (got < want && cell_full(g, h + got))
                got++;
            if (!atomic_compare_exchange_weak_explicit(&g->head, &h, h + got,
                                                       memory_order_relaxed,
                                                       memory_order_relaxed))
                continue;
            /* The cells are ours until we free them. */
            for (uint32_t i = 0; i < got; i++) {
                mp_task_cell *c = &g->cells[(h + i) & g->mask];
                out[i] = c->e;
                atomic_store_explicit(&c->seq, h + i + g->mask + 1, memory_order_release);
            }
            return got;
        }
        if (d > 0) {                /* taken by another consumer */
            h = atomic_load_explicit(&g->head, memory_order_relaxed);
            continue;
        }
        /* Nothing published at h: empty, unless g is closed there (an
         * idle worker polls here: it reads the producers' tail only once
         * g has a successor). */
        mp_task_seg *next = atomic_load_explicit(&g->next, memory_order_acquire);
        if (!next || atomic_load_explicit(&g->tail, memory_order_acquire) != (h | SEG_CLOSED))
            return 0;
        atomic_compare_exchange_strong_explicit(&pool->tq.chead, &g, next,
                                                memory_order_acq_rel, memory_order_acquire);
        g = atomic_load_explicit(&pool->tq.chead, memory_order_acquire);
        h = atomic_load_explicit(&g->head, memory_order_relaxed);
    }
}

bool mp__task_visible(mp_pool *pool)
{
    if (atomic_load_explicit(&pool->tq.side_len, memory_order_seq_cst) != 0)
        return true;
    mp_task_seg *g = atomic_load_explicit(&pool->tq.chead, memory_order_seq_cst);
    for (;;) {
        uint64_t h = atomic_load_explicit(&g->head, memory_order_seq_cst);
        uint64_t s = atomic_load_explicit(&g->cells[h & g->mask].seq, memory_order_seq_cst);
        int64_t d = (int64_t)(s - (h + 1));
        if (d == 0)
            return true;
        if (d > 0)
            continue;               /* taken meanwhile: look again */
        if (atomic_load_explicit(&g->tail, memory_order_seq_cst) != (h | SEG_CLOSED))
            return false;
        g = atomic_load_explicit(&g->next, memory_order_seq_cst);
    }
}

static void unref(mp_task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        free(t);
}

/* `n` tasks of the pool have settled: the destroyer waits for them. The
 * caller keeps the pool alive across the call by other means: a worker
 * (destroy joins it), or the destroyer itself. */
static void settled(mp_pool *pool, uint64_t n)
{
    atomic_fetch_add_explicit(&pool->tq.settled, n, memory_order_seq_cst);
    mp_ctx *d = atomic_load_explicit(&pool->tq.destroyer, memory_order_seq_cst);
    if (MP_UNLIKELY(d != NULL))
        mp__wake_ctx(pool, d);
}

/* The same from a thread that holds nothing of the pool (a handle's
 * cancel or inline run, a submit refused at shutdown): once tq.settled
 * counts its task, the destroyer may go on, while this thread still reads
 * `destroyer` and wakes it. tq.settling brackets the call; destroy waits
 * for it to be 0 after the counts met (mp__taskq_drain). */
static void settled_unanchored(mp_pool *pool, uint64_t n)
{
    atomic_fetch_add_explicit(&pool->tq.settling, 1, memory_order_seq_cst);
    settled(pool, n);
    /* The last touch of the pool. */
    atomic_fetch_sub_explicit(&pool->tq.settling, 1, memory_order_release);
}

/* The task will never run again (done or cancelled): wake its waiters.
 * The caller then counts it settled (a worker once per batch). */
static void settle(mp_task *t, uint32_t state)
{
    atomic_store_explicit(&t->state, state, memory_order_seq_cst);
    if (atomic_load_explicit(&t->waiters, memory_order_seq_cst) == 0)
        return;
    /* Under the lock: a waiter takes itself off the list under it before
     * it returns, so no entry is touched after its wait. The pool is
     * alive: the task is not counted as settled yet. */
    mp__spin_lock(&t->wlock);
    for (mp_task_waiter *w = t->wlist; w; w = w->next)
        mp__wake_waiter(t->pool, w->thread);
    mp__spin_unlock(&t->wlock);
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
        atomic_init(&t->wlock.locked, 0);
        t->wlist = NULL;
        t->spin_ns = pool->spin_ns;
        atomic_init(&t->refs, 2);
        t->result = 0;
        t->fn = fn;
        t->arg = arg;
        t->pool = pool;
    }

    int rc = enqueue(pool, (mp_task_entry){fn, arg, t});
    if (MP_UNLIKELY(rc != MP_OK)) {
        if (rc == MP_ESHUTDOWN)
            settled_unanchored(pool, 1);    /* its empty cell counts as a task */
        free(t);
        return rc;
    }
    mp__wake_idle(pool, 1);
    if (out)
        *out = t;
    return MP_OK;
}

/* True when the worker should go back to foreground work. */
static bool foreground_waiting(mp_pool *pool, mp_ctx *ctx)
{
    return ctx && ctx->index > 0 &&
           (mp__bcast_pending(ctx) || mp__flat_open(pool, ctx, memory_order_relaxed));
}

/* Takes entries given back by workers, oldest first; under tlock. */
static uint32_t side_take(mp_pool *pool, mp_task_entry *out)
{
    uint32_t len = atomic_load_explicit(&pool->tq.side_len, memory_order_relaxed);
    uint32_t got = len / (2 * pool->nthreads);
    got = got < 1 ? 1 : got > MP_TASK_BATCH_MAX ? MP_TASK_BATCH_MAX : got;
    if (got > len)
        got = len;
    for (uint32_t i = 0; i < got; i++)
        out[i] = pool->tq.side[pool->tq.side_head++ & (pool->tq.side_cap - 1)];
    atomic_store_explicit(&pool->tq.side_len, len - got, memory_order_relaxed);
    return got;
}

/* Gives `n` entries back in front of the side list, keeping their order;
 * false when the list could not grow (then the caller runs them). */
static bool side_give(mp_pool *pool, const mp_task_entry *e, uint32_t n)
{
    mp__spin_lock(&pool->tq.lock);
    uint32_t len = atomic_load_explicit(&pool->tq.side_len, memory_order_relaxed);
    if (len + n > pool->tq.side_cap) {
        uint32_t cap = pool->tq.side_cap;
        while (len + n > cap && cap <= UINT32_MAX / 2)
            cap *= 2;
        size_t bytes;
        mp_task_entry *side = NULL;
        if (len + n <= cap && mp__size_mul(cap, sizeof *side, &bytes))
            side = malloc(bytes);
        if (!side) {
            mp__spin_unlock(&pool->tq.lock);
            return false;
        }
        for (uint32_t i = 0; i < len; i++)
            side[i] = pool->tq.side[(pool->tq.side_head + i) & (pool->tq.side_cap - 1)];
        free(pool->tq.side);
        pool->tq.side = side;
        pool->tq.side_cap = cap;
        pool->tq.side_head = 0;
    }
    for (uint32_t k = n; k > 0; k--)
        pool->tq.side[--pool->tq.side_head & (pool->tq.side_cap - 1)] = e[k - 1];
    /* A publication like a submit's (seq_cst, then mp__wake_idle). */
    atomic_store_explicit(&pool->tq.side_len, len + n, memory_order_seq_cst);
    mp__spin_unlock(&pool->tq.lock);
    mp__wake_idle(pool, 1);
    return true;
}

bool mp__task_run_one(mp_pool *pool, mp_ctx *ctx)
{
    mp_task_entry batch[MP_TASK_BATCH_MAX];
    uint32_t got = 0;
    if (MP_UNLIKELY(atomic_load_explicit(&pool->tq.side_len, memory_order_relaxed) != 0)) {
        mp__spin_lock(&pool->tq.lock);
        got = side_take(pool, batch);
        mp__spin_unlock(&pool->tq.lock);
    }
    if (!got)
        got = dequeue(pool, batch);
    if (!got)
        return false;
    mp__idle_spinning(&ctx->idle, 0);

    uint32_t ran = 0;
    for (uint32_t i = 0; i < got; i++) {
        mp_task *t = batch[i].task;
        if (!batch[i].fn) {
            /* The empty cell of a submit refused at shutdown. */
        } else if (!t) {
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
        if (i + 1 < got && foreground_waiting(pool, ctx) &&
            side_give(pool, batch + i + 1, got - i - 1))
            break;
    }
    if (ran) {
        atomic_fetch_add_explicit(&pool->tq.tasks_run, ran, memory_order_relaxed);
        settled(pool, ran);
    }
    return true;
}

/* Destroy's wait: until every claimed task has settled. */
static bool all_settled(void *arg)
{
    mp_pool *pool = arg;
    /* Settled first: a task counted there was claimed before. */
    uint64_t s = atomic_load_explicit(&pool->tq.settled, memory_order_seq_cst);
    return s == claimed(pool);
}

static bool run_queued(mp_ctx *ctx, void *arg)
{
    return mp__task_run_one(arg, ctx);
}

static bool queued(void *arg)
{
    return mp__task_visible(arg);
}

void mp__taskq_drain(mp_pool *pool, mp_ctx *ctx)
{
    atomic_store_explicit(&pool->tq.shutdown, 1, memory_order_seq_cst);
    atomic_store_explicit(&pool->tq.destroyer, ctx, memory_order_seq_cst);
    struct mp_waiter w = {NULL, NULL, all_settled, queued, run_queued, pool, &mp__bcast_duties, 0};
    while (mp__task_run_one(pool, ctx))
        ;
    mp__wait(ctx, &w);
    /* Entries of tasks cancelled while queued count as settled but still
     * hold a reference to their record: take them out. */
    while (mp__task_run_one(pool, ctx))
        ;
    /* Every task has settled; a thread that counted one without holding
     * the pool may still be waking this one. It has nothing left to wait
     * for: a few instructions and at most one futex_wake. */
    while (atomic_load_explicit(&pool->tq.settling, memory_order_acquire) != 0)
        sched_yield();
}

/* mp_task_wait's condition (seq_cst: also its last check before it
 * parks). */
static bool task_over(void *arg)
{
    mp_task *t = arg;
    return atomic_load_explicit(&t->state, memory_order_seq_cst) >= T_DONE;
}

/* What a wait on a settled task returns. */
static int outcome(const mp_task *t, uint32_t state)
{
    return state == T_CANCELLED ? MP_ECANCELED : t->result;
}

/* Waits until the task settles, or until `deadline` (0: none), as every
 * wait does (spin, then park on this thread's record, doing its duties),
 * on the task's list so that settle finds this thread to wake; returns its
 * state. Nothing of the pool is touched: it may be destroyed once the task
 * settles. A waiter that gives up takes itself off the list under the
 * lock, so settle never sees its entry again; the task is untouched. */
static uint32_t wait_settled(mp_task *t, uint64_t deadline)
{
    mp_task_waiter me = {mp__thread_self(), NULL};
    mp__spin_lock(&t->wlock);
    me.next = t->wlist;
    t->wlist = &me;
    mp__spin_unlock(&t->wlock);
    atomic_fetch_add_explicit(&t->waiters, 1, memory_order_seq_cst);
    struct mp_waiter w = {NULL, NULL, task_over, NULL, NULL, t, &mp__bcast_duties, deadline};
    mp__wait_on(me.thread, t->spin_ns, NULL, NULL, &w);
    mp__spin_lock(&t->wlock);
    for (mp_task_waiter **p = &t->wlist; *p; p = &(*p)->next)
        if (*p == &me) {
            *p = me.next;
            break;
        }
    mp__spin_unlock(&t->wlock);
    atomic_fetch_sub_explicit(&t->waiters, 1, memory_order_relaxed);
    return atomic_load_explicit(&t->state, memory_order_acquire);
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
        bool entered = mp__enter(pool, &link, &ctx, false);
        run(t);
        atomic_fetch_add_explicit(&pool->tq.tasks_run, 1, memory_order_relaxed);
        /* Unanchored: without memory for a slot, ctx is NULL and nothing
         * holds the pool once the task counts as settled. */
        settled_unanchored(pool, 1);
        if (entered)
            mp__leave(&link);    /* the last touch of the pool */
        return t->result;
    }

    if (s < T_DONE)
        s = wait_settled(t, 0);     /* another thread runs it */
    return outcome(t, s);
}

int mp_task_wait_for(mp_task *t, uint64_t timeout_ns)
{
    if (!t)
        return MP_EINVAL;
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    if (s < T_DONE && timeout_ns > 0) {
        /* A timeout that would wrap the clock has no limit. */
        uint64_t deadline;
        if (__builtin_add_overflow(mp__now_ns(), timeout_ns, &deadline))
            deadline = 0;
        s = wait_settled(t, deadline);
    }
    return s >= T_DONE ? outcome(t, s) : MP_ETIMEDOUT;
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
        settled_unanchored(t->pool, 1);
        return MP_OK;
    }
    return s == T_CANCELLED ? MP_OK : MP_EBUSY;
}

void mp_task_release(mp_task *t)
{
    if (t)
        unref(t);
}
