/* deque.c: the split deque (push, pop, share, steal) and mp_join. The
 * owner's jobs [split, bottom) cost no atomic read-modify-write; thieves
 * take from [top, split) with one CAS. See docs/design.md, "The split
 * deque". */
#include "pool.h"

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
    for (uint32_t i = c->dq.split; i < nsplit; i++) {
        atomic_store_explicit(&c->dq.sync[i].pending, 1, memory_order_relaxed);
        atomic_store_explicit(&c->dq.sync[i].thief, NULL, memory_order_relaxed);
    }
    uint64_t old = atomic_load_explicit(&c->dq.ts, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&c->dq.ts, &old, TS(TS_TOP(old), nsplit),
                                                  memory_order_seq_cst, memory_order_relaxed))
        ;
    c->dq.split = nsplit;
    atomic_store_explicit(&c->dq.push_limit, nsplit, memory_order_relaxed);
    mp__wake_idle(c->pool, 1);
}

/* A push onto a deque with nothing left to steal shares the new job at
 * once, so that an idle thread can take it while the owner runs the other
 * half; deeper pushes stay private until a thief asks. */
static void push_slow(mp_ctx *c, uint32_t b)
{
    bool asked = atomic_load_explicit(&c->dq.push_limit, memory_order_relaxed) == UINT32_MAX;
    if (c->slot.overflow || c->pool->nworkers == 0) {
        if (asked)      /* nobody can take a job from here: drop the request */
            atomic_store_explicit(&c->dq.push_limit, c->dq.split, memory_order_relaxed);
        return;
    }
    if (!asked && (b != c->dq.split || TS_TOP(atomic_load_explicit(&c->dq.ts, memory_order_relaxed)) != b))
        return;
    /* Share the oldest half of the private jobs (at least one). */
    share(c, c->dq.split + (b + 2 - c->dq.split) / 2);
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
    uint64_t old = atomic_load_explicit(&c->dq.ts, memory_order_relaxed);
    for (;;) {
        if (TS_TOP(old) > b)
            break;
        if (atomic_compare_exchange_weak_explicit(&c->dq.ts, &old, TS(TS_TOP(old), b),
                                                  memory_order_seq_cst, memory_order_relaxed)) {
            c->dq.bottom = b;
            c->dq.split = b;
            atomic_store_explicit(&c->dq.push_limit, b, memory_order_relaxed);
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
         atomic_load_explicit(&c->dq.sync[b].thief, memory_order_acquire) == NULL; spins++) {
        if (spins < 1024)
            mp__cpu_relax();
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
    atomic_store_explicit(&c->dq.ts, TS(b, b), memory_order_release);
    c->dq.bottom = b;
    c->dq.split = b;
    atomic_store_explicit(&c->dq.push_limit, b, memory_order_relaxed);
}

/* Takes the oldest shared job of `victim` into *job and its index into
 * *idx; false if there was none. */
static bool steal(mp_ctx *self, mp_ctx *victim, mp_job *job, uint32_t *idx)
{
    uint64_t old = atomic_load_explicit(&victim->dq.ts, memory_order_acquire);
    for (int tries = 0; tries < 4; tries++) {
        uint32_t t = TS_TOP(old), s = TS_SPLIT(old);
        if (t >= s) {
            if (atomic_load_explicit(&victim->dq.push_limit, memory_order_relaxed) != UINT32_MAX)
                atomic_store_explicit(&victim->dq.push_limit, UINT32_MAX, memory_order_relaxed);
            return false;
        }
        if (atomic_compare_exchange_strong_explicit(&victim->dq.ts, &old, TS(t + 1, s),
                                                    memory_order_seq_cst, memory_order_acquire)) {
            *job = victim->dq.jobs[t];
            *idx = t;
            atomic_store_explicit(&victim->dq.sync[t].thief, self, memory_order_release);
            mp__count(&self->count.steals);
            return true;
        }
    }
    return false;
}

/* Runs the job stolen from entry t of `owner`'s deque and signals the
 * owner, which may reuse the entry once pending is 0. */
static void run_stolen(mp_ctx *owner, mp_job job, uint32_t t)
{
    mp__trace_begin(owner->pool, MP_TRACE_JOB, NULL);
    int r = job.fn(job.arg);
    mp__trace_end(owner->pool, MP_TRACE_JOB, NULL);
    owner->dq.sync[t].result = r;
    atomic_store_explicit(&owner->dq.sync[t].pending, 0, memory_order_seq_cst);
    mp__wake_ctx(owner->pool, owner);
}

static inline unsigned victims(mp_pool *pool)
{
    return pool->nworkers + atomic_load_explicit(&pool->slots.ext_high, memory_order_seq_cst);
}

bool mp__deque_run_own(mp_ctx *self)
{
    /* The oldest job: shared already, or the oldest private one, shared
     * now (steal's "share more" request is for other thieves, not for the
     * owner, so steal is only called with a shared job there). */
    uint64_t ts = atomic_load_explicit(&self->dq.ts, memory_order_acquire);
    if (TS_TOP(ts) >= TS_SPLIT(ts)) {
        if (self->dq.split >= self->dq.bottom)
            return false;
        share(self, self->dq.split + 1);
    }
    mp_job job;
    uint32_t t;
    if (!steal(self, self, &job, &t))
        return false;
    run_stolen(self, job, t);
    return true;
}

bool mp__deque_visible(mp_pool *pool)
{
    unsigned n = victims(pool);
    for (unsigned i = 0; i < n; i++) {
        uint64_t ts = atomic_load_explicit(&pool->ctxs[i].dq.ts, memory_order_seq_cst);
        if (TS_TOP(ts) < TS_SPLIT(ts))
            return true;
    }
    return false;
}

bool mp__deque_run_one(mp_ctx *self)
{
    mp_pool *pool = self->pool;
    unsigned n = victims(pool);
    self->dq.rng ^= self->dq.rng << 13;
    self->dq.rng ^= self->dq.rng >> 17;
    self->dq.rng ^= self->dq.rng << 5;
    unsigned start = self->dq.rng % n;
    for (unsigned k = 0; k < n; k++) {
        mp_ctx *v = &pool->ctxs[(start + k) % n];
        if (v == self)
            continue;
        mp_job job;
        uint32_t t;
        if (steal(self, v, &job, &t)) {
            mp__idle_spinning(&self->idle, 0);
            run_stolen(v, job, t);
            return true;
        }
    }
    return false;
}

/* Waits for a stolen job. Meanwhile it helps only with work of that job:
 * jobs in the deque of the thread that took it (leapfrogging), and does
 * its duties (broadcast parts addressed to this thread). */
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
    mp_jobsync *js = &ctx->dq.sync[i];
    struct mp_waiter w = {&js->pending, NULL, NULL, NULL, leapfrog, js, &mp__bcast_duties, 0};
    mp__wait(ctx, &w);
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
        mp_job job = ctx->dq.jobs[i];      /* entry i is free again once popped */
        return ra ? ra : job.fn(job.arg);
    }
    wait_job(ctx, i);
    int rb = ctx->dq.sync[i].result;
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
    uint32_t i = ctx->dq.bottom;
    if (count)
        mp__count(&ctx->count.jobs);
    if (MP_UNLIKELY(i >= MP_DEQUE_CAP))
        return join_full(a, a_arg, b, b_arg);
    mp_job *job = &ctx->dq.jobs[i];
    job->fn = b;
    job->arg = b_arg;
    ctx->dq.bottom = i + 1;
    int ra;
    if (MP_UNLIKELY(i <= atomic_load_explicit(&ctx->dq.push_limit, memory_order_relaxed)))
        ra = push_slow_run(ctx, i, a, a_arg);
    else
        ra = a(a_arg);
    if (MP_UNLIKELY(i < ctx->dq.split))
        return join_shared(ctx, i, ra);
    b = job->fn;
    b_arg = job->arg;
    ctx->dq.bottom = i;
    if (ra)
        return ra;
    return b(b_arg);
}

int mp__join_in(mp_ctx *ctx, mp_fn a, void *a_arg, mp_fn b, void *b_arg)
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
    bool entered = mp__enter(pool, &link, &ctx, false);
    int r;
    if (ctx) {
        mp__count(&ctx->count.jobs);
        r = mp__join_in(ctx, a, a_arg, b, b_arg);
    } else {
        r = a(a_arg);
        if (!r)
            r = b(b_arg);
    }
    if (entered)
        mp__leave(&link);
    return r;
}

int mp_join(mp_pool *pool, mp_fn a, void *a_arg, mp_fn b, void *b_arg)
{
    /* The nested case, by far the most frequent, in a few instructions:
     * the innermost link has a context of this pool (a context's pool is
     * its link's). */
    mp_ctx *ctx = mp__tls_ctx;
    if (MP_LIKELY(ctx && ctx->pool == pool && a && b))
        return join_in(ctx, a, a_arg, b, b_arg, true);
    return join_enter(pool, a, a_arg, b, b_arg);
}
