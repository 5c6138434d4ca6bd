/* record.h: where task records come from and go (record.c): a pool's
 * cache of records of one size, which the threads that drop the last
 * reference hand back in batches, so that a record made by one thread
 * and freed by another costs neither thread a trip through malloc's
 * locks. See docs/design.md, "Task records". */
#ifndef MP_RECORD_H
#define MP_RECORD_H

#include "internal.h"

/* What a cached record holds while it waits: its link, and in the first
 * record of a batch the batch's length (0 in the others). */
typedef struct mp_record {
    struct mp_record *next;
    uint32_t batch;
} mp_record;

/* The pool's part. */
typedef struct mp_records {
    /* Batches handed back: pushed by CAS (release), taken all at once by
     * exchange (acquire); no pop of one entry, so no ABA. */
    alignas(MP_CACHELINE) _Atomic(mp_record *) returned;
    /* Records in `returned` and `spare`, give or take the batches in
     * flight: past MP_RECORD_KEEP a batch is freed instead. */
    _Atomic uint32_t kept;
    /* The allocating side: a try-lock over `spare`, the records taken
     * from `returned` and not handed out yet. A thread that finds it
     * taken calls malloc. */
    alignas(MP_CACHELINE) _Atomic uint32_t taking;
    mp_record *spare;               /* under taking */
} mp_records;

/* A context's part: the records its holder dropped, not yet handed back
 * (written only by the thread that holds the context). */
typedef struct mp_record_batch {
    mp_record *head, *tail;
    uint32_t n;
} mp_record_batch;

/* A record of `bytes` bytes for `pool`, NULL when out of memory. *cached
 * tells whether it is of the cache's size: only those go back to a
 * cache. */
MP_HIDDEN void *mp__record_get(mp_pool *pool, size_t bytes, bool *cached);
/* The last reference to record r of `pool` is gone: into this thread's
 * batch when the thread holds a context of that pool, else free(). It
 * never reads *pool, which may be destroyed (a handle outlives its
 * pool); a pool that now has its address takes the record, which is as
 * good. */
MP_HIDDEN void mp__record_drop(const mp_pool *pool, void *r, bool cached);
/* Destroy's: frees the cache and every context's batch, once no thread
 * of the pool runs (after the ready lists dropped their records). */
MP_HIDDEN void mp__records_free(mp_pool *pool);

#endif
