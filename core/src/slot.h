/* slot.h: which context a thread uses in a pool, and the chain of pools
 * whose work it runs (slot.c). See docs/design.md, "Threads and
 * contexts". */
#ifndef MP_SLOT_H
#define MP_SLOT_H

#include "thread.h"

/* Workers own a context each; threads from outside borrow one of
 * MP_EXTERNAL_SLOTS for the length of a call. When all are taken, a
 * caller gets an overflow slot (allocated once, kept until destroy) whose
 * jobs are not offered to other threads. */
#define MP_EXTERNAL_SLOTS 32u

/* A context's part: whether it is borrowed. */
typedef struct mp_slot {
    _Atomic uint32_t in_use;        /* external slots: claimed by a thread */
    bool overflow;                  /* an overflow slot: never shares jobs */
    mp_ctx *next;                   /* slots.overflow list */
} mp_slot;

/* The pool's part. */
typedef struct mp_slots {
    alignas(MP_CACHELINE) _Atomic unsigned ext_high;  /* external slots ever used */
    _Atomic(mp_ctx *) overflow;     /* more slots, made when all are taken */
} mp_slots;

/* A link of the thread-local chain that says which pools this thread is
 * running work of, innermost first. `ctx` may be NULL for a call that runs
 * inline without a deque. */
typedef struct mp_link {
    mp_pool *pool;
    mp_ctx *ctx;
    int index;
    struct mp_link *outer;
} mp_link;

MP_HIDDEN extern __attribute__((tls_model("initial-exec"))) _Thread_local mp_link *mp__tls_top;
/* The innermost link's context: mp__tls_top->ctx, or NULL. */
MP_HIDDEN extern __attribute__((tls_model("initial-exec"))) _Thread_local mp_ctx *mp__tls_ctx;
/* The innermost link of this thread for `pool`, or NULL. */
MP_HIDDEN mp_link *mp__link_find(const mp_pool *pool);
/* Enters `pool` from the current thread: reuses the context this thread
 * already has in the pool, else borrows an external slot (link->ctx is NULL
 * when none is free and `need_ctx` is false; with `need_ctx` it waits for
 * one). Returns true when it pushed `link` (then call mp__leave). */
MP_HIDDEN bool mp__enter(mp_pool *pool, mp_link *link, mp_ctx **ctx, bool need_ctx);
MP_HIDDEN void mp__leave(mp_link *link);
MP_HIDDEN void mp__link_push(mp_link *link, mp_pool *pool, mp_ctx *ctx, int index);
MP_HIDDEN void mp__link_pop(mp_link *link);
/* Destroy's wait for borrowers still leaving their slots. */
MP_HIDDEN void mp__slots_wait_returned(mp_pool *pool);
MP_HIDDEN void mp__slots_free(mp_pool *pool);

#endif
