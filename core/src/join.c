/* join.c: the split deque and fork-join (mp_join).
 *
 * A context's deque holds its jobs (fn, arg) in place. Indices
 * [top, split) are shared: a thief takes the job at `top` with one CAS on
 * the packed word ts = (split << 32 | top). Indices
 * [split, bottom) are private: the owner pushes and pops them with plain
 * loads and stores, no fence and no read-modify-write. The owner shares
 * jobs (moves split up) when its private part was empty before a push,
 * or when a thief asked through push_limit; it takes a shared job back
 * with a CAS that moves split down. docs/design.md gives the argument. */
#include "internal.h"

#include <sched.h>

#define TS(top, split) (((uint64_t)(split) << 32) | (uint32_t)(top))
#define TS_TOP(ts) ((uint32_t)(ts))
#define TS_SPLIT(ts) ((uint32_t)((ts) >> 32))

/* Moves split up to `nsplit` (at most bottom) and wakes a sleeper. A
 * private job has only fn and arg; the sync entry a thief and a waiting
 * owner use is set here, before the seq_cst CAS that publishes it (a thief
 * reads the job after its own CAS on ts, which reads from this one or a
 * later RMW of its release sequence). A job is shared at most once: the
 * private part only grows by pushes of new jobs. */
static void share(mp_ctx *c, uint32_t nsplit)
{
    for (uint32_t i = c->split; i < nsplit; i++) {
        atomic_store_explicit(&c->sync[i].pending, 1, memory_order_relaxed);
        atomic_store_explicit(&c->sync[i].thief, NULL, memory_order_relaxed);
    }
    uint64_t old = atomic_load_explicit(&c->ts, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&c->ts, &old, TS(TS_TOP(old), nsplit),
                                                  memory_order_seq_cst, memory_order_relaxed))
        ;
    c->split = nsplit;
    atomic_store_explicit(&c->push_limit, nsplit, memory_order_relaxed);
    mp_wake_idle(c->pool, 1);
}

/* A push onto a deque with nothing left to steal shares the new job at
 * once, so that an idle thread can take it while the owner runs the other
 * half; deeper pushes stay private until a thief asks. */
static void push_slow(mp_ctx *c, uint32_t b)
{
    bool asked = atomic_load_explicit(&c->push_limit, memory_order_relaxed) == UINT32_MAX;
    if (c->overflow || c->pool->nworkers == 0) {
        if (asked)      /* nobody can take a job from here: drop the request */
            atomic_store_explicit(&c->push_limit, c->split, memory_order_relaxed);
        return;
    }
    if (!asked && (b != c->split || TS_TOP(atomic_load_explicit(&c->ts, memory_order_relaxed)) != b))
        return;
    /* Share the oldest half of the private jobs (at least one). */
    share(c, c->split + (b + 2 - c->split) / 2);
}

/* push_slow, then the join's first half: a and its argument then need not
 * stay in callee-saved registers of the join across a call. */
static __attribute__((noinline)) int push_slow_run(mp_ctx *c, uint32_t b, mp_fn a, void *a_arg)
{
    push_slow(c, b);
    return a(a_arg);
}

/* The job at index b == bottom-1 == split-1 is shared: take it back, or
 * learn it was stolen. */
static bool pop_shared(mp_ctx *c, uint32_t b)
{
    uint64_t old = atomic_load_explicit(&c->ts, memory_order_relaxed);
    for (;;) {
        if (TS_TOP(old) > b)
            break;
        if (atomic_compare_exchange_weak_explicit(&c->ts, &old, TS(TS_TOP(old), b),
                                                  memory_order_seq_cst, memory_order_relaxed)) {
            c->bottom = b;
            c->split = b;
            atomic_store_explicit(&c->push_limit, b, memory_order_relaxed);
            return true;
        }
    }
    /* Stolen, and with it every older job (top == b + 1 == split ==
     * bottom). Entry b stays reserved while the owner waits: bottom stays
     * b + 1, so the joins it makes meanwhile push above it, and the thief
     * may write the result into sync[b]. Wait until the thief has named
     * itself (right after its CAS and its read of the entry): the owner
     * helps in that thread's deque. */
    for (unsigned spins = 0;
         atomic_load_explicit(&c->sync[b].thief, memory_order_acquire) == NULL; spins++) {
        if (spins < 1024)
            mp_cpu_relax();
        else
            sched_yield();      /* the thief was preempted between its CAS and its read */
    }
    return false;
}

/* After the wait for a stolen job at index b: the joins made meanwhile
 * have all returned, so ts == (b+1, b+1) and no thief can change it; the
 * deque is now empty at b. */
static void reset_after_steal(mp_ctx *c, uint32_t b)
{
    atomic_store_explicit(&c->ts, TS(b, b), memory_order_release);
    c->bottom = b;
    c->split = b;
    atomic_store_explicit(&c->push_limit, b, memory_order_relaxed);
}

/* Takes the oldest shared job of `victim` into *job and its index into
 * *idx; false if there was none. */
static bool steal(mp_ctx *self, mp_ctx *victim, mp_job *job, uint32_t *idx)
{
    uint64_t old = atomic_load_explicit(&victim->ts, memory_order_acquire);
    for (int tries = 0; tries < 4; tries++) {
        uint32_t t = TS_TOP(old), s = TS_SPLIT(old);
        if (t >= s) {
            if (atomic_load_explicit(&victim->push_limit, memory_order_relaxed) != UINT32_MAX)
                atomic_store_explicit(&victim->push_limit, UINT32_MAX, memory_order_relaxed);
            return false;
        }
        if (atomic_compare_exchange_strong_explicit(&victim->ts, &old, TS(t + 1, s),
                                                    memory_order_seq_cst, memory_order_acquire)) {
            *job = victim->jobs[t];
            *idx = t;
            atomic_store_explicit(&victim->sync[t].thief, self, memory_order_release);
            mp_count(&self->count.steals);
            return true;
        }
    }
    return false;
}

/* Runs the job stolen from entry t of `owner`'s deque and signals the
 * owner, which may reuse the entry once pending is 0. */
static void run_stolen(mp_ctx *owner, mp_job job, uint32_t t)
{
    int r = job.fn(job.arg);
    owner->sync[t].result = r;
    atomic_store_explicit(&owner->sync[t].pending, 0, memory_order_seq_cst);
    mp_wake_ctx(owner->pool, owner);
}

static inline unsigned victims(mp_pool *pool)
{
    return pool->nworkers + atomic_load_explicit(&pool->ext_high, memory_order_seq_cst);
}

bool mp_any_shared(mp_pool *pool)
{
    unsigned n = victims(pool);
    for (unsigned i = 0; i < n; i++) {
        uint64_t ts = atomic_load_explicit(&pool->ctxs[i].ts, memory_order_seq_cst);
        if (TS_TOP(ts) < TS_SPLIT(ts))
            return true;
    }
    return false;
}

bool mp_steal_and_run(mp_ctx *self)
{
    mp_pool *pool = self->pool;
    unsigned n = victims(pool);
    self->rng ^= self->rng << 13;
    self->rng ^= self->rng >> 17;
    self->rng ^= self->rng << 5;
    unsigned start = self->rng % n;
    for (unsigned k = 0; k < n; k++) {
        mp_ctx *v = &pool->ctxs[(start + k) % n];
        if (v == self)
            continue;
        mp_job job;
        uint32_t t;
        if (steal(self, v, &job, &t)) {
            mp_set_spinning(self, 0);
            run_stolen(v, job, t);
            return true;
        }
    }
    return false;
}

/* Waits for a stolen job. Meanwhile it helps only with work of that job:
 * jobs in the deque of the thread that took it (leapfrogging), and
 * broadcast parts addressed to this thread (mp_wait). */
static bool leapfrog(mp_ctx *ctx, void *p)
{
    mp_ctx *thief = atomic_load_explicit(&((mp_jobsync *)p)->thief, memory_order_acquire);
    mp_job j;
    uint32_t t;
    if (!steal(ctx, thief, &j, &t))
        return false;
    run_stolen(thief, j, t);
    return true;
}

static void wait_job(mp_ctx *ctx, uint32_t i)
{
    mp_jobsync *js = &ctx->sync[i];
    struct mp_waiter w = {&js->pending, NULL, NULL, NULL, leapfrog, js};
    mp_wait(ctx, &w);
}

/* The slow ends of a join: the deque is full, or the job was shared when
 * the owner came back from `a`. */
static __attribute__((noinline)) int join_full(mp_fn a, void *a_arg, mp_fn b, void *b_arg)
{
    int r = a(a_arg);
    return r ? r : b(b_arg);
}

static __attribute__((noinline)) int join_shared(mp_ctx *ctx, uint32_t i, int ra)
{
    if (pop_shared(ctx, i)) {
        mp_job job = ctx->jobs[i];      /* entry i is free again once popped */
        return ra ? ra : job.fn(job.arg);
    }
    wait_job(ctx, i);
    int rb = ctx->sync[i].result;
    reset_after_steal(ctx, i);
    return ra ? ra : rb;
}

/* Push b, run a, pop b. A private job costs three stores (fn and arg in
 * its entry, bottom) and the pop one (bottom). The pop compares the index
 * it pushed at, kept in a register, with split rather than reload bottom,
 * and it reads b back from the entry rather than keep it in callee-saved
 * registers across a. */
static inline __attribute__((always_inline)) int join_in(mp_ctx *ctx, mp_fn a, void *a_arg,
                                                         mp_fn b, void *b_arg, bool count)
{
    uint32_t i = ctx->bottom;
    if (count)
        mp_count(&ctx->count.jobs);
    if (MP_UNLIKELY(i >= MP_DEQUE_CAP))
        return join_full(a, a_arg, b, b_arg);
    mp_job *job = &ctx->jobs[i];
    job->fn = b;
    job->arg = b_arg;
    ctx->bottom = i + 1;
    int ra;
    if (MP_UNLIKELY(i <= atomic_load_explicit(&ctx->push_limit, memory_order_relaxed)))
        ra = push_slow_run(ctx, i, a, a_arg);
    else
        ra = a(a_arg);
    if (MP_UNLIKELY(i < ctx->split))
        return join_shared(ctx, i, ra);
    b = job->fn;
    b_arg = job->arg;
    ctx->bottom = i;
    if (ra)
        return ra;
    return b(b_arg);
}

int mp_join_in(mp_ctx *ctx, mp_fn a, void *a_arg, mp_fn b, void *b_arg)
{
    return join_in(ctx, a, a_arg, b, b_arg, false);
}

/* mp_join from a thread that has no context in the pool yet, or with bad
 * arguments. */
static __attribute__((noinline)) int join_enter(mp_pool *pool, mp_fn a, void *a_arg, mp_fn b,
                                                void *b_arg)
{
    if (!pool || !a || !b)
        return MP_EINVAL;
    mp_link link;
    mp_ctx *ctx;
    bool entered = mp_enter(pool, &link, &ctx, false);
    int r;
    if (ctx) {
        mp_count(&ctx->count.jobs);
        r = mp_join_in(ctx, a, a_arg, b, b_arg);
    } else {
        r = a(a_arg);
        if (!r)
            r = b(b_arg);
    }
    if (entered)
        mp_leave(&link);
    return r;
}

int mp_join(mp_pool *pool, mp_fn a, void *a_arg, mp_fn b, void *b_arg)
{
    /* The nested case, by far the most frequent, in a few instructions:
     * the innermost link has a context of this pool (a context's pool is
     * its link's). */
    mp_ctx *ctx = mp_tls_ctx;
    if (MP_LIKELY(ctx && ctx->pool == pool && a && b))
        return join_in(ctx, a, a_arg, b, b_arg, true);
    return join_enter(pool, a, a_arg, b, b_arg);
}
