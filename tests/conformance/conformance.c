/*
 * The C runner of the conformance cases (cases.txt, shared with the Go,
 * Lua and Ruby runners): runs every case through the C API and prints one
 * line per case, then "conformance: N passed, N failed". A case whose kind
 * this runner does not know fails. Exit status 0 only if every case passed.
 * The kinds of 1.1 (cases-1.1.txt) are in conformance_1_1.c.
 *
 * usage: mp_conformance path/to/cases.txt
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <micropool.h>

#include "conformance.h"
#include "cover.h"
#include "fold.h"

void problem(struct outcome *o, const char *fmt, ...)
{
    if (o->problem[0])
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->problem, sizeof o->problem, fmt, ap);
    va_end(ap);
}

mp_pool *make_pool(long long threads, struct outcome *o)
{
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = (unsigned)threads;
    mp_pool *pool = NULL;
    int rc = mp_pool_create(&cfg, &pool);
    if (rc != MP_OK) {
        problem(o, "mp_pool_create(threads=%lld) = %d (%s)", threads, rc, mp_strerror(rc));
        return NULL;
    }
    return pool;
}

void end_pool(mp_pool *pool, struct outcome *o)
{
    int rc = mp_pool_destroy(pool);
    if (rc != MP_OK)
        problem(o, "mp_pool_destroy = %d (%s)", rc, mp_strerror(rc));
}

/* ------------------------------------------------------------- loops */

/* The coverage checker of ../common, and the sum of the visited indices. */
struct cover {
    mpt_cover c;
    atomic_uint_fast64_t sum;
};

static int cover_body(void *arg, size_t begin, size_t end)
{
    struct cover *c = arg;
    if (mpt_cover_mark(&c->c, begin, end) != 0)
        return 0;
    uint64_t s = 0;
    for (size_t i = begin; i < end; i++)
        s += i;
    atomic_fetch_add(&c->sum, s);
    return 0;
}

static void run_for_cover(const struct conf_case *cc, struct outcome *o, unsigned flags)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    struct cover c = {.sum = 0};
    mpt_cover_init(&c.c, (size_t)cc->a);
    int rc = mp_for(pool, c.c.n, (size_t)cc->b, flags, cover_body, &c);
    if (rc != MP_OK)
        problem(o, "mp_for = %d (%s)", rc, mp_strerror(rc));
    size_t wrong = mpt_cover_wrong(&c.c);
    if (wrong)
        problem(o, "%zu items not visited exactly once or bad ranges (%d bad ranges)", wrong,
                atomic_load(&c.c.bad_range));
    long parts = atomic_load(&c.c.calls);
    if (c.c.n == 0 && parts != 0)
        problem(o, "n = 0 called the body %ld times", parts);
    if ((flags & MP_SPLIT_STATIC) && parts > (long)mp_pool_threads(pool))
        problem(o, "MP_SPLIT_STATIC made %ld parts on %u threads", parts,
                mp_pool_threads(pool));
    o->value = (int64_t)atomic_load(&c.sum);
    mpt_cover_free(&c.c);
    end_pool(pool, o);
}

static void kind_for_cover(const struct conf_case *cc, struct outcome *o)
{
    run_for_cover(cc, o, MP_SPLIT_DYNAMIC);
}

static void kind_for_static(const struct conf_case *cc, struct outcome *o)
{
    run_for_cover(cc, o, MP_SPLIT_STATIC);
}

struct fail_item {
    size_t bad;
    atomic_int calls;
};

static int fail_item_body(void *arg, size_t begin, size_t end)
{
    struct fail_item *f = arg;
    atomic_fetch_add(&f->calls, 1);
    return (f->bad >= begin && f->bad < end) ? CASE_ERROR : 0;
}

static void kind_for_error(const struct conf_case *cc, struct outcome *o)
{
    o->is_error = 1;
    o->where = "for";
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    struct fail_item f = {.bad = (size_t)cc->b};
    o->rc = mp_for(pool, (size_t)cc->a, 1, 0, fail_item_body, &f);
    end_pool(pool, o);
}

/* ------------------------------------------------------------ reduce */

static int sum_map(void *arg, size_t begin, size_t end, void *acc)
{
    (void)arg;
    uint64_t s = 0;
    for (size_t i = begin; i < end; i++)
        s += i;
    *(uint64_t *)acc += s;
    return 0;
}

static void sum_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

static void kind_reduce_sum(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    uint64_t acc = 0;
    int rc = mp_reduce(pool, (size_t)cc->a, (size_t)cc->b, 0, &acc, sizeof acc, sum_map,
                       sum_combine, NULL);
    if (rc != MP_OK)
        problem(o, "mp_reduce = %d (%s)", rc, mp_strerror(rc));
    o->value = (int64_t)acc;
    end_pool(pool, o);
}

/* The folds (mpt_hash, mpt_harmonic_map) are those of ../common/fold.h. */
static void kind_reduce_hash(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    mpt_hash acc = {0, 0};
    int rc = mp_reduce(pool, (size_t)cc->a, (size_t)cc->b, 0, &acc, sizeof acc, mpt_hash_map,
                       mpt_hash_combine, NULL);
    if (rc != MP_OK)
        problem(o, "mp_reduce = %d (%s)", rc, mp_strerror(rc));
    if (acc.len != (uint64_t)cc->a)
        problem(o, "the fold saw %" PRIu64 " items, want %lld", acc.len, cc->a);
    o->value = (int64_t)acc.h;
    end_pool(pool, o);
}

static void kind_reduce_det(const struct conf_case *cc, struct outcome *o)
{
    double first = 0;
    int equal = 1;
    for (unsigned t = 1; t <= 4; t++) {
        mp_pool *pool = make_pool(t, o);
        if (!pool)
            return;
        double acc = 0.0;
        int rc = mp_reduce(pool, (size_t)cc->a, (size_t)cc->b, MP_DETERMINISTIC, &acc,
                           sizeof acc, mpt_harmonic_map, mpt_double_combine, NULL);
        if (rc != MP_OK)
            problem(o, "mp_reduce on %u threads = %d (%s)", t, rc, mp_strerror(rc));
        if (t == 1)
            first = acc;
        else if (memcmp(&first, &acc, sizeof acc) != 0) {
            equal = 0;
            problem(o, "%.17g on %u threads, %.17g on 1", acc, t, first);
        }
        end_pool(pool, o);
    }
    o->value = equal;
}

struct fail_map {
    size_t bad;
};

static int fail_map_fn(void *arg, size_t begin, size_t end, void *acc)
{
    struct fail_map *f = arg;
    *(uint64_t *)acc += end - begin;
    return (f->bad >= begin && f->bad < end) ? CASE_ERROR : 0;
}

static void kind_reduce_error(const struct conf_case *cc, struct outcome *o)
{
    o->is_error = 1;
    o->where = "map";
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    struct fail_map f = {(size_t)cc->b};
    uint64_t acc = 0;
    o->rc = mp_reduce(pool, (size_t)cc->a, 1, 0, &acc, sizeof acc, fail_map_fn, sum_combine, &f);
    end_pool(pool, o);
}

/* -------------------------------------------------------------- join */

struct fib {
    mp_pool *pool;
    long long n, cut;
    int64_t result;
};

static int64_t fib_seq(long long n)
{
    return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

static int fib_fn(void *arg)
{
    struct fib *f = arg;
    if (f->n <= f->cut || f->n < 2) {
        f->result = fib_seq(f->n);
        return 0;
    }
    struct fib x = {f->pool, f->n - 1, f->cut, 0}, y = {f->pool, f->n - 2, f->cut, 0};
    int rc = mp_join(f->pool, fib_fn, &x, fib_fn, &y);
    f->result = x.result + y.result;
    return rc;
}

static void kind_join_fib(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    struct fib f = {pool, cc->a, cc->b, 0};
    int rc = fib_fn(&f);
    if (rc != MP_OK)
        problem(o, "mp_join = %d (%s)", rc, mp_strerror(rc));
    o->value = f.result;
    end_pool(pool, o);
}

static int ok_fn(void *arg)
{
    if (arg)
        atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

static int fail_fn(void *arg)
{
    if (arg)
        atomic_fetch_add((atomic_int *)arg, 1);
    return CASE_ERROR;
}

static void kind_join_error(const struct conf_case *cc, struct outcome *o)
{
    o->is_error = 1;
    o->where = "b";
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    atomic_int a_runs = 0;
    o->rc = mp_join(pool, ok_fn, &a_runs, fail_fn, NULL);
    if (atomic_load(&a_runs) != 1)
        problem(o, "a ran %d times", atomic_load(&a_runs));
    end_pool(pool, o);
}

/* --------------------------------------------------------- broadcast */

struct bcast {
    mp_pool *pool;
    unsigned count;
    atomic_int runs[MP_THREADS_MAX];
    atomic_int wrong_count;
    atomic_int wrong_index;
};

static int bcast_fn(void *arg, unsigned index, unsigned count)
{
    struct bcast *b = arg;
    if (count != b->count)
        atomic_fetch_add(&b->wrong_count, 1);
    if (index >= count || index >= MP_THREADS_MAX) {
        atomic_fetch_add(&b->wrong_index, 1);
        return 0;
    }
    if (mp_pool_thread_index(b->pool) != (int)index)
        atomic_fetch_add(&b->wrong_index, 1);
    atomic_fetch_add(&b->runs[index], 1);
    return 0;
}

static void run_broadcast(const struct conf_case *cc, struct outcome *o, int check_index)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    struct bcast *b = calloc(1, sizeof *b);
    b->pool = pool;
    b->count = mp_pool_threads(pool);
    if (check_index && mp_pool_thread_index(pool) != -1)
        problem(o, "thread index outside any call is %d", mp_pool_thread_index(pool));
    int rc = mp_broadcast(pool, bcast_fn, b);
    if (rc != MP_OK)
        problem(o, "mp_broadcast = %d (%s)", rc, mp_strerror(rc));
    if (check_index && mp_pool_thread_index(pool) != -1)
        problem(o, "thread index after the call is %d", mp_pool_thread_index(pool));
    if (atomic_load(&b->wrong_count))
        problem(o, "a part saw count != %u", b->count);
    if (check_index && atomic_load(&b->wrong_index))
        problem(o, "%d parts saw a thread index other than their own",
                atomic_load(&b->wrong_index));
    int64_t ran_once = 0;
    for (unsigned i = 0; i < b->count; i++) {
        if (atomic_load(&b->runs[i]) == 1)
            ran_once++;
        else
            problem(o, "index %u ran %d times", i, atomic_load(&b->runs[i]));
    }
    o->value = ran_once;
    free(b);
    end_pool(pool, o);
}

static void kind_broadcast_all(const struct conf_case *cc, struct outcome *o)
{
    run_broadcast(cc, o, 0);
}

static void kind_thread_index(const struct conf_case *cc, struct outcome *o)
{
    run_broadcast(cc, o, 1);
}

static int bcast_fail_last(void *arg, unsigned index, unsigned count)
{
    (void)arg;
    return index == count - 1 ? CASE_ERROR : 0;
}

static void kind_broadcast_error(const struct conf_case *cc, struct outcome *o)
{
    o->is_error = 1;
    o->where = "part";
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    o->rc = mp_broadcast(pool, bcast_fail_last, NULL);
    end_pool(pool, o);
}

/* ------------------------------------------------------------ nesting */

struct grid {
    mp_pool *pool;
    size_t rows, cols;
    atomic_uchar *hits;
};

struct grid_row {
    struct grid *g;
    size_t r;
};

static int grid_inner(void *arg, size_t begin, size_t end)
{
    struct grid_row *row = arg;
    for (size_t c = begin; c < end; c++)
        atomic_fetch_add(&row->g->hits[row->r * row->g->cols + c], 1);
    return 0;
}

static int grid_outer(void *arg, size_t begin, size_t end)
{
    struct grid *g = arg;
    for (size_t r = begin; r < end; r++) {
        struct grid_row row = {g, r};
        int rc = mp_for(g->pool, g->cols, 0, 0, grid_inner, &row);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void kind_nested_for(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    struct grid g = {pool, (size_t)cc->a, (size_t)cc->b, NULL};
    g.hits = calloc(g.rows * g.cols + 1, 1);
    int rc = mp_for(pool, g.rows, 0, 0, grid_outer, &g);
    if (rc != MP_OK)
        problem(o, "mp_for = %d (%s)", rc, mp_strerror(rc));
    int64_t once = 0;
    for (size_t i = 0; i < g.rows * g.cols; i++) {
        if (atomic_load(&g.hits[i]) == 1)
            once++;
        else
            problem(o, "inner item %zu counted %d times", i, atomic_load(&g.hits[i]));
    }
    o->value = once;
    free(g.hits);
    end_pool(pool, o);
}

struct join_halves {
    mp_pool *pool;
    size_t a, b;
    struct cover cover;
    uint64_t reduced;
    int for_rc, reduce_rc;
};

static int half_for(void *arg)
{
    struct join_halves *h = arg;
    h->for_rc = mp_for(h->pool, h->a, 0, 0, cover_body, &h->cover);
    return h->for_rc;
}

static int half_reduce(void *arg)
{
    struct join_halves *h = arg;
    h->reduced = 0;
    h->reduce_rc = mp_reduce(h->pool, h->b, 0, 0, &h->reduced, sizeof h->reduced, sum_map,
                             sum_combine, NULL);
    return h->reduce_rc;
}

static void kind_nested_join_for(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    struct join_halves h = {.pool = pool, .a = (size_t)cc->a, .b = (size_t)cc->b};
    mpt_cover_init(&h.cover.c, h.a);
    int rc = mp_join(pool, half_for, &h, half_reduce, &h);
    if (rc != MP_OK)
        problem(o, "mp_join = %d (%s)", rc, mp_strerror(rc));
    int64_t counted = 0;
    for (size_t i = 0; i < h.a; i++) {
        if (atomic_load(&h.cover.c.hits[i]) == 1)
            counted++;
        else
            problem(o, "item %zu of the for counted %d times", i,
                    atomic_load(&h.cover.c.hits[i]));
    }
    if (atomic_load(&h.cover.c.bad_range))
        problem(o, "the for made %d bad ranges", atomic_load(&h.cover.c.bad_range));
    o->value = counted + (int64_t)h.reduced;
    mpt_cover_free(&h.cover.c);
    end_pool(pool, o);
}

/* ------------------------------------------------------------- scopes */

struct scope_tree {
    long long children, grandchildren;
    atomic_llong runs;
    atomic_int spawn_errors;
    mp_scope *scope;
};

static int grandchild_fn(void *arg)
{
    atomic_fetch_add(&((struct scope_tree *)arg)->runs, 1);
    return 0;
}

static int child_fn(void *arg)
{
    struct scope_tree *t = arg;
    atomic_fetch_add(&t->runs, 1);
    for (long long i = 0; i < t->grandchildren; i++)
        if (mp_scope_spawn(t->scope, grandchild_fn, t) != MP_OK)
            atomic_fetch_add(&t->spawn_errors, 1);
    return 0;
}

static int tree_body(mp_scope *scope, void *arg)
{
    struct scope_tree *t = arg;
    t->scope = scope;
    for (long long i = 0; i < t->children; i++) {
        int rc = mp_scope_spawn(scope, child_fn, t);
        if (rc != MP_OK)
            return rc;
    }
    return 0;
}

static void kind_scope_tree(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    struct scope_tree t = {.children = cc->a, .grandchildren = cc->b};
    int rc = mp_scope_run(pool, tree_body, &t);
    if (rc != MP_OK)
        problem(o, "mp_scope_run = %d (%s)", rc, mp_strerror(rc));
    if (atomic_load(&t.spawn_errors))
        problem(o, "%d spawns failed", atomic_load(&t.spawn_errors));
    o->value = atomic_load(&t.runs);
    end_pool(pool, o);
}

struct scope_fail {
    long long n, bad;
    long long ids[4096];
};

static int maybe_fail_task(void *arg)
{
    long long *id = arg;
    return id[0] == id[1] ? CASE_ERROR : 0;
}

static int fail_body(mp_scope *scope, void *arg)
{
    struct scope_fail *sf = arg;
    for (long long i = 0; i < sf->n && 2 * i + 1 < 4096; i++) {
        sf->ids[2 * i] = i;
        sf->ids[2 * i + 1] = sf->bad;
        int rc = mp_scope_spawn(scope, maybe_fail_task, &sf->ids[2 * i]);
        if (rc != MP_OK)
            return rc;
    }
    return 0;
}

static void kind_scope_error(const struct conf_case *cc, struct outcome *o)
{
    o->is_error = 1;
    o->where = "task";
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    struct scope_fail *sf = calloc(1, sizeof *sf);
    sf->n = cc->a;
    sf->bad = cc->b;
    if (sf->n > 2048)
        problem(o, "this runner spawns at most 2048 tasks");
    o->rc = mp_scope_run(pool, fail_body, sf);
    free(sf);
    end_pool(pool, o);
}

/* -------------------------------------------------------------- tasks */

static int return_arg_fn(void *arg)
{
    return (int)(intptr_t)arg;
}

static void kind_submit_wait(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    long long n = cc->a;
    mp_task **t = calloc((size_t)n + 1, sizeof *t);
    for (long long i = 0; i < n; i++) {
        int rc = mp_submit(pool, return_arg_fn, (void *)(intptr_t)i, &t[i]);
        if (rc != MP_OK) {
            problem(o, "mp_submit = %d (%s)", rc, mp_strerror(rc));
            t[i] = NULL;
        }
    }
    int64_t sum = 0;
    for (long long i = 0; i < n; i++) {
        if (!t[i])
            continue;
        sum += mp_task_wait(t[i]);
        if (mp_task_done(t[i]) != 1)
            problem(o, "task %lld not done after wait", i);
        mp_task_release(t[i]);
    }
    o->value = sum;
    free(t);
    end_pool(pool, o);
}

static void kind_submit_error(const struct conf_case *cc, struct outcome *o)
{
    o->is_error = 1;
    o->where = "task";
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    mp_task *t = NULL;
    int rc = mp_submit(pool, fail_fn, NULL, &t);
    if (rc != MP_OK) {
        problem(o, "mp_submit = %d (%s)", rc, mp_strerror(rc));
        o->rc = rc;
    } else {
        o->rc = mp_task_wait(t);
        mp_task_release(t);
    }
    end_pool(pool, o);
}

static void kind_submit_cancel(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    atomic_int runs = 0;
    mp_task *t = NULL;
    int rc = mp_submit(pool, ok_fn, &runs, &t);
    if (rc != MP_OK) {
        problem(o, "mp_submit = %d (%s)", rc, mp_strerror(rc));
        end_pool(pool, o);
        return;
    }
    rc = mp_task_cancel(t);
    if (rc != MP_OK)
        problem(o, "mp_task_cancel = %d (%s)", rc, mp_strerror(rc));
    rc = mp_task_wait(t);
    if (rc != MP_ECANCELED)
        problem(o, "mp_task_wait = %d (%s), want MP_ECANCELED", rc, mp_strerror(rc));
    if (mp_task_done(t) != 1)
        problem(o, "mp_task_done = %d after cancel", mp_task_done(t));
    end_pool(pool, o);
    mp_task_release(t);
    o->value = atomic_load(&runs);
}

static void kind_close_pending(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    atomic_int runs = 0;
    for (long long i = 0; i < cc->a; i++) {
        int rc = mp_submit(pool, ok_fn, &runs, NULL);
        if (rc != MP_OK)
            problem(o, "mp_submit = %d (%s)", rc, mp_strerror(rc));
    }
    end_pool(pool, o);
    o->value = atomic_load(&runs);
}

/* ------------------------------------------------------------ driver */

static const struct kind kinds[] = {
    {"for_cover", kind_for_cover, 1, 1},
    {"for_static", kind_for_static, 1, 1},
    {"reduce_sum", kind_reduce_sum, 1, 1},
    {"reduce_hash", kind_reduce_hash, 1, 1},
    {"reduce_det", kind_reduce_det, 1, 1},
    {"join_fib", kind_join_fib, 1, 1},
    {"join_error", kind_join_error, 0, 0},
    {"for_error", kind_for_error, 1, 1},
    {"reduce_error", kind_reduce_error, 1, 1},
    {"broadcast_all", kind_broadcast_all, 0, 0},
    {"broadcast_error", kind_broadcast_error, 0, 0},
    {"nested_for", kind_nested_for, 1, 1},
    {"nested_join_for", kind_nested_join_for, 1, 1},
    {"scope_tree", kind_scope_tree, 1, 1},
    {"scope_error", kind_scope_error, 1, 1},
    {"submit_wait", kind_submit_wait, 1, 0},
    {"submit_error", kind_submit_error, 0, 0},
    {"submit_cancel", kind_submit_cancel, 0, 0},
    {"close_pending", kind_close_pending, 1, 0},
    {"thread_index", kind_thread_index, 0, 0},
};

static int parse_number(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return 0;
    *out = v;
    return 1;
}

/* Runs one case; returns 1 if it passed, printing its line either way. */
static int run_case(const struct conf_case *cc)
{
    const struct kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, cc->kind) == 0)
            k = &kinds[i];
    for (size_t i = 0; i < kinds_1_1_count; i++)
        if (strcmp(kinds_1_1[i].name, cc->kind) == 0)
            k = &kinds_1_1[i];
    if (!k) {
        printf("FAIL %s: unknown kind '%s' (line %d)\n", cc->name, cc->kind, cc->line);
        return 0;
    }
    if ((k->needs_a && !cc->has_a) || (k->needs_b && !cc->has_b)) {
        printf("FAIL %s: kind %s needs the a%s column\n", cc->name, cc->kind,
               k->needs_b ? " and b" : "");
        return 0;
    }
    if (cc->threads < 0 || cc->threads > (long long)MP_THREADS_MAX || cc->a < 0 || cc->b < 0) {
        printf("FAIL %s: parameters out of range\n", cc->name);
        return 0;
    }
    struct outcome o;
    memset(&o, 0, sizeof o);
    k->run(cc, &o);

    int want_error = strncmp(cc->expect, "error:", 6) == 0;
    if (o.problem[0]) {
        printf("FAIL %s: %s\n", cc->name, o.problem);
        return 0;
    }
    if (want_error != o.is_error) {
        printf("FAIL %s: expect '%s' does not fit kind %s\n", cc->name, cc->expect, cc->kind);
        return 0;
    }
    if (want_error) {
        if (strcmp(cc->expect + 6, o.where) != 0) {
            printf("FAIL %s: expect '%s', but kind %s fails in '%s'\n", cc->name, cc->expect,
                   cc->kind, o.where);
            return 0;
        }
        if (o.rc != CASE_ERROR) {
            printf("FAIL %s: the call returned %d (%s), want the callback's %d\n", cc->name,
                   o.rc, mp_strerror(o.rc), CASE_ERROR);
            return 0;
        }
        printf("ok   %s (%s -> %d)\n", cc->name, cc->expect, o.rc);
        return 1;
    }
    long long want;
    if (!parse_number(cc->expect, &want)) {
        printf("FAIL %s: cannot read expect '%s'\n", cc->name, cc->expect);
        return 0;
    }
    if (o.value != (int64_t)want) {
        printf("FAIL %s: got %" PRId64 ", want %lld\n", cc->name, o.value, want);
        return 0;
    }
    printf("ok   %s (%" PRId64 ")\n", cc->name, o.value);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s cases.txt\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", argv[0], argv[1], strerror(errno));
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char line[512];
    int lineno = 0, passed = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char cols[6][64];
        int n = sscanf(line, "%63s %63s %63s %63s %63s %63s", cols[0], cols[1], cols[2], cols[3],
                       cols[4], cols[5]);
        if (n <= 0)
            continue;
        struct conf_case cc;
        memset(&cc, 0, sizeof cc);
        cc.line = lineno;
        if (n != 6) {
            printf("FAIL line %d: %d columns, want 6\n", lineno, n);
            failed++;
            continue;
        }
        snprintf(cc.name, sizeof cc.name, "%s", cols[0]);
        snprintf(cc.kind, sizeof cc.kind, "%s", cols[1]);
        snprintf(cc.expect, sizeof cc.expect, "%s", cols[5]);
        int ok = parse_number(cols[2], &cc.threads);
        cc.has_a = strcmp(cols[3], "-") != 0;
        cc.has_b = strcmp(cols[4], "-") != 0;
        if (cc.has_a)
            ok = ok && parse_number(cols[3], &cc.a);
        if (cc.has_b)
            ok = ok && parse_number(cols[4], &cc.b);
        if (!ok) {
            printf("FAIL %s: cannot read the numbers on line %d\n", cc.name, lineno);
            failed++;
            continue;
        }
        if (run_case(&cc))
            passed++;
        else
            failed++;
    }
    fclose(f);
    if (passed + failed == 0) {
        printf("FAIL: no case found in %s\n", argv[1]);
        failed = 1;
    }
    printf("conformance: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
