/* mp_join: fork-join, recursion, deep nesting, external threads, errors. */
#include "support.h"

#include <limits.h>
#include <stdlib.h>

TestSuite(join, .timeout = 40);

struct pair {
    atomic_int a_runs, b_runs;
    pthread_t a_thread;
    mp_pool *pool;
    atomic_int b_index;
};

static int run_a(void *arg)
{
    struct pair *p = arg;
    p->a_thread = pthread_self();
    atomic_fetch_add(&p->a_runs, 1);
    return 0;
}

static int run_b(void *arg)
{
    struct pair *p = arg;
    atomic_store(&p->b_index, mp_pool_thread_index(p->pool));
    atomic_fetch_add(&p->b_runs, 1);
    return 0;
}

Test(join, runs_both_halves_once_with_a_on_the_caller)
{
    static const unsigned sizes[] = {1, 2, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (int r = 0; r < 200; r++) {
            struct pair p = {.pool = pool, .b_index = -7};
            cr_assert_eq(mp_join(pool, run_a, &p, run_b, &p), MP_OK);
            cr_assert_eq(atomic_load(&p.a_runs), 1);
            cr_assert_eq(atomic_load(&p.b_runs), 1);
            cr_assert(pthread_equal(p.a_thread, pthread_self()), "the caller runs a");
            int bi = atomic_load(&p.b_index);
            cr_assert(bi >= 0 && bi < (int)sizes[k], "b runs on a thread of the pool (%d)", bi);
        }
        mpt_destroy(pool);
    }
}

Test(join, null_arguments_are_einval_and_nothing_runs)
{
    mp_pool *pool = mpt_pool(2);
    struct pair p = {.pool = pool};
    cr_assert_eq(mp_join(NULL, run_a, &p, run_b, &p), MP_EINVAL);
    cr_assert_eq(mp_join(pool, NULL, &p, run_b, &p), MP_EINVAL);
    cr_assert_eq(mp_join(pool, run_a, &p, NULL, &p), MP_EINVAL);
    cr_assert_eq(atomic_load(&p.a_runs) + atomic_load(&p.b_runs), 0);
    cr_assert_eq(mp_join(pool, run_a, &p, run_b, &p), MP_OK);
    cr_assert_eq(atomic_load(&p.a_runs) + atomic_load(&p.b_runs), 2);
    mpt_destroy(pool);
}

static int null_arg_fn(void *arg)
{
    return arg == NULL ? 0 : 1;
}

Test(join, null_arg_is_passed_on)
{
    mp_pool *pool = mpt_pool(2);
    cr_assert_eq(mp_join(pool, null_arg_fn, NULL, null_arg_fn, NULL), MP_OK);
    mpt_destroy(pool);
}

/* ------------------------------------------------------------ recursion */

struct fib {
    mp_pool *pool;
    int n;
    int cut;
    long result;
};

static long fib_seq(int n)
{
    return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

static int fib_task(void *arg)
{
    struct fib *f = arg;
    if (f->n <= f->cut || f->n < 2) {
        f->result = fib_seq(f->n);
        return 0;
    }
    struct fib x = {f->pool, f->n - 1, f->cut, 0}, y = {f->pool, f->n - 2, f->cut, 0};
    int rc = mp_join(f->pool, fib_task, &x, fib_task, &y);
    f->result = x.result + y.result;
    return rc;
}

Test(join, fib_with_a_join_at_every_level)
{
    static const unsigned sizes[] = {1, 2, 3, 16};
    for (size_t k = 0; k < 4; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        struct fib f = {pool, 22, 1, 0};
        cr_assert_eq(mp_join(pool, fib_task, &f, null_arg_fn, NULL), MP_OK);
        cr_assert_eq(f.result, 17711, "fib(22) on %u threads", sizes[k]);
        mpt_destroy(pool);
    }
}

struct chain {
    mp_pool *pool;
    int depth;
    int recurse_in_b;
    atomic_long *leaves;
    atomic_int *max_depth_seen;
};

static int leaf(void *arg)
{
    struct chain *c = arg;
    atomic_fetch_add(c->leaves, 1);
    return 0;
}

static int chain_step(void *arg)
{
    struct chain *c = arg;
    if (c->depth == 0) {
        atomic_store(c->max_depth_seen, 1);
        return 0;
    }
    struct chain next = *c;
    next.depth = c->depth - 1;
    if (c->recurse_in_b)
        return mp_join(c->pool, leaf, &next, chain_step, &next);
    return mp_join(c->pool, chain_step, &next, leaf, &next);
}

Test(join, a_recursive_join_5000_deep)
{
    mp_pool *pool = mpt_pool(4);
    atomic_long leaves = 0;
    atomic_int bottom = 0;
    struct chain c = {pool, 5000, 0, &leaves, &bottom};
    cr_assert_eq(chain_step(&c), MP_OK);
    cr_assert_eq(atomic_load(&leaves), 5000);
    cr_assert_eq(atomic_load(&bottom), 1);
    mpt_destroy(pool);
}

Test(join, a_recursive_join_2000_deep_through_the_stolen_half)
{
    static const unsigned sizes[] = {1, 2, 4};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        atomic_long leaves = 0;
        atomic_int bottom = 0;
        struct chain c = {pool, 2000, 1, &leaves, &bottom};
        cr_assert_eq(chain_step(&c), MP_OK);
        cr_assert_eq(atomic_load(&leaves), 2000);
        cr_assert_eq(atomic_load(&bottom), 1);
        mpt_destroy(pool);
    }
}

/* A binary tree of joins whose leaves check in: every leaf exactly once. */
struct tree {
    mp_pool *pool;
    unsigned lo, hi;
    atomic_uchar *hits;
};

static int tree_task(void *arg)
{
    struct tree *t = arg;
    if (t->hi - t->lo == 1) {
        atomic_fetch_add(&t->hits[t->lo], 1);
        return 0;
    }
    unsigned mid = t->lo + (t->hi - t->lo) / 2;
    struct tree l = {t->pool, t->lo, mid, t->hits}, r = {t->pool, mid, t->hi, t->hits};
    return mp_join(t->pool, tree_task, &l, tree_task, &r);
}

struct external {
    mp_pool *pool;
    int rc;
    long fib;
    unsigned leaves;
    size_t wrong;
};

static void *external_joiner(void *arg)
{
    struct external *e = arg;
    struct fib f = {e->pool, 18, 2, 0};
    e->rc = fib_task(&f);
    e->fib = f.result;
    atomic_uchar *hits = calloc(e->leaves, sizeof *hits);
    struct tree t = {e->pool, 0, e->leaves, hits};
    int rc = tree_task(&t);
    if (e->rc == 0)
        e->rc = rc;
    e->wrong = 0;
    for (unsigned i = 0; i < e->leaves; i++)
        if (hits[i] != 1)
            e->wrong++;
    free(hits);
    return NULL;
}

Test(join, joins_from_several_external_threads_at_once)
{
    mp_pool *pool = mpt_pool(3);
    enum { T = 6 };
    pthread_t th[T];
    struct external e[T];
    for (int i = 0; i < T; i++) {
        e[i] = (struct external){.pool = pool, .rc = -1, .leaves = 3000u + (unsigned)i};
        cr_assert_eq(pthread_create(&th[i], NULL, external_joiner, &e[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(e[i].rc, MP_OK, "thread %d", i);
        cr_assert_eq(e[i].fib, 2584, "thread %d: fib(18)", i);
        cr_assert_eq(e[i].wrong, 0u, "thread %d: every leaf once", i);
    }
    mpt_destroy(pool);
}

/* Joins nested inside the other operations. */
static int join_in_body(void *arg, size_t begin, size_t end)
{
    mp_pool *pool = arg;
    for (size_t i = begin; i < end; i++) {
        struct fib f = {pool, 10, 1, 0};
        int rc = fib_task(&f);
        if (rc != 0)
            return rc;
        if (f.result != 55)
            return 1000;
    }
    return 0;
}

static int join_in_bcast(void *arg, unsigned index, unsigned count)
{
    (void)index;
    (void)count;
    return join_in_body(arg, 0, 3);
}

Test(join, joins_inside_loops_and_broadcasts)
{
    mp_pool *pool = mpt_pool(4);
    cr_assert_eq(mp_for(pool, 200, 1, 0, join_in_body, pool), MP_OK);
    cr_assert_eq(mp_broadcast(pool, join_in_bcast, pool), MP_OK);
    mpt_destroy(pool);
}

/* --------------------------------------------------------------- errors */

struct failing {
    atomic_int runs;
    int value;
};

static int fail_with(void *arg)
{
    struct failing *f = arg;
    atomic_fetch_add(&f->runs, 1);
    return f->value;
}

Test(join, an_error_comes_back_unchanged)
{
    static const int values[] = {1, 42, INT_MAX, -1, -4096, -100000, INT_MIN, MP_EBUSY};
    static const unsigned sizes[] = {1, 2, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            struct failing ok = {.value = 0}, bad = {.value = values[v]};
            cr_assert_eq(mp_join(pool, fail_with, &bad, fail_with, &ok), values[v]);
            cr_assert_eq(mp_join(pool, fail_with, &ok, fail_with, &bad), values[v]);
            cr_assert_eq(atomic_load(&bad.runs), 2);
        }
        mpt_destroy(pool);
    }
}

Test(join, a_failing_a_skips_b_when_b_has_not_started)
{
    /* On one thread b cannot have started when a returns. */
    mp_pool *pool = mpt_pool(1);
    struct failing a = {.value = 3}, b = {.value = 4};
    cr_assert_eq(mp_join(pool, fail_with, &a, fail_with, &b), 3);
    cr_assert_eq(atomic_load(&a.runs), 1);
    cr_assert_eq(atomic_load(&b.runs), 0, "b was skipped");
    mpt_destroy(pool);
}

Test(join, both_failing_returns_one_of_the_two)
{
    mp_pool *pool = mpt_pool(2);
    for (int r = 0; r < 100; r++) {
        struct failing a = {.value = 3}, b = {.value = 4};
        int rc = mp_join(pool, fail_with, &a, fail_with, &b);
        cr_assert(rc == 3 || (rc == 4 && atomic_load(&b.runs) == 1), "rc %d", rc);
    }
    mpt_destroy(pool);
}

/* An error deep in a recursion comes back to the top; the leaves after it
 * are skipped. */
struct err_tree {
    mp_pool *pool;
    unsigned lo, hi, bad;
    atomic_int *leaves;
};

static int err_tree_task(void *arg)
{
    struct err_tree *t = arg;
    if (t->hi - t->lo == 1) {
        atomic_fetch_add(t->leaves, 1);
        return t->lo == t->bad ? 777 : 0;
    }
    unsigned mid = t->lo + (t->hi - t->lo) / 2;
    struct err_tree l = *t, r = *t;
    l.hi = mid;
    r.lo = mid;
    return mp_join(t->pool, err_tree_task, &l, err_tree_task, &r);
}

Test(join, an_error_deep_in_a_tree_reaches_the_top_and_skips_work)
{
    static const unsigned sizes[] = {1, 2, 4};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        atomic_int leaves = 0;
        struct err_tree t = {pool, 0, 1u << 16, 0, &leaves};
        cr_assert_eq(err_tree_task(&t), 777);
        cr_assert_lt(atomic_load(&leaves), 1 << 16,
                     "%u threads: leaves after the failing one were skipped (%d ran)", sizes[k],
                     atomic_load(&leaves));
        /* The pool is fine afterwards. */
        struct fib f = {pool, 15, 1, 0};
        cr_assert_eq(fib_task(&f), 0);
        cr_assert_eq(f.result, 610);
        mpt_destroy(pool);
    }
}
