/* broadcast.h: mp_broadcast (broadcast.c). See docs/design.md,
 * "Broadcast". */
#ifndef MP_BROADCAST_H
#define MP_BROADCAST_H

#include "wait.h"

typedef struct mp_bcast mp_bcast;

/* The pool's part: the broadcasts in publication order, under mu. */
typedef struct mp_bcasts {
    pthread_mutex_t mu;
    mp_bcast *head, *tail;
    uint64_t last;                  /* the newest number given out */
    alignas(MP_CACHELINE) _Atomic uint64_t pub; /* the newest number published */
} mp_bcasts;

/* A worker's source of work: runs the broadcast parts addressed to worker
 * context `ctx` (index >= 1), in publication order; true if it ran any.
 * And the sleep check (a seq_cst load). */
MP_HIDDEN bool mp__bcast_run_one(mp_ctx *ctx);
MP_HIDDEN bool mp__bcast_visible(mp_ctx *ctx);

/* Every wait's duties (wait.h): the broadcast parts addressed to the
 * worker contexts of this thread's chain, which must run even while the
 * thread waits inside another pool's call. */
MP_HIDDEN extern const mp_duties mp__bcast_duties;

#endif
