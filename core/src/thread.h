/* thread.h: each OS thread's parking record (thread.c). See
 * docs/design.md, "Idling". */
#ifndef MP_THREAD_H
#define MP_THREAD_H

#include "internal.h"

/* An OS thread's parking record. Every wait of a thread, whichever pool
 * it waits in, sleeps on this record's one word (an idle worker's sleep
 * and a wait inside a call alike), so that any pool can wake it: a
 * worker of pool A waiting inside pool B must still run A's broadcast
 * parts. (A thread in mp_task_wait parks on its own record too, reached
 * through the task's list of waiters.) Records are never freed: when a
 * thread exits its record goes to a free list for the next thread, so a
 * waker holding a stale pointer only causes a spurious wake-up. */
typedef struct mp_thread {
    alignas(MP_CACHELINE) _Atomic uint32_t park;  /* futex word (park.c bumps it) */
    _Atomic uint32_t waiting;       /* threads asleep in a wait, or about to (wait.c) */
    _Atomic uint64_t woken_at;      /* the latest waker's clock, a hint (park.c) */
    struct mp_thread *next_free;    /* the free list (thread.c) */
} mp_thread;

/* The calling thread's record (allocated on first use). */
MP_HIDDEN mp_thread *mp__thread_self(void);
/* A record for a thread about to be started (NULL: no memory), handed
 * back unused with mp__thread_release, or taken by the new thread with
 * mp__thread_adopt (pool creation allocates its workers' records, so a
 * worker allocates nothing once it runs). */
MP_HIDDEN mp_thread *mp__thread_alloc(void);
MP_HIDDEN void mp__thread_release(mp_thread *t);
MP_HIDDEN void mp__thread_adopt(mp_thread *t);

#endif
