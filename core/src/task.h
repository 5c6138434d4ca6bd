/* task.h: background tasks: the task record, mp_submit and
 * mp_submit_ex, the handles (task.c), and prerequisites (after.c). The
 * queues are taskq.h (the ring mp_submit fills) and ready.h (the ready
 * lists). See docs/design.md, "Background tasks". */
#ifndef MP_TASK_H
#define MP_TASK_H

#include "ready.h"
#include "taskq.h"
#include "wait.h"

/* A task's life: T_WAITING (for prerequisites), T_PENDING (queued), then
 * T_RUNNING and T_DONE, or T_CANCELLED from either of the first two. */
enum { T_WAITING, T_PENDING, T_RUNNING, T_DONE, T_CANCELLED };

/* A thread in a wait on a task, on its own stack, on the task's list
 * while it waits (under the task's wlock). */
typedef struct mp_task_waiter {
    mp_thread *thread;
    struct mp_task_waiter *next;
} mp_task_waiter;

struct mp_task_ex;

/* A dependent's link in the list of one of its prerequisites; it lives in
 * the dependent's record. */
typedef struct mp_task_edge {
    struct mp_task_ex *task;        /* the dependent */
    struct mp_task_edge *next;
} mp_task_edge;

/* The list of dependents once its task settled: adding to it is over. */
#define MP_EDGES_CLOSED ((mp_task_edge *)1)

/* The record of every task with a handle, of the 1.0 size: 72 bytes. */
typedef struct mp_task {
    _Atomic uint32_t state;
    /* Threads on wlist: with `linked` 0, settling takes no lock, and
     * making the task ready wakes nobody when it is 0 (hints; see task.c,
     * mp__task_settle). */
    _Atomic uint32_t waiters;
    _Atomic uint32_t refs;
    int result;
    mp_fn fn;
    void *arg;
    mp_pool *pool;                  /* valid while the task is inflight */
    uint64_t spin_ns;               /* its pool's spin window, for waiters */
    mp_spinlock wlock;
    _Atomic uint8_t linked;         /* 1 once a dependent linked an edge */
    bool ex;                        /* the record is an mp_task_ex's */
    bool cached;                    /* of the cache's size (record.c) */
    mp_task_waiter *wlist;          /* under wlock */
    mp_task_edge *dependents;       /* under wlock; MP_EDGES_CLOSED once settled */
} mp_task;

/* The record of a task that needs what 1.1 added (mp_submit_ex off the
 * ring's way, or with a name): the base and the rest. */
typedef struct mp_task_ex {
    mp_task base;
    const char *name;
    struct mp_task_ex *next;        /* a ready list's link (ready.c) */
    unsigned thread;                /* MP_ANY_THREAD, or the one index */
    uint8_t level;                  /* 0 high, 1 normal, 2 low */
    bool cancel_on_error;           /* MP_AFTER_CANCEL_ON_ERROR */
    _Atomic uint8_t poisoned;       /* a prerequisite failed (with the flag) */
    /* Prerequisites not finished yet, plus one held by mp_submit_ex while
     * it links the edges; whoever takes it to 0 makes the task ready. */
    _Atomic uint32_t unfinished;
    mp_task_edge edges[];           /* one per prerequisite (after.c) */
} mp_task_ex;

static inline mp_task_ex *mp__task_ex(mp_task *t)
{
    return (mp_task_ex *)t;         /* t->ex: the base is the first member */
}

static inline const char *mp__task_name(const mp_task *t)
{
    return t->ex ? ((const mp_task_ex *)t)->name : NULL;
}

static inline unsigned mp__task_thread(const mp_task *t)
{
    return t->ex ? ((const mp_task_ex *)t)->thread : MP_ANY_THREAD;
}

/* The pool's part: what destroy counts, and statistics. */
typedef struct mp_tasks {
    /* Tasks settled (ran, cancelled, refused). The cells claimed in the
     * ring plus `accepted` minus this many are inflight. */
    alignas(MP_CACHELINE) _Atomic uint64_t settled;
    _Atomic uint32_t settling;      /* unanchored settlers inside settled() */
    _Atomic(mp_ctx *) destroyer;    /* woken when a task settles */
    _Atomic uint64_t tasks_run;     /* statistics */
    /* Tasks mp_submit_ex accepted outside the ring (or refused at
     * shutdown): the ready lists' and the waiting ones. */
    alignas(MP_CACHELINE) _Atomic uint64_t accepted;
    /* Threads waiting on a task whose prerequisites have not finished,
     * which run what becomes ready meanwhile: woken by every push to a
     * ready list they may take from (mp__task_wake_helpers). */
    alignas(MP_CACHELINE) _Atomic uint32_t nhelpers;
    mp_spinlock hlock;
    mp_task_waiter *helpers;        /* under hlock */
} mp_tasks;

/* A worker's source of work: runs a background task it may run (its own
 * bound list, the shared list and the ring, level by level; a batch from a
 * long ring); and the sleep check (seq_cst loads). */
MP_HIDDEN bool mp__task_run_one(mp_pool *pool, mp_ctx *ctx);
MP_HIDDEN bool mp__task_visible(mp_pool *pool, mp_ctx *ctx);
/* mp_yield's: runs one task, never a batch. */
MP_HIDDEN bool mp__task_run_single(mp_pool *pool, mp_ctx *ctx);
/* Destroy's part: refuses new tasks, runs the queued ones (on ctx) and
 * waits until every submitted task has settled. */
MP_HIDDEN void mp__taskq_drain(mp_pool *pool, mp_ctx *ctx);
MP_HIDDEN void mp__task_unref(mp_task *t);

/* after.c. Links edge e of dependent t into prerequisite p's list; false
 * when p had finished already (the edge is not linked, and t->poisoned is
 * set if p's outcome calls for it). */
MP_HIDDEN bool mp__after_link(mp_task_ex *t, mp_task *p, mp_task_edge *e);
/* Task t settled as `state` (after settle detached its dependents,
 * `deps`): counts it finished in each dependent; a dependent whose count
 * reaches 0 is queued, or cancelled when poisoned, and so on down the
 * graph (iteratively). Returns how many dependents it cancelled (the
 * caller counts them settled with t). */
MP_HIDDEN uint64_t mp__after_release(mp_pool *pool, mp_task *t, mp_task_edge *deps);
/* The end of a task's life as `state`: stores it, wakes its waiters and
 * returns its dependents' list, which the caller hands to
 * mp__after_release (task.c). */
MP_HIDDEN mp_task_edge *mp__task_settle(mp_task *t, uint32_t state);
/* A task was pushed to a ready list that waiting threads may take from
 * (after the push's seq_cst store): wakes them. One load when none. */
MP_HIDDEN void mp__task_wake_helpers(mp_pool *pool);
/* Wakes the waiters of t (its state changed, but it did not settle). */
MP_HIDDEN void mp__task_wake_waiters(mp_task *t);

#endif
