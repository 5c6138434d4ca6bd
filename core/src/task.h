/* task.h: background tasks, mp_submit and the task handles (task.c). See
 * docs/design.md, "Background tasks". */
#ifndef MP_TASK_H
#define MP_TASK_H

#include "internal.h"

struct mp_task_seg;
struct mp_task_entry;

/* The pool's part: a chain of bounded rings, each cell with its own
 * sequence number; producers claim cells on the newest ring's tail,
 * consumers on the oldest unfinished ring's head. */
typedef struct mp_taskq {
    /* The producers' line. */
    alignas(MP_CACHELINE) _Atomic(struct mp_task_seg *) ptail;
    _Atomic uint32_t shutdown;      /* set by destroy: refuse new tasks */
    struct mp_task_seg *first;      /* the first ring: counts start there */
    /* The consumers' line (read-mostly). */
    alignas(MP_CACHELINE) _Atomic(struct mp_task_seg *) chead;
    _Atomic uint32_t side_len;      /* entries given back, run first */
    /* Tasks settled (ran, cancelled, refused); the cells claimed in all
     * rings minus this many are inflight. */
    alignas(MP_CACHELINE) _Atomic uint64_t settled;
    _Atomic uint32_t settling;      /* unanchored settlers inside settled() */
    _Atomic(mp_ctx *) destroyer;    /* woken when a task settles */
    _Atomic uint64_t tasks_run;     /* statistics */
    /* Under lock: growth and the side list of given-back entries. */
    alignas(MP_CACHELINE) mp_spinlock lock;
    struct mp_task_seg *segs;       /* every ring made, newest first */
    struct mp_task_entry *side;     /* a ring of side_cap entries */
    uint32_t side_cap, side_head;
} mp_taskq;

/* A worker's source of work: runs queued tasks (one, or a batch from a
 * long queue); and the sleep check (seq_cst loads). */
MP_HIDDEN bool mp__task_run_one(mp_pool *pool, mp_ctx *ctx);
MP_HIDDEN bool mp__task_visible(mp_pool *pool);
/* The queue's storage, made at creation and freed at destroy. */
MP_HIDDEN int mp__taskq_init(mp_pool *pool);
MP_HIDDEN void mp__taskq_free(mp_pool *pool);
/* Destroy's part: refuses new tasks, runs the queued ones (on ctx) and
 * waits until every submitted task has settled. */
MP_HIDDEN void mp__taskq_drain(mp_pool *pool, mp_ctx *ctx);

#endif
