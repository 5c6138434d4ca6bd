/* loop.c: mp_for and mp_reduce: parts claimed with one fetch_add, the
 * flat slot every idle worker sees, tickets in the deques, and the choice
 * between splitting a loop and running it alone. See docs/design.md,
 * "Loops" and "Bursts and periods". */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

/* Claims and runs parts until none is left; returns how many it ran. */
static size_t claim_parts(mp_loop *L)
{
    size_t ran = 0;
    while (!atomic_load_explicit(&L->err, memory_order_relaxed)) {
        size_t i = atomic_fetch_add_explicit(&L->next, 1, memory_order_relaxed);
        if (i >= L->parts)
            break;
        mp__first_error(&L->err, mp__run_part(L, i));
        ran++;
    }
    return ran;
}

static int loop_work(void *p)
{
    claim_parts(p);
    return 0;
}

static int loop_ticket(void *p)
{
    mp_loop *L = p;
    if (atomic_load_explicit(&L->next, memory_order_relaxed) >= L->parts ||
        atomic_load_explicit(&L->err, memory_order_relaxed))
        return 0;
    mp_ctx *ctx = mp__ctx_fast(L->pool);
    if (!ctx)
        return loop_work(L);
    return mp__join_in(ctx, loop_work, L, loop_ticket, L);
}

/* How many parts: see the header for the rules. */
static size_t count_parts(const mp_pool *pool, size_t n, size_t grain, unsigned flags,
                          bool reduce)
{
    size_t g = grain ? grain : 1;
    size_t by_grain = n / g + (n % g != 0);
    size_t cap;
    if (flags & MP_DETERMINISTIC)
        return by_grain < MP_REDUCE_PARTS_MAX ? by_grain : MP_REDUCE_PARTS_MAX;
    if (pool->nthreads == 1)
        return 1;
    if (flags & MP_SPLIT_STATIC)
        cap = pool->nthreads;
    else
        cap = (size_t)pool->nthreads * 4;
    if (reduce && cap > MP_REDUCE_PARTS_MAX)
        cap = MP_REDUCE_PARTS_MAX;
    return by_grain < cap ? by_grain : cap;
}

bool mp__flat_visible(mp_ctx *self)
{
    return mp__flat_open(self->pool, self, memory_order_seq_cst);
}

bool mp__flat_run_one(mp_ctx *self)
{
    mp_pool *pool = self->pool;
    uint64_t s = atomic_load_explicit(&pool->flat.seq, memory_order_acquire);
    if (!(s & 1) || s == self->flat_seen)
        return false;
    self->flat_seen = s;
    /* Announce, then check the loop is still open: the caller closes it
     * before it waits for flat.active to drop to 0, so either it sees
     * this increment or this thread sees the loop closed (seq_cst). */
    atomic_fetch_add_explicit(&pool->flat.active, 1, memory_order_seq_cst);
    mp__idle_spinning(&self->idle, 0);
    if (atomic_load_explicit(&pool->flat.seq, memory_order_seq_cst) == s) {
        mp__count(&self->count.steals);
        loop_work(atomic_load_explicit(&pool->flat.loop, memory_order_relaxed));
    }
    if (atomic_fetch_sub_explicit(&pool->flat.active, 1, memory_order_seq_cst) == 1) {
        mp_ctx *w = atomic_load_explicit(&pool->flat.waiter, memory_order_seq_cst);
        if (w)
            mp__wake_ctx(pool, w);
    }
    return true;
}

/* Publishes L in the pool's flat slot, works on it, closes it and waits
 * for the workers that joined. The caller holds the loop slot. */
static void run_flat(mp_pool *pool, mp_ctx *ctx, mp_loop *L)
{
    uint64_t s = atomic_load_explicit(&pool->flat.seq, memory_order_relaxed);
    atomic_store_explicit(&pool->flat.loop, L, memory_order_relaxed);
    atomic_store_explicit(&pool->flat.waiter, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool->flat.seq, s + 1, memory_order_seq_cst);
    size_t helpers = L->parts - 1;
    mp__wake_idle(pool, helpers < pool->nworkers ? (unsigned)helpers : pool->nworkers);

    mp__loop_own_start(L);
    mp__loop_measured(L, claim_parts(L));

    atomic_store_explicit(&pool->flat.seq, s + 2, memory_order_seq_cst);
    /* The seq_cst load pairs with a worker's seq_cst announce-then-check
     * (store-buffering): either it sees the worker's increment, or the
     * worker sees the loop closed. mp__wait_zero's own loads are acquire. */
    if (atomic_load_explicit(&pool->flat.active, memory_order_seq_cst) != 0)
        mp__wait_zero(ctx, &pool->flat.active);
}

/* Runs L on the caller alone, publishing nothing. A static loop becomes
 * one part, [0, n): the ABI allows fewer parts than threads, and one part
 * saves the caller a second call of the body, a second accumulator and a
 * combine. Any other partition is kept as it was cut. The parts run in
 * order, as claims would give them. */
static void run_alone(mp_loop *L)
{
    if (L->mailboxes) {
        L->base = L->base * L->parts + L->rem;
        L->parts = 1;
        L->rem = 0;
    }
    /* Nobody else sees L: no claims, and the first error stops the rest. */
    for (size_t i = 0; i < L->parts; i++) {
        int r = mp__run_part(L, i);
        if (r) {
            mp__first_error(&L->err, r);
            break;
        }
    }
}

/* Publishes L and works on it with whoever comes. One loop at a time
 * holds the pool's loop slot and publishes through its mailboxes or the
 * flat slot; a loop that finds the slot taken (a nested loop, or another
 * thread's) offers tickets in the deques. */
static void run_split(mp_pool *pool, mp_ctx *ctx, mp_loop *L)
{
    if (atomic_load_explicit(&pool->flat.busy, memory_order_relaxed) ||
        atomic_exchange_explicit(&pool->flat.busy, 1, memory_order_acquire)) {
        mp__join_in(ctx, loop_work, L, loop_ticket, L);
        return;
    }
    if (L->mailboxes)
        mp__mailbox_run_loop(pool, ctx, L);
    else
        run_flat(pool, ctx, L);
    /* The previous loop is over, its mailboxes collected, before the next
     * caller takes the slot. */
    atomic_store_explicit(&pool->flat.busy, 0, memory_order_release);
}

/* A warm call (no worker sleeps): split unless splitting this loop was
 * measured slower than running it alone (warm.c). A timed call records
 * both: alone from the caller's own parts, split from start to end. */
static void run_warm(mp_pool *pool, mp_ctx *ctx, mp_loop *L)
{
    uint64_t key = mp__loop_key(L);
    bool measure;
    bool split = mp__warm_split_pays(pool, key, &measure);
    uint64_t t0 = measure ? mp__now_ns() : 0;
    if (!split) {
        run_alone(L);
        if (measure)
            mp__warm_record(pool, key, mp__now_ns() - t0);
        return;
    }
    if (measure)
        L->key = key;
    run_split(pool, ctx, L);
    if (measure)
        mp__warm_record_split(pool, key, mp__now_ns() - t0);
}

/* A cold call (a worker sleeps) wakes it only when the loop is long
 * enough to pay for the wake-up, or when calls come back to back, and not
 * while woken workers keep landing on their waker's CPU (warm.c).
 * Otherwise the caller runs every part itself, in order, publishing
 * nothing: no worker would come in time. It times one such call in
 * SAMPLE_EVERY, and stamps its end when its share would be worth a
 * hand-off, so that a call right after it counts as back to back. A woken
 * call is timed from its start, the wake-up's system call included
 * (docs/design.md says why), and tells warm.c where its worker ran. */
static void run_cold(mp_pool *pool, mp_ctx *ctx, mp_loop *L)
{
    uint64_t t0 = mp__now_ns();
    uint64_t key = mp__loop_key(L);
    mp_warm_cold c = mp__warm_cold(pool, key, t0);
    mp__warm_stamp(pool, t0);
    if (!c.wake) {
        run_alone(L);
        if (c.measure || c.stamp_end) {
            uint64_t t1 = mp__now_ns();
            if (c.measure)
                mp__warm_record(pool, key, t1 - t0);
            if (c.stamp_end)
                mp__warm_ended(pool, t1);
        }
        return;
    }
    L->key = key;
    L->own_t0 = t0;
    L->judge = true;
    run_split(pool, ctx, L);
}

/* Runs every part of L, in parallel when the pool has room and it pays. */
static void run_loop(mp_pool *pool, mp_loop *L)
{
    mp_link link;
    mp_ctx *ctx;
    bool entered = mp__enter(pool, &link, &ctx, false);
    if (ctx) {
        mp__count(&ctx->count.jobs);
        if (pool->nthreads == 1)
            loop_work(L);
        else if (atomic_load_explicit(&pool->idle.sleepers, memory_order_relaxed) == 0)
            run_warm(pool, ctx, L);
        else
            run_cold(pool, ctx, L);
    } else {
        loop_work(L);
    }
    if (entered)
        mp__leave(&link);
}

/* Runs `call` inline as work of `pool` (so mp_pool_thread_index answers)
 * and returns its result. */
#define INLINE_CALL(pool, call)                                               \
    do {                                                                      \
        mp_link link_;                                                        \
        bool in_ = mp__link_find(pool) != NULL;                               \
        if (!in_)                                                             \
            mp__link_push(&link_, (pool), NULL, 0);                           \
        mp__trace_begin((pool), MP_TRACE_PART, NULL);                         \
        int r_ = (call);                                                      \
        mp__trace_end((pool), MP_TRACE_PART, NULL);                           \
        if (!in_)                                                             \
            mp__link_pop(&link_);                                             \
        return r_;                                                            \
    } while (0)

int mp__run_part_traced(mp_loop *L, size_t i)
{
    mp__trace_begin(L->pool, MP_TRACE_PART, NULL);
    int r = mp__run_part_untraced(L, i);
    mp__trace_end(L->pool, MP_TRACE_PART, NULL);
    return r;
}

static int map_inline(mp_pool *pool, size_t n, void *acc, mp_map_fn map, void *arg)
{
    INLINE_CALL(pool, map(arg, 0, n, acc));
}

/* One part, folded on the calling thread into an accumulator aligned like
 * max_align_t: the caller's own when it is, else an aligned copy. */
static int reduce_inline(mp_pool *pool, size_t n, void *acc, size_t acc_size, mp_map_fn map,
                         void *arg)
{
    if (((uintptr_t)acc & (alignof(max_align_t) - 1)) == 0)
        return map_inline(pool, n, acc, map, arg);
    alignas(MP_CACHELINE) unsigned char local[MP_REDUCE_PARTS_MAX * MP_ACC_INLINE_MAX];
    unsigned char *tmp = local;
    if (acc_size > sizeof local && !(tmp = malloc(acc_size)))
        return MP_ENOMEM;
    memcpy(tmp, acc, acc_size);
    int r = map_inline(pool, n, tmp, map, arg);
    if (!r)
        memcpy(acc, tmp, acc_size);
    if (tmp != local)
        free(tmp);
    return r;
}

int mp_for(mp_pool *pool, size_t n, size_t grain, unsigned flags, mp_range_fn body, void *arg)
{
    if (!pool || !body || (flags & ~(MP_SPLIT_STATIC | MP_DETERMINISTIC)))
        return MP_EINVAL;
    if (n == 0)
        return MP_OK;
    size_t parts = count_parts(pool, n, grain, flags, false);
    if (parts <= 1 || pool->nthreads == 1)
        INLINE_CALL(pool, body(arg, 0, n));

    mp_loop L = {.pool = pool, .parts = parts, .base = n / parts, .rem = n % parts,
                 .body = body, .arg = arg,
                 .mailboxes = (flags & (MP_SPLIT_STATIC | MP_DETERMINISTIC)) == MP_SPLIT_STATIC,
                 .traced = pool->tracer.begin || pool->tracer.end};
    atomic_init(&L.next, 0);
    atomic_init(&L.err, 0);
    run_loop(pool, &L);
    return atomic_load_explicit(&L.err, memory_order_relaxed);
}

static int reduce_parts(mp_pool *pool, mp_loop *L, void *acc, mp_combine_fn combine)
{
    run_loop(pool, L);
    int err = atomic_load_explicit(&L->err, memory_order_relaxed);
    if (err)
        return err;
    memcpy(acc, L->accs, L->acc_size);
    for (size_t i = 1; i < L->parts; i++)
        combine(L->arg, acc, L->accs + i * L->stride);
    return MP_OK;
}

int mp_reduce(mp_pool *pool, size_t n, size_t grain, unsigned flags, void *acc,
              size_t acc_size, mp_map_fn map, mp_combine_fn combine, void *arg)
{
    if (!pool || !acc || !acc_size || !map || !combine ||
        (flags & ~(MP_SPLIT_STATIC | MP_DETERMINISTIC)))
        return MP_EINVAL;
    if (n == 0)
        return MP_OK;
    size_t parts = count_parts(pool, n, grain, flags, true);
    if (parts <= 1)
        return reduce_inline(pool, n, acc, acc_size, map, arg);

    /* One cache line (or more) per accumulator: no false sharing. An
     * accumulator too large to have one per part cannot be had either. */
    size_t stride, bytes;
    if (!mp__size_round_up(acc_size, MP_CACHELINE, &stride) ||
        !mp__size_mul(parts, stride, &bytes))
        return MP_ENOMEM;
    alignas(MP_CACHELINE) unsigned char local[MP_REDUCE_PARTS_MAX * MP_ACC_INLINE_MAX];
    unsigned char *accs = local;
    if (bytes > sizeof local) {
        accs = aligned_alloc(MP_CACHELINE, bytes);
        if (!accs)
            return MP_ENOMEM;
    }
    mp_loop L = {.pool = pool, .parts = parts, .base = n / parts, .rem = n % parts,
                 .map = map, .arg = arg, .accs = accs, .stride = stride,
                 .acc_size = acc_size, .identity = acc,
                 .mailboxes = (flags & (MP_SPLIT_STATIC | MP_DETERMINISTIC)) == MP_SPLIT_STATIC,
                 .traced = pool->tracer.begin || pool->tracer.end};
    atomic_init(&L.next, 0);
    atomic_init(&L.err, 0);
    int r = reduce_parts(pool, &L, acc, combine);
    if (accs != local)
        free(accs);
    return r;
}
