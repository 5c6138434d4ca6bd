/* ready.h: the ready lists (ready.c): background tasks that the ring of
 * taskq.h does not hold, with their priority levels: tasks of another
 * level, tasks bound to one thread, tasks whose prerequisites finished.
 * See docs/design.md, "The ready lists". */
#ifndef MP_READY_H
#define MP_READY_H

#include "internal.h"

struct mp_task_ex;

/* Levels, highest first: MP_PRIO_HIGH, _NORMAL, _LOW. */
#define MP_LEVELS 3
#define MP_LEVEL_NORMAL 1

static inline int mp__level_of(int priority)
{
    return 1 - priority;
}

/* One list per level, first in first out, under one spin lock. */
typedef struct mp_ready {
    alignas(MP_CACHELINE) mp_spinlock lock;
    /* Tasks listed at each level: written under the lock (seq_cst, the
     * publication a sleeper's last check reads), polled without it. */
    _Atomic uint32_t n[MP_LEVELS];
    int fd;                         /* thread 0's list: its eventfd, or -1 */
    struct mp_task_ex *head[MP_LEVELS], *tail[MP_LEVELS];
} mp_ready;

/* The pool's part: list i for the tasks bound to thread i (0: threads
 * outside the pool), list N for the tasks any thread may run. */
typedef struct mp_readys {
    mp_ready *lists;                /* N + 1 of them */
} mp_readys;

MP_HIDDEN int mp__ready_init(mp_pool *pool);
/* Drops the records still listed (cancelled, or run by a waiter) and
 * closes the eventfd; at destroy, once no thread runs tasks. */
MP_HIDDEN void mp__ready_free(mp_pool *pool);
/* Lists t (state T_PENDING, with the queue's reference) at its level on
 * the list of its thread, and wakes a thread that may run it. */
MP_HIDDEN void mp__ready_push(mp_pool *pool, struct mp_task_ex *t);
/* Takes the oldest task of level `lv` from r, NULL when none: a relaxed
 * look at the count inline, the lock only when it is not 0. */
MP_HIDDEN struct mp_task_ex *mp__ready_take(mp_ready *r, int lv);

static inline struct mp_task_ex *mp__ready_pop(mp_ready *r, int lv)
{
    if (MP_LIKELY(atomic_load_explicit(&r->n[lv], memory_order_relaxed) == 0))
        return NULL;
    return mp__ready_take(r, lv);
}
/* Tasks listed on r (relaxed), at every level. */
MP_HIDDEN uint32_t mp__ready_count(mp_ready *r);
/* Is a task listed that the thread with this index may run (seq_cst
 * loads)? */
MP_HIDDEN bool mp__ready_visible(mp_pool *pool, unsigned index);
/* Thread 0's eventfd, made on the first call (MP_ENOMEM when none). */
MP_HIDDEN int mp__ready_fd(mp_pool *pool);

#endif
