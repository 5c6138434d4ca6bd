/*
 * internal.h: what the engine's files share. Nothing here is public.
 *
 * The protocol (deque, sleeping, waking, completion) is explained in
 * docs/design.md; comments here say what each field is for.
 */
#ifndef MP_INTERNAL_H
#define MP_INTERNAL_H

#include "micropool.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP_HIDDEN __attribute__((visibility("hidden")))
#define MP_LIKELY(x) __builtin_expect(!!(x), 1)
#define MP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MP_CACHELINE 64

/* Jobs a deque holds at most; a join nested deeper runs its second half
 * inline instead of publishing it. */
#define MP_DEQUE_CAP 1024u
/* Deques for threads that are not workers (index 0). When all are taken,
 * a caller gets an overflow slot (allocated once, kept until destroy) whose
 * jobs are not offered to other threads. */
#define MP_EXTERNAL_SLOTS 32u

typedef struct mp_ctx mp_ctx;

/* An OS thread's parking word. Every wait of a thread, whichever pool it
 * waits in, sleeps on this one word, so that any pool can wake it (a worker
 * of pool A waiting inside pool B must still run A's broadcast parts).
 * Records are never freed: when a thread exits its record goes to a free
 * list for the next thread, so a waker holding a stale pointer only causes
 * a spurious wake-up. */
typedef struct mp_thread {
    alignas(MP_CACHELINE) _Atomic uint32_t park;  /* futex word */
    _Atomic uint32_t waiting;       /* threads asleep in a wait (or about to) */
    _Atomic uint64_t woken_at;      /* the latest waker's clock (a hint) */
    struct mp_thread *next_free;
} mp_thread;

/* A unit of work in a deque: a join's second half, or a loop ticket. It
 * is stored in the deque itself, entry i of jobs[]; the owner writes it at
 * push and a thief reads it after the CAS that gave it index i. */
typedef struct mp_job {
    mp_fn fn;
    void *arg;
} mp_job;

/* What a shared job needs besides fn and arg, in entry i of sync[]. A
 * private job does not touch it: share() sets pending and thief before the
 * CAS that lets thieves take the job. */
typedef struct mp_jobsync {
    _Atomic uint32_t pending;       /* 1 until a thief has run it */
    int result;                     /* written by the thief before pending */
    _Atomic(mp_ctx *) thief;        /* who took it (for leapfrogging) */
} mp_jobsync;

/* Per-thread counters, written only by the thread that owns the context
 * (relaxed load + store: no read-modify-write on the hot path). */
typedef struct mp_counters {
    _Atomic uint64_t jobs, steals, sleeps;
} mp_counters;

/*
 * A thread's context in one pool: its work-stealing deque, its parking
 * word and its counters. Workers own one each; threads from outside the
 * pool borrow one of MP_EXTERNAL_SLOTS for the length of a call.
 *
 * The deque is split (after Lace): jobs [top, split) are shared and may be
 * stolen by a CAS on `ts`; jobs [split, bottom) are private to the owner,
 * which pushes and pops them with no atomic read-modify-write and no fence.
 */
struct mp_ctx {
    /* Shared line: thieves CAS it. top in the low 32 bits, split in the
     * high 32 bits. Only the owner changes split, only thieves raise top
     * (the owner lowers it when it resets an emptied deque). */
    alignas(MP_CACHELINE) _Atomic uint64_t ts;

    /* A push at an index <= push_limit takes the slow path. The owner
     * keeps it equal to split (so the push that finds nothing left to
     * steal shares); a thief that found no shared job sets it to
     * UINT32_MAX to ask the owner to share more. One load and one compare
     * on the owner's fast path serve both. */
    alignas(MP_CACHELINE) _Atomic uint32_t push_limit;

    /* Who runs on this context, and whether it sleeps idle. */
    alignas(MP_CACHELINE) _Atomic(mp_thread *) thread;
    _Atomic uint32_t sleeping;      /* 1: idle worker asleep (or about to) */
    _Atomic uint32_t spinning;      /* 1: idle worker polling for work (a hint) */
    _Atomic uint32_t in_use;        /* external slots: claimed by a thread */

    /* Owner-private line. */
    alignas(MP_CACHELINE) uint32_t bottom;  /* next free slot */
    uint32_t split;                 /* owner's copy of ts.split */
    uint32_t rng;                   /* victim selection */
    unsigned index;                 /* 0 for external slots, i for worker i */
    mp_pool *pool;
    uint64_t bseen;                 /* broadcasts this worker has run */
    uint64_t flat_seen;             /* the last flat loop it joined */
    bool overflow;                  /* an overflow slot: never shares jobs */
    mp_ctx *next_overflow;          /* pool->overflow list */
    mp_counters count;

    /* A worker's mailbox: one part of an MP_SPLIT_STATIC loop addressed
     * to this worker (handoff.c). The first line is written by the poster
     * and read by the worker, the second goes back. A part whose identity
     * and accumulator fit in MP_MB_INLINE bytes travels in these two lines
     * alone. */
    alignas(MP_CACHELINE) _Atomic uint64_t mb_word; /* gen << 2 | MP_MB_* */
    union {
        mp_range_fn body;
        mp_map_fn map;
    } mb_fn;
    void *mb_arg;
    size_t mb_begin, mb_end;
    size_t mb_acc_size;             /* 0: mp_for */
    alignas(16) unsigned char mb_ident[16];

    alignas(MP_CACHELINE) _Atomic uint32_t mb_pending; /* 1 until a taken part ran */
    int mb_result;
    mp_ctx *mb_owner;               /* the poster, woken when pending drops */
    alignas(16) unsigned char mb_acc[16];
    void *mb_accp;                  /* larger accumulators: where to fold */
    const void *mb_identp;          /* and the identity */

    /* The deque's entries. They need no zeroing: an entry is read only
     * after it was written (see MP_CTX_HEAD). */
    alignas(MP_CACHELINE) mp_job jobs[MP_DEQUE_CAP];
    alignas(MP_CACHELINE) mp_jobsync sync[MP_DEQUE_CAP];
};

#define MP_MB_INLINE 16u
#define MP_MB_EMPTY 0u              /* nothing, or taken back by the poster */
#define MP_MB_POSTED 1u             /* waiting for the worker */
#define MP_MB_TAKEN 2u              /* the worker runs it */

/* The part of a context that is zeroed when it is made; the entries after
 * it are left as the allocator gave them (untouched pages stay unmapped). */
#define MP_CTX_HEAD offsetof(mp_ctx, jobs)

/* A link of the thread-local chain that says which pools this thread is
 * running work of, innermost first. `ctx` may be NULL for a call that runs
 * inline without a deque. */
typedef struct mp_link {
    mp_pool *pool;
    mp_ctx *ctx;
    int index;
    struct mp_link *outer;
} mp_link;

/* A spin lock for short critical sections (the task queue's growth and
 * its side list), where a mutex's sleeping and waking would cost more
 * than the section.
 * A waiter yields its CPU after a short spin, in case the holder was
 * preempted. */
typedef struct mp_spinlock {
    _Atomic uint32_t locked;
} mp_spinlock;

/* warm.c: what a call knows of wake-ups, and what a worker knows of the
 * calls' rhythm. Hints only (relaxed). */
typedef struct mp_warm_est {
    _Atomic uint64_t key;           /* mp_warm_key of a loop, 0: empty */
    _Atomic uint64_t alone_ns;      /* the loop done alone, estimated */
    _Atomic uint64_t split_ns;      /* the loop split while workers poll */
    _Atomic uint64_t calls;         /* its calls, for samples and probes */
} mp_warm_est;

typedef struct mp_warm {
    _Atomic uint64_t wake_ns;       /* from a wake to the worker running */
    _Atomic uint64_t timer_late_ns; /* how late a worker's timer fires */
    _Atomic uint64_t last_call;     /* when the latest stamped call came */
    _Atomic uint64_t period;        /* the calls' interval, 0: none */
    _Atomic uint64_t jitter;        /* mean deviation from it */
    mp_warm_est est[64];
} mp_warm;

typedef struct mp_bcast mp_bcast;
typedef struct mp_task_node mp_task_node;
typedef struct mp_spawn mp_spawn;

struct mp_pool {
    unsigned nthreads;              /* N, the caller counted */
    unsigned nworkers;              /* N - 1 */
    uint64_t spin_ns;
    mp_ctx *ctxs;                   /* nworkers workers, then external slots */
    unsigned nctxs;
    alignas(MP_CACHELINE) _Atomic unsigned ext_high;  /* external slots ever used */
    _Atomic(mp_ctx *) overflow;     /* more slots, made when all are taken */
    alignas(MP_CACHELINE) _Atomic uint32_t sleepers;  /* idle workers asleep */
    _Atomic uint64_t wakeups;
    alignas(MP_CACHELINE) _Atomic uint32_t stop;      /* workers: exit */

    /* The flat loop slot: one mp_for/mp_reduce at a time is published
     * here, where every idle worker sees it at once (loop.c). */
    alignas(MP_CACHELINE) _Atomic uint32_t flat_busy;  /* claimed by a caller */
    alignas(MP_CACHELINE) _Atomic uint64_t flat_seq;   /* odd: a loop is open */
    _Atomic(struct mp_loop *) flat_loop;
    _Atomic(mp_ctx *) flat_waiter;
    alignas(MP_CACHELINE) _Atomic uint32_t flat_active; /* workers inside it */

    /* Broadcasts: a list in publication order, guarded by bmu. */
    pthread_mutex_t bmu;
    mp_bcast *bhead, *btail;
    uint64_t bseq_last;
    alignas(MP_CACHELINE) _Atomic uint64_t bseq_pub;

    /* Scopes with queued tasks, guarded by smu. */
    pthread_mutex_t smu;
    mp_scope *scopes;
    alignas(MP_CACHELINE) _Atomic uint32_t scope_queued;

    /* Background tasks (task.c): a chain of bounded rings, each cell with
     * its own sequence number; producers claim cells on the newest ring's
     * tail, consumers on the oldest unfinished ring's head. The producers'
     * line: */
    alignas(MP_CACHELINE) _Atomic(struct mp_task_seg *) tq_ptail;
    _Atomic uint32_t tq_shutdown;   /* set by destroy: refuse new tasks */
    struct mp_task_seg *tq_first;   /* the first ring: counts start there */
    /* The consumers' line (read-mostly). */
    alignas(MP_CACHELINE) _Atomic(struct mp_task_seg *) tq_chead;
    _Atomic uint32_t tq_side_len;   /* entries given back, run first */
    /* Tasks settled (ran, cancelled, refused); the cells claimed in all
     * rings minus this many are inflight. */
    alignas(MP_CACHELINE) _Atomic uint64_t tq_settled;
    _Atomic uint32_t tq_settling;   /* unanchored settlers inside settled() */
    _Atomic(mp_ctx *) destroyer;    /* woken when a task settles */
    _Atomic uint64_t tasks_run;
    /* Under tlock: growth and the side list of given-back entries. */
    alignas(MP_CACHELINE) mp_spinlock tlock;
    struct mp_task_seg *tq_segs;    /* every ring made, newest first */
    struct mp_task_entry *tq_side;  /* a ring of tq_side_cap entries */
    uint32_t tq_side_cap, tq_side_head;

    alignas(MP_CACHELINE) mp_warm warm;

    /* Configuration kept for the workers. */
    int pin;
    char name[16];
    void (*on_thread_start)(void *, unsigned);
    void (*on_thread_stop)(void *, unsigned);
    void *hook_arg;
    pthread_t *threads;
};

/* ---- context.c: which context the current thread uses for a pool ---- */
MP_HIDDEN extern __attribute__((tls_model("initial-exec"))) _Thread_local mp_link *mp_tls_top;
/* The innermost link's context: mp_tls_top->ctx, or NULL. */
MP_HIDDEN extern __attribute__((tls_model("initial-exec"))) _Thread_local mp_ctx *mp_tls_ctx;
/* The innermost link of this thread for `pool`, or NULL. */
MP_HIDDEN mp_link *mp_link_find(const mp_pool *pool);
/* Enters `pool` from the current thread: reuses the context this thread
 * already has in the pool, else borrows an external slot (link->ctx is NULL
 * when none is free and `need_ctx` is false; with `need_ctx` it waits for
 * one). Returns true when it pushed `link` (then call mp_leave). */
MP_HIDDEN bool mp_enter(mp_pool *pool, mp_link *link, mp_ctx **ctx, bool need_ctx);
MP_HIDDEN void mp_leave(mp_link *link);
MP_HIDDEN void mp_link_push(mp_link *link, mp_pool *pool, mp_ctx *ctx, int index);
MP_HIDDEN void mp_link_pop(mp_link *link);

static inline mp_ctx *mp_ctx_fast(const mp_pool *pool)
{
    mp_ctx *c = mp_tls_ctx;
    return (c && c->pool == pool) ? c : NULL;
}

/* ---- thread.c ---- */
/* The calling thread's parking record (allocated on first use). */
MP_HIDDEN mp_thread *mp_thread_self(void);
/* A record for a thread about to be started (NULL: no memory), handed
 * back unused with mp_thread_release, or taken by the new thread with
 * mp_thread_adopt (pool creation allocates its workers' records, so a
 * worker allocates nothing once it runs). */
MP_HIDDEN mp_thread *mp_thread_alloc(void);
MP_HIDDEN void mp_thread_release(mp_thread *t);
MP_HIDDEN void mp_thread_adopt(mp_thread *t);

/* ---- park.c: spinning, sleeping and waking ---- */
struct timespec;
/* Sleeps while *addr == val, at most *timeout (NULL: no limit). */
MP_HIDDEN void mp_futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *timeout);
MP_HIDDEN void mp_futex_wake(_Atomic uint32_t *addr, int n);
/* Sleeps while *addr == val, until the monotonic clock reads deadline_ns;
 * false when it returned because the deadline passed. */
MP_HIDDEN bool mp_futex_wait_until(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline_ns);
/* Wakes up to n idle workers; costs one load when none sleeps. The caller
 * must have published its work with a seq_cst operation. */
MP_HIDDEN void mp_wake_idle(mp_pool *pool, unsigned n);
/* Wakes idle worker w if it sleeps. The caller must have published its
 * work for w with a seq_cst operation. */
MP_HIDDEN void mp_wake_worker(mp_pool *pool, mp_ctx *w);
/* Wakes the thread running on ctx, if it is parked or about to park. */
MP_HIDDEN void mp_wake_ctx(mp_pool *pool, mp_ctx *ctx);
/* Wakes thread record t if it is parked or about to park in a wait
 * (mp_wait_self); pool counts the wake-up. */
MP_HIDDEN void mp_wake_waiter(mp_pool *pool, mp_thread *t);
/* What a thread waits for inside a call: every such wait (a stolen join,
 * a loop's or a broadcast's parts, a scope, destroy's drain) is one
 * mp_wait, so the spin-then-sleep policy is written once. */
typedef struct mp_waiter {
    /* The wait is over once *word == 0; or, when word is NULL, once
     * done(arg) (seq_cst loads). */
    _Atomic uint32_t *word;
    /* Work for `help` arrived once *more != 0, or more_fn(arg) (seq_cst
     * loads); NULL: never. Part of the last check before sleeping, so
     * that whoever publishes such work and then calls mp_wake_ctx wakes
     * this thread. */
    _Atomic uint32_t *more;
    bool (*done)(void *arg);
    bool (*more_fn)(void *arg);
    /* Runs one piece of the work this wait may help with (NULL: none);
     * true if it ran any. */
    bool (*help)(mp_ctx *ctx, void *arg);
    void *arg;
} mp_waiter;

/* Waits until w->done: helps, runs broadcast parts addressed to this
 * thread, spins for the pool's spin window, then parks on ctx's thread
 * until mp_wake_ctx (whoever ends the wait, or publishes work for `help`,
 * must call it after its seq_cst store). */
MP_HIDDEN void mp_wait(mp_ctx *ctx, const mp_waiter *w);
/* mp_wait until *word == 0. */
MP_HIDDEN void mp_wait_zero(mp_ctx *ctx, _Atomic uint32_t *word);
/* mp_wait for a thread that need not hold a context of the pool whose work
 * it waits for (mp_task_wait: the pool may be destroyed meanwhile): parks
 * on the calling thread's own record, spins for spin_ns, w->help is NULL,
 * and the sleep is counted nowhere. */
MP_HIDDEN void mp_wait_self(uint64_t spin_ns, const mp_waiter *w);

MP_HIDDEN uint64_t mp_now_ns(void);

static inline void mp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* The spin window of one wait: mp_spin_on is true while it lasts. It reads
 * the clock once every 64 rounds; with spin_ns == 0 it is never true. */
typedef struct mp_spin {
    uint64_t deadline;
    unsigned rounds;
} mp_spin;

static inline void mp_spin_reset(mp_spin *s)
{
    s->deadline = 0;
    s->rounds = 0;
}

static inline bool mp_spin_on(mp_spin *s, uint64_t spin_ns)
{
    if (spin_ns == 0)
        return false;
    if ((++s->rounds & 63) != 0) {
        mp_cpu_relax();
        return true;
    }
    uint64_t t = mp_now_ns();
    if (s->deadline == 0)
        s->deadline = t + spin_ns;
    return t < s->deadline;
}

/* Size arithmetic that says when it does not fit in a size_t, for every
 * size the library computes from a caller's numbers. */
static inline bool mp_size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool mp_size_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* x rounded up to a multiple of `to` (a power of two). */
static inline bool mp_size_round_up(size_t x, size_t to, size_t *out)
{
    if (!mp_size_add(x, to - 1, out))
        return false;
    *out &= ~(to - 1);
    return true;
}

MP_HIDDEN void mp_spinlock_wait(mp_spinlock *l);

static inline void mp_spin_lock(mp_spinlock *l)
{
    if (MP_UNLIKELY(atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)))
        mp_spinlock_wait(l);
}

static inline void mp_spin_unlock(mp_spinlock *l)
{
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

static inline void mp_count(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* A worker says whether it is polling for work (or about to poll again
 * after a mailbox part): a hint read by a loop caller deciding whether to
 * leave a part to it (handoff.c). Set when the worker polls, cleared before
 * it sleeps and before it runs other work, which may be long. It stores
 * only when the value changes. */
static inline void mp_set_spinning(mp_ctx *self, uint32_t v)
{
    if (atomic_load_explicit(&self->spinning, memory_order_relaxed) != v)
        atomic_store_explicit(&self->spinning, v, memory_order_relaxed);
}

/* ---- join.c: the deque and fork-join ---- */
MP_HIDDEN int mp_join_in(mp_ctx *ctx, mp_fn a, void *a_arg, mp_fn b, void *b_arg);
/* True if some deque of the pool has a shared job (seq_cst loads). */
MP_HIDDEN bool mp_any_shared(mp_pool *pool);
/* Tries to steal one job from any other deque and run it. */
MP_HIDDEN bool mp_steal_and_run(mp_ctx *self);

/* ---- loop.c ---- */
/* Joins the open flat loop, if any this worker has not joined yet. */
MP_HIDDEN bool mp_flat_participate(mp_ctx *self);

static inline bool mp_flat_open(mp_pool *pool, mp_ctx *self, memory_order mo)
{
    uint64_t s = atomic_load_explicit(&pool->flat_seq, mo);
    return (s & 1) && s != self->flat_seen;
}

/* ---- handoff.c ---- */
/* Runs the part posted to this worker's mailbox, if any. */
MP_HIDDEN bool mp_mbox_run(mp_ctx *self);

static inline bool mp_mbox_posted_sc(mp_ctx *self)
{
    return (atomic_load_explicit(&self->mb_word, memory_order_seq_cst) & 3u) == MP_MB_POSTED;
}

/* ---- broadcast.c ---- */
/* Runs the broadcast parts addressed to worker context `ctx` (index >= 1),
 * in publication order. Returns true if it ran or skipped any. */
MP_HIDDEN bool mp_bcast_run_pending(mp_ctx *ctx);
/* The same for every worker context of this thread's chain. */
MP_HIDDEN bool mp_bcast_run_thread(void);
/* True if any worker context of this thread's chain has a part pending
 * (seq_cst loads: the last check before parking). */
MP_HIDDEN bool mp_bcast_pending_thread_sc(void);

static inline bool mp_bcast_pending(mp_ctx *ctx)
{
    return ctx->index > 0 &&
           atomic_load_explicit(&ctx->pool->bseq_pub, memory_order_relaxed) > ctx->bseen;
}

/* The same check as the last one before parking (seq_cst, see park.c). */
static inline bool mp_bcast_pending_sc(mp_ctx *ctx)
{
    return ctx->index > 0 &&
           atomic_load_explicit(&ctx->pool->bseq_pub, memory_order_seq_cst) > ctx->bseen;
}

/* ---- scope.c ---- */
/* Runs one queued scope task of any scope; false if there was none. */
MP_HIDDEN bool mp_scope_run_one(mp_pool *pool);

/* ---- task.c ---- */
/* Runs queued background tasks (one, or a batch from a long queue); false
 * if there was none. */
MP_HIDDEN bool mp_task_run_one(mp_pool *pool, mp_ctx *ctx);
/* The task queue's storage, made at creation and freed at destroy. */
MP_HIDDEN int mp_task_queue_init(mp_pool *pool);
MP_HIDDEN void mp_task_queue_free(mp_pool *pool);
/* True if a queued task is visible (seq_cst loads: the sleep check). */
MP_HIDDEN bool mp_task_visible(mp_pool *pool);
/* Destroy's part: refuses new tasks, runs the queued ones (on ctx) and
 * waits until every submitted task has settled. */
MP_HIDDEN void mp_task_drain(mp_pool *pool, mp_ctx *ctx);

/* ---- warm.c: when to wake a sleeping worker, when to keep watch ---- */
MP_HIDDEN void mp_warm_init(mp_warm *w);
/* The key of a loop: its function and the size class of n. */
MP_HIDDEN uint64_t mp_warm_key(const void *fn, size_t n);
/* A cold call (a worker it needs is not polling): is waking worth it?
 * *measure: time this call. */
MP_HIDDEN bool mp_warm_should_wake(mp_pool *pool, uint64_t key, uint64_t now, bool *measure);
/* A warm call (every worker it needs polls): split it, or run it alone
 * because splitting it was measured slower? *measure: time this call. */
MP_HIDDEN bool mp_warm_split_pays(mp_pool *pool, uint64_t key, bool *measure);
/* How long the loop `key` takes alone, as the caller measured it. */
MP_HIDDEN void mp_warm_record(mp_pool *pool, uint64_t key, uint64_t alone_ns);
/* How long the loop `key` took split, in a warm call, from its caller's
 * start to its end. */
MP_HIDDEN void mp_warm_record_split(mp_pool *pool, uint64_t key, uint64_t split_ns);
/* A worker ran latency_ns after a wake-up was sent. */
MP_HIDDEN void mp_warm_woke(mp_pool *pool, uint64_t latency_ns);
/* A call arrived at `now` (a cold call's caller, or a worker on watch). */
MP_HIDDEN void mp_warm_stamp(mp_pool *pool, uint64_t now);
/* For a worker about to sleep at `now`: when to wake up to keep watch
 * until *until for the next call, or 0 (no rhythm: sleep until woken). */
MP_HIDDEN uint64_t mp_warm_watch_from(mp_pool *pool, uint64_t now, uint64_t *until);
/* A worker's timer fired late_ns after its deadline. */
MP_HIDDEN void mp_warm_timer_late(mp_pool *pool, uint64_t late_ns);

/* ---- pool.c ---- */
/* True if an idle worker would find any work (seq_cst loads). */
MP_HIDDEN bool mp_work_visible(mp_pool *pool, mp_ctx *self);

#endif
