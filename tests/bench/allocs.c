/*
 * allocs.c: heap allocations per micropool call, after a warm-up.
 *
 * It links the malloc counter of tests/common (alloc_count.c): the
 * dynamic linker binds every malloc of the process to it (libmicropool's
 * included); it counts, then hands over to glibc's own allocator. Each line it prints is "sample CALL ALLOCATIONS-PER-CALL"; the
 * answer must be 0 for every call (the driver checks it). The exit status
 * is 1 only when a call failed or computed a wrong result.
 *
 * usage: micropool-bench-allocs THREADS
 */
#define _GNU_SOURCE

#include "bench.h"

#include <micropool.h>

#include "alloc_count.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- calls */
static mp_pool *pool;

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static int body(void *arg, size_t begin, size_t end)
{
    atomic_fetch_add_explicit((atomic_size_t *)arg, end - begin, memory_order_relaxed);
    return 0;
}

static int map(void *arg, size_t begin, size_t end, void *acc)
{
    (void)arg;
    *(uint64_t *)acc += end - begin;
    return 0;
}

static void combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

struct fib_frame {
    int n;
    long r;
};

static int fib_join(void *arg)
{
    struct fib_frame *f = arg;
    if (f->n < 2) {
        f->r = f->n;
        return 0;
    }
    struct fib_frame a = { f->n - 1, 0 }, b = { f->n - 2, 0 };
    int rc = mp_join(pool, fib_join, &a, fib_join, &b);
    f->r = a.r + b.r;
    return rc;
}

enum call { JOIN, JOIN_NESTED, FOR_DYNAMIC, FOR_STATIC, REDUCE_DYNAMIC, REDUCE_STATIC, REDUCE_DET, CALLS };

static const char *const call_names[CALLS] = {
    "mp_join", "mp_join-nested", "mp_for", "mp_for-static",
    "mp_reduce", "mp_reduce-static", "mp_reduce-deterministic",
};

#define ITEMS 10000u

/* One call; 0 when it did what it should. */
static int one_call(enum call c)
{
    atomic_size_t seen = 0;
    uint64_t acc = 0;
    switch (c) {
    case JOIN:
        return mp_join(pool, nothing, NULL, nothing, NULL);
    case JOIN_NESTED: {
        struct fib_frame f = { 12, 0 };
        return fib_join(&f) != 0 || f.r != 144;
    }
    case FOR_DYNAMIC:
    case FOR_STATIC:
        if (mp_for(pool, ITEMS, 0, c == FOR_STATIC ? MP_SPLIT_STATIC : MP_SPLIT_DYNAMIC, body, &seen))
            return 1;
        return atomic_load(&seen) != ITEMS;
    case REDUCE_DYNAMIC:
    case REDUCE_STATIC:
    case REDUCE_DET: {
        unsigned flags = c == REDUCE_STATIC ? MP_SPLIT_STATIC : c == REDUCE_DET ? MP_DETERMINISTIC : 0u;
        if (mp_reduce(pool, ITEMS, 0, flags, &acc, sizeof acc, map, combine, NULL))
            return 1;
        return acc != ITEMS;
    }
    case CALLS:
        break;
    }
    return 1;
}

int main(int argc, char **argv)
{
    mp_config cfg;
    mp_config_init(&cfg);
    if (argc > 1)
        cfg.threads = (unsigned)strtoul(argv[1], NULL, 10);
    int rc = mp_pool_create(&cfg, &pool);
    if (rc != MP_OK) {
        fprintf(stderr, "allocs: mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    /* The counter must see an allocation made inside a shared library,
     * or a 0 below would prove nothing. */
    if (mpt_alloc_count_probe() != 0) {
        fprintf(stderr, "allocs: the malloc wrapper did not see libc's strdup allocate\n");
        return 1;
    }

    const unsigned warm = 2000, measured = 20000;
    for (int c = 0; c < CALLS; c++) {
        for (unsigned i = 0; i < warm; i++)
            if (one_call((enum call)c)) {
                fprintf(stderr, "allocs: %s failed\n", call_names[c]);
                return 1;
            }
        mpt_alloc_count_start();
        int bad = 0;
        for (unsigned i = 0; i < measured; i++)
            bad |= one_call((enum call)c);
        uint64_t a = (uint64_t)mpt_alloc_count_stop();
        if (bad) {
            fprintf(stderr, "allocs: %s failed\n", call_names[c]);
            return 1;
        }
        printf("sample %s %.6g\n", call_names[c], (double)a / measured);
    }
    rc = mp_pool_destroy(pool);
    if (rc != MP_OK) {
        fprintf(stderr, "allocs: mp_pool_destroy: %s\n", mp_strerror(rc));
        return 1;
    }
    return 0;
}
