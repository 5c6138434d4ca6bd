/*
 * The tracing-hook recorder; see micropool_trace.h.
 */
#define _POSIX_C_SOURCE 200809L

#include "micropool_trace.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct mpk_trace {
    mp_trace_hooks   hooks;
    mpk_trace_event *events;
    size_t           capacity;
    atomic_size_t    next;      /* slots taken; may pass capacity */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record(mpk_trace *t, uint32_t phase, int kind, unsigned index, const char *name)
{
    uint64_t ns = now_ns();
    size_t i = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
    if (i >= t->capacity)
        return;
    mpk_trace_event *e = &t->events[i];
    e->ns = ns;
    e->name = name;
    e->kind = kind;
    e->index = index;
    e->phase = phase;
    /* Pairs with the acquire load in mpk_trace_read. */
    __atomic_store_n(&e->ready, 1u, __ATOMIC_RELEASE);
}

static void hook_begin(void *arg, int kind, unsigned index, const char *name)
{
    record(arg, MPK_TRACE_BEGIN, kind, index, name);
}

static void hook_end(void *arg, int kind, unsigned index, const char *name)
{
    record(arg, MPK_TRACE_END, kind, index, name);
}

mpk_trace *mpk_trace_new(size_t capacity)
{
    if (capacity == 0 || capacity > SIZE_MAX / sizeof(mpk_trace_event))
        return NULL;
    mpk_trace *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    /* calloc: every `ready` flag starts clear. */
    t->events = calloc(capacity, sizeof *t->events);
    if (!t->events) {
        free(t);
        return NULL;
    }
    t->capacity = capacity;
    atomic_init(&t->next, 0);
    t->hooks.size = sizeof t->hooks;
    t->hooks.begin = hook_begin;
    t->hooks.end = hook_end;
    t->hooks.trace_arg = t;
    return t;
}

const mp_trace_hooks *mpk_trace_hooks(const mpk_trace *trace)
{
    return trace ? &trace->hooks : NULL;
}

size_t mpk_trace_count(const mpk_trace *trace)
{
    return trace ? atomic_load_explicit(&trace->next, memory_order_relaxed) : 0;
}

size_t mpk_trace_capacity(const mpk_trace *trace)
{
    return trace ? trace->capacity : 0;
}

size_t mpk_trace_read(const mpk_trace *trace, size_t from, size_t max, mpk_trace_event *out)
{
    if (!trace || !out || from >= trace->capacity)
        return 0;
    size_t n = 0;
    for (size_t i = from; i < trace->capacity && n < max; i++, n++) {
        const mpk_trace_event *e = &trace->events[i];
        if (!__atomic_load_n(&e->ready, __ATOMIC_ACQUIRE))
            break;
        out[n] = *e;
    }
    return n;
}

void mpk_trace_free(mpk_trace *trace)
{
    if (!trace)
        return;
    free(trace->events);
    free(trace);
}
