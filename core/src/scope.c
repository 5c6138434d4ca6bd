/* scope.c: mp_scope_run and mp_scope_spawn.
 *
 * A scope is a record on its caller's stack. Spawned tasks are heap
 * records queued on the scope; scopes with queued tasks sit on the pool's
 * list (both under smu) so that idle workers find them. `pending` counts
 * the body and every spawned task not yet finished; the caller waits for
 * it to reach 0 and meanwhile runs tasks of its own scope only. */
#include "internal.h"

#include <stdlib.h>

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
    mp_spawn *head, *tail;          /* under pool->smu */
    mp_scope *next, *prev;          /* pool->scopes, under pool->smu */
    bool listed;
};

static void fail(mp_scope *s, int r)
{
    int zero = 0;
    if (r)
        atomic_compare_exchange_strong_explicit(&s->err, &zero, r, memory_order_relaxed,
                                                memory_order_relaxed);
}

static void finish_one(mp_scope *s)
{
    mp_ctx *w = s->waiter;          /* s may be gone after the decrement */
    if (atomic_fetch_sub_explicit(&s->pending, 1, memory_order_seq_cst) == 1)
        mp_wake_ctx(w->pool, w);
}

static void unlist(mp_pool *pool, mp_scope *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        pool->scopes = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->listed = false;
}

/* Takes the oldest task of `s` (or of the first listed scope when s is
 * NULL); under smu. */
static mp_spawn *take(mp_pool *pool, mp_scope **sp)
{
    mp_scope *s = *sp ? *sp : pool->scopes;
    if (!s || !s->head)
        return NULL;
    mp_spawn *t = s->head;
    s->head = t->next;
    if (!s->head) {
        s->tail = NULL;
        unlist(pool, s);
    }
    atomic_fetch_sub_explicit(&s->queued, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&pool->scope_queued, 1, memory_order_relaxed);
    *sp = s;
    return t;
}

static void run_spawn(mp_scope *s, mp_spawn *t)
{
    mp_fn fn = t->fn;
    void *arg = t->arg;
    free(t);
    if (!atomic_load_explicit(&s->err, memory_order_relaxed))
        fail(s, fn(arg));
    finish_one(s);
}

static bool run_one_of(mp_pool *pool, mp_scope *s)
{
    pthread_mutex_lock(&pool->smu);
    mp_spawn *t = take(pool, &s);
    pthread_mutex_unlock(&pool->smu);
    if (!t)
        return false;
    run_spawn(s, t);
    return true;
}

bool mp_scope_run_one(mp_pool *pool)
{
    if (atomic_load_explicit(&pool->scope_queued, memory_order_relaxed) == 0)
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

    pthread_mutex_lock(&pool->smu);
    if (s->tail)
        s->tail->next = t;
    else
        s->head = t;
    s->tail = t;
    if (!s->listed) {
        s->listed = true;
        s->prev = NULL;
        s->next = pool->scopes;
        if (pool->scopes)
            pool->scopes->prev = s;
        pool->scopes = s;
    }
    atomic_fetch_add_explicit(&s->queued, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&pool->scope_queued, 1, memory_order_seq_cst);
    pthread_mutex_unlock(&pool->smu);

    mp_wake_idle(pool, 1);
    mp_wake_ctx(pool, s->waiter);
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
    bool entered = mp_enter(pool, &link, &ctx, true);
    mp_count(&ctx->count.jobs);

    mp_scope s = {.pool = pool, .waiter = ctx};
    atomic_init(&s.pending, 1);
    atomic_init(&s.queued, 0);
    atomic_init(&s.err, 0);

    fail(&s, body(&s, arg));
    finish_one(&s);

    /* A spawn increments `queued` (seq_cst) and then wakes this thread. */
    struct mp_waiter w = {&s.pending, &s.queued, NULL, NULL, scope_help, &s};
    mp_wait(ctx, &w);
    if (entered)
        mp_leave(&link);
    return atomic_load_explicit(&s.err, memory_order_relaxed);
}
