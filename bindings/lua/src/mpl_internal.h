/*
 * mpl_internal.h: what mpl_pool.c (the states) shares with mpl_ops.c (the
 * operations).
 */
#ifndef MPL_INTERNAL_H
#define MPL_INTERNAL_H

#include "mpl.h"

#include <pthread.h>
#include <stdatomic.h>

/* A state for calling threads, kept on the pool's lists. */
typedef struct mpl_trace mpl_trace;

typedef struct mpl_state {
    lua_State        *L;
    struct mpl_state *next_free;
    struct mpl_state *next_all;
} mpl_state;

struct mpl_pool {
    mp_pool        *engine;
    unsigned        threads;
    int             closed;
    int             shared;        /* a reference to the process's pool */
    atomic_int      closing;       /* shared: close() waits for its tasks */
    atomic_int      pending;       /* shared: callbacks of tasks not settled */
    lua_State     **workers;       /* [threads]; [0] unused */
    pthread_mutex_t lock;          /* guards the two lists below */
    mpl_state      *free0;         /* idle calling-thread states */
    mpl_state      *all0;          /* every calling-thread state */
    int             init_kind;
    char           *init;
    size_t          init_len;
    char           *path;
    char           *cpath;
    struct mpl_name *names;        /* task names (mpl_pool_intern), under lock */
    mpl_task       *orphans;       /* see mpl_task_free, under lock */
    mpl_task       *watched;       /* shared: tasks the engine may cancel */
    size_t          norphans, nwatched;   /* their lengths, under lock... */
    size_t          orphans_kept, watched_kept; /* ...and after the last sweep */
    mpl_trace      *trace;         /* micropool.new{trace = path}, or NULL */
};

/* A task name, kept as long as the pool: the engine's tracing hooks may
 * see it after the task has gone. */
typedef struct mpl_name {
    struct mpl_name *next;
    char             text[];
} mpl_name;

/* The state a callback of `p` runs in on this thread, kept for the
 * duration of the callback. It lives on the callback's C stack and links
 * into a per-thread list, so a callback nested inside another one of the
 * same pool on the same thread re-enters the same state. */
typedef struct mpl_held {
    struct mpl_held *up;
    mpl_pool        *pool;
    lua_State       *L;
    mpl_state       *from_free;    /* to give back, or NULL */
} mpl_held;

/* Takes the state for a callback of p on this thread. Returns NULL with a
 * message in err when a new state could not be set up (worker_init
 * failed, out of memory). */
lua_State *mpl_enter(mpl_pool *p, mpl_held *h, char *err, size_t errlen);
void       mpl_leave(mpl_held *h);

/* Pushes the function of `c` in L (loaded once per state, then cached).
 * Raises on failure: call in protected mode. */
void mpl_push_code(lua_State *L, const mpl_code *c);

/* Pushes the arguments encoded in data[0..len) and returns their count.
 * An operation calls its function many times with the same arguments, so
 * a large argument list (a big table) is decoded once per state and
 * operation: `id` (from mpl_args_id) names the list, 0 = never cache.
 * Raises on failure: call in protected mode. */
int mpl_push_args(lua_State *L, const char *data, size_t len, uint64_t id);

/* A new id for an argument list, unique in the process. */
uint64_t mpl_args_id(void);

/* The trace recorder (mpl_trace.c): hooks that record into memory, and
 * the Chrome trace-event file written once the engine is destroyed. */
mpl_trace            *mpl_trace_new(const char *path, char *err, size_t errlen);
const mp_trace_hooks *mpl_trace_hooks(mpl_trace *tr);
/* Writes and closes the file (once; later calls do nothing): 0, or -1
 * with a message. */
int                   mpl_trace_write(mpl_trace *tr, char *err, size_t errlen);
void                  mpl_trace_free(mpl_trace *tr);

/* Frees the orphaned tasks that have finished or were cancelled; with
 * `all` (the engine has run or cancelled every task), all of them. */
void mpl_orphans_sweep(mpl_pool *p, int all);

/* Shared pools: the tasks on p->watched that were cancelled are settled
 * (their callbacks will never run) and leave the list. */
void mpl_watched_sweep(mpl_pool *p);

/* Drops one reference to a scope (a scope_ctx of mpl_ops.c), as the
 * collection of a scope handle does. */
void mpl_scope_unref(void *scope);

#endif /* MPL_INTERNAL_H */
