/*
 * Bad input across the whole ABI: NULL pointers, zero and huge sizes,
 * unknown flags, mp_config with short, long and dirty sizes, thread counts
 * beyond any reasonable one, statistics structs of every size, destroy
 * from inside the pool's own work, task handles used after their pool is
 * gone. Each must get its documented answer and nothing may run that the
 * header says does not run. Run it under ASan/UBSan too (the sanitizer
 * tree does): "never memory corruption" is checked there.
 *
 * What is not tried, because it is undefined by contract (as with free()):
 * a second mp_pool_destroy of the same pool, any call on a pool after its
 * destroy started on another thread, a second mp_task_release, spawning
 * into a scope that has returned. docs/reliability.md lists them.
 *
 * Prints the number of bad inputs tried; exits 0 only if every one got its
 * documented answer. It also holds the Criterion suite's former checks of
 * NULL arguments and unknown flags (unit/test_errors.c keeps the error
 * codes and how errors travel).
 */
#include <limits.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <micropool.h>

#include "check.h"

static atomic_int called;
static int sentinel_target; /* its address is a pool no call may write */

static int fn0(void *arg)
{
    (void)arg;
    atomic_fetch_add(&called, 1);
    return 0;
}
static int range0(void *arg, size_t b, size_t e)
{
    (void)arg;
    (void)b;
    (void)e;
    atomic_fetch_add(&called, 1);
    return 0;
}
static int map0(void *arg, size_t b, size_t e, void *acc)
{
    (void)arg;
    (void)b;
    (void)e;
    (void)acc;
    atomic_fetch_add(&called, 1);
    return 0;
}
static void combine0(void *arg, void *acc, const void *other)
{
    (void)arg;
    (void)acc;
    (void)other;
    atomic_fetch_add(&called, 1);
}
static int bcast0(void *arg, unsigned i, unsigned n)
{
    (void)arg;
    (void)i;
    (void)n;
    atomic_fetch_add(&called, 1);
    return 0;
}
static int scope0(mp_scope *s, void *arg)
{
    (void)s;
    (void)arg;
    atomic_fetch_add(&called, 1);
    return 0;
}

static mp_pool *make_pool(unsigned threads)
{
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = threads;
    mp_pool *p = NULL;
    if (mp_pool_create(&cfg, &p) != MP_OK) {
        fprintf(stderr, "FAIL: cannot create a pool of %u threads\n", threads);
        exit(1);
    }
    return p;
}

/* ------------------------------------------------------------ NULLs */

static void nulls(mp_pool *pool)
{
    uint64_t acc = 0;
    mp_task *t = NULL;
    mp_stats st = {.size = sizeof st};
    mp_config cfg;
    mp_config_init(NULL); /* does nothing */
    mp_config_init(&cfg);
    MPT_EXPECT(mp_pool_create(NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_pool_create(&cfg, NULL), MP_EINVAL);
    MPT_EXPECT(mp_pool_destroy(NULL), MP_EINVAL);
    MPT_EXPECT((int)mp_pool_threads(NULL), 0);
    MPT_EXPECT(mp_pool_thread_index(NULL), -1);
    MPT_EXPECT(mp_pool_stats(NULL, &st), MP_EINVAL);
    MPT_EXPECT(mp_pool_stats(pool, NULL), MP_EINVAL);
    MPT_EXPECT(mp_join(NULL, fn0, NULL, fn0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_join(pool, NULL, NULL, fn0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_join(pool, fn0, NULL, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_join(pool, NULL, NULL, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_for(NULL, 10, 1, 0, range0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_for(pool, 10, 1, 0, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_for(NULL, 0, 0, 0, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_reduce(NULL, 10, 1, 0, &acc, 8, map0, combine0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_reduce(pool, 10, 1, 0, NULL, 8, map0, combine0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_reduce(pool, 10, 1, 0, &acc, 8, NULL, combine0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_reduce(pool, 10, 1, 0, &acc, 8, map0, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_reduce(pool, 0, 1, 0, NULL, 0, NULL, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_broadcast(NULL, bcast0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_broadcast(pool, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_scope_run(NULL, scope0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_scope_run(pool, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_scope_spawn(NULL, fn0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_scope_spawn(NULL, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_submit(NULL, fn0, NULL, &t), MP_EINVAL);
    MPT_EXPECT(mp_submit(pool, NULL, NULL, &t), MP_EINVAL);
    MPT_EXPECT(mp_submit(pool, NULL, NULL, NULL), MP_EINVAL);
    MPT_EXPECT(mp_task_wait(NULL), MP_EINVAL);
    MPT_EXPECT(mp_task_wait_for(NULL, 0), MP_EINVAL);
    MPT_EXPECT(mp_pool_shared(NULL), MP_EINVAL);
    MPT_EXPECT(mp_task_wait_for(NULL, UINT64_MAX), MP_EINVAL);
    MPT_EXPECT(mp_task_done(NULL), MP_EINVAL);
    MPT_EXPECT(mp_task_cancel(NULL), MP_EINVAL);
    mp_task_release(NULL);
    mpt_tried(1);
    MPT_CHECKF(t == NULL, "a refused mp_submit wrote a handle");
    MPT_CHECKF(mp_strerror(INT_MIN) != NULL && mp_strerror(INT_MAX) != NULL, "mp_strerror NULL");
    mpt_tried(2);
}

/* mp_submit_ex's refusals (since 1.1): each is MP_EINVAL before anything
 * is queued, with *task untouched; fn0 must never run (checked after the
 * pool's end). */
static void submit_ex_refused(mp_pool *pool, const mp_task_opts *o, const char *what)
{
    mp_task *t = (mp_task *)&sentinel_target;
    int rc = mp_submit_ex(pool, fn0, NULL, o, &t);
    MPT_CHECKF(rc == MP_EINVAL, "mp_submit_ex with %s returned %d, want MP_EINVAL", what, rc);
    MPT_CHECKF(t == (mp_task *)&sentinel_target, "mp_submit_ex with %s wrote *task", what);
    rc = mp_submit_ex(pool, fn0, NULL, o, NULL);
    MPT_CHECKF(rc == MP_EINVAL, "detached mp_submit_ex with %s returned %d", what, rc);
    mpt_tried(3);
}

static void task_opts(mp_pool *pool, mp_pool *other)
{
    mp_task *t = (mp_task *)&sentinel_target;
    mp_task_opts o;
    mp_task_opts_init(&o);
    MPT_EXPECT(mp_submit_ex(NULL, fn0, NULL, &o, &t), MP_EINVAL);
    MPT_EXPECT(mp_submit_ex(pool, NULL, NULL, &o, &t), MP_EINVAL);
    MPT_EXPECT(mp_submit_ex(NULL, NULL, NULL, NULL, NULL), MP_EINVAL);
    MPT_CHECKF(t == (mp_task *)&sentinel_target, "a refused mp_submit_ex wrote a handle");
    mpt_tried(1);

    static const int prios[] = {2, -2, 100, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof prios / sizeof *prios; i++) {
        mp_task_opts_init(&o);
        o.priority = prios[i];
        submit_ex_refused(pool, &o, "a priority out of range");
    }
    unsigned n = mp_pool_threads(pool);
    const unsigned threads[] = {n, n + 1, n + 1000, MP_ANY_THREAD - 1, UINT_MAX / 2};
    for (size_t i = 0; i < sizeof threads / sizeof *threads; i++) {
        mp_task_opts_init(&o);
        o.thread = threads[i];
        submit_ex_refused(pool, &o, "a thread index out of range");
    }
    const unsigned flags[] = {2u, 4u, 0x80000000u, ~0u, MP_AFTER_CANCEL_ON_ERROR | 8u};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        mp_task_opts_init(&o);
        o.flags = flags[i];
        submit_ex_refused(pool, &o, "unknown flags");
    }
    const size_t counts[] = {1, 2, (size_t)UINT32_MAX, SIZE_MAX / 2, SIZE_MAX};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        mp_task_opts_init(&o);
        o.after = NULL;
        o.nafter = counts[i];
        submit_ex_refused(pool, &o, "after NULL and nafter > 0");
    }
    /* Counts no array can have: refused before the array is read. */
    mp_task *one = NULL;
    MPT_EXPECT(mp_submit(pool, fn0, NULL, &one), MP_OK);
    const size_t huge[] = {(size_t)UINT32_MAX - 1, (size_t)UINT32_MAX, SIZE_MAX / 16, SIZE_MAX};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        mp_task_opts_init(&o);
        o.after = &one;
        o.nafter = huge[i];
        submit_ex_refused(pool, &o, "a count of prerequisites no array can have");
    }
    mp_task *theirs = NULL;
    MPT_EXPECT(mp_submit(other, fn0, NULL, &theirs), MP_OK);
    mp_task *mixed[3] = {one, theirs, one};
    mp_task_opts_init(&o);
    o.after = mixed;
    o.nafter = 3;
    submit_ex_refused(pool, &o, "a prerequisite of another pool");
    mp_task *with_null[3] = {one, one, NULL};
    o.after = with_null;
    submit_ex_refused(pool, &o, "a NULL prerequisite");

    /* The size rule. */
    const size_t sizes[] = {0, 1, offsetof(mp_task_opts, priority),
                            offsetof(mp_task_opts, priority) + sizeof(int) - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        mp_task_opts_init(&o);
        o.size = sizes[i];
        submit_ex_refused(pool, &o, "a size that does not cover priority");
    }
    struct {
        mp_task_opts o;
        unsigned char tail[24];
    } big;
    for (size_t k = 0; k < sizeof big.tail; k += 5) {
        memset(&big, 0, sizeof big);
        mp_task_opts_init(&big.o);
        big.o.size = sizeof big;
        big.tail[k] = 0xff;
        submit_ex_refused(pool, &big.o, "junk past the library's struct");
    }

    MPT_EXPECT(mp_pool_run_pinned(NULL, 0), MP_EINVAL);
    MPT_EXPECT(mp_pool_run_pinned(NULL, UINT64_MAX), MP_EINVAL);
    MPT_EXPECT(mp_pool_run_pinned(pool, UINT64_MAX), 0);
    MPT_EXPECT(mp_pool_pinned_fd(NULL), MP_EINVAL);
    MPT_EXPECT(mp_yield(NULL), MP_EINVAL);
    mp_task_opts_init(NULL);
    MPT_EXPECT(mp_task_wait(one), 0);
    MPT_EXPECT(mp_task_wait(theirs), 0);
    mp_task_release(one);
    mp_task_release(theirs);
    atomic_fetch_sub(&called, 2);   /* the two prerequisites, which ran on purpose */
}

/* A scope body that spawns with a NULL function. */
static int spawn_null_body(mp_scope *s, void *arg)
{
    (void)arg;
    return mp_scope_spawn(s, NULL, NULL) == MP_EINVAL ? 0 : 1;
}

/* ------------------------------------------------------------ flags */

static void flags(mp_pool *pool)
{
    uint64_t acc = 0;
    for (unsigned bit = 2; bit < 32; bit++) {
        MPT_EXPECT(mp_for(pool, 100, 1, 1u << bit, range0, NULL), MP_EINVAL);
        MPT_EXPECT(mp_reduce(pool, 100, 1, 1u << bit, &acc, 8, map0, combine0, NULL), MP_EINVAL);
        /* Even with nothing to do: the flags are checked first. */
        MPT_EXPECT(mp_for(pool, 0, 0, 1u << bit | MP_SPLIT_STATIC, range0, NULL), MP_EINVAL);
    }
    MPT_EXPECT(mp_for(pool, 100, 1, ~0u, range0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_reduce(pool, 100, 1, ~0u, &acc, 8, map0, combine0, NULL), MP_EINVAL);
    /* The two known bits together are accepted (nothing has run so far:
     * every call before was refused). */
    MPT_CHECKF(atomic_load(&called) == 0, "a callback ran for a refused call");
    MPT_EXPECT(mp_for(pool, 100, 1, MP_SPLIT_STATIC | MP_DETERMINISTIC, range0, NULL), MP_OK);
    MPT_CHECKF(atomic_load(&called) > 0, "an accepted mp_for ran no body");
    atomic_store(&called, 0);
}

/* ------------------------------------------------------------ sizes */

struct bounds {
    size_t n;
    atomic_int bad;
    atomic_long calls;
    int fail;
};

static int bounded_body(void *arg, size_t b, size_t e)
{
    struct bounds *bd = arg;
    atomic_fetch_add(&bd->calls, 1);
    if (!(b < e && e <= bd->n))
        atomic_store(&bd->bad, 1);
    return bd->fail;
}

static int bounded_map(void *arg, size_t b, size_t e, void *acc)
{
    (void)acc;
    return bounded_body(arg, b, e);
}

static void sizes(mp_pool *pool)
{
    uint64_t acc = 0;

    /* zero */
    MPT_EXPECT(mp_for(pool, 0, 0, 0, range0, NULL), MP_OK);
    MPT_EXPECT(mp_for(pool, 0, SIZE_MAX, MP_SPLIT_STATIC, range0, NULL), MP_OK);
    acc = 12345;
    MPT_EXPECT(mp_reduce(pool, 0, 0, 0, &acc, 8, map0, combine0, NULL), MP_OK);
    MPT_CHECKF(acc == 12345, "n = 0 changed acc");
    MPT_EXPECT(mp_reduce(pool, 10, 1, 0, &acc, 0, map0, combine0, NULL), MP_EINVAL);
    MPT_EXPECT(mp_reduce(pool, 0, 1, 0, &acc, 0, map0, combine0, NULL), MP_EINVAL);
    MPT_CHECKF(atomic_load(&called) == 0, "a callback ran for an empty or refused call");

    /* huge n and grain: every range in bounds and non-empty; a body that
     * fails at once stops the loop (so SIZE_MAX items are not visited). */
    static const size_t grains[] = {0, 1, 1000, SIZE_MAX / 2, SIZE_MAX};
    static const unsigned fl[] = {MP_SPLIT_DYNAMIC, MP_SPLIT_STATIC, MP_DETERMINISTIC};
    for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++)
        for (size_t f = 0; f < 3; f++) {
            struct bounds bd = {.n = SIZE_MAX, .fail = 3};
            MPT_EXPECT(mp_for(pool, SIZE_MAX, grains[g], fl[f], bounded_body, &bd), 3);
            MPT_CHECKF(!atomic_load(&bd.bad), "a range out of [0, SIZE_MAX)");
            struct bounds br = {.n = SIZE_MAX, .fail = 4};
            uint64_t a = 0;
            MPT_EXPECT(mp_reduce(pool, SIZE_MAX, grains[g], fl[f], &a, sizeof a, bounded_map,
                             combine0, &br),
                   4);
            MPT_CHECKF(!atomic_load(&br.bad), "a reduce range out of [0, SIZE_MAX)");
            /* a huge grain on a small loop: one inline call */
            struct bounds small = {.n = 1000, .fail = 0};
            MPT_EXPECT(mp_for(pool, 1000, grains[g], fl[f], bounded_body, &small), MP_OK);
            MPT_CHECKF(!atomic_load(&small.bad), "a range out of [0, 1000)");
        }
}

/* A huge accumulator size cannot be copied into per-part accumulators:
 * MP_ENOMEM, before anything reads past the caller's buffer. (The caller's
 * buffer is small here: the call must refuse before using it.) Its own
 * test (badinput_huge_acc), so that a crash here does not hide the rest.
 *
 * mp_reduce computes three sizes from acc_size: the stride (acc_size
 * rounded up to a cache line), parts * stride, and a copy of acc_size
 * bytes for the single-part path with an unaligned accumulator. The sweep
 * tries every acc_size within 130 of each value where one of them wraps,
 * for several part counts (MP_DETERMINISTIC with grain 1 makes exactly
 * `parts` parts), and the dynamic and static splits, whose part counts the
 * pool chooses. Values below 2^40 are left out: an allocation of that
 * size may succeed. */
static void huge_acc_one(mp_pool *pool, size_t parts, size_t acc_size)
{
    alignas(max_align_t) unsigned char small_acc[64] = {0};
    atomic_store(&called, 0);
    MPT_EXPECT(mp_reduce(pool, parts, 1, MP_DETERMINISTIC, small_acc, acc_size, map0, combine0,
                     NULL),
           MP_ENOMEM);
    MPT_EXPECT(mp_reduce(pool, 100000, 1, 0, small_acc, acc_size, map0, combine0, NULL),
           MP_ENOMEM);
    MPT_EXPECT(mp_reduce(pool, 100000, 1, MP_SPLIT_STATIC, small_acc, acc_size, map0, combine0,
                     NULL),
           MP_ENOMEM);
    /* one part, an unaligned accumulator: it must be copied */
    MPT_EXPECT(mp_reduce(pool, 1, 0, 0, small_acc + 1, acc_size, map0, combine0, NULL), MP_ENOMEM);
    MPT_CHECKF(atomic_load(&called) == 0, "a callback ran although the call was refused "
          "(parts %zu, acc_size %zu)", parts, acc_size);
}

static void huge_acc(mp_pool *pool)
{
    static const size_t part_counts[] = {2, 3, 7, 8, 63, MP_REDUCE_PARTS_MAX};
    const size_t floor = (size_t)1 << 40;
    for (size_t k = 0; k < sizeof part_counts / sizeof part_counts[0]; k++) {
        size_t parts = part_counts[k];
        /* where stride wraps, where parts * stride wraps (the largest
         * stride that fits, and the acc_size that rounds up to it), and
         * powers of two near both */
        const size_t edges[] = {SIZE_MAX,
                                SIZE_MAX / parts,
                                SIZE_MAX / parts / MP_ACC_INLINE_MAX * MP_ACC_INLINE_MAX,
                                (size_t)1 << 58,
                                (size_t)1 << 63,
                                floor + 130};
        for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++)
            for (long d = -130; d <= 130; d++) {
                size_t acc_size = edges[e] + (size_t)d;
                if ((d > 0 && acc_size < edges[e]) || (d < 0 && acc_size > edges[e]))
                    continue;               /* past either end of size_t */
                if (acc_size < floor)
                    continue;
                huge_acc_one(pool, parts, acc_size);
            }
    }
}

/* ------------------------------------------------------------ config */

static atomic_int hook_names_ok, hook_names_bad;
static char expected_name[16];

static void name_hook(void *arg, unsigned index)
{
    (void)arg;
    char got[64] = {0};
    char want[64];
    snprintf(want, sizeof want, "%s-%u", expected_name, index);
    want[15] = '\0';
    pthread_getname_np(pthread_self(), got, sizeof got);
    if (strcmp(got, want) == 0)
        atomic_fetch_add(&hook_names_ok, 1);
    else
        atomic_fetch_add(&hook_names_bad, 1);
}

/* mp_pool_create refuses cfg with MP_EINVAL and leaves *out alone. */
static void expect_refused(const mp_config *cfg)
{
    mp_pool *sentinel = (mp_pool *)(void *)&sentinel_target, *p = sentinel;
    MPT_EXPECT(mp_pool_create(cfg, &p), MP_EINVAL);
    MPT_CHECKF(p == sentinel, "a refused create wrote *out");
}

static void config(void)
{
    mp_pool *sentinel = (mp_pool *)(void *)&sentinel_target;
    mp_pool *p = sentinel;
    unsigned char raw[sizeof(mp_config) + 64];
    mp_config *cfg = (mp_config *)(void *)raw;

    /* too-large size with a non-zero byte anywhere in the tail */
    for (size_t i = 0; i < 64; i++) {
        memset(raw, 0, sizeof raw);
        mp_config_init(cfg);
        cfg->threads = 2;
        cfg->size = sizeof raw;
        raw[sizeof(mp_config) + i] = 0x80;
        MPT_EXPECT(mp_pool_create(cfg, &p), MP_EINVAL);
        MPT_CHECKF(p == sentinel, "a refused create wrote *out");
    }
    /* too-large size, zero tail: a newer caller, accepted */
    memset(raw, 0, sizeof raw);
    mp_config_init(cfg);
    cfg->threads = 2;
    for (size_t extra = 1; extra <= 64; extra *= 2) {
        cfg->size = sizeof(mp_config) + extra;
        p = NULL;
        MPT_EXPECT(mp_pool_create(cfg, &p), MP_OK);
        if (p) {
            MPT_EXPECT((int)mp_pool_threads(p), 2);
            MPT_EXPECT(mp_pool_destroy(p), MP_OK);
        }
    }
    /* sizes that do not cover `threads` */
    size_t need = offsetof(mp_config, threads) + sizeof(unsigned);
    for (size_t s = 0; s < need; s++) {
        mp_config_init(cfg);
        cfg->size = s;
        p = sentinel;
        MPT_EXPECT(mp_pool_create(cfg, &p), MP_EINVAL);
        MPT_CHECKF(p == sentinel, "a refused create wrote *out");
    }
    /* every older size from `threads` on: the fields beyond it get their
     * defaults, even if the caller's bytes there are garbage */
    for (size_t s = need; s <= sizeof(mp_config); s++) {
        memset(raw, 0xff, sizeof raw);
        cfg->size = s;
        cfg->threads = 2;
        if (s >= offsetof(mp_config, spin_us) + sizeof(unsigned))
            cfg->spin_us = 1;
        if (s >= offsetof(mp_config, pin) + sizeof(int))
            cfg->pin = 0;
        if (s >= offsetof(mp_config, name) + sizeof(char *))
            cfg->name = NULL;
        if (s >= offsetof(mp_config, on_thread_start) + sizeof(void *))
            cfg->on_thread_start = NULL;
        if (s >= offsetof(mp_config, on_thread_stop) + sizeof(void *))
            cfg->on_thread_stop = NULL;
        if (s >= offsetof(mp_config, stack_size) + sizeof(size_t))
            cfg->stack_size = 0;
        if (s >= offsetof(mp_config, trace) + sizeof(void *))
            cfg->trace = NULL;
        /* a size that cuts a field in two: the field is not read and keeps
         * its default, so the call is accepted all the same */
        p = NULL;
        MPT_EXPECT(mp_pool_create(cfg, &p), MP_OK);
        if (p)
            MPT_EXPECT(mp_pool_destroy(p), MP_OK);
    }
    /* stack sizes below the minimum, or too large to round up to a page */
    const size_t stacks[] = {1, 4096, (size_t)PTHREAD_STACK_MIN - 1, SIZE_MAX,
                             SIZE_MAX - 100};
    for (size_t i = 0; i < sizeof stacks / sizeof stacks[0]; i++) {
        mp_config_init(cfg);
        cfg->threads = 2;
        cfg->stack_size = stacks[i];
        expect_refused(cfg);
    }
    /* tracing hooks (1.1) whose size does not cover `begin`, or with junk
     * past the library's struct */
    static const size_t hook_sizes[] = {0, 1, offsetof(mp_trace_hooks, begin),
                                        offsetof(mp_trace_hooks, begin) + sizeof(void *) - 1};
    for (size_t i = 0; i < sizeof hook_sizes / sizeof hook_sizes[0]; i++) {
        mp_trace_hooks h = {hook_sizes[i], NULL, NULL, NULL};
        mp_config_init(cfg);
        cfg->threads = 2;
        cfg->trace = &h;
        expect_refused(cfg);
    }
    for (size_t k = 0; k < 16; k += 3) {
        struct {
            mp_trace_hooks h;
            unsigned char tail[16];
        } big;
        memset(&big, 0, sizeof big);
        big.h.size = sizeof big;
        big.tail[k] = 1;
        mp_config_init(cfg);
        cfg->threads = 2;
        cfg->trace = &big.h;
        expect_refused(cfg);
    }
    /* threads beyond any reasonable count, pin not 0 or 1 */
    static const unsigned threads[] = {MP_THREADS_MAX + 1, 4096, 1u << 20, UINT_MAX};
    for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
        mp_config_init(cfg);
        cfg->threads = threads[i];
        expect_refused(cfg);
    }
    static const int pins[] = {-1, 2, 3, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        mp_config_init(cfg);
        cfg->threads = 2;
        cfg->pin = pins[i];
        expect_refused(cfg);
    }
    /* the largest spin window; created, used and destroyed */
    mp_config_init(cfg);
    cfg->threads = 2;
    cfg->spin_us = UINT_MAX;
    p = NULL;
    MPT_EXPECT(mp_pool_create(cfg, &p), MP_OK);
    if (p) {
        atomic_store(&called, 0);
        MPT_EXPECT(mp_join(p, fn0, NULL, fn0, NULL), MP_OK);
        MPT_EXPECT(atomic_load(&called), 2);
        MPT_EXPECT(mp_pool_destroy(p), MP_OK);
    }
    /* names: very long (cut to 15 characters) and empty */
    static char long_name[1001];
    memset(long_name, 'n', 1000);
    const char *names[] = {long_name, "", "a-b c\tq"};
    for (size_t i = 0; i < 3; i++) {
        mp_config_init(cfg);
        cfg->threads = 3;
        cfg->name = names[i];
        snprintf(expected_name, sizeof expected_name, "%s", names[i]);
        cfg->on_thread_start = name_hook;
        atomic_store(&hook_names_ok, 0);
        atomic_store(&hook_names_bad, 0);
        p = NULL;
        MPT_EXPECT(mp_pool_create(cfg, &p), MP_OK);
        if (p)
            MPT_EXPECT(mp_pool_destroy(p), MP_OK);
        MPT_CHECKF(atomic_load(&hook_names_ok) == 2 && atomic_load(&hook_names_bad) == 0,
              "thread names for name #%zu: %d right, %d wrong", i,
              atomic_load(&hook_names_ok), atomic_load(&hook_names_bad));
    }
}

/* ------------------------------------------------------------ stats */

static void stats(mp_pool *pool)
{
    unsigned char buf[sizeof(mp_stats) + 64];
    size_t need = offsetof(mp_stats, jobs) + sizeof(uint64_t);
    for (size_t s = 0; s < sizeof buf; s++) {
        memset(buf, 0xA5, sizeof buf);
        memcpy(buf, &s, sizeof s);
        MPT_EXPECT(mp_pool_stats(pool, (mp_stats *)(void *)buf), s < need ? MP_EINVAL : MP_OK);
        size_t from = s < need ? sizeof s : (s < sizeof(mp_stats) ? s : sizeof(mp_stats));
        for (size_t i = from; i < sizeof buf; i++)
            if (buf[i] != 0xA5) {
                MPT_CHECKF(0, "mp_pool_stats with size %zu wrote byte %zu", s, i);
                break;
            }
    }
}

/* ------------------------------------------------------------ destroy */

struct self_destroy {
    mp_pool *pool;
    mp_pool *other;   /* a different pool: destroying it is fine */
    atomic_int wrong;
    atomic_int tries;
};

static void try_destroy(struct self_destroy *sd)
{
    atomic_fetch_add(&sd->tries, 1);
    if (mp_pool_destroy(sd->pool) != MP_EDEADLK)
        atomic_fetch_add(&sd->wrong, 1);
}

static int sd_fn(void *arg)
{
    try_destroy(arg);
    return 0;
}
static int sd_range(void *arg, size_t b, size_t e)
{
    (void)b;
    (void)e;
    try_destroy(arg);
    return 0;
}
static int sd_bcast(void *arg, unsigned i, unsigned n)
{
    (void)i;
    (void)n;
    try_destroy(arg);
    return 0;
}
static int sd_scope(mp_scope *s, void *arg)
{
    try_destroy(arg);
    return mp_scope_spawn(s, sd_fn, arg);
}
/* Inside pool B's work, called from inside pool A's: A is still on the
 * thread's chain, so destroying A is refused there too. Only the first
 * half tries: it runs on this thread, while the second half may run on a
 * worker of B, which is not inside A (destroying A from there, while this
 * thread is inside A, would be a use after free by contract). */
static int sd_nested(void *arg)
{
    struct self_destroy *sd = arg;
    return mp_join(sd->other, sd_fn, sd, fn0, NULL);
}

static void destroy_inside(void)
{
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        struct self_destroy sd = {.pool = make_pool(threads), .other = make_pool(2)};
        MPT_EXPECT(mp_join(sd.pool, sd_fn, &sd, sd_fn, &sd), MP_OK);
        MPT_EXPECT(mp_for(sd.pool, 64, 1, 0, sd_range, &sd), MP_OK);
        MPT_EXPECT(mp_broadcast(sd.pool, sd_bcast, &sd), MP_OK);
        MPT_EXPECT(mp_scope_run(sd.pool, sd_scope, &sd), MP_OK);
        mp_task *t = NULL;
        MPT_EXPECT(mp_submit(sd.pool, sd_fn, &sd, &t), MP_OK);
        MPT_EXPECT(mp_task_wait(t), 0);
        mp_task_release(t);
        MPT_EXPECT(mp_join(sd.pool, sd_nested, &sd, fn0, NULL), MP_OK);
        mpt_tried(atomic_load(&sd.tries));
        MPT_CHECKF(atomic_load(&sd.wrong) == 0, "%d of %d destroys from inside were not MP_EDEADLK",
              atomic_load(&sd.wrong), atomic_load(&sd.tries));
        MPT_EXPECT(mp_pool_destroy(sd.other), MP_OK);
        MPT_EXPECT(mp_pool_destroy(sd.pool), MP_OK);
    }
}

/* ------------------------------------------------------------ handles */

static int value_fn(void *arg)
{
    return (int)(intptr_t)arg;
}

static void handles(void)
{
    mp_pool *pool = make_pool(1); /* tasks run only when waited for */
    mp_task *a = NULL, *b = NULL, *c = NULL;
    MPT_EXPECT(mp_submit(pool, value_fn, (void *)(intptr_t)41, &a), MP_OK);
    MPT_EXPECT(mp_submit(pool, value_fn, (void *)(intptr_t)42, &b), MP_OK);
    MPT_EXPECT(mp_submit(pool, value_fn, (void *)(intptr_t)43, &c), MP_OK);
    MPT_EXPECT(mp_task_done(a), 0);
    MPT_EXPECT(mp_task_cancel(b), MP_OK);
    MPT_EXPECT(mp_task_cancel(b), MP_OK);        /* already cancelled */
    MPT_EXPECT(mp_task_done(b), 1);
    /* A bounded wait never runs a task: on one thread it only times out,
     * and leaves the task as it was. */
    MPT_EXPECT(mp_task_wait_for(a, 0), MP_ETIMEDOUT);
    MPT_EXPECT(mp_task_wait_for(a, 1000000), MP_ETIMEDOUT);
    MPT_EXPECT(mp_task_done(a), 0);
    MPT_EXPECT(mp_task_wait_for(b, 0), MP_ECANCELED);
    MPT_EXPECT(mp_task_wait_for(b, UINT64_MAX), MP_ECANCELED);
    MPT_EXPECT(mp_task_wait(a), 41);
    MPT_EXPECT(mp_task_wait_for(a, UINT64_MAX), 41);
    MPT_EXPECT(mp_task_wait(a), 41);             /* waiting again */
    MPT_EXPECT(mp_task_cancel(a), MP_EBUSY);     /* finished */
    MPT_EXPECT(mp_pool_destroy(pool), MP_OK);    /* runs c */
    /* handles outlive their pool */
    MPT_EXPECT(mp_task_done(c), 1);
    MPT_EXPECT(mp_task_wait(c), 43);
    MPT_EXPECT(mp_task_cancel(c), MP_EBUSY);
    MPT_EXPECT(mp_task_wait(b), MP_ECANCELED);
    MPT_EXPECT(mp_task_wait_for(c, 0), 43);
    MPT_EXPECT(mp_task_done(a), 1);
    mp_task_release(a);
    mp_task_release(b);
    mp_task_release(c);
}

/* A task that submits while its pool is being destroyed. */
static int submit_during_destroy(void *arg)
{
    mp_pool **pp = arg;
    return mp_submit(*pp, fn0, NULL, NULL);
}

static void shutdown_submit(void)
{
    mp_pool *pool = make_pool(2);
    mp_task *t = NULL;
    /* On a pool of 2 the worker may run it before destroy; the result is
     * then MP_OK (and the detached task runs before destroy returns). */
    MPT_EXPECT(mp_submit(pool, submit_during_destroy, &pool, &t), MP_OK);
    MPT_EXPECT(mp_pool_destroy(pool), MP_OK);
    int rc = mp_task_wait(t);
    mpt_tried(1);
    MPT_CHECKF(rc == MP_OK || rc == MP_ESHUTDOWN, "a submit from a task returned %d", rc);
    mp_task_release(t);

    mp_pool *one = make_pool(1); /* the task runs inside destroy */
    MPT_EXPECT(mp_submit(one, submit_during_destroy, &one, &t), MP_OK);
    MPT_EXPECT(mp_pool_destroy(one), MP_OK);
    MPT_EXPECT(mp_task_wait(t), MP_ESHUTDOWN);
    mp_task_release(t);
}

int main(int argc, char **argv)
{
    mp_pool *pool = make_pool(3);
    if (argc > 1 && strcmp(argv[1], "huge-acc") == 0) {
        mpt_checks_init("badinput huge-acc", 0);
        huge_acc(pool);
        MPT_EXPECT(mp_pool_destroy(pool), MP_OK);
        return mpt_summary("bad inputs");
    }
    mpt_checks_init("badinput", 0);
    nulls(pool);
    MPT_EXPECT(mp_scope_run(pool, spawn_null_body, NULL), 0);
    flags(pool);
    sizes(pool);
    stats(pool);
    mp_pool *other = make_pool(2);
    task_opts(pool, other);
    MPT_EXPECT(mp_pool_destroy(other), MP_OK);
    MPT_EXPECT(mp_pool_destroy(pool), MP_OK);
    MPT_CHECKF(atomic_load(&called) == 0, "a refused call ran a callback before its pool's end");
    config();
    destroy_inside();
    handles();
    shutdown_submit();
    return mpt_summary("bad inputs");
}
