/* record.c: task records, made and dropped through a pool's cache. A
 * record is made by the submitting thread and most often dropped by the
 * worker that ran it; with malloc, that free goes to the submitter's
 * arena under its lock, which the submitter's next malloc takes too. Here
 * the dropping thread keeps what it dropped in its context and hands a
 * batch back with one CAS; the submitter takes all that was handed back
 * with one exchange. See docs/design.md, "Task records". */
#include "pool.h"

#include <stdlib.h>

/* Under AddressSanitizer there is no cache: a record is malloc'd and
 * freed, so that a use after its last reference, or past its end, is
 * reported as for any block (a cached record would be handed out again at
 * once, and a 1.0 record would sit in a larger block). */
#if defined(__SANITIZE_ADDRESS__)
#define MP_RECORD_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MP_RECORD_CACHE 0
#endif
#endif
#ifndef MP_RECORD_CACHE
#define MP_RECORD_CACHE 1
#endif

/* The cache's one size: a record with the 1.1 part and up to four
 * prerequisites. */
#define MP_RECORD_BYTES (sizeof(mp_task_ex) + 4 * sizeof(mp_task_edge))
/* A context hands its records back this many at a time. */
#define MP_RECORD_BATCH 32
/* At most this many records wait in the cache (about 680 KB); past it,
 * batches are freed. */
#define MP_RECORD_KEEP 4096

void *mp__record_get(mp_pool *pool, size_t bytes, bool *cached)
{
    *cached = MP_RECORD_CACHE && bytes <= MP_RECORD_BYTES;
    if (!*cached)
        return malloc(bytes);
    mp_records *rc = &pool->records;
    if (atomic_exchange_explicit(&rc->taking, 1, memory_order_acquire) == 0) {
        mp_record *r = rc->spare;
        if (!r && atomic_load_explicit(&rc->returned, memory_order_relaxed))
            r = atomic_exchange_explicit(&rc->returned, NULL, memory_order_acquire);
        if (r) {
            rc->spare = r->next;
            if (r->batch)
                atomic_fetch_sub_explicit(&rc->kept, r->batch, memory_order_relaxed);
        }
        atomic_store_explicit(&rc->taking, 0, memory_order_release);
        if (r)
            return r;
    }
    return malloc(MP_RECORD_BYTES);
}

static void free_chain(mp_record *r)
{
    for (mp_record *next; r; r = next) {
        next = r->next;
        free(r);
    }
}

/* Hands b's records to the pool (release: the records' last writes
 * before them), or frees them when the cache holds enough. */
static void hand_back(mp_records *rc, mp_record_batch *b)
{
    if (atomic_load_explicit(&rc->kept, memory_order_relaxed) >= MP_RECORD_KEEP) {
        free_chain(b->head);
    } else {
        atomic_fetch_add_explicit(&rc->kept, b->n, memory_order_relaxed);
        b->head->batch = b->n;
        mp_record *head = atomic_load_explicit(&rc->returned, memory_order_relaxed);
        do
            b->tail->next = head;
        while (!atomic_compare_exchange_weak_explicit(&rc->returned, &head, b->head,
                                                      memory_order_release,
                                                      memory_order_relaxed));
    }
    b->head = b->tail = NULL;
    b->n = 0;
}

void mp__record_drop(const mp_pool *pool, void *p, bool cached)
{
    mp_ctx *c = cached ? mp__ctx_fast(pool) : NULL;
    if (!c) {
        free(p);
        return;
    }
    mp_record *r = p;
    mp_record_batch *b = &c->records;
    r->next = b->head;
    r->batch = 0;
    if (!b->head)
        b->tail = r;
    b->head = r;
    if (++b->n == MP_RECORD_BATCH)
        hand_back(&c->pool->records, b);
}

void mp__records_free(mp_pool *pool)
{
    mp_records *rc = &pool->records;
    free_chain(rc->spare);
    free_chain(atomic_load_explicit(&rc->returned, memory_order_acquire));
    if (pool->ctxs)
        for (unsigned i = 0; i < pool->nctxs; i++)
            free_chain(pool->ctxs[i].records.head);
    for (mp_ctx *c = atomic_load_explicit(&pool->slots.overflow, memory_order_acquire); c;
         c = c->slot.next)
        free_chain(c->records.head);
}
