/* scope.h: mp_scope_run and mp_scope_spawn (scope.c). See
 * docs/design.md, "Scopes". */
#ifndef MP_SCOPE_H
#define MP_SCOPE_H

#include "internal.h"

/* The pool's part: scopes with queued tasks, under mu. */
typedef struct mp_scopes {
    pthread_mutex_t mu;
    mp_scope *list;
    alignas(MP_CACHELINE) _Atomic uint32_t queued;  /* tasks queued in all scopes */
} mp_scopes;

/* A worker's source of work: runs one queued task of any scope; and the
 * sleep check (a seq_cst load). */
MP_HIDDEN bool mp__scope_run_one(mp_pool *pool);
MP_HIDDEN bool mp__scope_visible(mp_pool *pool);

#endif
