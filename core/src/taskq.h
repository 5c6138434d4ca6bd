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
/* Gives n entries back in front of the queue, in their order; false when
 * there was no memory for them (then the caller keeps them). The caller
 * wakes a worker after it. */
MP_HIDDEN bool mp__taskq_give(mp_taskq *q, const mp_task_entry *e, uint32_t n);
/* Is an entry queued (seq_cst loads: a sleeper's last check)? */
MP_HIDDEN bool mp__taskq_visible(mp_taskq *q);
/* The cells claimed so far in all rings (seq_cst loads, oldest first). */
MP_HIDDEN uint64_t mp__taskq_claimed(mp_taskq *q);


/* The hot paths, inline in their callers (task.c): a cell's claim and
 * publication, and a batch's take. */
/* A cell holds the entry for position p once seq == p + 1; it is free for
 * position p when seq == p (p + cap after the consumer of p - cap). Two
 * cells to a cache line. */
typedef struct mp_task_cell {
    _Atomic uint64_t seq;
    mp_task_entry e;
} mp_task_cell;

/* The tail's top bit: the ring is closed, producers go to `next`. */
#define SEG_CLOSED (UINT64_C(1) << 63)

typedef struct mp_task_seg {
    alignas(MP_CACHELINE) _Atomic uint64_t tail;    /* producers' next position */
    alignas(MP_CACHELINE) _Atomic uint64_t head;    /* consumers' next position */
    alignas(MP_CACHELINE) _Atomic(struct mp_task_seg *) next; /* set before closing */
    uint64_t mask;                  /* capacity - 1, a power of two */
    struct mp_task_seg *older;      /* q->segs list */
    alignas(MP_CACHELINE) mp_task_cell cells[];
} mp_task_seg;

/* The ring g was full at position t: the next one, made under the lock
 * (or another producer's); NULL without memory. */
MP_HIDDEN mp_task_seg *mp__taskq_grow(mp_taskq *q, mp_task_seg *g, uint64_t t);
/* Takes entries given back by workers (under the lock). */
MP_HIDDEN uint32_t mp__taskq_side_take(mp_taskq *q, mp_task_entry *out, unsigned spread,
                                       uint32_t max);

/* Claims a cell and publishes e in it (a seq_cst store, which a sleeping
 * worker's last check reads: the caller then wakes one), or an empty
 * entry when the pool is shutting down (MP_ESHUTDOWN: the cell still
 * counts as claimed). MP_ENOMEM: nothing was claimed. */
static inline int mp__taskq_put(mp_taskq *q, mp_task_entry e)
{
    /* seq_cst loads of a tail: a claim made after seeing a ring closed
     * follows the close in the total order, so destroy's walk, which loads
     * the tails in order, cannot stop at that ring while missing the claim
     * in its successor (see mp__taskq_claimed). */
    mp_task_seg *g = atomic_load_explicit(&q->ptail, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
    mp_task_cell *c;
    for (;;) {
        if (t & SEG_CLOSED) {
            g = atomic_load_explicit(&g->next, memory_order_acquire);
            t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
            continue;
        }
        c = &g->cells[t & g->mask];
        uint64_t s = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t d = (int64_t)(s - t);
        if (d == 0) {
            /* The claim counts the task (seq_cst: see mp__taskq_drain). */
            if (atomic_compare_exchange_weak_explicit(&g->tail, &t, t + 1, memory_order_seq_cst,
                                                      memory_order_relaxed))
                break;
        } else if (d < 0) {
            /* Full: the cell still holds the entry of the previous lap. */
            g = mp__taskq_grow(q, g, t);
            if (!g)
                return MP_ENOMEM;
            t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
        } else {
            t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
        }
    }
    /* Destroy stores the flag before it counts the claims, this call
     * claimed before it loads the flag (all seq_cst): either it sees the
     * flag, or destroy counts the claim and waits for the task. */
    int rc = MP_OK;
    if (MP_UNLIKELY(atomic_load_explicit(&q->shutdown, memory_order_seq_cst))) {
        e = (mp_task_entry){NULL, NULL, NULL};
        rc = MP_ESHUTDOWN;
    }
    c->e = e;
    /* The publication that a sleeping worker's last check reads (seq_cst,
     * followed by mp__wake_idle's load of `sleepers`). */
    atomic_store_explicit(&c->seq, t + 1, memory_order_seq_cst);
    return rc;
}

/* Is the cell of position p published? */
static inline bool mp__taskq_cell_full(mp_task_seg *g, uint64_t p)
{
    return atomic_load_explicit(&g->cells[p & g->mask].seq, memory_order_acquire) == p + 1;
}

/* Takes up to `max` (at most MP_TASK_BATCH_MAX) entries from the rings
 * into out. */
static inline uint32_t mp__taskq_dequeue(mp_taskq *q, mp_task_entry *out, unsigned spread, uint32_t max)
{
    mp_task_seg *g = atomic_load_explicit(&q->chead, memory_order_acquire);
    uint64_t h = atomic_load_explicit(&g->head, memory_order_relaxed);
    for (;;) {
        uint64_t s = atomic_load_explicit(&g->cells[h & g->mask].seq, memory_order_acquire);
        int64_t d = (int64_t)(s - (h + 1));
        if (d == 0) {
            /* A share of the queue: 2^k when the cell 2^k * 2N - 1 ahead
             * is published, without reading the producers' tail. */
            uint64_t span = 2u * (uint64_t)spread;
            uint32_t want = 1;
            while (want < max && mp__taskq_cell_full(g, h + span * want * 2 - 1))
                want *= 2;
            uint32_t got = 1;
            if (want > max)
                want = max;
            while (got < want && mp__taskq_cell_full(g, h + got))
                got++;
            if (!atomic_compare_exchange_weak_explicit(&g->head, &h, h + got,
                                                       memory_order_relaxed,
                                                       memory_order_relaxed))
                continue;
            /* The cells are ours until we free them. */
            for (uint32_t i = 0; i < got; i++) {
                mp_task_cell *c = &g->cells[(h + i) & g->mask];
                out[i] = c->e;
                atomic_store_explicit(&c->seq, h + i + g->mask + 1, memory_order_release);
            }
            return got;
        }
        if (d > 0) {                /* taken by another consumer */
            h = atomic_load_explicit(&g->head, memory_order_relaxed);
            continue;
        }
        /* Nothing published at h: empty, unless g is closed there (an
         * idle worker polls here: it reads the producers' tail only once
         * g has a successor). */
        mp_task_seg *next = atomic_load_explicit(&g->next, memory_order_acquire);
        if (!next || atomic_load_explicit(&g->tail, memory_order_acquire) != (h | SEG_CLOSED))
            return 0;
        atomic_compare_exchange_strong_explicit(&q->chead, &g, next,
                                                memory_order_acq_rel, memory_order_acquire);
        g = atomic_load_explicit(&q->chead, memory_order_acquire);
        h = atomic_load_explicit(&g->head, memory_order_relaxed);
    }
}

/* Takes up to max entries (1 .. MP_TASK_BATCH_MAX), oldest first, into
 * out; spread is the pool's thread count (what a share of the queue is). */
static inline uint32_t mp__taskq_take(mp_taskq *q, mp_task_entry *out, unsigned spread, uint32_t max)
{
    if (MP_UNLIKELY(atomic_load_explicit(&q->side_len, memory_order_relaxed) != 0)) {
        uint32_t got = mp__taskq_side_take(q, out, spread, max);
        if (got)
            return got;
    }
    return mp__taskq_dequeue(q, out, spread, max);
}

#endif
