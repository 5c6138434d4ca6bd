/* trace.c: the tracing hooks: reading them from the config, and calling
 * them with the thread's index. The test of whether a hook is set is
 * inline at each site (pool.h). See docs/design.md, "Tracing". */
#include "pool.h"

#include <string.h>

int mp__tracer_read(const mp_trace_hooks *user, mp_tracer *t)
{
    memset(t, 0, sizeof *t);
    if (!user)
        return MP_OK;
    size_t size = user->size;
    if (size < offsetof(mp_trace_hooks, begin) + sizeof user->begin)
        return MP_EINVAL;
    if (size > sizeof *user) {
        const unsigned char *tail = (const unsigned char *)user + sizeof *user;
        for (size_t i = 0; i < size - sizeof *user; i++)
            if (tail[i] != 0)
                return MP_EINVAL;
    }
    t->begin = user->begin;
    if (offsetof(mp_trace_hooks, end) + sizeof user->end <= size)
        t->end = user->end;
    if (offsetof(mp_trace_hooks, trace_arg) + sizeof user->trace_arg <= size)
        t->arg = user->trace_arg;
    return MP_OK;
}

void mp__trace_call(const mp_pool *pool, bool end, int kind, const char *name)
{
    /* A worker's index, or 0 for a thread outside the pool (a borrowed
     * slot, or no link at all). */
    mp_link *l = mp__link_find(pool);
    unsigned index = l && l->index > 0 ? (unsigned)l->index : 0;
    if (end)
        pool->tracer.end(pool->tracer.arg, kind, index, name);
    else
        pool->tracer.begin(pool->tracer.arg, kind, index, name);
}
