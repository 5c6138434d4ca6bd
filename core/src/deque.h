/* deque.h: the split deque and fork-join (deque.c). See docs/design.md,
 * "The split deque". */
#ifndef MP_DEQUE_H
#define MP_DEQUE_H

#include "internal.h"

/* Jobs a deque holds at most; a join nested deeper runs its second half
 * inline instead of publishing it. */
#define MP_DEQUE_CAP 1024u

/* A unit of work in a deque: a join's second half, or a loop ticket. It
 * is stored in the deque itself, entry i of jobs[]; the owner writes it at
 * push and a thief reads it after the CAS that gave it index i. */
typedef struct mp_job {
    mp_fn fn;
    void *arg;
} mp_job;

/* What a shared job needs besides fn and arg, in entry i of sync[]. A
 * private job does not touch it: the share sets pending and thief before
 * the CAS that lets thieves take the job. */
typedef struct mp_jobsync {
    _Atomic uint32_t pending;       /* 1 until a thief has run it */
    int result;                     /* written by the thief before pending */
    _Atomic(mp_ctx *) thief;        /* who took it (for leapfrogging) */
} mp_jobsync;

/* A context's deque, split after Lace: jobs [top, split) are shared and
 * may be stolen by a CAS on `ts`; jobs [split, bottom) are private to the
 * owner, which pushes and pops them with no atomic read-modify-write and
 * no fence. */
typedef struct mp_deque {
    /* Thieves CAS it: top in the low 32 bits, split in the high 32 bits.
     * Only the owner changes split, only thieves raise top (the owner
     * lowers it when it resets an emptied deque). */
    alignas(MP_CACHELINE) _Atomic uint64_t ts;

    /* A push at an index <= push_limit takes the slow path. The owner
     * keeps it equal to split (so the push that finds nothing left to
     * steal shares); a thief that found no shared job sets it to
     * UINT32_MAX to ask the owner to share more. One load and one compare
     * on the owner's fast path serve both. */
    alignas(MP_CACHELINE) _Atomic uint32_t push_limit;

    /* The owner's. */
    alignas(MP_CACHELINE) uint32_t bottom;  /* next free entry */
    uint32_t split;                 /* the owner's copy of ts.split */
    uint32_t rng;                   /* victim selection */

    /* The entries. They need no zeroing: an entry is read only after it
     * was written (see MP_CTX_HEAD, pool.h). */
    alignas(MP_CACHELINE) mp_job jobs[MP_DEQUE_CAP];
    alignas(MP_CACHELINE) mp_jobsync sync[MP_DEQUE_CAP];
} mp_deque;

/* mp_join on the caller's context. */
MP_HIDDEN int mp__join_in(mp_ctx *ctx, mp_fn a, void *a_arg, mp_fn b, void *b_arg);
/* A worker's source of work: steals one job from another deque and runs
 * it; and the sleep check: does some deque have a shared job (seq_cst
 * loads)? */
MP_HIDDEN bool mp__deque_run_one(mp_ctx *self);
/* mp_yield's first source: runs the oldest job of the caller's own deque
 * (sharing it first if it is private), as a thief would: its join then
 * finds it done. */
MP_HIDDEN bool mp__deque_run_own(mp_ctx *self);
MP_HIDDEN bool mp__deque_visible(mp_pool *pool);

#endif
