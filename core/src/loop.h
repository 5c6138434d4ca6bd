/* loop.h: the loop record, shared by loop.c (claimed parts) and
 * handoff.c (parts addressed to workers). Nothing here is public. */
#ifndef MP_LOOP_H
#define MP_LOOP_H

#include "internal.h"

#include <string.h>

typedef struct mp_loop {
    mp_pool *pool;
    size_t parts, base, rem;        /* part i: base + (i < rem) items */
    mp_range_fn body;               /* mp_for */
    mp_map_fn map;                  /* mp_reduce */
    void *arg;
    unsigned char *accs;            /* part i folds into accs + i * stride */
    size_t stride, acc_size;
    const void *identity;
    bool handoff;                   /* MP_SPLIT_STATIC: address parts to workers */
    uint64_t key;                   /* warm.c's key when this call is timed, else 0 */
    uint64_t own_t0;                /* when the caller's timed share began */
    _Atomic size_t next;            /* the next part to claim */
    _Atomic int err;                /* the first error */
} mp_loop;

static inline void mp_part_range(const mp_loop *L, size_t i, size_t *begin, size_t *end)
{
    *begin = i * L->base + (i < L->rem ? i : L->rem);
    *end = *begin + L->base + (i < L->rem ? 1 : 0);
}

/* Runs part i on the calling thread. */
static inline int mp_run_part(mp_loop *L, size_t i)
{
    size_t b, e;
    mp_part_range(L, i, &b, &e);
    if (!L->map)
        return L->body(L->arg, b, e);
    void *acc = L->accs + i * L->stride;
    memcpy(acc, L->identity, L->acc_size);
    return L->map(L->arg, b, e, acc);
}

/* Keeps the first error of a loop. */
static inline void mp_loop_error(mp_loop *L, int r)
{
    int zero = 0;
    if (r)
        atomic_compare_exchange_strong_explicit(&L->err, &zero, r, memory_order_relaxed,
                                                memory_order_relaxed);
}

/* The key of L for warm.c: its function and the size class of n. */
static inline uint64_t mp_loop_key(const mp_loop *L)
{
    size_t n = L->base * L->parts + L->rem;
    return mp_warm_key(L->map ? (const void *)L->map : (const void *)L->body, n);
}

/* Before the caller's own parts of a timed warm call (after it posted
 * or published the others). A cold call that woke workers has its start
 * set already: the call's own start (see loop.c, resting_and_short). */
static inline void mp_loop_own_start(mp_loop *L)
{
    if (L->key && !L->own_t0)
        L->own_t0 = mp_now_ns();
}

/* After them: the loop's time alone, from the caller's `ran` parts out
 * of all. */
static inline void mp_loop_measured(mp_loop *L, size_t ran)
{
    if (L->key && ran)
        mp_warm_record(L->pool, L->key, (mp_now_ns() - L->own_t0) * L->parts / ran);
}

/* handoff.c: runs every part of L, addressing parts 1.. to other workers'
 * mailboxes. False (nothing run) when the pool's loop slot is taken. */
MP_HIDDEN bool mp_handoff_run(mp_pool *pool, mp_ctx *ctx, mp_loop *L);

#endif
