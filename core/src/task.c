/* task.c: background tasks: mp_submit and mp_submit_ex, the worker's
 * source of background work, the handles, mp_pool_run_pinned, and
 * destroy's drain. The queues are taskq.c and ready.c, prerequisites
 * after.c. See docs/design.md, "Background tasks". */
#include "pool.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* A record no reference holds any more (never touched after). */
static void record_drop(mp_task *t)
{
    mp__record_drop(t->pool, t, t->cached);
}

void mp__task_unref(mp_task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        record_drop(t);
}

/* `n` tasks of the pool have settled: the destroyer waits for them. The
 * caller keeps the pool alive across the call by other means: a worker
 * (destroy joins it), a borrowed slot (destroy waits for it), or the
 * destroyer itself. */
static void settled(mp_pool *pool, uint64_t n)
{
    atomic_fetch_add_explicit(&pool->tasks.settled, n, memory_order_seq_cst);
    mp_ctx *d = atomic_load_explicit(&pool->tasks.destroyer, memory_order_seq_cst);
    if (MP_UNLIKELY(d != NULL))
        mp__wake_ctx(pool, d);
}

/* The same from a thread that may hold nothing of the pool (a handle's
 * cancel or inline run without a slot, a submit refused at shutdown):
 * once tasks.settled counts its task, the destroyer may go on, while this
 * thread still reads `destroyer` and wakes it. tasks.settling brackets the
 * call; destroy waits for it to be 0 after the counts met
 * (mp__taskq_drain). */
static void settled_unanchored(mp_pool *pool, uint64_t n)
{
    atomic_fetch_add_explicit(&pool->tasks.settling, 1, memory_order_seq_cst);
    settled(pool, n);
    /* The last touch of the pool. */
    atomic_fetch_sub_explicit(&pool->tasks.settling, 1, memory_order_release);
}

static void wake_list(mp_task *t)
{
    for (mp_task_waiter *w = t->wlist; w; w = w->next)
        mp__wake_waiter(t->pool, w->thread);
}

mp_task_edge *mp__task_settle(mp_task *t, uint32_t state)
{
    atomic_store_explicit(&t->state, state, memory_order_seq_cst);
    if (atomic_load_explicit(&t->waiters, memory_order_seq_cst) == 0 &&
        atomic_load_explicit(&t->linked, memory_order_seq_cst) == 0)
        return NULL;
    /* Under the lock: a waiter takes itself off the list under it before
     * it returns, so no entry is touched after its wait; and a dependent
     * either linked its edge before the list closes, or sees it closed.
     * The pool is alive: the task is not counted as settled yet. */
    mp__spin_lock(&t->wlock);
    wake_list(t);
    mp_task_edge *deps = t->dependents;
    t->dependents = MP_EDGES_CLOSED;
    mp__spin_unlock(&t->wlock);
    return deps == MP_EDGES_CLOSED ? NULL : deps;
}

void mp__task_wake_helpers(mp_pool *pool)
{
    if (atomic_load_explicit(&pool->tasks.nhelpers, memory_order_seq_cst) == 0)
        return;
    mp__spin_lock(&pool->tasks.hlock);
    for (mp_task_waiter *w = pool->tasks.helpers; w; w = w->next)
        mp__wake_waiter(pool, w->thread);
    mp__spin_unlock(&pool->tasks.hlock);
}

void mp__task_wake_waiters(mp_task *t)
{
    if (atomic_load_explicit(&t->waiters, memory_order_seq_cst) == 0)
        return;
    mp__spin_lock(&t->wlock);
    wake_list(t);
    mp__spin_unlock(&t->wlock);
}

/* Settles t as `state` and releases its dependents: the number of tasks
 * that settled (t and the dependents that were cancelled with it). */
static uint64_t finish(mp_task *t, uint32_t state)
{
    mp_task_edge *deps = mp__task_settle(t, state);
    return 1 + (deps ? mp__after_release(t->pool, t, deps) : 0);
}

static uint64_t run(mp_task *t)
{
    mp__trace_begin(t->pool, MP_TRACE_TASK, mp__task_name(t));
    t->result = t->fn(t->arg);
    mp__trace_end(t->pool, MP_TRACE_TASK, mp__task_name(t));
    return finish(t, T_DONE);
}

static void record_init(mp_task *t, mp_pool *pool, mp_fn fn, void *arg, uint32_t refs, bool ex,
                        bool cached)
{
    atomic_init(&t->state, T_PENDING);
    atomic_init(&t->waiters, 0);
    atomic_init(&t->refs, refs);
    t->result = 0;
    t->fn = fn;
    t->arg = arg;
    t->pool = pool;
    t->spin_ns = pool->spin_ns;
    atomic_init(&t->wlock.locked, 0);
    atomic_init(&t->linked, 0);
    t->ex = ex;
    t->cached = cached;
    t->wlist = NULL;
    t->dependents = NULL;
}

/* A 1.0 record: a malloc of its own 72 bytes, not from the cache (a
 * cached block is more than twice as large, and a caller that submits
 * many, then waits for each and releases it, drops most records itself,
 * outside the pool: the larger block only made that slower). */
static mp_task *record_new(mp_pool *pool, mp_fn fn, void *arg, uint32_t refs)
{
    mp_task *t = malloc(sizeof *t);
    if (t)
        record_init(t, pool, fn, arg, refs, false, false);
    return t;
}

/* A record with the 1.1 part, from options read_opts has checked (the
 * size cannot wrap). */
static mp_task_ex *record_new_ex(mp_pool *pool, mp_fn fn, void *arg, uint32_t refs,
                                 const mp_task_opts *o)
{
    bool cached;
    mp_task_ex *x = mp__record_get(pool, sizeof *x + o->nafter * sizeof(mp_task_edge), &cached);
    if (!x)
        return NULL;
    record_init(&x->base, pool, fn, arg, refs, true, cached);
    x->name = o->name;
    x->next = NULL;
    x->thread = o->thread;
    x->level = (uint8_t)mp__level_of(o->priority);
    x->cancel_on_error = (o->flags & MP_AFTER_CANCEL_ON_ERROR) != 0;
    atomic_init(&x->poisoned, 0);
    atomic_init(&x->unfinished, 0);
    return x;
}

/* The ring's way in: a task ready now, at the normal level, for any
 * thread. t is its record (NULL: detached and unnamed). */
static int submit_ring(mp_pool *pool, mp_fn fn, void *arg, mp_task *t)
{
    int rc = mp__taskq_put(&pool->tq, (mp_task_entry){fn, arg, t});
    if (MP_UNLIKELY(rc != MP_OK)) {
        if (rc == MP_ESHUTDOWN)
            settled_unanchored(pool, 1);    /* its empty cell counts as a task */
        return rc;
    }
    mp__wake_idle(pool, 1);
    return MP_OK;
}

int mp_submit(mp_pool *pool, mp_fn fn, void *arg, mp_task **out)
{
    if (!pool || !fn)
        return MP_EINVAL;
    mp_task *t = NULL;
    if (out && !(t = record_new(pool, fn, arg, 2)))
        return MP_ENOMEM;
    int rc = submit_ring(pool, fn, arg, t);
    if (MP_UNLIKELY(rc != MP_OK)) {
        if (t)
            record_drop(t);
        return rc;
    }
    if (out)
        *out = t;
    return MP_OK;
}

void mp_task_opts_init(mp_task_opts *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->priority = MP_PRIO_NORMAL;
    opts->thread = MP_ANY_THREAD;
}

/* Reads the caller's options under mp_config's size rule, and checks
 * them against the pool. */
static int read_opts(mp_pool *pool, const mp_task_opts *user, mp_task_opts *o)
{
    mp_task_opts_init(o);
    if (!user)
        return MP_OK;
    size_t size = user->size;
    if (size < offsetof(mp_task_opts, priority) + sizeof user->priority)
        return MP_EINVAL;
    if (size > sizeof *o) {
        const unsigned char *tail = (const unsigned char *)user + sizeof *o;
        for (size_t i = 0; i < size - sizeof *o; i++)
            if (tail[i] != 0)
                return MP_EINVAL;
    }
#define TAKE(field)                                                           \
    if (offsetof(mp_task_opts, field) + sizeof o->field <= size)              \
        o->field = user->field;
    TAKE(priority)
    TAKE(thread)
    TAKE(after)
    TAKE(nafter)
    TAKE(flags)
    TAKE(name)
#undef TAKE
    if (o->priority < MP_PRIO_LOW || o->priority > MP_PRIO_HIGH ||
        (o->thread != MP_ANY_THREAD && o->thread >= pool->nthreads) ||
        (o->flags & ~MP_AFTER_CANCEL_ON_ERROR) != 0 || (o->nafter > 0 && !o->after) ||
        o->nafter > UINT32_MAX - 2)
        return MP_EINVAL;
    size_t bytes;
    if (!mp__size_mul(o->nafter, sizeof(mp_task_edge), &bytes) ||
        !mp__size_add(bytes, sizeof(mp_task_ex), &bytes))
        return MP_EINVAL;
    for (size_t k = 0; k < o->nafter; k++)
        if (!o->after[k] || o->after[k]->pool != pool)
            return MP_EINVAL;
    return MP_OK;
}

int mp_submit_ex(mp_pool *pool, mp_fn fn, void *arg, const mp_task_opts *opts, mp_task **out)
{
    if (!pool || !fn)
        return MP_EINVAL;
    mp_task_opts o;
    int rc = read_opts(pool, opts, &o);
    if (rc != MP_OK)
        return rc;
    bool ring = o.priority == MP_PRIO_NORMAL && o.thread == MP_ANY_THREAD && o.nafter == 0;
    if (ring && !o.name)
        return mp_submit(pool, fn, arg, out);   /* the 1.0 record, or none */

    mp_task_ex *x = record_new_ex(pool, fn, arg, out ? 2 : 1, &o);
    if (!x)
        return MP_ENOMEM;
    mp_task *t = &x->base;
    if (ring) {
        rc = submit_ring(pool, fn, arg, t);
        if (rc != MP_OK) {
            record_drop(t);
            return rc;
        }
        if (out)
            *out = t;
        return MP_OK;
    }

    /* Counted before the flag is read, as a ring claim is (see
     * mp__taskq_put): either destroy counts it and waits for it, or this
     * call sees the flag. */
    atomic_fetch_add_explicit(&pool->tasks.accepted, 1, memory_order_seq_cst);
    if (MP_UNLIKELY(atomic_load_explicit(&pool->tq.shutdown, memory_order_seq_cst))) {
        settled_unanchored(pool, 1);
        record_drop(t);
        return MP_ESHUTDOWN;
    }
    if (out)
        *out = t;       /* before the task may run and its record go */
    atomic_store_explicit(&t->state, T_WAITING, memory_order_relaxed);
    atomic_store_explicit(&x->unfinished, (uint32_t)o.nafter + 1, memory_order_relaxed);
    uint32_t done = 1;  /* this call's own hold */
    for (size_t k = 0; k < o.nafter; k++)
        if (!mp__after_link(x, o.after[k], &x->edges[k]))
            done++;
    if (atomic_fetch_sub_explicit(&x->unfinished, done, memory_order_acq_rel) != done)
        return MP_OK;   /* the last prerequisite to finish queues it */

    /* Every prerequisite had finished: ready now, or cancelled. */
    uint32_t s = T_WAITING;
    bool poison = atomic_load_explicit(&x->poisoned, memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&t->state, &s, poison ? T_CANCELLED : T_PENDING,
                                                 memory_order_seq_cst, memory_order_relaxed)) {
        mp__task_unref(t);          /* the handle's owner cancelled it already */
    } else if (!poison) {
        mp__task_wake_waiters(t);
        mp__ready_push(pool, x);
    } else {
        uint64_t n = finish(t, T_CANCELLED);
        mp__task_unref(t);
        settled_unanchored(pool, n);
    }
    return MP_OK;
}

/* True when the worker should go back to foreground work. */
static bool foreground_waiting(mp_pool *pool, mp_ctx *ctx)
{
    return ctx && ctx->index > 0 &&
           (mp__bcast_pending(ctx) || mp__flat_open(pool, ctx, memory_order_relaxed));
}

/* Counts what a worker (or a slot's borrower) ran and settled. */
static void count(mp_pool *pool, uint32_t ran, uint64_t n)
{
    if (ran)
        atomic_fetch_add_explicit(&pool->tasks.tasks_run, ran, memory_order_relaxed);
    if (n)
        settled(pool, n);
}

/* Runs a batch of at most `max` from the ring; false when it was empty. */
static bool run_ring(mp_pool *pool, mp_ctx *ctx, uint32_t max)
{
    mp_task_entry batch[MP_TASK_BATCH_MAX];
    uint32_t got = mp__taskq_take(&pool->tq, batch, pool->nthreads, max);
    if (!got)
        return false;
    mp__idle_spinning(&ctx->idle, 0);
    uint32_t ran = 0;
    uint64_t n = 0;
    bool traced = pool->tracer.begin || pool->tracer.end;
    for (uint32_t i = 0; i < got; i++) {
        mp_task *t = batch[i].task;
        if (!batch[i].fn) {
            /* The empty cell of a submit refused at shutdown. */
        } else if (!t) {
            if (MP_UNLIKELY(traced))
                mp__trace_begin(pool, MP_TRACE_TASK, NULL);
            batch[i].fn(batch[i].arg);
            if (MP_UNLIKELY(traced))
                mp__trace_end(pool, MP_TRACE_TASK, NULL);
            ran++;
            n++;
        } else {
            uint32_t expect = T_PENDING;
            if (atomic_compare_exchange_strong_explicit(&t->state, &expect, T_RUNNING,
                                                        memory_order_acquire,
                                                        memory_order_relaxed)) {
                n += run(t);
                ran++;
            }
            mp__task_unref(t);
        }
        if (i + 1 < got && foreground_waiting(pool, ctx) &&
            mp__taskq_give(&pool->tq, batch + i + 1, got - i - 1)) {
            mp__wake_idle(pool, 1);
            break;
        }
    }
    count(pool, ran, n);
    return true;
}

/* Runs a task taken from a ready list, unless it was cancelled or run by
 * a waiter meanwhile; drops the list's reference. */
static void run_listed(mp_pool *pool, mp_ctx *ctx, mp_task_ex *x)
{
    mp_task *t = &x->base;
    mp__idle_spinning(&ctx->idle, 0);
    uint32_t expect = T_PENDING;
    if (atomic_compare_exchange_strong_explicit(&t->state, &expect, T_RUNNING,
                                                memory_order_acquire, memory_order_relaxed))
        count(pool, 1, run(t));
    mp__task_unref(t);
}

/* The levels in their order, each: ctx's own list, the shared list, and
 * at the normal level the ring (a batch of at most `max`). */
static bool run_levels(mp_pool *pool, mp_ctx *ctx, uint32_t max)
{
    mp_ready *own = &pool->ready.lists[ctx->index];
    mp_ready *any = &pool->ready.lists[pool->nthreads];
    for (int lv = 0; lv < MP_LEVELS; lv++) {
        mp_task_ex *t = mp__ready_pop(own, lv);
        if (!t)
            t = mp__ready_pop(any, lv);
        if (t) {
            run_listed(pool, ctx, t);
            return true;
        }
        if (lv == MP_LEVEL_NORMAL && run_ring(pool, ctx, max))
            return true;
    }
    return false;
}

bool mp__task_run_one(mp_pool *pool, mp_ctx *ctx)
{
    return run_levels(pool, ctx, MP_TASK_BATCH_MAX);
}

bool mp__task_run_single(mp_pool *pool, mp_ctx *ctx)
{
    return run_levels(pool, ctx, 1);
}

bool mp__task_visible(mp_pool *pool, mp_ctx *ctx)
{
    return mp__ready_visible(pool, ctx->index) || mp__taskq_visible(&pool->tq);
}

int mp_pool_run_pinned(mp_pool *pool, uint64_t max_ns)
{
    if (!pool)
        return MP_EINVAL;
    mp_link *l = mp__link_find(pool);
    if (l && l->index > 0)
        return MP_EINVAL;
    mp_ready *r = &pool->ready.lists[0];
    uint64_t budget = max_ns ? UINT64_MAX : mp__ready_count(r);
    uint64_t deadline = 0;
    if (max_ns && __builtin_add_overflow(mp__now_ns(), max_ns, &deadline))
        deadline = UINT64_MAX;
    if (budget == 0)
        return 0;

    mp_link link;
    mp_ctx *ctx;
    bool entered = mp__enter(pool, &link, &ctx, false);
    int ran = 0;
    for (; budget > 0; budget--) {
        mp_task_ex *x = NULL;
        for (int lv = 0; lv < MP_LEVELS && !x; lv++)
            x = mp__ready_pop(r, lv);
        if (!x)
            break;
        mp_task *t = &x->base;
        uint32_t expect = T_PENDING;
        if (atomic_compare_exchange_strong_explicit(&t->state, &expect, T_RUNNING,
                                                    memory_order_acquire, memory_order_relaxed)) {
            uint64_t n = run(t);
            atomic_fetch_add_explicit(&pool->tasks.tasks_run, 1, memory_order_relaxed);
            settled_unanchored(pool, n);
            if (ran < INT_MAX)
                ran++;
        }
        mp__task_unref(t);
        if (max_ns && mp__now_ns() >= deadline)
            break;
    }
    if (entered)
        mp__leave(&link);
    return ran;
}

int mp_pool_pinned_fd(mp_pool *pool)
{
    if (!pool)
        return MP_EINVAL;
    return mp__ready_fd(pool);
}

/* Destroy's wait: until every accepted task has settled. */
static bool all_settled(void *arg)
{
    mp_pool *pool = arg;
    /* Settled first: a task counted there was claimed or accepted before. */
    uint64_t s = atomic_load_explicit(&pool->tasks.settled, memory_order_seq_cst);
    return s == mp__taskq_claimed(&pool->tq) +
                    atomic_load_explicit(&pool->tasks.accepted, memory_order_seq_cst);
}

static bool run_queued(mp_ctx *ctx, void *arg)
{
    return mp__task_run_one(arg, ctx);
}

typedef struct drain_arg {
    mp_pool *pool;
    mp_ctx *ctx;
} drain_arg;

static bool drain_over(void *arg)
{
    return all_settled(((drain_arg *)arg)->pool);
}

static bool drain_queued(void *arg)
{
    drain_arg *d = arg;
    return mp__task_visible(d->pool, d->ctx);
}

static bool drain_help(mp_ctx *ctx, void *arg)
{
    return run_queued(ctx, ((drain_arg *)arg)->pool);
}

void mp__taskq_drain(mp_pool *pool, mp_ctx *ctx)
{
    atomic_store_explicit(&pool->tq.shutdown, 1, memory_order_seq_cst);
    atomic_store_explicit(&pool->tasks.destroyer, ctx, memory_order_seq_cst);
    drain_arg d = {pool, ctx};
    struct mp_waiter w = {NULL, NULL, drain_over, drain_queued, drain_help, &d,
                          &mp__bcast_duties, 0};
    while (mp__task_run_one(pool, ctx))
        ;
    mp__wait(ctx, &w);
    /* Entries of tasks cancelled while queued count as settled but still
     * hold a reference to their record: take the ring's out here (the
     * ready lists' go with them, at free). */
    while (run_ring(pool, ctx, MP_TASK_BATCH_MAX))
        ;
    /* Every task has settled; a thread that counted one without holding
     * the pool may still be waking this one. It has nothing left to wait
     * for: a few instructions and at most one futex_wake. */
    while (atomic_load_explicit(&pool->tasks.settling, memory_order_acquire) != 0)
        sched_yield();
}

/* A wait's condition on a task (seq_cst: also its last check before it
 * parks): settled, or, for a wait on prerequisites, out of T_WAITING. */
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

/* Puts this thread on t's list of waiters; and takes it off again, under
 * the lock, so that no waker sees its entry after the wait. */
static void watch(mp_task *t, mp_task_waiter *me)
{
    me->thread = mp__thread_self();
    mp__spin_lock(&t->wlock);
    me->next = t->wlist;
    t->wlist = me;
    mp__spin_unlock(&t->wlock);
    atomic_fetch_add_explicit(&t->waiters, 1, memory_order_seq_cst);
}

static void unwatch(mp_task *t, mp_task_waiter *me)
{
    mp__spin_lock(&t->wlock);
    for (mp_task_waiter **p = &t->wlist; *p; p = &(*p)->next)
        if (*p == me) {
            *p = me->next;
            break;
        }
    mp__spin_unlock(&t->wlock);
    atomic_fetch_sub_explicit(&t->waiters, 1, memory_order_relaxed);
}

/* Waits until the task settles, or until `deadline` (0: none), as every
 * wait does (spin, then park on this thread's record, doing its duties),
 * on the task's list so that settle finds this thread to wake; returns its
 * state. Nothing of the pool is touched: it may be destroyed once the task
 * settles. A waiter that gives up is off the list before it returns; the
 * task is untouched. */
static uint32_t wait_settled(mp_task *t, uint64_t deadline)
{
    mp_task_waiter me;
    watch(t, &me);
    struct mp_waiter w = {NULL, NULL, task_over, NULL, NULL, t, &mp__bcast_duties, deadline};
    mp__wait_on(me.thread, t->spin_ns, NULL, NULL, &w);
    unwatch(t, &me);
    return atomic_load_explicit(&t->state, memory_order_acquire);
}

/* The wait on a task whose prerequisites have not finished: as a thread
 * of its pool, running the background tasks this thread may run (they may
 * be the prerequisites), until the task leaves T_WAITING. The pool is
 * alive meanwhile: t has not settled. The thread is on t's list of
 * waiters (woken when t becomes ready) and on the pool's list of helpers
 * (woken when any task is pushed to a ready list): the workers may all be
 * waiting too, and then no idle worker takes what becomes ready. */
typedef struct prereq_wait {
    mp_task *t;
    mp_pool *pool;
    mp_ctx *ctx;
} prereq_wait;

static bool waiting_over(void *arg)
{
    return atomic_load_explicit(&((prereq_wait *)arg)->t->state, memory_order_seq_cst) !=
           T_WAITING;
}

static bool prereq_more(void *arg)
{
    prereq_wait *p = arg;
    return p->ctx && mp__task_visible(p->pool, p->ctx);
}

static bool prereq_help(mp_ctx *ctx, void *arg)
{
    prereq_wait *p = arg;
    return ctx && mp__task_run_one(p->pool, ctx);
}

static void wait_prerequisites(mp_task *t)
{
    prereq_wait p = {t, t->pool, NULL};
    mp_tasks *tk = &p.pool->tasks;
    mp_link link;
    bool entered = mp__enter(p.pool, &link, &p.ctx, false);
    mp_task_waiter me, helper;
    watch(t, &me);
    helper.thread = me.thread;
    mp__spin_lock(&tk->hlock);
    helper.next = tk->helpers;
    tk->helpers = &helper;
    mp__spin_unlock(&tk->hlock);
    /* seq_cst, before the wait's last check loads the ready lists: a push
     * either is seen there or sees this count (mp__task_wake_helpers). */
    atomic_fetch_add_explicit(&tk->nhelpers, 1, memory_order_seq_cst);
    struct mp_waiter w = {NULL, NULL, waiting_over, prereq_more, prereq_help, &p,
                          &mp__bcast_duties, 0};
    /* Traced when it holds a slot: destroy waits for the slot, so the
     * pool outlives the sleep's end hook. */
    struct mp_sleep_note note = {NULL, p.ctx ? &p.pool->tracer : NULL, p.ctx ? p.ctx->index : 0};
    mp__wait_on(me.thread, t->spin_ns, &note, p.ctx, &w);
    mp__spin_lock(&tk->hlock);
    for (mp_task_waiter **q = &tk->helpers; *q; q = &(*q)->next)
        if (*q == &helper) {
            *q = helper.next;
            break;
        }
    mp__spin_unlock(&tk->hlock);
    atomic_fetch_sub_explicit(&tk->nhelpers, 1, memory_order_relaxed);
    unwatch(t, &me);
    if (entered)
        mp__leave(&link);
}

/* May this thread run t inline: is it the thread t is bound to? */
static bool runs_here(const mp_task *t)
{
    unsigned thread = mp__task_thread(t);
    if (thread == MP_ANY_THREAD)
        return true;
    mp_link *l = mp__link_find(t->pool);
    return thread == (unsigned)(l ? l->index : 0);
}

/* Runs t, taken from T_PENDING by this thread, as a thread of its pool. */
static int run_inline(mp_task *t)
{
    mp_pool *pool = t->pool;
    mp_link link;
    mp_ctx *ctx;
    bool entered = mp__enter(pool, &link, &ctx, false);
    uint64_t n = run(t);
    atomic_fetch_add_explicit(&pool->tasks.tasks_run, 1, memory_order_relaxed);
    /* Unanchored: without memory for a slot, ctx is NULL and nothing
     * holds the pool once the task counts as settled. */
    settled_unanchored(pool, n);
    if (entered)
        mp__leave(&link);    /* the last touch of the pool */
    return t->result;
}

int mp_task_wait(mp_task *t)
{
    if (!t)
        return MP_EINVAL;
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (s == T_PENDING && runs_here(t)) {
            /* Not started: run it here. */
            if (atomic_compare_exchange_strong_explicit(&t->state, &s, T_RUNNING,
                                                        memory_order_acquire,
                                                        memory_order_acquire))
                return run_inline(t);
            continue;
        }
        if (s != T_WAITING)
            break;
        wait_prerequisites(t);
        s = atomic_load_explicit(&t->state, memory_order_acquire);
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
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    while (s == T_PENDING || s == T_WAITING) {
        if (atomic_compare_exchange_weak_explicit(&t->state, &s, T_CANCELLED,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            /* Still queued or waiting: whoever takes it out, or counts its
             * last prerequisite, drops it. */
            mp_pool *pool = t->pool;
            settled_unanchored(pool, finish(t, T_CANCELLED));
            return MP_OK;
        }
    }
    return s == T_CANCELLED ? MP_OK : MP_EBUSY;
}

void mp_task_release(mp_task *t)
{
    if (t)
        mp__task_unref(t);
}
