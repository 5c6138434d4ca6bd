/* mp_yield, since 1.1: outside the pool it runs background tasks (those
 * bound to thread 0 among them), one per call; inside a join it runs the
 * join's other half; it never waits. */
#include "support.h"

#include <unistd.h>

TestSuite(yield, .timeout = 30);

struct where {
    pthread_t thread;
    atomic_int ran;
};

static int where_fn(void *arg)
{
    struct where *w = arg;
    w->thread = pthread_self();
    atomic_fetch_add(&w->ran, 1);
    return 0;
}

Test(yield, outside_the_pool_it_runs_one_background_task_per_call)
{
    mp_pool *pool = mpt_pool(1);    /* no worker: only yield runs them */
    static struct where w[4];
    mp_task_opts o;
    mp_task_opts_init(&o);
    o.thread = 0;
    cr_assert_eq(mp_submit(pool, where_fn, &w[0], NULL), MP_OK);
    cr_assert_eq(mp_submit_ex(pool, where_fn, &w[1], &o, NULL), MP_OK);
    o.thread = MP_ANY_THREAD;
    o.priority = MP_PRIO_LOW;
    cr_assert_eq(mp_submit_ex(pool, where_fn, &w[2], &o, NULL), MP_OK);
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(mp_yield(pool), 1, "call %d", i);
        int ran = 0;
        for (int k = 0; k < 3; k++)
            ran += atomic_load(&w[k].ran);
        cr_assert_eq(ran, i, "after call %d, %d tasks ran", i, ran);
    }
    cr_assert_eq(mp_yield(pool), 0);
    for (int k = 0; k < 3; k++)
        cr_assert(pthread_equal(w[k].thread, pthread_self()));
    cr_assert_eq(mp_yield(NULL), MP_EINVAL);
    mpt_destroy(pool);
}

Test(yield, with_nothing_pending_it_returns_0_at_once)
{
    mp_pool *pool = mpt_pool(2);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(mp_yield(pool), 0);
    mpt_destroy(pool);
}

/* Inside the first half of a join, with the worker held busy, mp_yield
 * runs the second half on the calling thread; the join then finds it
 * done. */
struct hold {
    atomic_int started, open;
};

static int hold_fn(void *arg)
{
    struct hold *h = arg;
    atomic_store(&h->started, 1);
    while (!atomic_load(&h->open))
        usleep(100);
    return 0;
}

struct halves {
    mp_pool *pool;
    atomic_int b_ran;
    int yielded;
    int b_ran_at_yield;
    pthread_t b_thread;
};

static int half_b(void *arg)
{
    struct halves *h = arg;
    h->b_thread = pthread_self();
    atomic_fetch_add(&h->b_ran, 1);
    return 5;
}

static int half_a(void *arg)
{
    struct halves *h = arg;
    h->yielded = mp_yield(h->pool);
    h->b_ran_at_yield = atomic_load(&h->b_ran);
    return 0;
}

Test(yield, inside_a_join_it_runs_the_other_half)
{
    mp_pool *pool = mpt_pool(2);
    static struct hold hold;
    cr_assert_eq(mp_submit(pool, hold_fn, &hold, NULL), MP_OK);
    cr_assert(mpt_wait_at_least(&hold.started, 1, 20.0));
    static struct halves h;
    h.pool = pool;
    cr_assert_eq(mp_join(pool, half_a, &h, half_b, &h), 5);
    cr_assert_eq(h.yielded, 1);
    cr_assert_eq(h.b_ran_at_yield, 1);
    cr_assert_eq(atomic_load(&h.b_ran), 1, "the second half ran %d times", atomic_load(&h.b_ran));
    cr_assert(pthread_equal(h.b_thread, pthread_self()));
    atomic_store(&hold.open, 1);
    mpt_destroy(pool);
}
