/*
 * micropool_trace.h: a recorder of micropool's tracing hooks
 * (mp_config.trace) in C memory.
 *
 * The hooks run on the pool's worker threads, inside its hot paths, where
 * a language runtime such as Ruby's cannot be entered (its VM lock is not
 * held there). This recorder's hooks only take a slot of a preallocated
 * array with one atomic add and write the event into it: no lock, no
 * allocation, no call out. The events are read afterwards (or while the
 * pool runs: an event is visible once its `ready` flag is set).
 *
 * Part of the same private library as micropool_kernels.h.
 */
#ifndef MICROPOOL_TRACE_H
#define MICROPOOL_TRACE_H

#include "micropool_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MPK_TRACE_BEGIN 0u
#define MPK_TRACE_END   1u

typedef struct mpk_trace_event {
    uint64_t    ns;     /* CLOCK_MONOTONIC time, in nanoseconds */
    const char *name;   /* the task's name (mp_task_opts.name), or NULL */
    int32_t     kind;   /* enum mp_trace_kind */
    uint32_t    index;  /* the pool's index of the thread */
    uint32_t    phase;  /* MPK_TRACE_BEGIN or MPK_TRACE_END */
    uint32_t    ready;  /* set, with release order, once the rest is written */
} mpk_trace_event;

typedef struct mpk_trace mpk_trace;   /* opaque */

/* A recorder with room for `capacity` events (at least 1), or NULL when
 * the memory could not be had. */
MPK_API mpk_trace *mpk_trace_new(size_t capacity);

/* The hooks to put in mp_config.trace; their trace_arg is the recorder,
 * which must outlive every pool created with them. */
MPK_API const mp_trace_hooks *mpk_trace_hooks(const mpk_trace *trace);

/* How many events the hooks were called for: past the capacity, events
 * are counted but not kept. */
MPK_API size_t mpk_trace_count(const mpk_trace *trace);
MPK_API size_t mpk_trace_capacity(const mpk_trace *trace);

/* Copies up to `max` events from slot `from` on into out[], stopping at
 * the first that is not written yet; returns how many it copied. */
MPK_API size_t mpk_trace_read(const mpk_trace *trace, size_t from, size_t max,
                              mpk_trace_event *out);

/* Frees the recorder; no pool may use its hooks any more. NULL: nothing. */
MPK_API void mpk_trace_free(mpk_trace *trace);

#ifdef __cplusplus
}
#endif

#endif /* MICROPOOL_TRACE_H */
