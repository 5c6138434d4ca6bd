/*
 * micropool.h: the whole public interface of libmicropool, ABI version 1.
 *
 * micropool is a low-latency work-stealing thread pool. A pool of N threads
 * starts N-1 workers; the thread that calls into the pool is the N-th and
 * does its share of the work instead of sleeping.
 *
 * Conventions that hold for every function below:
 *
 *  - Return values. Every function that can fail returns int: MP_OK (0) on
 *    success, a negative MP_E* code (a negative errno value in [-4095, -1])
 *    when the library refuses or fails, or the first non-zero value that a
 *    user callback of the same operation returned. Callbacks should report
 *    failure with positive values (or negative values outside [-4095, -1]);
 *    those are passed back unchanged, so a caller can tell them apart from
 *    the library's own codes.
 *  - Bad arguments. A NULL handle, callback or out-pointer, or unknown bits
 *    in `flags`, are answered with MP_EINVAL before anything runs. If a call
 *    fails with a library code before it started, none of its callbacks was
 *    called. A callback's `arg` may be NULL: it is only passed on.
 *  - Threads. Every function may be called from any thread, from several
 *    threads at once, and from inside a callback that runs on a pool (the
 *    same pool or another one): that is nested parallelism and it cannot
 *    deadlock by itself.
 *  - Ownership. The library never frees or keeps a pointer that the caller
 *    passed, except `mp_config.name`, which is copied at creation.
 *  - Errors and cancellation. A callback returns 0 to go on. The first
 *    non-zero value returned by any callback of one operation (mp_join,
 *    mp_for, mp_reduce, mp_broadcast, mp_scope_run with its spawned tasks)
 *    makes the pool skip the parts of that operation that have not started
 *    yet; the operation returns that value once every part that did start
 *    has finished. Nothing else in the pool is affected.
 *
 * Structs that a caller fills in (mp_config, mp_stats) begin with a `size`
 * field and may grow in later versions: more fields may be added at any
 * time, always at the end.
 */
#ifndef MICROPOOL_H
#define MICROPOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MICROPOOL_BUILDING) && defined(__GNUC__)
#define MP_API __attribute__((visibility("default")))
#else
#define MP_API
#endif

/* ------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------ */

#define MICROPOOL_VERSION_MAJOR 1
#define MICROPOOL_VERSION_MINOR 1
#define MICROPOOL_VERSION_PATCH 0

/* The version of the library that is running, "1.1.0" for this one. The
 * string is static. */
MP_API const char *mp_version(void);

/* ------------------------------------------------------------------------
 * Error codes
 * ------------------------------------------------------------------------ */

#define MP_OK          0
#define MP_EINVAL      (-22)   /* -EINVAL: bad argument */
#define MP_ENOMEM      (-12)   /* -ENOMEM: out of memory (or threads) */
#define MP_EBUSY       (-16)   /* -EBUSY: the task started or finished */
#define MP_EDEADLK     (-35)   /* -EDEADLK: the call would wait on itself */
#define MP_ESHUTDOWN   (-108)  /* -ESHUTDOWN: the pool is being destroyed */
#define MP_ECANCELED   (-125)  /* -ECANCELED: the task was cancelled */
#define MP_ETIMEDOUT   (-110)  /* -ETIMEDOUT: a bounded wait ran out (since 1.1) */

/* A short English description of `code`. Every MP_* code above (and MP_OK)
 * has a static string. Any other value is described as "callback error N"
 * in a thread-local buffer that stays valid until the same thread's next
 * call to mp_strerror. Never returns NULL. */
MP_API const char *mp_strerror(int code);

/* ------------------------------------------------------------------------
 * Pool
 * ------------------------------------------------------------------------ */

typedef struct mp_pool mp_pool;          /* opaque */

/* The most threads one pool may have (MP_EINVAL above it). */
#define MP_THREADS_MAX 1024u

/* The default spin window of an idle thread, in microseconds. */
#define MP_SPIN_US_DEFAULT 20u

/* Since 1.1: tracing hooks (mp_config.trace), so that a profiler (Tracy,
 * Perfetto, chrome://tracing) can show what the pool did. `begin` runs on
 * the thread that is about to run a piece of work of this kind (or to
 * sleep), `end` on the same thread right after it; `index` is that
 * thread's index in the pool (0 for threads outside it); `name` is NULL
 * except for named background tasks (mp_task_opts.name). Either pointer
 * may be NULL. The hooks run inside the pool's hot paths: they must be
 * short, must not block, and must not call into the pool. Without hooks
 * the library costs what it costs without tracing (one test per piece of
 * work). What is traced:
 *   MP_TRACE_JOB        a join's second half run by a thread other than
 *                       the one that called mp_join (a stolen job), or
 *                       taken back by that thread through mp_yield
 *   MP_TRACE_PART       one part of mp_for or mp_reduce, on any thread (a
 *                       call run whole on the caller is one part)
 *   MP_TRACE_BROADCAST  one index of mp_broadcast
 *   MP_TRACE_SCOPE_TASK a task of a scope (mp_scope_spawn)
 *   MP_TRACE_TASK       a background task (name: mp_task_opts.name)
 *   MP_TRACE_SLEEP      a worker's sleep in the kernel while idle, or a
 *                       thread's sleep inside a call of the pool, until
 *                       woken (or its timer fires) */
enum mp_trace_kind {
    MP_TRACE_JOB = 1,
    MP_TRACE_PART,
    MP_TRACE_BROADCAST,
    MP_TRACE_SCOPE_TASK,
    MP_TRACE_TASK,
    MP_TRACE_SLEEP
};

typedef struct mp_trace_hooks {
    size_t size;         /* sizeof(mp_trace_hooks) */
    void (*begin)(void *trace_arg, int kind, unsigned index, const char *name);
    void (*end)(void *trace_arg, int kind, unsigned index, const char *name);
    void *trace_arg;
} mp_trace_hooks;

typedef struct mp_config {
    size_t      size;          /* sizeof(mp_config); set by mp_config_init */
    unsigned    threads;       /* threads in all, the calling thread counted;
                                  0 = the CPUs this process may run on */
    unsigned    spin_us;       /* how long an idle thread spins, at most,
                                  before it sleeps in the kernel (a worker
                                  whose spins keep finding nothing spins
                                  down to spin_us / 8, and back to spin_us
                                  when work comes soon after it gave up;
                                  when calls come at a regular period it
                                  also wakes by a timer shortly before the
                                  next one and spins around it);
                                  0 = sleep at once, and no such watch */
    int         pin;           /* 0 = no pinning, 1 = pin worker i to CPU i
                                  of the process's affinity mask */
    const char *name;          /* worker thread name prefix, NULL =
                                  "micropool" */
    void      (*on_thread_start)(void *hook_arg, unsigned index);
    void      (*on_thread_stop)(void *hook_arg, unsigned index);
    void       *hook_arg;
    size_t      stack_size;    /* since 1.1: each worker's stack, in bytes,
                                  rounded up to a page; 0 = the system's
                                  default; below PTHREAD_STACK_MIN (16 KiB
                                  on Linux): MP_EINVAL */
    const struct mp_trace_hooks *trace; /* since 1.1: NULL = no tracing; the
                                  struct is copied at creation, under the
                                  size rule of mp_config (its size must
                                  cover `begin`; past it, only zero bytes) */
} mp_config;

/* Fills `cfg` with the defaults: size = sizeof(mp_config), threads = 0,
 * spin_us = MP_SPIN_US_DEFAULT, pin = 0, name = NULL, no hooks,
 * stack_size = 0, trace = NULL. Does nothing if `cfg` is NULL. The symbol is versioned: a
 * program built against the 1.0 header calls 1.0's version, which fills the
 * smaller mp_config of 1.0 and nothing past it. A caller that looks it up
 * by name at run time (dlsym, an FFI) gets the newest version, and must
 * pass a buffer of this header's sizeof(mp_config). */
MP_API void mp_config_init(mp_config *cfg);

/* Creates a pool and stores it in *out.
 *
 * cfg NULL means the defaults of mp_config_init. `cfg->size` follows the
 * Linux copy_struct_from_user rule: the library never reads past `size`
 * bytes; a smaller size (an older caller) gives every later field its
 * default, but must cover at least `size` and `threads`; a larger size (a
 * newer caller) is accepted only when every byte this library does not know
 * is zero. Otherwise, and for threads > MP_THREADS_MAX or pin not 0 or 1,
 * the result is MP_EINVAL.
 *
 * threads counts the calling thread: N threads start N-1 workers, named
 * "<name>-<i>" for i = 1..N-1 (cut to 15 characters). With pin = 1, worker
 * i is pinned to the i-th CPU of the process's affinity mask, wrapping
 * around; calling threads are never moved. on_thread_start(hook_arg, i)
 * runs on worker i before it takes any work, on_thread_stop(hook_arg, i)
 * after its last work; neither runs for calling threads.
 *
 * Returns MP_OK, MP_EINVAL, or MP_ENOMEM (memory or a thread could not be
 * had; then no thread is left running and *out is untouched). */
MP_API int mp_pool_create(const mp_config *cfg, mp_pool **out);

/* Runs every background task already submitted (those tasks may still use
 * the pool; a task they submit gets MP_ESHUTDOWN), stops and joins the
 * workers (on_thread_stop runs on each), and frees the pool.
 *
 * Returns MP_OK; MP_EINVAL for NULL; MP_EDEADLK, doing nothing, when called
 * from a thread of this same pool (a callback or task running on it). Using
 * the pool from another thread once destroy has been called is a caller
 * error, as with free(). Task handles stay valid (see mp_task_release).
 * On the shared pool (mp_pool_shared) it drops one reference, and only the
 * last one destroys the pool. */
MP_API int mp_pool_destroy(mp_pool *pool);

/* Since 1.1. Stores in *out a reference to the process-wide pool, made on
 * the first call (from any thread: concurrent first calls make one pool)
 * with the defaults of mp_config_init, except that the environment
 * variable MICROPOOL_THREADS, when it holds a decimal number from 1 to
 * MP_THREADS_MAX and nothing else, sets `threads`; any other value is
 * ignored. Each reference is dropped with mp_pool_destroy (which, from a
 * thread of the pool, is MP_EDEADLK and keeps the reference); the pool is
 * destroyed when the last one is dropped, and a later call makes a new
 * one. Libraries use it when their caller names no pool, so that a process
 * starts one set of workers, not one per library.
 *
 * Returns MP_OK, MP_EINVAL for NULL, or MP_ENOMEM (then *out is
 * untouched). */
MP_API int mp_pool_shared(mp_pool **out);

/* The number of threads of the pool, the calling thread counted (the
 * resolved value when the pool was created with threads = 0); 0 for NULL. */
MP_API unsigned mp_pool_threads(const mp_pool *pool);

/* The index of the current thread while it runs work of `pool`: 0 for a
 * calling thread (including one that runs a task inline in mp_task_wait),
 * 1..N-1 for the pool's workers; -1 otherwise and for a NULL pool. */
MP_API int mp_pool_thread_index(const mp_pool *pool);

/* ------------------------------------------------------------------------
 * Fork-join
 * ------------------------------------------------------------------------ */

typedef int (*mp_fn)(void *arg);

/* Runs a(a_arg) and b(b_arg), potentially in parallel, and returns when both
 * have finished. The calling thread runs `a` itself; `b` may be stolen by an
 * idle thread of the pool, else the caller runs it after `a`. While it
 * waits for a stolen `b`, the calling thread helps only with work spawned
 * by the thread that took `b` (and runs broadcast parts addressed to it),
 * never with unrelated work. No heap allocation.
 *
 * Returns MP_OK, MP_EINVAL, or the first non-zero callback result: if `a`
 * fails and `b` has not started, `b` is skipped. */
MP_API int mp_join(mp_pool *pool, mp_fn a, void *a_arg, mp_fn b, void *b_arg);

/* ------------------------------------------------------------------------
 * Data parallelism
 * ------------------------------------------------------------------------ */

typedef int  (*mp_range_fn)(void *arg, size_t begin, size_t end);
typedef int  (*mp_map_fn)(void *arg, size_t begin, size_t end, void *acc);
typedef void (*mp_combine_fn)(void *arg, void *acc, const void *other);

#define MP_SPLIT_DYNAMIC   0u  /* default: chunks of at least `grain`,
                                  balanced by whichever thread is free */
#define MP_SPLIT_STATIC    1u  /* one contiguous share per thread, no
                                  further splitting, each share offered
                                  first to its own thread: lowest overhead
                                  for uniform work (a single share, run by
                                  the caller, when the pool measured that
                                  faster: see mp_for) */
#define MP_DETERMINISTIC   2u  /* mp_reduce: the partition and the combine
                                  order depend only on (n, grain), so results
                                  are bitwise equal whatever the thread count
                                  or timing */

/* The most parts one mp_reduce is cut into (also the number of parts of an
 * MP_DETERMINISTIC partition when n / grain is larger). */
#define MP_REDUCE_PARTS_MAX 64u

/* Accumulators of up to this many bytes never cause a heap allocation. */
#define MP_ACC_INLINE_MAX 64u

/* Calls body(arg, begin, end) on disjoint, non-empty ranges that cover
 * [0, n) exactly once, and returns when all calls have finished.
 *
 * grain is the smallest range worth handing to another thread; 0 lets the
 * library pick. Inputs too small to split (n <= grain, or n == 1, or a pool
 * of one thread) run inline in one call with no synchronization at all.
 * A loop that the pool measured to be slower split than done by its caller
 * alone (a loop of a microsecond or so, or one that would have to wake a
 * sleeping thread for less work than the wake-up costs) runs on the
 * caller, publishing nothing; a static one then as one range [0, n).
 * `flags` chooses the partition (MP_SPLIT_DYNAMIC or MP_SPLIT_STATIC; with
 * MP_DETERMINISTIC the partition of mp_reduce below), never which thread
 * runs a part: any thread may run any part.
 *
 * Returns MP_OK (also for n == 0, calling nothing), MP_EINVAL, or the first
 * non-zero result of `body`, after which the ranges not yet started are
 * skipped. No heap allocation. */
MP_API int mp_for(mp_pool *pool, size_t n, size_t grain, unsigned flags,
                  mp_range_fn body, void *arg);

/* A parallel fold. `acc` points to `acc_size` bytes that hold the identity
 * on entry and the result on return. Each part of [0, n) gets a private
 * accumulator (a copy of the identity, aligned like max_align_t);
 * map(arg, begin, end, part_acc) folds the items [begin, end) into it, and
 * combine(arg, acc, other) merges `other` into `acc`. Partial results are
 * combined in range order, left to right, so `combine` must be associative
 * but need not be commutative.
 *
 * The partition: with MP_DETERMINISTIC, ceil(n / grain) parts of equal size
 * (grain 0: MP_REDUCE_PARTS_MAX parts), at most MP_REDUCE_PARTS_MAX, folded
 * left to right whatever the number of threads; else up to one part per
 * thread (MP_SPLIT_STATIC) or a few per thread (dynamic), at most
 * MP_REDUCE_PARTS_MAX.
 *
 * Returns MP_OK (n == 0 returns at once and leaves `acc` as it is),
 * MP_EINVAL (also for acc_size == 0), MP_ENOMEM (only when acc_size >
 * MP_ACC_INLINE_MAX and the parts' accumulators do not fit on the stack),
 * or the first non-zero result of `map`; after an error the content of
 * `acc` is unspecified. */
MP_API int mp_reduce(mp_pool *pool, size_t n, size_t grain, unsigned flags,
                     void *acc, size_t acc_size,
                     mp_map_fn map, mp_combine_fn combine, void *arg);

/* ------------------------------------------------------------------------
 * Broadcast
 * ------------------------------------------------------------------------ */

typedef int (*mp_broadcast_fn)(void *arg, unsigned index, unsigned count);

/* Runs fn(arg, i, N) once for every i in 0..N-1 (N = mp_pool_threads) and
 * returns when all have finished. Called from outside the pool, the calling
 * thread runs index 0 and worker i runs index i, all at once, so a barrier
 * among the N parts works. Called from worker k, worker k runs index k and
 * also index 0. A thread that is waiting inside any micropool call of this
 * pool still runs the part addressed to it, so broadcasts may be called
 * from inside pool work, and nest. Every worker runs the broadcasts
 * addressed to it in the order they were published.
 *
 * Returns MP_OK, MP_EINVAL, or the first non-zero result of `fn` (parts not
 * yet started are then skipped). */
MP_API int mp_broadcast(mp_pool *pool, mp_broadcast_fn fn, void *arg);

/* ------------------------------------------------------------------------
 * Scopes
 * ------------------------------------------------------------------------ */

typedef struct mp_scope mp_scope;        /* opaque */
typedef int (*mp_scope_fn)(mp_scope *scope, void *arg);

/* Runs body(scope, arg) on the calling thread; body may spawn tasks into
 * the scope with mp_scope_spawn (so may the spawned tasks: pass the scope
 * through their arg). Returns only when body and every task spawned in the
 * scope have finished, so the tasks may borrow the caller's stack. While it
 * waits, the calling thread runs tasks of this scope.
 *
 * Returns MP_OK, MP_EINVAL, or the first non-zero result of body or of a
 * task (tasks not yet started are then skipped). */
MP_API int mp_scope_run(mp_pool *pool, mp_scope_fn body, void *arg);

/* Adds fn(arg) to the scope; it runs on any thread of the pool before
 * mp_scope_run returns. Returns MP_OK, MP_EINVAL (NULL scope or fn), or
 * MP_ENOMEM (then fn will not run). Spawning into a scope whose
 * mp_scope_run has returned is a caller error. */
MP_API int mp_scope_spawn(mp_scope *scope, mp_fn fn, void *arg);

/* ------------------------------------------------------------------------
 * Background tasks
 * ------------------------------------------------------------------------ */

typedef struct mp_task mp_task;          /* opaque */

/* Queues fn(arg) as a background task: the lower priority tier, run by a
 * thread of the pool only when it has no fork-join or data-parallel work.
 * Tasks leave the queue in the order they were submitted (first in, first
 * out; with several workers, one may start before an earlier one that
 * another worker took). mp_submit never runs the task on the submitting
 * thread before it returns; on a pool of one thread a task runs when a
 * thread waits for it, or at mp_pool_destroy.
 *
 * With `task` non-NULL, *task receives a handle that must be released
 * exactly once with mp_task_release; with `task` NULL the task is
 * detached and its result is dropped.
 *
 * Returns MP_OK, MP_EINVAL, MP_ENOMEM, or MP_ESHUTDOWN once mp_pool_destroy
 * has been called on the pool (then fn will not run). */
MP_API int mp_submit(mp_pool *pool, mp_fn fn, void *arg, mp_task **task);

/* Since 1.1: options of a background task (mp_submit_ex).
 *
 * Priority. Three levels of background work, all below fork-join and
 * data-parallel work. A thread that looks for background work takes the
 * oldest task of the highest level that has one (first in, first out
 * within a level); mp_submit queues at MP_PRIO_NORMAL. Nothing bounds how
 * long a lower level waits while higher levels keep coming.
 *
 * Thread. MP_ANY_THREAD, or the index of the one thread that may run the
 * task: i in 1..N-1 for worker i; 0 for threads outside the pool, which run
 * such tasks in mp_pool_run_pinned, by waiting on the task with
 * mp_task_wait, and in mp_pool_destroy (the "main thread" pattern, for work
 * that must run on the thread that owns a window, a GL context or an audio
 * device). A worker that waits on a task bound to another thread blocks
 * until that thread runs it: avoiding such a wait cycle is the caller's
 * part. Within one level, a thread takes the tasks bound to it before the
 * others.
 *
 * Prerequisites. The task starts only after every task in
 * after[0..nafter) has finished or was cancelled; their handles may be
 * released as soon as mp_submit_ex has returned. With
 * MP_AFTER_CANCEL_ON_ERROR, a prerequisite that returned non-zero or was
 * cancelled cancels the task instead of running it (its mp_task_wait
 * returns MP_ECANCELED), and so on down the tasks that carry the flag;
 * without it the task runs whatever its prerequisites returned. The
 * thread that settles a task's last prerequisite cancels it or queues it,
 * just after that prerequisite's own waiters were let go: a wait on a
 * prerequisite may return before its dependents are cancelled (to know
 * that a dependent has settled, wait on it, or poll mp_task_done). A task
 * whose prerequisites have finished joins its level behind the tasks
 * already queued there, except that it goes before the tasks mp_submit
 * queued (those of MP_PRIO_NORMAL and MP_ANY_THREAD with no
 * prerequisites), so that a chain of tasks is not held up by a long queue
 * of independent ones.
 *
 * Name. Passed to the tracing hooks; not copied: it must outlive the
 * task. */
#define MP_PRIO_HIGH    1
#define MP_PRIO_NORMAL  0
#define MP_PRIO_LOW   (-1)

#define MP_ANY_THREAD  (~0u)

#define MP_AFTER_CANCEL_ON_ERROR 1u

typedef struct mp_task_opts {
    size_t          size;      /* sizeof(mp_task_opts); set by mp_task_opts_init */
    int             priority;  /* MP_PRIO_HIGH, _NORMAL (default) or _LOW */
    unsigned        thread;    /* MP_ANY_THREAD (default), or the index of the
                                  one thread that may run the task */
    mp_task *const *after;     /* prerequisites (may be NULL when nafter is 0) */
    size_t          nafter;
    unsigned        flags;     /* MP_AFTER_* */
    const char     *name;      /* NULL = none */
} mp_task_opts;

/* Since 1.1. Fills *opts with the defaults (and its size); NULL: does
 * nothing. */
MP_API void mp_task_opts_init(mp_task_opts *opts);

/* Since 1.1. mp_submit with options; opts NULL is mp_submit. opts->size
 * follows mp_config's rule: a smaller size gives the later fields their
 * defaults but must cover `priority`; a larger size only with zero bytes
 * past this library's struct. MP_EINVAL, with nothing queued, for: any
 * other priority; a `thread` that is neither MP_ANY_THREAD nor below
 * mp_pool_threads(pool); unknown flags; after NULL with nafter > 0; more
 * prerequisites than 2^32 - 2; a prerequisite that is NULL or belongs to
 * another pool. Otherwise returns as mp_submit does (MP_OK, MP_ENOMEM,
 * MP_ESHUTDOWN), with the same handle rules. A task whose prerequisite
 * failed at submission (with MP_AFTER_CANCEL_ON_ERROR) is accepted and
 * cancelled at once: MP_OK. mp_task_cancel on a task that waits for its
 * prerequisites succeeds; mp_task_wait on it waits for them and may run
 * them on the calling thread; mp_pool_destroy runs every accepted task in
 * an order that respects the prerequisites. */
MP_API int mp_submit_ex(mp_pool *pool, mp_fn fn, void *arg, const mp_task_opts *opts,
                        mp_task **task);

/* Since 1.1. Runs tasks bound to thread 0 on the calling thread, highest
 * level first and oldest first within a level, until none is left or
 * max_ns nanoseconds have passed (checked after each task; max_ns == 0:
 * only as many as were queued when it was called). Never sleeps. Returns
 * how many it ran (>= 0; cancelled tasks it took out of the queue are not
 * counted), MP_EINVAL for NULL or when called from a worker of the pool. */
MP_API int mp_pool_run_pinned(mp_pool *pool, uint64_t max_ns);

/* Since 1.1. A file descriptor, owned by the pool and closed by
 * mp_pool_destroy, that polls readable while tasks bound to thread 0 are
 * queued (a cancelled one stays queued until mp_pool_run_pinned takes it
 * out), so that an event loop (poll, epoll, libuv, GLib) can wake for
 * them. Never read from it or close it. The same descriptor on every call;
 * made on the first. Returns it, or MP_EINVAL for NULL, or MP_ENOMEM when
 * the system would not give one. */
MP_API int mp_pool_pinned_fd(mp_pool *pool);

/* Waits for the task and returns fn's result, or MP_ECANCELED if it was
 * cancelled. A task not yet started is run by the waiting thread itself
 * (with index 0 unless that thread is a worker of the pool), unless it is
 * bound to another thread (mp_task_opts.thread, since 1.1): then the wait
 * lasts until that thread has run it. While the task waits for its
 * prerequisites, the waiting thread runs background tasks it may run
 * (they may be the prerequisites). Returns MP_EINVAL for NULL. */
MP_API int mp_task_wait(mp_task *task);

/* Since 1.1. Waits at most timeout_ns nanoseconds for the task, as
 * mp_task_wait does, except that it never runs the task on the calling
 * thread. Returns fn's result, MP_ECANCELED, or MP_ETIMEDOUT when the task
 * has not finished in time (with timeout_ns == 0: when it has not finished
 * yet, without waiting). After MP_ETIMEDOUT the task is as it was: a later
 * wait, done, cancel or release works as before. While it waits, the
 * calling thread runs the broadcast parts addressed to it (when it is a
 * worker of some pool) and nothing else. A timeout so long that the
 * monotonic clock would wrap has no limit. MP_EINVAL for NULL. */
MP_API int mp_task_wait_for(mp_task *task, uint64_t timeout_ns);

/* 1 if the task has finished or was cancelled, 0 if not yet, MP_EINVAL for
 * NULL. Never blocks. */
MP_API int mp_task_done(const mp_task *task);

/* Makes sure a task that has not started never runs: MP_OK if it will
 * never run (also when already cancelled), MP_EBUSY if it started or
 * finished, MP_EINVAL for NULL. */
MP_API int mp_task_cancel(mp_task *task);

/* Drops the handle; the task still runs (unless cancelled). mp_task_wait,
 * mp_task_done and mp_task_cancel are valid on a handle until it is
 * released, even after its pool was destroyed. NULL is ignored. */
MP_API void mp_task_release(mp_task *task);

/* Since 1.1. Runs at most one piece of pending work of `pool` that the
 * calling thread may run, and returns 1 if it ran one, 0 if there was
 * none; never waits for work. From inside a call of the pool (a callback
 * on one of its threads, or a thread in one of its calls): a shared job of
 * the caller's own joins first (the oldest, as a thief would take it),
 * then one stolen from another thread, a loop part addressed to a worker
 * or the open loop's next part (workers only), a scope task, a background
 * task. From any other thread: a background task it may run (tasks bound
 * to thread 0 among them). What it runs may itself take long: it is the
 * work, not a slice of it. MP_EINVAL for NULL. (rayon's yield_now: a long
 * callback calls it to let waiting work through.) */
MP_API int mp_yield(mp_pool *pool);

/* ------------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------------ */

typedef struct mp_stats {
    size_t   size;          /* sizeof(mp_stats), set by the caller */
    uint64_t jobs;          /* operations started */
    uint64_t steals;        /* pieces of work taken from another thread */
    uint64_t sleeps;        /* times a thread went to sleep in the kernel */
    uint64_t wakeups;       /* kernel wake-ups issued */
    uint64_t tasks_run;     /* background tasks run */
} mp_stats;

/* Fills the fields of *out that fit in both this library's mp_stats and
 * the caller's (out->size bytes) and leaves the rest untouched. The
 * counters are totals since creation and may lag behind by a few events.
 * Returns MP_OK, or MP_EINVAL for NULL arguments or a size that does not
 * reach past `jobs`. */
MP_API int mp_pool_stats(const mp_pool *pool, mp_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* MICROPOOL_H */
