/* Prerequisites, since 1.1: chains, diamonds, fan-in, error and cancel
 * propagation with and without MP_AFTER_CANCEL_ON_ERROR, handles released
 * early, waits and destroy on unfinished graphs, refused prerequisites. */
#include "support.h"

#include <stdlib.h>
#include <unistd.h>

TestSuite(after, .timeout = 120);

static int submit_after(mp_pool *pool, mp_fn fn, void *arg, mp_task *const *after, size_t n,
                        unsigned flags, mp_task **out)
{
    mp_task_opts o;
    mp_task_opts_init(&o);
    o.after = after;
    o.nafter = n;
    o.flags = flags;
    return mp_submit_ex(pool, fn, arg, &o, out);
}

/* A chain: link k checks that exactly k links ran before it. */
#define CHAIN_N 100000

struct chain {
    atomic_long done;
    atomic_long bad;
};

struct link {
    struct chain *c;
    long k;
};

static int link_fn(void *arg)
{
    struct link *l = arg;
    if (atomic_load(&l->c->done) != l->k)
        atomic_fetch_add(&l->c->bad, 1);
    atomic_fetch_add(&l->c->done, 1);
    return 0;
}

static void chain_on(unsigned threads)
{
    mp_pool *pool = mpt_pool(threads);
    static struct chain c;
    atomic_store(&c.done, 0);
    atomic_store(&c.bad, 0);
    struct link *links = calloc(CHAIN_N, sizeof *links);
    cr_assert(links);
    mp_task *prev = NULL, *t;
    for (long k = 0; k < CHAIN_N; k++) {
        links[k] = (struct link){&c, k};
        cr_assert_eq(submit_after(pool, link_fn, &links[k], &prev, prev ? 1 : 0, 0, &t), MP_OK);
        /* The prerequisite's handle goes at once: the edge keeps what it
         * needs. */
        if (prev)
            mp_task_release(prev);
        prev = t;
    }
    cr_assert_eq(mp_task_wait(prev), 0);
    mp_task_release(prev);
    cr_assert_eq(atomic_load(&c.done), CHAIN_N);
    cr_assert_eq(atomic_load(&c.bad), 0, "%ld links ran out of order", atomic_load(&c.bad));
    mpt_destroy(pool);
    free(links);
}

Test(after, a_chain_of_1e5_runs_in_order)
{
    chain_on(2);
}

Test(after, a_chain_on_a_pool_without_workers_runs_when_its_end_is_waited_for)
{
    chain_on(1);
}

struct diamond {
    atomic_int a, b, c, d_saw;
};

static int dia_a(void *p) { atomic_store(&((struct diamond *)p)->a, 1); return 0; }
static int dia_b(void *p)
{
    struct diamond *d = p;
    atomic_store(&d->b, atomic_load(&d->a) ? 1 : -1);
    return 0;
}
static int dia_c(void *p)
{
    struct diamond *d = p;
    atomic_store(&d->c, atomic_load(&d->a) ? 1 : -1);
    return 0;
}
static int dia_d(void *p)
{
    struct diamond *d = p;
    atomic_store(&d->d_saw, atomic_load(&d->b) == 1 && atomic_load(&d->c) == 1 ? 1 : -1);
    return 7;
}

Test(after, diamonds_run_each_task_after_its_prerequisites)
{
    mp_pool *pool = mpt_pool(3);
    for (int round = 0; round < 2000; round++) {
        struct diamond d = {0};
        mp_task *a, *b, *c, *e;
        cr_assert_eq(submit_after(pool, dia_a, &d, NULL, 0, 0, &a), MP_OK);
        cr_assert_eq(submit_after(pool, dia_b, &d, &a, 1, 0, &b), MP_OK);
        cr_assert_eq(submit_after(pool, dia_c, &d, &a, 1, 0, &c), MP_OK);
        mp_task *bc[2] = {b, c};
        cr_assert_eq(submit_after(pool, dia_d, &d, bc, 2, 0, &e), MP_OK);
        mp_task_release(a);
        mp_task_release(b);
        mp_task_release(c);
        cr_assert_eq(mp_task_wait(e), 7);
        mp_task_release(e);
        cr_assert_eq(atomic_load(&d.d_saw), 1, "round %d", round);
    }
    mpt_destroy(pool);
}

#define FAN_N 10000

static int count_fn(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

struct fan {
    atomic_int ran;
    int saw;
};

static int fan_end(void *arg)
{
    struct fan *f = arg;
    f->saw = atomic_load(&f->ran);
    return 0;
}

Test(after, a_fan_in_of_1e4_waits_for_all)
{
    mp_pool *pool = mpt_pool(2);
    static struct fan f;
    mp_task **pre = calloc(FAN_N, sizeof *pre);
    cr_assert(pre);
    for (int i = 0; i < FAN_N; i++)
        cr_assert_eq(mp_submit(pool, count_fn, &f.ran, &pre[i]), MP_OK);
    mp_task *end;
    cr_assert_eq(submit_after(pool, fan_end, &f, pre, FAN_N, 0, &end), MP_OK);
    for (int i = 0; i < FAN_N; i++)
        mp_task_release(pre[i]);
    cr_assert_eq(mp_task_wait(end), 0);
    cr_assert_eq(f.saw, FAN_N);
    mp_task_release(end);
    mpt_destroy(pool);
    free(pre);
}

static int fail_fn(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 42;
}

Test(after, an_error_cancels_the_dependents_that_carry_the_flag_and_so_on_down)
{
    mp_pool *pool = mpt_pool(2);
    static atomic_int ran_a, ran_b, ran_c, ran_d, ran_e, ran_f;
    mp_task *a, *b, *c, *d, *e, *f;
    cr_assert_eq(submit_after(pool, fail_fn, &ran_a, NULL, 0, 0, &a), MP_OK);
    /* b and c carry the flag: cancelled; d does not: runs; e after d
     * (flag) runs, as d returned 0; f after c and d without the flag:
     * runs. */
    cr_assert_eq(submit_after(pool, count_fn, &ran_b, &a, 1, MP_AFTER_CANCEL_ON_ERROR, &b), MP_OK);
    cr_assert_eq(submit_after(pool, count_fn, &ran_c, &b, 1, MP_AFTER_CANCEL_ON_ERROR, &c), MP_OK);
    cr_assert_eq(submit_after(pool, count_fn, &ran_d, &c, 1, 0, &d), MP_OK);
    cr_assert_eq(submit_after(pool, count_fn, &ran_e, &d, 1, MP_AFTER_CANCEL_ON_ERROR, &e), MP_OK);
    mp_task *cd[2] = {c, d};
    cr_assert_eq(submit_after(pool, count_fn, &ran_f, cd, 2, 0, &f), MP_OK);
    cr_assert_eq(mp_task_wait(a), 42);
    cr_assert_eq(mp_task_wait(b), MP_ECANCELED);
    cr_assert_eq(mp_task_wait(c), MP_ECANCELED);
    cr_assert_eq(mp_task_wait(d), 0);
    cr_assert_eq(mp_task_wait(e), 0);
    cr_assert_eq(mp_task_wait(f), 0);
    cr_assert_eq(atomic_load(&ran_b) + atomic_load(&ran_c), 0);
    cr_assert_eq(atomic_load(&ran_d) + atomic_load(&ran_e) + atomic_load(&ran_f), 3);
    mp_task *all[6] = {a, b, c, d, e, f};
    for (int i = 0; i < 6; i++)
        mp_task_release(all[i]);
    mpt_destroy(pool);
}

Test(after, a_prerequisite_that_failed_before_the_submit_cancels_at_once)
{
    mp_pool *pool = mpt_pool(2);
    static atomic_int ran_a, ran_b, ran_c;
    mp_task *a, *b, *c;
    cr_assert_eq(mp_submit(pool, fail_fn, &ran_a, &a), MP_OK);
    cr_assert_eq(mp_task_wait(a), 42);
    cr_assert_eq(submit_after(pool, count_fn, &ran_b, &a, 1, MP_AFTER_CANCEL_ON_ERROR, &b), MP_OK);
    cr_assert_eq(mp_task_done(b), 1);
    cr_assert_eq(mp_task_wait(b), MP_ECANCELED);
    cr_assert_eq(submit_after(pool, count_fn, &ran_c, &a, 1, 0, &c), MP_OK);
    cr_assert_eq(mp_task_wait(c), 0);
    cr_assert_eq(atomic_load(&ran_b), 0);
    cr_assert_eq(atomic_load(&ran_c), 1);
    mp_task_release(a);
    mp_task_release(b);
    mp_task_release(c);
    mpt_destroy(pool);
}

/* Holds the pool's worker until `open`. */
static int hold_fn(void *arg)
{
    while (!atomic_load((atomic_int *)arg))
        usleep(100);
    return 0;
}

Test(after, cancelling_a_waiting_task_succeeds_and_counts_as_a_cancelled_prerequisite)
{
    mp_pool *pool = mpt_pool(2);
    static atomic_int open, ran_b, ran_c, ran_d;
    mp_task *a, *b, *c, *d;
    cr_assert_eq(mp_submit(pool, hold_fn, &open, &a), MP_OK);
    cr_assert_eq(submit_after(pool, count_fn, &ran_b, &a, 1, 0, &b), MP_OK);
    cr_assert_eq(submit_after(pool, count_fn, &ran_c, &b, 1, MP_AFTER_CANCEL_ON_ERROR, &c), MP_OK);
    cr_assert_eq(submit_after(pool, count_fn, &ran_d, &b, 1, 0, &d), MP_OK);
    cr_assert_eq(mp_task_cancel(b), MP_OK);
    cr_assert_eq(mp_task_cancel(b), MP_OK, "cancelling again");
    cr_assert_eq(mp_task_wait(c), MP_ECANCELED);
    cr_assert_eq(mp_task_wait(d), 0, "d needs no flag: runs once b is cancelled");
    atomic_store(&open, 1);
    cr_assert_eq(mp_task_wait(a), 0);
    cr_assert_eq(mp_task_wait(b), MP_ECANCELED);
    cr_assert_eq(atomic_load(&ran_b) + atomic_load(&ran_c), 0);
    cr_assert_eq(atomic_load(&ran_d), 1);
    mp_task_release(a);
    mp_task_release(b);
    mp_task_release(c);
    mp_task_release(d);
    mpt_destroy(pool);
}

/* Destroy with graphs still waiting: every task runs, each after its
 * prerequisites (the chain checks its own order). */
Test(after, destroy_runs_pending_graphs_in_dependency_order)
{
    for (unsigned threads = 1; threads <= 3; threads++) {
        mp_pool *pool = mpt_pool(threads);
        static atomic_int open;
        atomic_store(&open, 0);
        mp_task *h;
        if (threads > 1)
            cr_assert_eq(mp_submit(pool, hold_fn, &open, &h), MP_OK);
        static struct chain c;
        atomic_store(&c.done, 0);
        atomic_store(&c.bad, 0);
        static struct link links[2000];
        mp_task *prev = NULL, *t;
        for (long k = 0; k < 2000; k++) {
            links[k] = (struct link){&c, k};
            cr_assert_eq(submit_after(pool, link_fn, &links[k], &prev, prev ? 1 : 0, 0, &t),
                         MP_OK);
            if (prev)
                mp_task_release(prev);
            prev = t;
        }
        mp_task_release(prev);
        atomic_store(&open, 1);
        if (threads > 1)
            mp_task_release(h);
        mpt_destroy(pool);
        cr_assert_eq(atomic_load(&c.done), 2000, "%u threads", threads);
        cr_assert_eq(atomic_load(&c.bad), 0);
    }
}

Test(after, bad_prerequisites_are_einval_and_queue_nothing)
{
    mp_pool *pool = mpt_pool(2), *other = mpt_pool(2);
    static atomic_int ran;
    mp_task *mine, *theirs, *out = (mp_task *)&out;
    cr_assert_eq(mp_submit(pool, count_fn, &ran, &mine), MP_OK);
    cr_assert_eq(mp_submit(other, count_fn, &ran, &theirs), MP_OK);
    mp_task *mixed[2] = {mine, theirs};
    cr_assert_eq(submit_after(pool, count_fn, &ran, mixed, 2, 0, &out), MP_EINVAL);
    mp_task *with_null[2] = {mine, NULL};
    cr_assert_eq(submit_after(pool, count_fn, &ran, with_null, 2, 0, &out), MP_EINVAL);
    cr_assert_eq(submit_after(pool, count_fn, &ran, NULL, 3, 0, &out), MP_EINVAL);
    cr_assert_eq(submit_after(pool, count_fn, &ran, &mine, 1, 2u, &out), MP_EINVAL);
    cr_assert_eq(submit_after(pool, count_fn, &ran, &mine, SIZE_MAX / 2, 0, &out), MP_EINVAL);
    cr_assert_eq(out, (mp_task *)&out, "*task untouched");
    cr_assert_eq(mp_task_wait(mine), 0);
    cr_assert_eq(mp_task_wait(theirs), 0);
    mp_task_release(mine);
    mp_task_release(theirs);
    mpt_destroy(pool);
    mpt_destroy(other);
    cr_assert_eq(atomic_load(&ran), 2, "a refused submit ran its task");
}
