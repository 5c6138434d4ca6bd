/* mailbox.c: MP_SPLIT_STATIC loops. The caller posts part i to the i-th
 * other worker's mailbox and runs part 0; a polling worker takes its part
 * with a CAS; a part nobody took in time the caller takes back with a CAS
 * and runs. See docs/design.md, "Static loops". */
#include "pool.h"

#include <sched.h>

/* How long a caller waits, at most, for a worker that was polling for
 * work to take its part: such a worker sees the post within a few hundred
 * nanoseconds unless its CPU was taken away. */
#define MP_LEAVE_NS 2000u

#define MB_GEN(w) ((w) >> 2)
#define MB_STATE(w) ((w) & 3u)

bool mp__mailbox_visible(mp_ctx *self)
{
    return (atomic_load_explicit(&self->mb.word, memory_order_seq_cst) & 3u) == MP_MB_POSTED;
}

bool mp__mailbox_run_one(mp_ctx *self)
{
    uint64_t w = atomic_load_explicit(&self->mb.word, memory_order_relaxed);
    if (MP_LIKELY(MB_STATE(w) != MP_MB_POSTED))
        return false;
    if (!atomic_compare_exchange_strong_explicit(&self->mb.word, &w,
                                                 (w & ~(uint64_t)3) | MP_MB_TAKEN,
                                                 memory_order_acquire, memory_order_relaxed))
        return false;   /* taken back by the poster */
    /* `spinning` stays set: a part is short work after which this worker
     * polls again, and nobody waits for this worker meanwhile (there is one
     * poster at a time, and it waits for this part). */
    mp__count(&self->count.steals);

    size_t size = self->mb.acc_size;
    int cpu = self->mb.judge ? sched_getcpu() : -1;
    int r;
    mp__trace_begin(self->pool, MP_TRACE_PART, NULL);
    if (size == 0) {
        r = self->mb.fn.body(self->mb.arg, self->mb.begin, self->mb.end);
    } else {
        void *acc = size <= MP_MB_INLINE ? (void *)self->mb.acc : self->mb.accp;
        memcpy(acc, size <= MP_MB_INLINE ? (const void *)self->mb.ident : self->mb.identp, size);
        r = self->mb.fn.map(self->mb.arg, self->mb.begin, self->mb.end, acc);
    }
    mp__trace_end(self->pool, MP_TRACE_PART, NULL);
    self->mb.result = r;
    if (cpu >= 0 && sched_getcpu() != cpu)
        cpu = -1;                       /* it moved */
    self->mb.cpu = cpu;
    mp_ctx *owner = self->mb.owner;
    /* After this store the poster may reuse the mailbox: nothing of it is
     * touched below. */
    atomic_store_explicit(&self->mb.pending, 0, memory_order_seq_cst);
    mp__wake_ctx(self->pool, owner);
    return true;
}

static void post(mp_ctx *ctx, mp_ctx *w, mp_loop *L, size_t i)
{
    size_t b, e;
    mp__part_range(L, i, &b, &e);
    w->mb.arg = L->arg;
    w->mb.begin = b;
    w->mb.end = e;
    if (!L->map) {
        w->mb.fn.body = L->body;
        w->mb.acc_size = 0;
    } else {
        w->mb.fn.map = L->map;
        w->mb.acc_size = L->acc_size;
        if (L->acc_size <= MP_MB_INLINE) {
            memcpy(w->mb.ident, L->identity, L->acc_size);
        } else {
            w->mb.identp = L->identity;
            w->mb.accp = L->accs + i * L->stride;
        }
    }
    w->mb.judge = L->judge;
    w->mb.owner = ctx;
    atomic_store_explicit(&w->mb.pending, 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&w->mb.word, memory_order_relaxed);
    /* seq_cst: either the worker's last look before sleeping sees the
     * post, or the wake below sees it asleep (docs/design.md). */
    atomic_store_explicit(&w->mb.word, ((MB_GEN(old) + 1) << 2) | MP_MB_POSTED,
                          memory_order_seq_cst);
    mp__wake_worker(ctx->pool, w);
}

/* Takes part i back from w's mailbox if the worker has not taken it:
 * at once when the worker is not polling for work, else after it had
 * MP_LEAVE_NS to come. True if the caller now owns the part. */
static bool take_back(mp_ctx *w, mp_loop *L)
{
    uint64_t word = atomic_load_explicit(&w->mb.word, memory_order_relaxed);
    uint64_t deadline = 0;
    for (unsigned r = 0; MB_STATE(word) == MP_MB_POSTED; r++) {
        if (!atomic_load_explicit(&w->idle.spinning, memory_order_relaxed) ||
            atomic_load_explicit(&L->err, memory_order_relaxed))
            break;
        if ((r & 15) == 15) {
            uint64_t t = mp__now_ns();
            if (!deadline)
                deadline = t + MP_LEAVE_NS;
            else if (t >= deadline)
                break;
        }
        mp__cpu_relax();
        word = atomic_load_explicit(&w->mb.word, memory_order_relaxed);
    }
    return MB_STATE(word) == MP_MB_POSTED &&
           atomic_compare_exchange_strong_explicit(&w->mb.word, &word,
                                                   (word & ~(uint64_t)3) | MP_MB_EMPTY,
                                                   memory_order_relaxed, memory_order_relaxed);
}

/* Collects part i from w: runs it if taken back, else waits for it.
 * Returns the CPU the worker ran it on, or -1. */
static int collect(mp_ctx *ctx, mp_ctx *w, mp_loop *L, size_t i)
{
    if (take_back(w, L)) {
        if (!atomic_load_explicit(&L->err, memory_order_relaxed))
            mp__first_error(&L->err, mp__run_part(L, i));
        return -1;
    }
    mp__wait_zero(ctx, &w->mb.pending);
    mp__first_error(&L->err, w->mb.result);
    if (L->map && L->acc_size <= MP_MB_INLINE)
        memcpy(L->accs + i * L->stride, w->mb.acc, L->acc_size);
    return w->mb.cpu;                   /* -1 if it moved while running it */
}

/* The k-th worker other than ctx (k from 0), or NULL. */
static mp_ctx *other_worker(mp_pool *pool, mp_ctx *ctx, size_t k)
{
    size_t at = k;
    if (ctx->index >= 1 && ctx->index - 1 <= k)
        at++;
    return at < pool->nworkers ? &pool->ctxs[at] : NULL;
}

void mp__mailbox_run_loop(mp_pool *pool, mp_ctx *ctx, mp_loop *L)
{
    int posted_on = L->judge ? sched_getcpu() : -1;
    size_t posted = 0;
    for (; posted + 1 < L->parts; posted++) {
        mp_ctx *w = other_worker(pool, ctx, posted);
        if (!w)
            break;
        post(ctx, w, L, posted + 1);
    }
    mp__loop_own_start(L);
    mp__first_error(&L->err, mp__run_part(L, 0));
    mp__loop_measured(L, 1);
    for (size_t i = posted + 1; i < L->parts; i++)       /* no worker left for these */
        if (!atomic_load_explicit(&L->err, memory_order_relaxed))
            mp__first_error(&L->err, mp__run_part(L, i));
    /* A cold call that woke workers tells warm.c whether one of them ran
     * its part on this thread's CPU (then the halves ran in turn): when
     * neither moved meanwhile (a thread the scheduler moves is no sign). */
    int here = L->judge && sched_getcpu() == posted_on ? posted_on : -1, beside = -1;
    for (size_t k = 0; k < posted; k++) {
        int cpu = collect(ctx, other_worker(pool, ctx, k), L, k + 1);
        if (cpu >= 0 && beside != 1)
            beside = cpu == here;
    }
    if (here >= 0 && beside >= 0)
        mp__warm_beside(pool, beside == 1);
}
