/*
 * micropool stress test.
 *
 * Several external threads drive two long-lived pools (A and B) with a
 * random mix of every operation, and nested callbacks call into both pools
 * again; each thread also creates and destroys a pool of its own (C) now
 * and then. Now and then a thread pauses (so that calls come cold, on
 * pools whose workers sleep) or calls at a steady period (so that a
 * worker keeps watch by a timer). Callbacks fail on purpose at random
 * places. Everything is
 * counted exactly:
 *   - every item of every range is processed once (at most once, and the
 *     failing item exactly once, when an error was injected),
 *   - every background task runs exactly once, or never when its cancel
 *     succeeded or its submit was refused at shutdown,
 *   - every operation returns exactly the error its own callback injected.
 *
 * Background tasks only ever use pools that outlive the pool they run on
 * (C's tasks may use C, A and B; A's use A and B; B's use B), because a
 * pool runs its pending tasks when it is destroyed; A is destroyed before
 * B at the end.
 *
 * usage: mp_stress [--seconds S] [--ops N] [--threads T] [--seed N] [--grace S]
 *                  [--progress S] [--no-nested-broadcast]
 * (--seconds: run for S seconds, 20 by default; --ops: run until N
 * operations are done (nested ones count, as in the figures), with no time
 * limit unless --seconds is also given, then whichever comes first.
 * --grace: the run is declared hung and aborted when no operation has
 * finished for S seconds, or when it is still busy S seconds after its
 * time limit; default 150 s. --progress: print the count every S seconds.
 * --no-nested-broadcast: broadcast only from the driving threads, never
 * from inside callbacks.)
 * Prints its figures and exits 0 only if nothing was lost or wrong; exits 2
 * on a bad argument.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <micropool.h>

#include "check.h"

enum { POOL_A, POOL_B, POOL_C, NPOOLS };
#define MASK(p) (1u << (p))
#define MAX_DEPTH 2

/* ------------------------------------------------------------- figures */

static atomic_ullong n_ops, n_for, n_reduce, n_join, n_broadcast, n_scope, n_taskops,
    n_lifecycle, n_nested;
static atomic_ullong n_errors_injected, n_errors_returned;
static atomic_ullong n_timed_done, n_timed_out;   /* bounded waits: finished, timed out */
static atomic_llong tasks_expected;   /* accepted submits minus successful cancels */
static atomic_llong tasks_run;
static atomic_ullong tasks_submitted, tasks_cancelled, tasks_refused;
static atomic_ullong pools_created;
static atomic_ullong next_id;
static atomic_int stop_now;
/* --no-nested-broadcast: broadcasts only from the driving threads. A
 * broadcast needs every worker of its pool, and a worker blocked in a call
 * on the other pool only runs its part if the engine looks for it there. */
static int nested_broadcast = 1;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t s = a ^ (b * 0xD6E8FEB86659FD93ull);
    return splitmix(&s);
}

static unsigned pick(uint64_t *s, unsigned n)
{
    return n ? (unsigned)(splitmix(s) % n) : 0;
}

/* A fresh error value: positive (never a library code), unique. */
static int new_error(void)
{
    atomic_fetch_add(&n_errors_injected, 1);
    return 1 + (int)(atomic_fetch_add(&next_id, 1) % 1000000000u);
}

static void check_error(int rc, int want, const char *what)
{
    if (rc == want)
        atomic_fetch_add(&n_errors_returned, 1);
    else
        MPT_FAILF("%s returned %d (%s), want the injected %d", what, rc, mp_strerror(rc), want);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The pools an operation may use. */
struct env {
    mp_pool *pool[NPOOLS];
    atomic_int *closing[NPOOLS]; /* set just before the pool is destroyed */
    unsigned mask;
};

/* MP_ESHUTDOWN is the right answer only once destroy was called. */
static int refusal_expected(const struct env *e, int p, int rc)
{
    return rc == MP_ESHUTDOWN && e->closing[p] && atomic_load(e->closing[p]);
}

/* The pools a task running on pool p may use: those that outlive p. */
static struct env env_for_tasks_of(const struct env *e, int p)
{
    struct env t = *e;
    static const unsigned outlive[NPOOLS] = {MASK(POOL_A) | MASK(POOL_B), MASK(POOL_B),
                                             MASK(POOL_A) | MASK(POOL_B) | MASK(POOL_C)};
    t.mask = e->mask & outlive[p];
    return t;
}

static int pick_pool(const struct env *e, uint64_t *s)
{
    int choices[NPOOLS], n = 0;
    for (int p = 0; p < NPOOLS; p++)
        if ((e->mask & MASK(p)) && e->pool[p])
            choices[n++] = p;
    return n ? choices[pick(s, (unsigned)n)] : -1;
}

static void random_op(const struct env *e, uint64_t seed, int depth);

/* From inside a callback: run another operation, on any allowed pool. */
static void nested_op(const struct env *e, uint64_t seed, int depth)
{
    if (depth >= MAX_DEPTH || atomic_load(&stop_now))
        return;
    atomic_fetch_add(&n_nested, 1);
    random_op(e, seed, depth + 1);
}

/* Which item (or part) of an operation runs a nested operation: about
 * every other operation has one, so the work stays linear. */
static size_t pick_nest(uint64_t *s, size_t n, int depth)
{
    if (depth >= MAX_DEPTH || n == 0 || pick(s, 2) != 0)
        return SIZE_MAX;
    return pick(s, (unsigned)(n > 0xFFFFFFFFu ? 0xFFFFFFFFu : n));
}

static unsigned pick_flags(uint64_t *s)
{
    static const unsigned f[] = {MP_SPLIT_DYNAMIC, MP_SPLIT_STATIC, MP_DETERMINISTIC,
                                 MP_SPLIT_STATIC | MP_DETERMINISTIC};
    return f[pick(s, 4)];
}

/* --------------------------------------------------------------- mp_for */

struct for_ctx {
    const struct env *env;
    mp_pool *pool;
    size_t n;
    atomic_uchar *hits;
    size_t bad;        /* failing item, SIZE_MAX for none */
    size_t nest;       /* item whose part runs a nested operation */
    int error;
    uint64_t seed;
    int depth;
};

static int for_body(void *arg, size_t begin, size_t end)
{
    struct for_ctx *c = arg;
    if (begin >= end || end > c->n) {
        MPT_FAILF("mp_for gave the range [%zu, %zu) for n = %zu", begin, end, c->n);
        return 0;
    }
    if (mp_pool_thread_index(c->pool) < 0)
        MPT_FAILF("mp_for body runs on a thread with index -1");
    for (size_t i = begin; i < end; i++)
        atomic_fetch_add_explicit(&c->hits[i], 1, memory_order_relaxed);
    if (c->nest >= begin && c->nest < end)
        nested_op(c->env, mix(c->seed, begin), c->depth);
    return (c->bad >= begin && c->bad < end) ? c->error : 0;
}

static void op_for(const struct env *e, uint64_t *s, int depth)
{
    int p = pick_pool(e, s);
    struct for_ctx c = {.env = e, .pool = e->pool[p], .depth = depth, .seed = splitmix(s)};
    c.n = depth ? pick(s, 3000) : pick(s, 30000);
    size_t grain = pick(s, 4) == 0 ? 0 : pick(s, 200);
    unsigned flags = pick_flags(s);
    c.bad = SIZE_MAX;
    if (c.n && pick(s, 4) == 0) {
        c.bad = pick(s, (unsigned)c.n);
        c.error = new_error();
    }
    c.nest = pick_nest(s, c.n, depth);
    c.hits = calloc(c.n + 1, 1);
    int rc = mp_for(c.pool, c.n, grain, flags, for_body, &c);
    if (c.bad != SIZE_MAX) {
        check_error(rc, c.error, "mp_for");
        if (atomic_load(&c.hits[c.bad]) != 1)
            MPT_FAILF("mp_for: the failing item was processed %d times", atomic_load(&c.hits[c.bad]));
        for (size_t i = 0; i < c.n; i++)
            if (atomic_load(&c.hits[i]) > 1) {
                MPT_FAILF("mp_for: item %zu of %zu processed %d times", i, c.n, atomic_load(&c.hits[i]));
                break;
            }
    } else {
        if (rc != MP_OK)
            MPT_FAILF("mp_for returned %d (%s) with no error injected", rc, mp_strerror(rc));
        for (size_t i = 0; i < c.n; i++)
            if (atomic_load(&c.hits[i]) != 1) {
                MPT_FAILF("mp_for(n=%zu, grain=%zu, flags=%u): item %zu processed %d times", c.n, grain,
                     flags, i, atomic_load(&c.hits[i]));
                break;
            }
    }
    free(c.hits);
    atomic_fetch_add(&n_for, 1);
}

/* ------------------------------------------------------------ mp_reduce */

/* Sum of the items, and the span covered, to check the left-to-right
 * combine order. */
struct racc {
    uint64_t sum;
    uint64_t begin, end;
    uint32_t empty, disorder;
};

struct reduce_ctx {
    const struct env *env;
    size_t nest;
    size_t bad;
    int error;
    uint64_t seed;
    int depth;
    atomic_int not_identity;
};

static int reduce_map(void *arg, size_t begin, size_t end, void *accp)
{
    struct reduce_ctx *c = arg;
    struct racc *a = accp;
    if (!a->empty || a->sum || a->disorder)
        atomic_fetch_add(&c->not_identity, 1);
    for (size_t i = begin; i < end; i++)
        a->sum += i;
    a->begin = begin;
    a->end = end;
    a->empty = 0;
    if (c->nest >= begin && c->nest < end)
        nested_op(c->env, mix(c->seed, begin), c->depth);
    return (c->bad >= begin && c->bad < end) ? c->error : 0;
}

static void reduce_combine(void *arg, void *accp, const void *otherp)
{
    (void)arg;
    struct racc *a = accp;
    const struct racc *b = otherp;
    a->disorder += b->disorder;
    if (b->empty)
        return;
    if (a->empty) {
        *a = *b;
        return;
    }
    if (a->end != b->begin)
        a->disorder++;
    a->end = b->end;
    a->sum += b->sum;
}

static void op_reduce(const struct env *e, uint64_t *s, int depth)
{
    int p = pick_pool(e, s);
    struct reduce_ctx c = {.env = e, .depth = depth, .seed = splitmix(s), .bad = SIZE_MAX};
    size_t n = depth ? pick(s, 5000) : pick(s, 100000);
    size_t grain = pick(s, 3) == 0 ? 0 : pick(s, 1000);
    unsigned flags = pick_flags(s);
    if (n && pick(s, 4) == 0) {
        c.bad = pick(s, (unsigned)n);
        c.error = new_error();
    }
    c.nest = pick_nest(s, n, depth);
    struct racc acc = {0, 0, 0, 1, 0};
    int rc = mp_reduce(e->pool[p], n, grain, flags, &acc, sizeof acc, reduce_map, reduce_combine,
                       &c);
    if (atomic_load(&c.not_identity))
        MPT_FAILF("mp_reduce: map got an accumulator that was not the identity");
    if (c.bad != SIZE_MAX) {
        check_error(rc, c.error, "mp_reduce");
    } else if (rc != MP_OK) {
        MPT_FAILF("mp_reduce returned %d (%s) with no error injected", rc, mp_strerror(rc));
    } else {
        uint64_t want = n ? (uint64_t)n * (n - 1) / 2 : 0;
        if (acc.sum != want || acc.disorder || (n && (acc.begin != 0 || acc.end != n)) ||
            (!n && !acc.empty))
            MPT_FAILF("mp_reduce(n=%zu, grain=%zu, flags=%u): sum %" PRIu64 " want %" PRIu64
                 ", span [%" PRIu64 ", %" PRIu64 "), %u out of order",
                 n, grain, flags, acc.sum, want, acc.begin, acc.end, acc.disorder);
    }
    atomic_fetch_add(&n_reduce, 1);
}

/* -------------------------------------------------------------- mp_join */

struct join_ctx {
    const struct env *env;
    mp_pool *pool;
    atomic_uchar *hits;
    size_t bad;
    size_t nest;
    int error;
    uint64_t seed;
    int depth;
};

struct join_range {
    struct join_ctx *c;
    size_t lo, hi;
};

static int join_node(void *arg)
{
    struct join_range *r = arg;
    struct join_ctx *c = r->c;
    if (r->hi - r->lo <= 4) {
        int rc = 0;
        for (size_t i = r->lo; i < r->hi; i++) {
            atomic_fetch_add(&c->hits[i], 1);
            if (i == c->bad)
                rc = c->error;
            if (i == c->nest)
                nested_op(c->env, mix(c->seed, i), c->depth);
        }
        return rc;
    }
    size_t mid = r->lo + (r->hi - r->lo) / 2;
    struct join_range left = {c, r->lo, mid}, right = {c, mid, r->hi};
    return mp_join(c->pool, join_node, &left, join_node, &right);
}

static void op_join(const struct env *e, uint64_t *s, int depth)
{
    int p = pick_pool(e, s);
    size_t n = 1 + pick(s, depth ? 500 : 5000);
    struct join_ctx c = {.env = e, .pool = e->pool[p], .depth = depth, .seed = splitmix(s),
                         .bad = SIZE_MAX};
    if (pick(s, 4) == 0) {
        c.bad = pick(s, (unsigned)n);
        c.error = new_error();
    }
    c.nest = pick_nest(s, n, depth);
    c.hits = calloc(n, 1);
    struct join_range root = {&c, 0, n};
    int rc = join_node(&root);
    if (c.bad != SIZE_MAX) {
        check_error(rc, c.error, "mp_join");
        if (atomic_load(&c.hits[c.bad]) != 1)
            MPT_FAILF("mp_join: the failing leaf ran %d times", atomic_load(&c.hits[c.bad]));
        for (size_t i = 0; i < n; i++)
            if (atomic_load(&c.hits[i]) > 1) {
                MPT_FAILF("mp_join: leaf %zu ran %d times", i, atomic_load(&c.hits[i]));
                break;
            }
    } else {
        if (rc != MP_OK)
            MPT_FAILF("mp_join returned %d (%s) with no error injected", rc, mp_strerror(rc));
        for (size_t i = 0; i < n; i++)
            if (atomic_load(&c.hits[i]) != 1) {
                MPT_FAILF("mp_join: leaf %zu of %zu ran %d times", i, n, atomic_load(&c.hits[i]));
                break;
            }
    }
    free(c.hits);
    atomic_fetch_add(&n_join, 1);
}

/* --------------------------------------------------------- mp_broadcast */

struct bcast_ctx {
    const struct env *env;
    mp_pool *pool;
    unsigned threads;
    atomic_int runs[64];
    unsigned bad;
    size_t nest;
    int error;
    uint64_t seed;
    int depth;
};

static int bcast_part(void *arg, unsigned index, unsigned count)
{
    struct bcast_ctx *c = arg;
    if (count != c->threads || index >= count || index >= 64) {
        MPT_FAILF("mp_broadcast: part %u of %u on a pool of %u", index, count, c->threads);
        return 0;
    }
    atomic_fetch_add(&c->runs[index], 1);
    if (index == c->nest)
        nested_op(c->env, mix(c->seed, index), c->depth);
    return index == c->bad ? c->error : 0;
}

static void op_broadcast(const struct env *e, uint64_t *s, int depth)
{
    int p = pick_pool(e, s);
    struct bcast_ctx *c = calloc(1, sizeof *c);
    c->env = e;
    c->pool = e->pool[p];
    c->threads = mp_pool_threads(c->pool);
    c->depth = depth;
    c->seed = splitmix(s);
    c->bad = UINT32_MAX;
    if (pick(s, 4) == 0) {
        c->bad = pick(s, c->threads);
        c->error = new_error();
    }
    c->nest = pick_nest(s, c->threads, depth);
    int rc = mp_broadcast(c->pool, bcast_part, c);
    if (c->bad != UINT32_MAX) {
        check_error(rc, c->error, "mp_broadcast");
        if (atomic_load(&c->runs[c->bad]) != 1)
            MPT_FAILF("mp_broadcast: the failing part ran %d times", atomic_load(&c->runs[c->bad]));
    } else if (rc != MP_OK) {
        MPT_FAILF("mp_broadcast returned %d (%s) with no error injected", rc, mp_strerror(rc));
    }
    for (unsigned i = 0; i < c->threads && i < 64; i++) {
        int r = atomic_load(&c->runs[i]);
        if (r > 1 || (c->bad == UINT32_MAX && r != 1)) {
            MPT_FAILF("mp_broadcast: part %u of %u ran %d times", i, c->threads, r);
            break;
        }
    }
    free(c);
    atomic_fetch_add(&n_broadcast, 1);
}

/* ------------------------------------------------------------- scopes */

#define SCOPE_CHILDREN 40
#define SCOPE_GRAND 6

struct scope_ctx {
    const struct env *env;
    mp_pool *pool;
    mp_scope *scope;
    unsigned children;
    unsigned grand[SCOPE_CHILDREN];
    atomic_int runs[SCOPE_CHILDREN][SCOPE_GRAND + 1]; /* [c][0] the child itself */
    int bad_c, bad_g;                                 /* the failing task, -1 none */
    int nest_c;                                       /* child that nests, -1 none */
    int error;
    atomic_int spawn_errors;
    uint64_t seed;
    int depth;
};

struct scope_task {
    struct scope_ctx *c;
    int child, grand; /* grand 0 = the child itself */
};

static int scope_task_fn(void *arg)
{
    struct scope_task *t = arg;
    struct scope_ctx *c = t->c;
    atomic_fetch_add(&c->runs[t->child][t->grand], 1);
    if (mp_pool_thread_index(c->pool) < 0)
        MPT_FAILF("a scope task runs on a thread with index -1");
    if (t->grand == 0) {
        for (unsigned g = 1; g <= c->grand[t->child]; g++) {
            /* The grandchildren's descriptors live in the caller's frame
             * (the scope borrows it): index them from the root. */
            struct scope_task *gt = t + g;
            gt->c = c;
            gt->child = t->child;
            gt->grand = (int)g;
            if (mp_scope_spawn(c->scope, scope_task_fn, gt) != MP_OK)
                atomic_fetch_add(&c->spawn_errors, 1);
        }
    }
    if (t->child == c->nest_c && t->grand == 0)
        nested_op(c->env, mix(c->seed, (uint64_t)t->child), c->depth);
    return (t->child == c->bad_c && t->grand == c->bad_g) ? c->error : 0;
}

struct scope_frame {
    struct scope_ctx *c;
    struct scope_task tasks[SCOPE_CHILDREN][SCOPE_GRAND + 1];
};

static int scope_body(mp_scope *scope, void *arg)
{
    struct scope_frame *f = arg;
    f->c->scope = scope;
    for (unsigned ch = 0; ch < f->c->children; ch++) {
        f->tasks[ch][0] = (struct scope_task){f->c, (int)ch, 0};
        int rc = mp_scope_spawn(scope, scope_task_fn, &f->tasks[ch][0]);
        if (rc != MP_OK) {
            MPT_FAILF("mp_scope_spawn returned %d (%s)", rc, mp_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static void op_scope(const struct env *e, uint64_t *s, int depth)
{
    int p = pick_pool(e, s);
    struct scope_ctx c;
    memset(&c, 0, sizeof c);
    c.env = e;
    c.pool = e->pool[p];
    c.depth = depth;
    c.seed = splitmix(s);
    c.children = pick(s, SCOPE_CHILDREN + 1);
    for (unsigned ch = 0; ch < c.children; ch++)
        c.grand[ch] = pick(s, SCOPE_GRAND + 1);
    c.bad_c = c.bad_g = -1;
    if (c.children && pick(s, 4) == 0) {
        c.bad_c = (int)pick(s, c.children);
        c.bad_g = (int)pick(s, c.grand[c.bad_c] + 1);
        c.error = new_error();
    }
    size_t nest = pick_nest(s, c.children, depth);
    c.nest_c = nest == SIZE_MAX ? -1 : (int)nest;
    struct scope_frame frame; /* on this stack: the scope borrows it */
    frame.c = &c;
    int rc = mp_scope_run(c.pool, scope_body, &frame);
    if (atomic_load(&c.spawn_errors))
        MPT_FAILF("mp_scope_spawn failed %d times", atomic_load(&c.spawn_errors));
    int wrong = 0;
    for (unsigned ch = 0; ch < c.children; ch++)
        for (unsigned g = 0; g <= c.grand[ch]; g++) {
            int r = atomic_load(&c.runs[ch][g]);
            if (r > 1 || (c.bad_c < 0 && r != 1))
                wrong++;
        }
    if (c.bad_c >= 0) {
        check_error(rc, c.error, "mp_scope_run");
        if (atomic_load(&c.runs[c.bad_c][c.bad_g]) != 1)
            MPT_FAILF("mp_scope_run: the failing task ran %d times",
                 atomic_load(&c.runs[c.bad_c][c.bad_g]));
    } else if (rc != MP_OK) {
        MPT_FAILF("mp_scope_run returned %d (%s) with no error injected", rc, mp_strerror(rc));
    }
    if (wrong)
        MPT_FAILF("mp_scope_run: %d tasks did not run exactly once (at most once after an error)",
             wrong);
    atomic_fetch_add(&n_scope, 1);
}

/* ---------------------------------------------------- background tasks */

struct trec {
    struct env env;       /* pools this task may use */
    int pool;             /* the pool it was submitted to */
    atomic_int runs;
    atomic_int released;  /* whoever sets it second frees the record */
    int result;
    int depth;
    uint64_t seed;
};

static void trec_drop(struct trec *r)
{
    if (atomic_exchange(&r->released, 1) == 1)
        free(r);
}

static int submit_detached(const struct env *e, int p, uint64_t seed, int depth);

static atomic_ullong n_yields, n_yields_ran;

/* mp_yield from wherever the stress is: inside a task, from a driver. */
static void yield_once(mp_pool *pool)
{
    int y = mp_yield(pool);
    if (y != 0 && y != 1)
        MPT_FAILF("mp_yield returned %d (%s)", y, mp_strerror(y));
    atomic_fetch_add(&n_yields, 1);
    atomic_fetch_add(&n_yields_ran, (unsigned long long)(y == 1));
}

static int task_fn(void *arg)
{
    struct trec *r = arg;
    if (atomic_fetch_add(&r->runs, 1) != 0)
        MPT_FAILF("a background task ran twice");
    atomic_fetch_add(&tasks_run, 1);
    if (mp_pool_thread_index(r->env.pool[r->pool]) < 0)
        MPT_FAILF("a background task runs on a thread with index -1 for its pool");
    uint64_t s = r->seed;
    if (pick(&s, 6) == 0)
        nested_op(&r->env, splitmix(&s), r->depth);
    if (pick(&s, 4) == 0)
        yield_once(r->env.pool[r->pool]);
    if (r->depth < MAX_DEPTH && pick(&s, 6) == 0) {
        int p = pick_pool(&r->env, &s);
        if (p >= 0)
            submit_detached(&r->env, p, splitmix(&s), r->depth + 1);
    }
    int result = r->result;
    trec_drop(r);
    return result;
}

static struct trec *trec_new(const struct env *e, int p, uint64_t seed, int depth, int detached)
{
    struct trec *r = calloc(1, sizeof *r);
    r->env = env_for_tasks_of(e, p);
    r->pool = p;
    r->seed = seed;
    r->depth = depth;
    atomic_init(&r->released, detached);
    return r;
}

/* Submits a detached task; MP_ESHUTDOWN is fine while its pool is being
 * destroyed (then it must never run). */
static int submit_detached(const struct env *e, int p, uint64_t seed, int depth)
{
    struct trec *r = trec_new(e, p, seed, depth, 1);
    atomic_fetch_add(&tasks_expected, 1);
    int rc = mp_submit(e->pool[p], task_fn, r, NULL);
    if (rc == MP_OK) {
        atomic_fetch_add(&tasks_submitted, 1);
        return rc;
    }
    atomic_fetch_sub(&tasks_expected, 1);
    if (refusal_expected(e, p, rc))
        atomic_fetch_add(&tasks_refused, 1);
    else
        MPT_FAILF("mp_submit returned %d (%s)", rc, mp_strerror(rc));
    free(r);
    return rc;
}

/* Cancelled records are kept: a task whose cancel succeeded must never
 * run, not even later (its queue entry stays behind until a worker drops
 * it). The last GRAVEYARD_KEEP of them are kept to the end, after both
 * pools are destroyed; an older one is checked and freed when the
 * GRAVEYARD_KEEP-th later one is buried, so that a run of 10^8 operations
 * (half a cancelled task each) does not hold gigabytes. By then some four
 * million more tasks have been submitted, and the queues drain all the
 * time; if the entry still ran, it would use freed memory, which ASan
 * reports. A run of 20 s buries fewer than GRAVEYARD_KEEP records and
 * keeps them all. */
#define GRAVEYARD_KEEP ((size_t)1 << 20)
static pthread_mutex_t graveyard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct trec **graveyard; /* a ring of GRAVEYARD_KEEP, oldest at graveyard_head */
static size_t graveyard_len, graveyard_head;
static size_t ran_after_cancel;

static void bury(struct trec *r)
{
    pthread_mutex_lock(&graveyard_lock);
    if (!graveyard) {
        graveyard = malloc(GRAVEYARD_KEEP * sizeof *graveyard);
        if (!graveyard) {
            fprintf(stderr, "stress: out of memory\n");
            abort();
        }
    }
    if (graveyard_len == GRAVEYARD_KEEP) {
        struct trec *old = graveyard[graveyard_head];
        if (atomic_load(&old->runs) != 0)
            ran_after_cancel++;
        free(old);
        graveyard[graveyard_head] = r;
        graveyard_head = (graveyard_head + 1) % GRAVEYARD_KEEP;
    } else {
        graveyard[(graveyard_head + graveyard_len++) % GRAVEYARD_KEEP] = r;
    }
    pthread_mutex_unlock(&graveyard_lock);
}

static void op_tasks(const struct env *e, uint64_t *s, int depth)
{
    enum { MAXN = 24 };
    unsigned n = pick(s, MAXN + 1);
    struct trec *rec[MAXN];
    mp_task *t[MAXN];
    int cancelled[MAXN];
    for (unsigned i = 0; i < n; i++) {
        int p = pick_pool(e, s);
        rec[i] = trec_new(e, p, splitmix(s), depth, 0);
        rec[i]->result = pick(s, 5) == 0 ? new_error() : 0;
        cancelled[i] = 0;
        atomic_fetch_add(&tasks_expected, 1);
        int rc = mp_submit(e->pool[p], task_fn, rec[i], &t[i]);
        if (rc != MP_OK) {
            if (refusal_expected(e, p, rc))
                atomic_fetch_add(&tasks_refused, 1);
            else
                MPT_FAILF("mp_submit returned %d (%s)", rc, mp_strerror(rc));
            atomic_fetch_sub(&tasks_expected, 1);
            if (rec[i]->result)
                atomic_fetch_sub(&n_errors_injected, 1);
            free(rec[i]);
            rec[i] = NULL;
            continue;
        }
        atomic_fetch_add(&tasks_submitted, 1);
    }
    /* Cancel some. */
    for (unsigned i = 0; i < n; i++) {
        if (!rec[i] || pick(s, 3) != 0)
            continue;
        int rc = mp_task_cancel(t[i]);
        if (rc == MP_OK) {
            cancelled[i] = 1;
            atomic_fetch_sub(&tasks_expected, 1);
            atomic_fetch_add(&tasks_cancelled, 1);
            if (mp_task_done(t[i]) != 1)
                MPT_FAILF("mp_task_done is not 1 after a successful cancel");
        } else if (rc != MP_EBUSY) {
            MPT_FAILF("mp_task_cancel returned %d (%s)", rc, mp_strerror(rc));
        }
    }
    /* Wait for some, release the others without waiting. */
    for (unsigned i = 0; i < n; i++) {
        if (!rec[i])
            continue;
        int result = rec[i]->result;
        if (cancelled[i]) {
            int rc = mp_task_wait(t[i]);
            if (rc != MP_ECANCELED)
                MPT_FAILF("waiting on a cancelled task returned %d (%s)", rc, mp_strerror(rc));
            if (result)
                atomic_fetch_sub(&n_errors_injected, 1);
            mp_task_release(t[i]);
            bury(rec[i]);
            continue;
        }
        if (pick(s, 3) == 0) {
            /* Released unwaited: the task frees its record when it runs. */
            if (result)
                atomic_fetch_sub(&n_errors_injected, 1);
            mp_task_release(t[i]);
            trec_drop(rec[i]);
            continue;
        }
        if (pick(s, 2) == 0) {
            /* A bounded wait first, of 0 or up to 50 us: the task's result,
             * or MP_ETIMEDOUT with the task left as it was for the wait
             * below (it never runs the task here). */
            uint64_t tmo = pick(s, 2) ? 0 : 1000u * (1 + pick(s, 50));
            int rc = mp_task_wait_for(t[i], tmo);
            if (rc != MP_ETIMEDOUT) {
                if (rc != result)
                    MPT_FAILF("mp_task_wait_for returned %d (%s), want %d", rc, mp_strerror(rc),
                              result);
                atomic_fetch_add(&n_timed_done, 1);
            } else {
                atomic_fetch_add(&n_timed_out, 1);
            }
        }
        int rc = mp_task_wait(t[i]);
        if (result)
            check_error(rc, result, "mp_task_wait");
        else if (rc != MP_OK)
            MPT_FAILF("mp_task_wait returned %d (%s), want 0", rc, mp_strerror(rc));
        if (mp_task_done(t[i]) != 1)
            MPT_FAILF("mp_task_done is not 1 after wait");
        if (atomic_load(&rec[i]->runs) != 1)
            MPT_FAILF("a waited task ran %d times", atomic_load(&rec[i]->runs));
        mp_task_release(t[i]);
        trec_drop(rec[i]);
    }
    /* And a few detached ones. */
    unsigned d = pick(s, 4);
    for (unsigned i = 0; i < d; i++) {
        int p = pick_pool(e, s);
        submit_detached(e, p, splitmix(s), depth);
    }
    atomic_fetch_add(&n_taskops, 1);
}

/* ------------------------------------------------- task graphs (1.1) */

/* A small random graph on one pool: each node has up to three earlier
 * nodes as prerequisites, a random priority, sometimes the flag, an
 * injected error, a cancel; from a driver's own thread also nodes bound
 * to a worker or to thread 0. Every node checks, when it runs,
 * that its prerequisites have finished; afterwards each outcome must
 * follow from its prerequisites' outcomes. */
enum { GRAPH_MAX = 16 };

struct gnode {
    atomic_int runs;
    atomic_int finished;          /* set at the end of its run */
    int result;
    int npre;
    struct gnode *pre[3];
};

static atomic_ullong n_graphs, n_graph_nodes, n_graph_cancelled;

static int gnode_fn(void *arg)
{
    struct gnode *g = arg;
    if (atomic_fetch_add(&g->runs, 1) != 0)
        MPT_FAILF("a graph node ran twice");
    for (int k = 0; k < g->npre; k++)
        if (!atomic_load(&g->pre[k]->finished) && atomic_load(&g->pre[k]->runs) != 0)
            MPT_FAILF("a graph node started before its prerequisite finished");
    int r = g->result;
    atomic_store(&g->finished, 1);
    return r;
}

static void op_graph(const struct env *e, uint64_t *s, int depth)
{
    int p = pick_pool(e, s);
    if (p < 0)
        return;
    mp_pool *pool = e->pool[p];
    unsigned threads = mp_pool_threads(pool);
    /* Only a driver's own thread, outside every pool, binds tasks: a
     * worker of one pool that waits on a task bound to a worker of
     * another could close a wait cycle with it. */
    int outside = depth == 0;
    struct gnode g[GRAPH_MAX];
    mp_task *t[GRAPH_MAX];
    int flag[GRAPH_MAX], cancelled[GRAPH_MAX], rcs[GRAPH_MAX];
    unsigned n = 1 + pick(s, GRAPH_MAX), ok = 0;
    static const int prios[3] = {MP_PRIO_HIGH, MP_PRIO_NORMAL, MP_PRIO_LOW};
    for (unsigned i = 0; i < n; i++) {
        struct gnode *x = &g[ok];
        memset(x, 0, sizeof *x);
        x->result = pick(s, 6) == 0 ? 1000 + (int)i : 0;
        mp_task *after[3];
        x->npre = ok ? (int)pick(s, 4) : 0;
        for (int k = 0; k < x->npre; k++) {
            unsigned j = pick(s, ok);
            x->pre[k] = &g[j];
            after[k] = t[j];
        }
        mp_task_opts o;
        mp_task_opts_init(&o);
        o.priority = prios[pick(s, 3)];
        o.after = after;
        o.nafter = (size_t)x->npre;
        flag[ok] = pick(s, 2) == 0;
        o.flags = flag[ok] ? MP_AFTER_CANCEL_ON_ERROR : 0;
        o.name = "graph";
        if (outside) {
            unsigned w = pick(s, 6);
            if (w == 0)
                o.thread = 0;
            else if (w == 1 && threads > 1)
                o.thread = 1 + pick(s, threads - 1);
        }
        int rc = mp_submit_ex(pool, gnode_fn, x, &o, &t[ok]);
        if (rc != MP_OK) {
            if (!refusal_expected(e, p, rc))
                MPT_FAILF("mp_submit_ex returned %d (%s)", rc, mp_strerror(rc));
            continue;
        }
        cancelled[ok] = 0;
        ok++;
    }
    for (unsigned i = 0; i < ok; i++)
        if (pick(s, 8) == 0 && mp_task_cancel(t[i]) == MP_OK)
            cancelled[i] = 1;
    if (pick(s, 3) == 0)
        yield_once(pool);
    if (outside && pick(s, 2) == 0) {
        int rc = mp_pool_run_pinned(pool, pick(s, 2) ? 0 : 20000);
        if (rc < 0)
            MPT_FAILF("mp_pool_run_pinned returned %d (%s)", rc, mp_strerror(rc));
    }
    /* Wait from the last node back: a wait on a node whose prerequisites
     * are unfinished waits for them, running what it may. */
    for (unsigned k = ok; k-- > 0;) {
        if (pick(s, 4) == 0) {
            int rc = mp_task_wait_for(t[k], pick(s, 2) ? 0 : 20000);
            if (rc == MP_ETIMEDOUT)
                atomic_fetch_add(&n_timed_out, 1);
            else
                atomic_fetch_add(&n_timed_done, 1);
        }
        rcs[k] = mp_task_wait(t[k]);
    }
    for (unsigned i = 0; i < ok; i++) {
        struct gnode *x = &g[i];
        int failed_pre = 0;
        for (int k = 0; k < x->npre; k++) {
            int j = (int)(x->pre[k] - g);
            failed_pre |= rcs[j] != 0;
        }
        int runs = atomic_load(&x->runs);
        if (rcs[i] == MP_ECANCELED) {
            atomic_fetch_add(&n_graph_cancelled, 1);
            if (runs != 0)
                MPT_FAILF("a cancelled graph node ran");
            if (!cancelled[i] && !(flag[i] && failed_pre))
                MPT_FAILF("a graph node was cancelled with no cause");
        } else {
            if (runs != 1 || rcs[i] != x->result)
                MPT_FAILF("a graph node ran %d times and returned %d, want once and %d", runs,
                          rcs[i], x->result);
            if (cancelled[i] || (flag[i] && failed_pre))
                MPT_FAILF("a graph node ran although it was cancelled or a prerequisite failed");
        }
        mp_task_release(t[i]);
    }
    atomic_fetch_add(&n_graph_nodes, ok);
    atomic_fetch_add(&n_graphs, 1);
}

/* ------------------------------------------------ destroy from inside */

struct deadlk_ctx {
    mp_pool *pool;
};

static int deadlk_part(void *arg, unsigned index, unsigned count)
{
    struct deadlk_ctx *c = arg;
    (void)index;
    (void)count;
    int rc = mp_pool_destroy(c->pool);
    if (rc != MP_EDEADLK)
        MPT_FAILF("mp_pool_destroy from inside its pool returned %d (%s)", rc, mp_strerror(rc));
    return 0;
}

static void op_destroy_inside(const struct env *e, uint64_t *s)
{
    int p = pick_pool(e, s);
    struct deadlk_ctx c = {e->pool[p]};
    int rc = mp_broadcast(c.pool, deadlk_part, &c);
    if (rc != MP_OK)
        MPT_FAILF("mp_broadcast (destroy inside) returned %d", rc);
}

/* ------------------------------------------------ a pool of one's own */

struct hooks {
    atomic_int start[8], stop[8];
};

static void hook_start(void *arg, unsigned index)
{
    struct hooks *h = arg;
    if (index == 0 || index >= 8)
        MPT_FAILF("on_thread_start for index %u", index);
    else
        atomic_fetch_add(&h->start[index], 1);
}

static void hook_stop(void *arg, unsigned index)
{
    struct hooks *h = arg;
    if (index == 0 || index >= 8)
        MPT_FAILF("on_thread_stop for index %u", index);
    else if (atomic_load(&h->start[index]) != 1)
        MPT_FAILF("on_thread_stop of worker %u before its start", index);
    else
        atomic_fetch_add(&h->stop[index], 1);
}

/* Tracing hooks (1.1) on the pools of op_lifecycle: on each thread the
 * ends must match the begins, innermost first; the counts balance at the
 * end of the run. */
static _Thread_local int trace_stack[64];
static _Thread_local int trace_depth;
static atomic_llong trace_begins, trace_ends, trace_bad;

static void trace_begin(void *arg, int kind, unsigned index, const char *name)
{
    (void)arg;
    (void)index;
    (void)name;
    if (trace_depth < 64)
        trace_stack[trace_depth] = kind;
    trace_depth++;
    atomic_fetch_add_explicit(&trace_begins, 1, memory_order_relaxed);
}

static void trace_end(void *arg, int kind, unsigned index, const char *name)
{
    (void)arg;
    (void)index;
    (void)name;
    if (trace_depth == 0 || (trace_depth <= 64 && trace_stack[trace_depth - 1] != kind))
        atomic_fetch_add_explicit(&trace_bad, 1, memory_order_relaxed);
    if (trace_depth > 0)
        trace_depth--;
    atomic_fetch_add_explicit(&trace_ends, 1, memory_order_relaxed);
}

static const mp_trace_hooks trace_hooks = {sizeof trace_hooks, trace_begin, trace_end, NULL};

static void op_lifecycle(struct env *e, uint64_t *s)
{
    struct hooks hooks;
    memset(&hooks, 0, sizeof hooks);
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = 1 + pick(s, 4);
    cfg.spin_us = pick(s, 2) ? 0 : MP_SPIN_US_DEFAULT;
    cfg.pin = (int)pick(s, 2);
    cfg.name = "stress-c";
    cfg.on_thread_start = hook_start;
    cfg.on_thread_stop = hook_stop;
    cfg.hook_arg = &hooks;
    if (pick(s, 2) == 0)
        cfg.trace = &trace_hooks;
    mp_pool *c = NULL;
    int rc = mp_pool_create(&cfg, &c);
    if (rc != MP_OK) {
        MPT_FAILF("mp_pool_create returned %d (%s)", rc, mp_strerror(rc));
        return;
    }
    atomic_fetch_add(&pools_created, 1);
    atomic_int closing = 0;
    struct env ce = *e;
    ce.pool[POOL_C] = c;
    ce.closing[POOL_C] = &closing;
    ce.mask |= MASK(POOL_C);
    unsigned ops = 1 + pick(s, 8);
    for (unsigned i = 0; i < ops; i++)
        random_op(&ce, splitmix(s), 0);
    /* Tasks left pending for destroy to run; some submit more into C. */
    unsigned d = pick(s, 20);
    for (unsigned i = 0; i < d; i++)
        submit_detached(&ce, POOL_C, splitmix(s), 0);
    atomic_store(&closing, 1);
    /* Ten operations surely on C: its statistics count them (they may lag
     * by a few events, not by ten). */
    struct env only_c = ce;
    only_c.mask = MASK(POOL_C);
    for (int i = 0; i < 10; i++)
        op_broadcast(&only_c, s, MAX_DEPTH);
    mp_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    rc = mp_pool_stats(c, &st);
    if (rc != MP_OK || st.jobs == 0)
        MPT_FAILF("mp_pool_stats = %d, jobs = %" PRIu64 " after 10 broadcasts", rc, st.jobs);
    rc = mp_pool_destroy(c);
    if (rc != MP_OK)
        MPT_FAILF("mp_pool_destroy returned %d (%s)", rc, mp_strerror(rc));
    for (unsigned i = 1; i < cfg.threads; i++)
        if (atomic_load(&hooks.start[i]) != 1 || atomic_load(&hooks.stop[i]) != 1)
            MPT_FAILF("worker %u of %u: on_thread_start ran %d times, on_thread_stop %d times", i,
                 cfg.threads, atomic_load(&hooks.start[i]), atomic_load(&hooks.stop[i]));
    atomic_fetch_add(&n_lifecycle, 1);
}

/* ---------------------------------------------------------------- driver */

static void random_op(const struct env *e, uint64_t seed, int depth)
{
    uint64_t s = seed;
    unsigned kind = pick(&s, 8);
    if (!nested_broadcast && depth > 0 && (kind == 3 || kind == 6))
        kind = 0;
    switch (kind) {
    case 0: op_for(e, &s, depth); break;
    case 1: op_reduce(e, &s, depth); break;
    case 2: op_join(e, &s, depth); break;
    case 3: op_broadcast(e, &s, depth); break;
    case 4: op_scope(e, &s, depth); break;
    case 5: op_tasks(e, &s, depth); break;
    case 7: op_graph(e, &s, depth); break;
    default:
        if (pick(&s, 4) == 0)
            op_destroy_inside(e, &s);
        else
            op_for(e, &s, depth);
        break;
    }
    atomic_fetch_add(&n_ops, 1);
}

struct driver {
    struct env env;
    uint64_t seed;
    double deadline;
};

/* --ops: the drivers stop once this many operations are done (0: no
 * such limit). */
static unsigned long long ops_target;

/* Gaps and periods: the pools' workers fall asleep and calls come cold
 * (run alone, or woken for), or at a steady period so that a worker
 * learns it and keeps watch by a timer. A gap of 50 us to 2 ms, or 6
 * operations at a period of 300 us to 1.5 ms. */
static void rhythm(struct driver *d, uint64_t *s)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (pick(s, 2)) {
        long gap_ns = 50000 + (long)pick(s, 1950000);
        t.tv_nsec += gap_ns;
        t.tv_sec += t.tv_nsec / 1000000000;
        t.tv_nsec %= 1000000000;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
        random_op(&d->env, splitmix(s), 0);
        return;
    }
    long period_ns = 300000 + (long)pick(s, 1200000);
    for (int i = 0; i < 6 && !atomic_load(&stop_now); i++) {
        t.tv_nsec += period_ns;
        t.tv_sec += t.tv_nsec / 1000000000;
        t.tv_nsec %= 1000000000;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
        random_op(&d->env, splitmix(s), 0);
    }
}

static void *drive(void *arg)
{
    struct driver *d = arg;
    uint64_t s = d->seed;
    uint64_t last_jobs[2] = {0, 0};
    while (now_s() < d->deadline && !atomic_load(&stop_now) &&
           (ops_target == 0 || atomic_load(&n_ops) < ops_target)) {
        if (pick(&s, 16) == 0) {
            /* Statistics read while the other threads keep the pools busy:
             * the counters only grow. */
            int p = (int)pick(&s, 2);
            mp_stats st;
            memset(&st, 0, sizeof st);
            st.size = sizeof st;
            int rc = mp_pool_stats(d->env.pool[p], &st);
            if (rc != MP_OK || st.jobs < last_jobs[p])
                MPT_FAILF("mp_pool_stats = %d, jobs %" PRIu64 " after %" PRIu64, rc, st.jobs,
                     last_jobs[p]);
            last_jobs[p] = st.jobs;
        }
        if (pick(&s, 40) == 0)
            op_lifecycle(&d->env, &s);
        else if (pick(&s, 64) == 0)
            rhythm(d, &s);
        else
            random_op(&d->env, splitmix(&s), 0);
    }
    return NULL;
}

static double run_start;
static double watchdog_deadline; /* the time limit plus the grace; 0 for none */
static double watchdog_grace = 150;
static double progress_every;    /* --progress; 0 for none */

static void hung(int stalled)
{
    fprintf(stderr,
            "stress: MISMATCH: %s %.0f s%s (a deadlock?); %llu operations done, tasks run %lld of "
            "%lld\n",
            stalled ? "no operation finished for" : "no end in sight", watchdog_grace,
            stalled ? "" : " after the time limit", (unsigned long long)atomic_load(&n_ops),
            (long long)atomic_load(&tasks_run), (long long)atomic_load(&tasks_expected));
    fflush(stderr);
    abort();
}

/* Aborts the run when it is still busy --grace seconds after its time
 * limit, or when no operation has finished for --grace seconds (the
 * drivers always have one under way until they stop, and the teardown
 * after they stop takes well under a second); prints --progress lines. */
static void *watchdog(void *arg)
{
    (void)arg;
    unsigned long long last_ops = atomic_load(&n_ops);
    double last_change = now_s();
    double next_report = run_start + progress_every;
    while (!atomic_load(&stop_now)) {
        double t = now_s();
        unsigned long long ops = atomic_load(&n_ops);
        if (ops != last_ops) {
            last_ops = ops;
            last_change = t;
        }
        if (watchdog_deadline > 0 && t > watchdog_deadline)
            hung(0);
        if (t - last_change > watchdog_grace)
            hung(1);
        if (progress_every > 0 && t >= next_report) {
            double rate = ops / (t - run_start);
            if (ops_target && ops < ops_target && rate > 0)
                printf("stress: %.0f s, %llu of %llu operations (%.0f per second), about %.0f s "
                       "to go\n",
                       t - run_start, ops, ops_target, rate, (double)(ops_target - ops) / rate);
            else
                printf("stress: %.0f s, %llu operations (%.0f per second)\n", t - run_start, ops,
                       rate);
            next_report += progress_every;
        }
        usleep(100000);
    }
    return NULL;
}

static const char *prog = "mp_stress";

static void usage(void)
{
    fprintf(stderr,
            "usage: %s [--seconds S] [--ops N] [--threads T] [--seed N] [--grace S] "
            "[--progress S] [--no-nested-broadcast]\n",
            prog);
    exit(2);
}

static void bad_value(const char *opt, const char *val, const char *want)
{
    fprintf(stderr, "%s: %s wants %s, not '%s'\n", prog, opt, want, val);
    usage();
}

/* A number of seconds: positive, finite, and the whole argument. */
static double seconds_arg(const char *opt, const char *val)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (end == val || *end || errno || !(v > 0) || v > 1e9)
        bad_value(opt, val, "a number of seconds > 0");
    return v;
}

/* A whole number from min to max, and the whole argument (strtoull alone
 * takes "-1", " 7" and "7x"). */
static unsigned long long count_arg(const char *opt, const char *val, int base,
                                    unsigned long long min, unsigned long long max,
                                    const char *want)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, base);
    if (val[0] < '0' || val[0] > '9' || end == val || *end || errno || v < min || v > max)
        bad_value(opt, val, want);
    return v;
}

int main(int argc, char **argv)
{
    mpt_checks_init("stress", 0);
    double seconds = 0;
    unsigned threads = 4;
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    if (argc > 0 && argv[0][0])
        prog = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--no-nested-broadcast") == 0) {
            nested_broadcast = 0;
            continue;
        }
        if (strcmp(opt, "--seconds") && strcmp(opt, "--ops") && strcmp(opt, "--threads") &&
            strcmp(opt, "--seed") && strcmp(opt, "--grace") && strcmp(opt, "--progress")) {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, opt);
            usage();
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", prog, opt);
            usage();
        }
        const char *val = argv[++i];
        if (strcmp(opt, "--seconds") == 0)
            seconds = seconds_arg(opt, val);
        else if (strcmp(opt, "--ops") == 0)
            ops_target = count_arg(opt, val, 10, 1, ULLONG_MAX, "a number of operations >= 1");
        else if (strcmp(opt, "--threads") == 0)
            threads = (unsigned)count_arg(opt, val, 10, 1, 64, "a number of threads from 1 to 64");
        else if (strcmp(opt, "--seed") == 0)
            seed = count_arg(opt, val, 0, 0, UINT64_MAX, "a whole number");
        else if (strcmp(opt, "--grace") == 0)
            watchdog_grace = seconds_arg(opt, val);
        else
            progress_every = seconds_arg(opt, val);
    }
    if (seconds == 0 && ops_target == 0)
        seconds = 20;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (ops_target == 0)
        printf("stress: %.0f s, %u external threads, seed %" PRIu64 "%s\n", seconds, threads,
               seed, nested_broadcast ? "" : ", no nested broadcasts");
    else if (seconds == 0)
        printf("stress: until %llu operations, %u external threads, seed %" PRIu64 "%s\n",
               ops_target, threads, seed, nested_broadcast ? "" : ", no nested broadcasts");
    else
        printf("stress: until %llu operations or %.0f s, %u external threads, seed %" PRIu64
               "%s\n",
               ops_target, seconds, threads, seed, nested_broadcast ? "" : ", no nested broadcasts");

    struct env env;
    memset(&env, 0, sizeof env);
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = 3;
    cfg.name = "stress-a";
    if (mp_pool_create(&cfg, &env.pool[POOL_A]) != MP_OK)
        return 1;
    cfg.threads = 2;
    cfg.name = "stress-b";
    cfg.spin_us = 0;
    if (mp_pool_create(&cfg, &env.pool[POOL_B]) != MP_OK)
        return 1;
    atomic_fetch_add(&pools_created, 2);
    env.mask = MASK(POOL_A) | MASK(POOL_B);
    static atomic_int closing_a, closing_b;
    env.closing[POOL_A] = &closing_a;
    env.closing[POOL_B] = &closing_b;

    double start = now_s();
    run_start = start;
    /* No time limit: a deadline no run reaches. */
    double deadline = seconds > 0 ? start + seconds : start + 1e12;
    watchdog_deadline = seconds > 0 ? deadline + watchdog_grace : 0;
    pthread_t dog;
    pthread_create(&dog, NULL, watchdog, NULL);

    pthread_t *th = calloc(threads, sizeof *th);
    struct driver *drivers = calloc(threads, sizeof *drivers);
    uint64_t ss = seed;
    for (unsigned i = 0; i < threads; i++) {
        drivers[i].env = env;
        drivers[i].seed = splitmix(&ss);
        drivers[i].deadline = deadline;
        if (pthread_create(&th[i], NULL, drive, &drivers[i]) != 0) {
            fprintf(stderr, "stress: cannot start thread %u\n", i);
            return 1;
        }
    }
    for (unsigned i = 0; i < threads; i++)
        pthread_join(th[i], NULL);

    /* A's pending tasks may still submit to B: A goes first. */
    atomic_store(&closing_a, 1);
    int rc = mp_pool_destroy(env.pool[POOL_A]);
    if (rc != MP_OK)
        MPT_FAILF("mp_pool_destroy(A) returned %d", rc);
    atomic_store(&closing_b, 1);
    rc = mp_pool_destroy(env.pool[POOL_B]);
    if (rc != MP_OK)
        MPT_FAILF("mp_pool_destroy(B) returned %d", rc);
    atomic_store(&stop_now, 1);
    pthread_join(dog, NULL);
    double elapsed = now_s() - start;

    for (size_t i = 0; i < graveyard_len; i++) {
        struct trec *r = graveyard[(graveyard_head + i) % GRAVEYARD_KEEP];
        if (atomic_load(&r->runs) != 0)
            ran_after_cancel++;
        free(r);
    }
    free(graveyard);
    if (ran_after_cancel)
        MPT_FAILF("%zu tasks ran although their cancel succeeded", ran_after_cancel);

    long long lost = (long long)atomic_load(&tasks_expected) - (long long)atomic_load(&tasks_run);
    if (lost != 0)
        MPT_FAILF("%lld background tasks lost (expected %lld runs, saw %lld)", lost,
             (long long)atomic_load(&tasks_expected), (long long)atomic_load(&tasks_run));
    unsigned long long injected = atomic_load(&n_errors_injected);
    unsigned long long returned = atomic_load(&n_errors_returned);
    if (injected != returned)
        MPT_FAILF("%llu errors injected, %llu came back to their caller", injected, returned);

    printf("stress: %.1f s, %llu operations (for %llu, reduce %llu, join %llu, broadcast %llu, "
           "scope %llu, task batches %llu, nested %llu), %llu pools created\n",
           elapsed, (unsigned long long)atomic_load(&n_ops), (unsigned long long)atomic_load(&n_for),
           (unsigned long long)atomic_load(&n_reduce), (unsigned long long)atomic_load(&n_join),
           (unsigned long long)atomic_load(&n_broadcast),
           (unsigned long long)atomic_load(&n_scope), (unsigned long long)atomic_load(&n_taskops),
           (unsigned long long)atomic_load(&n_nested),
           (unsigned long long)atomic_load(&pools_created));
    printf("stress: tasks %llu submitted, %lld run, %llu cancelled, %llu refused at shutdown\n",
           (unsigned long long)atomic_load(&tasks_submitted), (long long)atomic_load(&tasks_run),
           (unsigned long long)atomic_load(&tasks_cancelled),
           (unsigned long long)atomic_load(&tasks_refused));
    printf("stress: bounded waits %llu returned the result, %llu timed out\n",
           (unsigned long long)atomic_load(&n_timed_done),
           (unsigned long long)atomic_load(&n_timed_out));
    if (atomic_load(&n_timed_done) + atomic_load(&n_timed_out) == 0)
        MPT_FAILF("no bounded wait ran: the stress does not cover mp_task_wait_for");
    printf("stress: task graphs %llu, with %llu nodes, %llu of them cancelled\n",
           (unsigned long long)atomic_load(&n_graphs),
           (unsigned long long)atomic_load(&n_graph_nodes),
           (unsigned long long)atomic_load(&n_graph_cancelled));
    printf("stress: trace hooks %lld begins, %lld ends, %lld out of order\n",
           (long long)atomic_load(&trace_begins), (long long)atomic_load(&trace_ends),
           (long long)atomic_load(&trace_bad));
    if (atomic_load(&trace_begins) == 0 || atomic_load(&trace_begins) != atomic_load(&trace_ends) ||
        atomic_load(&trace_bad) != 0)
        MPT_FAILF("the trace hooks did not balance, or never ran");
    printf("stress: mp_yield %llu calls, %llu ran something\n",
           (unsigned long long)atomic_load(&n_yields),
           (unsigned long long)atomic_load(&n_yields_ran));
    if (atomic_load(&n_yields_ran) == 0)
        MPT_FAILF("no mp_yield ran work: the stress does not cover it");
    if (atomic_load(&n_graphs) == 0)
        MPT_FAILF("no task graph ran: the stress does not cover mp_submit_ex");
    printf("stress: errors %llu injected, %llu returned to their caller\n", injected, returned);
    printf("stress: lost = %lld, mismatches = %ld\n", lost, mpt_failures());
    free(th);
    free(drivers);
    return mpt_failures() == 0 ? 0 : 1;
}
