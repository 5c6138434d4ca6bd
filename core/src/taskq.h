/* taskq.h: the queue of background tasks ready at submission, at the
 * normal level and for any thread (taskq.c): what mp_submit fills. See
 * docs/design.md, "Background tasks". */
#ifndef MP_TASKQ_H
#define MP_TASKQ_H

#include "internal.h"

struct mp_task;
struct mp_task_seg;

/* What the queue holds of a task: its function, and its record when it
 * has one (a handle, a name), else NULL. fn NULL: the empty cell of a
 * submit refused at shutdown. */
typedef struct mp_task_entry {
    mp_fn fn;
    void *arg;
    struct mp_task *task;
} mp_task_entry;

/* Entries taken from the queue at once, at most: a share of the queue (so
 * a long queue of tiny tasks costs one claim per batch), one when the
 * queue is short (so long tasks spread over the workers). */
#define MP_TASK_BATCH_MAX 16u

/* The pool's part: a chain of bounded rings, each cell with its own
 * sequence number (after Vyukov's MPMC queue); producers claim cells on
 * the newest ring's tail, consumers on the oldest unfinished ring's head.
 * In front of the rings, a side list of entries given back by workers. */
typedef struct mp_taskq {
    /* The producers' line. */
    alignas(MP_CACHELINE) _Atomic(struct mp_task_seg *) ptail;
    _Atomic uint32_t shutdown;      /* set by destroy: refuse new tasks */
    struct mp_task_seg *first;      /* the first ring: counts start there */
    /* The consumers' line (read-mostly). */
    alignas(MP_CACHELINE) _Atomic(struct mp_task_seg *) chead;
    _Atomic uint32_t side_len;      /* entries given back, run first */
    /* Under lock: growth and the side list. */
    alignas(MP_CACHELINE) mp_spinlock lock;
    struct mp_task_seg *segs;       /* every ring made, newest first */
    mp_task_entry *side;            /* a ring of side_cap entries */
    uint32_t side_cap, side_head;
} mp_taskq;

MP_HIDDEN int mp__taskq_init(mp_taskq *q);
MP_HIDDEN void mp__taskq_free(mp_taskq *q);
/* Claims a cell and publishes e in it (a seq_cst store, which a sleeping
 * worker's last check reads: the caller then wakes one), or an empty
 * entry when the pool is shutting down (MP_ESHUTDOWN: the cell still
 * counts as claimed). MP_ENOMEM: nothing was claimed. */
MP_HIDDEN int mp__taskq_put(mp_taskq *q, mp_task_entry e);
/* Takes up to max entries (1 .. MP_TASK_BATCH_MAX), oldest first, into
 * out; spread is the pool's thread count (what a share of the queue is). */
MP_HIDDEN uint32_t mp__taskq_take(mp_taskq *q, mp_task_entry *out, unsigned spread,
                                  uint32_t max);
/* Gives n entries back in front of the queue, in their order; false when
 * there was no memory for them (then the caller keeps them). The caller
 * wakes a worker after it. */
MP_HIDDEN bool mp__taskq_give(mp_taskq *q, const mp_task_entry *e, uint32_t n);
/* Is an entry queued (seq_cst loads: a sleeper's last check)? */
MP_HIDDEN bool mp__taskq_visible(mp_taskq *q);
/* The cells claimed so far in all rings (seq_cst loads, oldest first). */
MP_HIDDEN uint64_t mp__taskq_claimed(mp_taskq *q);

#endif
