/* trace.h: the tracing hooks of mp_config.trace (trace.c). See
 * docs/design.md, "Tracing". */
#ifndef MP_TRACE_H
#define MP_TRACE_H

#include "internal.h"

/* The pool's part: the caller's hooks, copied at creation (pool.c); both
 * NULL when the pool has none. */
typedef struct mp_tracer {
    void (*begin)(void *trace_arg, int kind, unsigned index, const char *name);
    void (*end)(void *trace_arg, int kind, unsigned index, const char *name);
    void *arg;
} mp_tracer;

/* Reads the caller's hooks under mp_config's size rule into *t. */
MP_HIDDEN int mp__tracer_read(const mp_trace_hooks *user, mp_tracer *t);
/* Calls begin (end false) or end (end true) with this thread's index in
 * the pool; only called when that hook is set (mp__trace_begin in
 * pool.h). */
MP_HIDDEN void mp__trace_call(const mp_pool *pool, bool end, int kind, const char *name);

#endif
