/* scope.c: mp_scope_run and mp_scope_spawn. A scope is a record on its
 * caller's stack; spawned tasks are queued on it, and scopes with queued
 * tasks are listed in the pool for idle workers. See docs/design.md,
 * "Scopes". */
#include "pool.h"

#include <stdlib.h>

typedef struct mp_spawn mp_spawn;

struct mp_spawn {
    mp_spawn *next;
    mp_fn fn;
    void *arg;
};

struct mp_scope {
    mp_pool *pool;
    mp_ctx *waiter;
    _Atomic uint32_t pending;
    _Atomic uint32_t queued;        /* tasks in this scope's queue */
    _Atomic int err;
    mp_spawn *head, *tail;          /* under pool->sc.mu */
    mp_scope *next, *prev;          /* pool->sc.list, under pool->sc.mu */
    bool listed;
};

static void finish_one(mp_scope *s)
{
    mp_ctx *w = s->waiter;          /* s may be gone after the decrement */
    if (atomic_fetch_sub_explicit(&s->pending, 1, memory_order_seq_cst) == 1)
        mp__wake_ctx(w->pool, w);
}

static void unlist(mp_pool *pool, mp_scope *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        pool->sc.list = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->listed = false;
}

/* Takes the oldest task of `s` (or of the first listed scope when s is
 * NULL); under sc.mu. */
static mp_spawn *take(mp_pool *pool, mp_scope **sp)
{
    mp_scope *s = *sp ? *sp : pool->sc.list;
    if (!s || !s->head)
        return NULL;
    mp_spawn *t = s->head;
    s->head = t->next;
    if (!s->head) {
        s->tail = NULL;
        unlist(pool, s);
    }
    atomic_fetch_sub_explicit(&s->queued, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&pool->sc.queued, 1, memory_order_relaxed);
    *sp = s;
    return t;
}

static void run_spawn(mp_scope *s, mp_spawn *t)
{
    mp_fn fn = t->fn;
    void *arg = t->arg;
    mp_pool *pool = s->pool;        /* s may be gone after finish_one */
    free(t);
    mp__trace_begin(pool, MP_TRACE_SCOPE_TASK, NULL);
    if (!atomic_load_explicit(&s->err, memory_order_relaxed))
        mp__first_error(&s->err, fn(arg));
    mp__trace_end(pool, MP_TRACE_SCOPE_TASK, NULL);
    finish_one(s);
}

static bool run_one_of(mp_pool *pool, mp_scope *s)
{
    pthread_mutex_lock(&pool->sc.mu);
    mp_spawn *t = take(pool, &s);
    pthread_mutex_unlock(&pool->sc.mu);
    if (!t)
        return false;
    run_spawn(s, t);
    return true;
}

bool mp__scope_visible(mp_pool *pool)
{
    return atomic_load_explicit(&pool->sc.queued, memory_order_seq_cst) != 0;
}

bool mp__scope_run_one(mp_pool *pool)
{
    if (atomic_load_explicit(&pool->sc.queued, memory_order_relaxed) == 0)
        return false;
    return run_one_of(pool, NULL);
}

int mp_scope_spawn(mp_scope *s, mp_fn fn, void *arg)
{
    if (!s || !fn)
        return MP_EINVAL;
    mp_spawn *t = malloc(sizeof *t);
    if (!t)
        return MP_ENOMEM;
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    mp_pool *pool = s->pool;
    atomic_fetch_add_explicit(&s->pending, 1, memory_order_relaxed);

    pthread_mutex_lock(&pool->sc.mu);
    if (s->tail)
        s->tail->next = t;
    else
        s->head = t;
    s->tail = t;
    if (!s->listed) {
        s->listed = true;
        s->prev = NULL;
        s->next = pool->sc.list;
        if (pool->sc.list)
            pool->sc.list->prev = s;
        pool->sc.list = s;
    }
    atomic_fetch_add_explicit(&s->queued, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&pool->sc.queued, 1, memory_order_seq_cst);
    pthread_mutex_unlock(&pool->sc.mu);

    mp__wake_idle(pool, 1);
    mp__wake_ctx(pool, s->waiter);
    return MP_OK;
}

/* The caller's wait: until the body and every task have finished, running
 * tasks of its own scope meanwhile. */
static bool scope_help(mp_ctx *ctx, void *p)
{
    mp_scope *s = p;
    (void)ctx;
    return atomic_load_explicit(&s->queued, memory_order_relaxed) && run_one_of(s->pool, s);
}

int mp_scope_run(mp_pool *pool, mp_scope_fn body, void *arg)
{
    if (!pool || !body)
        return MP_EINVAL;
    mp_link link;
    mp_ctx *ctx;
    bool entered = mp__enter(pool, &link, &ctx, true);
    mp__count(&ctx->count.jobs);

    mp_scope s = {.pool = pool, .waiter = ctx};
    atomic_init(&s.pending, 1);
    atomic_init(&s.queued, 0);
    atomic_init(&s.err, 0);

    mp__first_error(&s.err, body(&s, arg));
    finish_one(&s);

    /* A spawn increments `queued` (seq_cst) and then wakes this thread. */
    struct mp_waiter w = {&s.pending, &s.queued, NULL, NULL, scope_help, &s, &mp__bcast_duties, 0};
    mp__wait(ctx, &w);
    if (entered)
        mp__leave(&link);
    return atomic_load_explicit(&s.err, memory_order_relaxed);
}
