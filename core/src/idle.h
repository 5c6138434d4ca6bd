/* idle.h: idle workers' sleep, and every waker of a pool's threads
 * (idle.c). See docs/design.md, "Idling". */
#ifndef MP_IDLE_H
#define MP_IDLE_H

#include "park.h"

/* A context's part. */
typedef struct mp_idle {
    _Atomic uint32_t sleeping;      /* 1: idle worker asleep (or about to) */
    _Atomic uint32_t spinning;      /* 1: idle worker polling for work (a hint) */
} mp_idle;

/* The pool's part. */
typedef struct mp_idlers {
    alignas(MP_CACHELINE) _Atomic uint32_t sleepers;  /* idle workers asleep */
    _Atomic uint64_t wakeups;       /* statistics */
} mp_idlers;

/* A worker says whether it is polling for work (or about to poll again
 * after a mailbox part): a hint read by a loop caller deciding whether to
 * leave a part to it (mailbox.c). Set when the worker polls, cleared
 * before it sleeps and before it runs other work, which may be long. It
 * stores only when the value changes. */
static inline void mp__idle_spinning(mp_idle *self, uint32_t v)
{
    if (atomic_load_explicit(&self->spinning, memory_order_relaxed) != v)
        atomic_store_explicit(&self->spinning, v, memory_order_relaxed);
}

/* Puts idle worker `self` to sleep unless visible(self) (seq_cst loads,
 * after the announcement) finds work: until woken, or, when calls come at
 * a regular period, until shortly before the next one is due (warm.c).
 * Returns true when it woke by its timer to keep watch until *until. */
MP_HIDDEN bool mp__idle_sleep(mp_ctx *self, bool (*visible)(mp_ctx *self), uint64_t *until);
/* Wakes up to n idle workers; costs one load when none sleeps. The caller
 * must have published its work with a seq_cst operation. */
MP_HIDDEN void mp__wake_idle(mp_pool *pool, unsigned n);
/* Wakes idle worker w if it sleeps. The caller must have published its
 * work for w with a seq_cst operation. */
MP_HIDDEN void mp__wake_worker(mp_pool *pool, mp_ctx *w);
/* Wakes the thread running on ctx, if it is parked or about to park. */
MP_HIDDEN void mp__wake_ctx(mp_pool *pool, mp_ctx *ctx);
/* Wakes thread record t if it is parked or about to park in a wait
 * (mp__wait_on); pool counts the wake-up. */
MP_HIDDEN void mp__wake_waiter(mp_pool *pool, mp_thread *t);

#endif
