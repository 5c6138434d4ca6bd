/* loop.h: the loop record, shared by loop.c (claimed parts, the flat
 * slot) and mailbox.c (parts addressed to workers), and the pool's loop
 * slot. See docs/design.md, "Loops". */
#ifndef MP_LOOP_H
#define MP_LOOP_H

#include "warm.h"

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
    bool mailboxes;                 /* MP_SPLIT_STATIC: parts go to workers' mailboxes */
    bool traced;                    /* the pool has tracing hooks */
    uint64_t key;                   /* warm.c's key when this call is timed, else 0 */
    bool judge;                     /* a cold call that woke: learn where parts ran */
    uint64_t own_t0;                /* when the caller's timed share began */
    _Atomic size_t next;            /* the next part to claim */
    _Atomic int err;                /* the first error */
} mp_loop;

/* The pool's loop slot: one mp_for/mp_reduce at a time is published
 * here (its mailboxes, or the flat loop every idle worker sees at once). */
typedef struct mp_flat {
    alignas(MP_CACHELINE) _Atomic uint32_t busy;    /* claimed by a caller */
    alignas(MP_CACHELINE) _Atomic uint64_t seq;     /* odd: a flat loop is open */
    _Atomic(mp_loop *) loop;
    _Atomic(mp_ctx *) waiter;
    alignas(MP_CACHELINE) _Atomic uint32_t active;  /* workers inside it */
} mp_flat;

/* A worker's source of work: joins the open flat loop, if any this worker
 * has not joined yet; and the sleep check (seq_cst loads). */
MP_HIDDEN bool mp__flat_run_one(mp_ctx *self);
MP_HIDDEN bool mp__flat_visible(mp_ctx *self);

static inline void mp__part_range(const mp_loop *L, size_t i, size_t *begin, size_t *end)
{
    *begin = i * L->base + (i < L->rem ? i : L->rem);
    *end = *begin + L->base + (i < L->rem ? 1 : 0);
}

/* Part i between the tracing hooks (loop.c). */
MP_HIDDEN int mp__run_part_traced(mp_loop *L, size_t i);

/* Runs part i on the calling thread. */
static inline int mp__run_part_untraced(mp_loop *L, size_t i)
{
    size_t b, e;
    mp__part_range(L, i, &b, &e);
    if (!L->map)
        return L->body(L->arg, b, e);
    void *acc = L->accs + i * L->stride;
    memcpy(acc, L->identity, L->acc_size);
    return L->map(L->arg, b, e, acc);
}

static inline int mp__run_part(mp_loop *L, size_t i)
{
    if (MP_UNLIKELY(L->traced))
        return mp__run_part_traced(L, i);
    return mp__run_part_untraced(L, i);
}

/* The key of L for warm.c: its function and the size class of n. */
static inline uint64_t mp__loop_key(const mp_loop *L)
{
    size_t n = L->base * L->parts + L->rem;
    return mp__warm_key(L->map ? (const void *)L->map : (const void *)L->body, n);
}

/* Before the caller's own parts of a timed warm call (after it posted
 * or published the others). A cold call that woke workers has its start
 * set already: the call's own start (see loop.c, run_cold). */
static inline void mp__loop_own_start(mp_loop *L)
{
    if (L->key && !L->own_t0)
        L->own_t0 = mp__now_ns();
}

/* After them: the loop's time alone, from the caller's `ran` parts out
 * of all. */
static inline void mp__loop_measured(mp_loop *L, size_t ran)
{
    if (L->key && ran)
        mp__warm_record(L->pool, L->key, (mp__now_ns() - L->own_t0) * L->parts / ran);
}

#endif
