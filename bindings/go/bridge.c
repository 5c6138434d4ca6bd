/*
 * Trampolines between the library's callback types and the functions that
 * callbacks.go exports. Each one only converts `arg` back to the handle
 * number and calls into Go.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "bridge.h"
#include "_cgo_export.h"

static void hook_start(void *arg, unsigned index)
{
    micropoolGoThreadHook((uintptr_t)arg, index, 1);
}

static void hook_stop(void *arg, unsigned index)
{
    micropoolGoThreadHook((uintptr_t)arg, index, 0);
}

void micropool_go_config(mp_config *cfg, unsigned threads, int spin_us,
                         int pin, const char *name, uintptr_t hooks)
{
    mp_config_init(cfg);
    cfg->threads = threads;
    if (spin_us >= 0)
        cfg->spin_us = (unsigned)spin_us;
    cfg->pin = pin;
    cfg->name = name;
    if (hooks != 0) {
        cfg->on_thread_start = hook_start;
        cfg->on_thread_stop = hook_stop;
        cfg->hook_arg = (void *)hooks;
    }
}

static void trace_begin(void *arg, int kind, unsigned index, const char *name)
{
    micropoolGoTrace((uintptr_t)arg, kind, index, (char *)name, 0);
}

static void trace_end(void *arg, int kind, unsigned index, const char *name)
{
    micropoolGoTrace((uintptr_t)arg, kind, index, (char *)name, 1);
}

int micropool_go_create(mp_config *cfg, uintptr_t trace, mp_pool **out)
{
    mp_trace_hooks hooks = {sizeof hooks, trace_begin, trace_end, (void *)trace};
    if (trace != 0)
        cfg->trace = &hooks;
    int rc = mp_pool_create(cfg, out);
    cfg->trace = NULL;
    return rc;
}

size_t micropool_go_stack_size(void)
{
    pthread_attr_t attr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return 0;
    pthread_attr_getstacksize(&attr, &size);
    pthread_attr_destroy(&attr);
    return size;
}

static int join_a(void *arg)
{
    return micropoolGoJoinPart((uintptr_t)arg, 0);
}

static int join_b(void *arg)
{
    return micropoolGoJoinPart((uintptr_t)arg, 1);
}

int micropool_go_join(mp_pool *pool, uintptr_t h)
{
    return mp_join(pool, join_a, (void *)h, join_b, (void *)h);
}

static int range_body(void *arg, size_t begin, size_t end)
{
    return micropoolGoRange((uintptr_t)arg, begin, end);
}

int micropool_go_for(mp_pool *pool, size_t n, size_t grain, unsigned flags,
                     uintptr_t h)
{
    return mp_for(pool, n, grain, flags, range_body, (void *)h);
}

static int reduce_map(void *arg, size_t begin, size_t end, void *acc)
{
    return micropoolGoMap((uintptr_t)arg, begin, end, (uint64_t *)acc);
}

static void reduce_combine(void *arg, void *acc, const void *other)
{
    uint64_t slot = *(const uint64_t *)other;
    micropoolGoCombine((uintptr_t)arg, (uint64_t *)acc, slot);
}

int micropool_go_reduce(mp_pool *pool, size_t n, size_t grain, unsigned flags,
                        uint64_t *acc, uintptr_t h)
{
    return mp_reduce(pool, n, grain, flags, acc, sizeof *acc,
                     reduce_map, reduce_combine, (void *)h);
}

static int broadcast_part(void *arg, unsigned index, unsigned count)
{
    return micropoolGoBroadcast((uintptr_t)arg, index, count);
}

int micropool_go_broadcast(mp_pool *pool, uintptr_t h)
{
    return mp_broadcast(pool, broadcast_part, (void *)h);
}

static int scope_body(mp_scope *scope, void *arg)
{
    return micropoolGoScopeBody(scope, (uintptr_t)arg);
}

int micropool_go_scope_run(mp_pool *pool, uintptr_t h)
{
    return mp_scope_run(pool, scope_body, (void *)h);
}

static int run_task(void *arg)
{
    return micropoolGoTask((uintptr_t)arg);
}

int micropool_go_scope_spawn(mp_scope *scope, uintptr_t h)
{
    return mp_scope_spawn(scope, run_task, (void *)h);
}

int micropool_go_submit(mp_pool *pool, uintptr_t h, mp_task **task)
{
    return mp_submit(pool, run_task, (void *)h, task);
}

int micropool_go_submit_ex(mp_pool *pool, uintptr_t h, int priority, unsigned thread,
                           mp_task *const *after, size_t nafter, unsigned flags,
                           const char *name, mp_task **task)
{
    mp_task_opts opts;
    mp_task_opts_init(&opts);
    opts.priority = priority;
    opts.thread = thread;
    opts.after = after;
    opts.nafter = nafter;
    opts.flags = flags;
    opts.name = name;
    return mp_submit_ex(pool, run_task, (void *)h, &opts, task);
}

int micropool_go_readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

void micropool_go_strerror(int code, char *buf, size_t len)
{
    snprintf(buf, len, "%s", mp_strerror(code));
}
