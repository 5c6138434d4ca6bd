/* taskq.c: the queue of background tasks ready at submission: a chain
 * of bounded rings of cells, each with its own sequence number (after
 * Vyukov's MPMC queue), and a side list in front of it. See
 * docs/design.md, "Background tasks". */
#include "taskq.h"

#include <stdlib.h>

#define MP_TASK_RING_INITIAL 1024u
#define MP_TASK_SIDE_INITIAL 64u

static mp_task_seg *seg_new(uint64_t cap)
{
    size_t bytes;
    if (cap > SIZE_MAX || !mp__size_mul((size_t)cap, sizeof(mp_task_cell), &bytes) ||
        !mp__size_add(bytes, sizeof(mp_task_seg), &bytes))
        return NULL;
    mp_task_seg *g = aligned_alloc(MP_CACHELINE, bytes);
    if (!g)
        return NULL;
    atomic_init(&g->tail, 0);
    atomic_init(&g->head, 0);
    atomic_init(&g->next, NULL);
    g->mask = cap - 1;
    g->older = NULL;
    for (uint64_t i = 0; i < cap; i++)
        atomic_init(&g->cells[i].seq, i);
    return g;
}

int mp__taskq_init(mp_taskq *q)
{
    mp_task_seg *g = seg_new(MP_TASK_RING_INITIAL);
    q->side = malloc(MP_TASK_SIDE_INITIAL * sizeof *q->side);
    if (!g || !q->side) {
        free(g);
        return MP_ENOMEM;
    }
    q->side_cap = MP_TASK_SIDE_INITIAL;
    q->segs = g;
    q->first = g;
    atomic_init(&q->ptail, g);
    atomic_init(&q->chead, g);
    return MP_OK;
}

void mp__taskq_free(mp_taskq *q)
{
    for (mp_task_seg *g = q->segs, *o; g; g = o) {
        o = g->older;
        free(g);
    }
    free(q->side);
}

/* The ring `g` was full at position `t`: make the next one, twice as
 * large, unless another producer did. Returns the ring to try next, NULL
 * when no memory could be had. */
mp_task_seg *mp__taskq_grow(mp_taskq *q, mp_task_seg *g, uint64_t t)
{
    mp_task_seg *next = NULL;
    mp__spin_lock(&q->lock);
    uint64_t now = atomic_load_explicit(&g->tail, memory_order_relaxed);
    if (now & SEG_CLOSED) {
        next = atomic_load_explicit(&g->next, memory_order_acquire);
    } else if (now != t ||
               atomic_load_explicit(&g->cells[t & g->mask].seq, memory_order_acquire) == t) {
        next = g;                   /* room after all: try again */
    } else if (g->mask < UINT32_MAX && (next = seg_new((g->mask + 1) * 2)) != NULL) {
        atomic_store_explicit(&g->next, next, memory_order_release);
        /* Producers that load the closed tail go to `next`; the claims
         * made before stay in g, and consumers empty g before they move. */
        atomic_fetch_or_explicit(&g->tail, SEG_CLOSED, memory_order_seq_cst);
        atomic_store_explicit(&q->ptail, next, memory_order_release);
        next->older = q->segs;
        q->segs = next;
    }
    mp__spin_unlock(&q->lock);
    return next;
}

uint64_t mp__taskq_claimed(mp_taskq *q)
{
    uint64_t n = 0;
    for (mp_task_seg *g = q->first;;) {
        uint64_t t = atomic_load_explicit(&g->tail, memory_order_seq_cst);
        n += t & ~SEG_CLOSED;
        if (!(t & SEG_CLOSED))
            return n;
        g = atomic_load_explicit(&g->next, memory_order_seq_cst);
    }
}

bool mp__taskq_visible(mp_taskq *q)
{
    if (atomic_load_explicit(&q->side_len, memory_order_seq_cst) != 0)
        return true;
    mp_task_seg *g = atomic_load_explicit(&q->chead, memory_order_seq_cst);
    for (;;) {
        uint64_t h = atomic_load_explicit(&g->head, memory_order_seq_cst);
        uint64_t s = atomic_load_explicit(&g->cells[h & g->mask].seq, memory_order_seq_cst);
        int64_t d = (int64_t)(s - (h + 1));
        if (d == 0)
            return true;
        if (d > 0)
            continue;               /* taken meanwhile: look again */
        if (atomic_load_explicit(&g->tail, memory_order_seq_cst) != (h | SEG_CLOSED))
            return false;
        g = atomic_load_explicit(&g->next, memory_order_seq_cst);
    }
}

/* Takes entries given back, oldest first, under the lock. */
uint32_t mp__taskq_side_take(mp_taskq *q, mp_task_entry *out, unsigned spread, uint32_t max)
{
    mp__spin_lock(&q->lock);
    uint32_t len = atomic_load_explicit(&q->side_len, memory_order_relaxed);
    uint32_t got = len / (2 * spread);
    got = got < 1 ? 1 : got > max ? max : got;
    if (got > len)
        got = len;
    for (uint32_t i = 0; i < got; i++)
        out[i] = q->side[q->side_head++ & (q->side_cap - 1)];
    atomic_store_explicit(&q->side_len, len - got, memory_order_relaxed);
    mp__spin_unlock(&q->lock);
    return got;
}

bool mp__taskq_give(mp_taskq *q, const mp_task_entry *e, uint32_t n)
{
    mp__spin_lock(&q->lock);
    uint32_t len = atomic_load_explicit(&q->side_len, memory_order_relaxed);
    if (len + n > q->side_cap) {
        uint32_t cap = q->side_cap;
        while (len + n > cap && cap <= UINT32_MAX / 2)
            cap *= 2;
        size_t bytes;
        mp_task_entry *side = NULL;
        if (len + n <= cap && mp__size_mul(cap, sizeof *side, &bytes))
            side = malloc(bytes);
        if (!side) {
            mp__spin_unlock(&q->lock);
            return false;
        }
        for (uint32_t i = 0; i < len; i++)
            side[i] = q->side[(q->side_head + i) & (q->side_cap - 1)];
        free(q->side);
        q->side = side;
        q->side_cap = cap;
        q->side_head = 0;
    }
    for (uint32_t k = n; k > 0; k--)
        q->side[--q->side_head & (q->side_cap - 1)] = e[k - 1];
    /* A publication like a submit's (seq_cst, then the caller's wake). */
    atomic_store_explicit(&q->side_len, len + n, memory_order_seq_cst);
    mp__spin_unlock(&q->lock);
    return true;
}
