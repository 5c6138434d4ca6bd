/* Task options, since 1.1: priority levels, tasks bound to one worker or
 * to thread 0, mp_pool_run_pinned and mp_pool_pinned_fd, the size rule of
 * mp_task_opts. */
#include "support.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

TestSuite(prio, .timeout = 60);

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Holds the pool's only worker until `open`. */
struct gate {
    atomic_int started, open;
};

static int gate_fn(void *arg)
{
    struct gate *g = arg;
    atomic_store(&g->started, 1);
    while (!atomic_load(&g->open))
        mpt_spin_us(50);
    return 0;
}

#define ORDER_N 60

struct order {
    atomic_int next;
    int seen[ORDER_N];
};

struct order_job {
    struct order *o;
    int id;
};

static int order_fn(void *arg)
{
    struct order_job *j = arg;
    int pos = atomic_fetch_add(&j->o->next, 1);
    if (pos < ORDER_N)
        j->o->seen[pos] = j->id;
    return 0;
}

static int submit_at(mp_pool *pool, mp_fn fn, void *arg, int prio, unsigned thread,
                     mp_task **out)
{
    mp_task_opts o;
    mp_task_opts_init(&o);
    o.priority = prio;
    o.thread = thread;
    return mp_submit_ex(pool, fn, arg, &o, out);
}

/* Job i has level (i % 3): high, normal (every other one through
 * mp_submit), low; the worker must take all high ones in order, then the
 * normal ones, then the low ones. */
Test(prio, levels_run_highest_first_and_in_order_within_a_level)
{
    mp_pool *pool = mpt_pool(2);
    static struct gate g;
    cr_assert_eq(mp_submit(pool, gate_fn, &g, NULL), MP_OK);
    cr_assert(mpt_wait_at_least(&g.started, 1, 20.0));
    static struct order o;
    static struct order_job jobs[ORDER_N];
    static const int prio[3] = {MP_PRIO_HIGH, MP_PRIO_NORMAL, MP_PRIO_LOW};
    for (int i = 0; i < ORDER_N; i++) {
        jobs[i] = (struct order_job){&o, i};
        if (i % 3 == 1 && i % 2 == 0)
            cr_assert_eq(mp_submit(pool, order_fn, &jobs[i], NULL), MP_OK);
        else
            cr_assert_eq(submit_at(pool, order_fn, &jobs[i], prio[i % 3], MP_ANY_THREAD, NULL),
                         MP_OK);
    }
    atomic_store(&g.open, 1);
    cr_assert(mpt_wait_at_least(&o.next, ORDER_N, 30.0));
    int pos = 0;
    for (int level = 0; level < 3; level++)
        for (int i = level; i < ORDER_N; i += 3, pos++)
            cr_assert_eq(o.seen[pos], i, "position %d ran task %d, not %d", pos, o.seen[pos], i);
    mpt_destroy(pool);
}

struct where {
    mp_pool *pool;
    pthread_t thread;
    int index;
    atomic_int ran;
};

static int where_fn(void *arg)
{
    struct where *w = arg;
    w->thread = pthread_self();
    w->index = mp_pool_thread_index(w->pool);
    atomic_fetch_add(&w->ran, 1);
    return 0;
}

#define BOUND_N 300

Test(prio, a_task_bound_to_a_worker_runs_on_that_worker_only)
{
    mp_pool *pool = mpt_pool(3);
    static struct where w[BOUND_N];
    mp_task *t[BOUND_N];
    for (int i = 0; i < BOUND_N; i++) {
        w[i].pool = pool;
        cr_assert_eq(submit_at(pool, where_fn, &w[i], i % 3 - 1, 1 + i % 2, &t[i]), MP_OK);
    }
    pthread_t seen[3] = {0};
    for (int i = 0; i < BOUND_N; i++) {
        cr_assert_eq(mp_task_wait(t[i]), 0);
        mp_task_release(t[i]);
        unsigned want = 1 + i % 2;
        cr_assert_eq(w[i].index, (int)want, "task %d ran with index %d", i, w[i].index);
        if (!seen[want])
            seen[want] = w[i].thread;
        cr_assert(pthread_equal(seen[want], w[i].thread), "task %d ran on another thread", i);
    }
    cr_assert(!pthread_equal(seen[1], seen[2]));
    mpt_destroy(pool);
}

static int poll_readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, 0);
    return r == 1 && (p.revents & POLLIN);
}

Test(prio, thread_0_tasks_wait_for_run_pinned_and_the_fd_follows_them)
{
    mp_pool *pool = mpt_pool(2);
    int fd = mp_pool_pinned_fd(pool);
    cr_assert(fd >= 0, "pinned_fd: %d", fd);
    cr_assert_eq(mp_pool_pinned_fd(pool), fd, "the same descriptor on every call");
    cr_assert(!poll_readable(fd));
    static struct where w[5];
    mp_task *t[5];
    for (int i = 0; i < 5; i++) {
        w[i].pool = pool;
        cr_assert_eq(submit_at(pool, where_fn, &w[i], MP_PRIO_NORMAL, 0, &t[i]), MP_OK);
    }
    cr_assert(poll_readable(fd));
    usleep(20000);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(mp_task_done(t[i]), 0, "a worker ran task %d, bound to thread 0", i);
    cr_assert_eq(mp_pool_run_pinned(pool, 0), 5);
    cr_assert(!poll_readable(fd), "the fd stays readable with nothing queued");
    for (int i = 0; i < 5; i++) {
        cr_assert(pthread_equal(w[i].thread, pthread_self()));
        cr_assert_eq(w[i].index, 0);
        cr_assert_eq(mp_task_wait(t[i]), 0);
        mp_task_release(t[i]);
    }
    cr_assert_eq(mp_pool_run_pinned(pool, 0), 0);
    mpt_destroy(pool);
}

static int slow_fn(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    mpt_spin_us(2000);
    return 0;
}

Test(prio, run_pinned_stops_after_max_ns)
{
    mp_pool *pool = mpt_pool(2);
    static atomic_int ran;
    for (int i = 0; i < 20; i++)
        cr_assert_eq(submit_at(pool, slow_fn, &ran, MP_PRIO_NORMAL, 0, NULL), MP_OK);
    uint64_t t0 = now_ns();
    int n = mp_pool_run_pinned(pool, 5000000);
    uint64_t took = now_ns() - t0;
    cr_assert(n >= 1 && n < 20, "ran %d of 20 tasks of 2 ms in a 5 ms budget", n);
    cr_assert_eq(atomic_load(&ran), n);
    /* The budget is checked after each task: at most one task over it
     * (and this machine's scheduling noise). */
    cr_assert(took < 5000000u + 2000000u + 50000000u, "took %llu ns", (unsigned long long)took);
    cr_assert_eq(mp_pool_run_pinned(pool, UINT64_MAX), 20 - n, "a huge budget runs the rest");
    mpt_destroy(pool);
}

struct resubmit {
    mp_pool *pool;
    atomic_int ran;
};

static int resubmit_fn(void *arg)
{
    struct resubmit *r = arg;
    if (atomic_fetch_add(&r->ran, 1) < 3)
        submit_at(r->pool, resubmit_fn, r, MP_PRIO_NORMAL, 0, NULL);
    return 0;
}

Test(prio, run_pinned_with_0_runs_only_what_was_queued_when_called)
{
    mp_pool *pool = mpt_pool(2);
    static struct resubmit r;
    r.pool = pool;
    cr_assert_eq(submit_at(pool, resubmit_fn, &r, MP_PRIO_NORMAL, 0, NULL), MP_OK);
    for (int i = 1; i <= 4; i++) {
        cr_assert_eq(mp_pool_run_pinned(pool, 0), 1, "call %d", i);
        cr_assert_eq(atomic_load(&r.ran), i);
    }
    cr_assert_eq(mp_pool_run_pinned(pool, 0), 0);
    mpt_destroy(pool);
}

struct from_worker {
    mp_pool *pool;
    int rc;
};

static int run_pinned_fn(void *arg)
{
    struct from_worker *f = arg;
    f->rc = mp_pool_run_pinned(f->pool, 0);
    return 0;
}

Test(prio, run_pinned_from_a_worker_is_einval)
{
    mp_pool *pool = mpt_pool(2);
    static struct from_worker f;
    f.pool = pool;
    mp_task *t;
    cr_assert_eq(submit_at(pool, run_pinned_fn, &f, MP_PRIO_NORMAL, 1, &t), MP_OK);
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    cr_assert_eq(f.rc, MP_EINVAL);
    cr_assert_eq(mp_pool_run_pinned(NULL, 0), MP_EINVAL);
    cr_assert_eq(mp_pool_pinned_fd(NULL), MP_EINVAL);
    mpt_destroy(pool);
}

Test(prio, waiting_on_a_thread_0_task_runs_it_on_the_waiting_thread)
{
    mp_pool *pool = mpt_pool(2);
    static struct where w;
    w.pool = pool;
    mp_task *t;
    cr_assert_eq(submit_at(pool, where_fn, &w, MP_PRIO_LOW, 0, &t), MP_OK);
    cr_assert_eq(mp_task_wait(t), 0);
    cr_assert(pthread_equal(w.thread, pthread_self()));
    mp_task_release(t);
    /* Its list entry is dropped by the next run_pinned. */
    cr_assert_eq(mp_pool_run_pinned(pool, 0), 0);
    mpt_destroy(pool);
}

struct waits_on {
    mp_task *other;
    int rc;
};

static int wait_other_fn(void *arg)
{
    struct waits_on *w = arg;
    w->rc = mp_task_wait(w->other);
    return 0;
}

Test(prio, a_worker_waiting_on_a_task_bound_to_another_worker_waits_for_it)
{
    mp_pool *pool = mpt_pool(3);
    static struct where target;
    target.pool = pool;
    static struct gate g;
    mp_task *hold, *t, *waiter;
    /* Worker 2 is busy; worker 1 waits on a task bound to worker 2. */
    cr_assert_eq(submit_at(pool, gate_fn, &g, MP_PRIO_NORMAL, 2, &hold), MP_OK);
    cr_assert(mpt_wait_at_least(&g.started, 1, 20.0));
    cr_assert_eq(submit_at(pool, where_fn, &target, MP_PRIO_NORMAL, 2, &t), MP_OK);
    static struct waits_on w;
    w.other = t;
    w.rc = -1;
    cr_assert_eq(submit_at(pool, wait_other_fn, &w, MP_PRIO_NORMAL, 1, &waiter), MP_OK);
    usleep(20000);
    cr_assert_eq(mp_task_done(waiter), 0);
    cr_assert_eq(atomic_load(&target.ran), 0, "worker 1 ran a task bound to worker 2");
    atomic_store(&g.open, 1);
    cr_assert_eq(mp_task_wait(waiter), 0);
    cr_assert_eq(w.rc, 0);
    cr_assert_eq(target.index, 2);
    mp_task_release(hold);
    mp_task_release(t);
    mp_task_release(waiter);
    mpt_destroy(pool);
}

Test(prio, destroy_runs_bound_tasks_and_thread_0_tasks)
{
    mp_pool *pool = mpt_pool(3);
    static struct where w[30];
    for (int i = 0; i < 30; i++) {
        w[i].pool = pool;
        cr_assert_eq(submit_at(pool, where_fn, &w[i], i % 3 - 1, (unsigned)(i % 3), NULL),
                     MP_OK);
    }
    mpt_destroy(pool);
    for (int i = 0; i < 30; i++) {
        cr_assert_eq(atomic_load(&w[i].ran), 1, "task %d ran %d times", i, atomic_load(&w[i].ran));
        cr_assert_eq(w[i].index, i % 3);
    }
}

Test(prio, a_cancelled_thread_0_task_is_taken_out_by_run_pinned)
{
    mp_pool *pool = mpt_pool(1);
    int fd = mp_pool_pinned_fd(pool);
    static struct where w;
    w.pool = pool;
    mp_task *t;
    cr_assert_eq(submit_at(pool, where_fn, &w, MP_PRIO_HIGH, 0, &t), MP_OK);
    cr_assert_eq(mp_task_cancel(t), MP_OK);
    cr_assert(poll_readable(fd));
    cr_assert_eq(mp_pool_run_pinned(pool, 0), 0);
    cr_assert(!poll_readable(fd));
    cr_assert_eq(mp_task_wait(t), MP_ECANCELED);
    cr_assert_eq(atomic_load(&w.ran), 0);
    mp_task_release(t);
    mpt_destroy(pool);
}

static int nop_fn(void *arg)
{
    (void)arg;
    return 0;
}

Test(prio, options_follow_the_size_rule_and_are_checked)
{
    mp_pool *pool = mpt_pool(2);
    mp_task *t = (mp_task *)&t;
    mp_task_opts o;
    mp_task_opts_init(&o);
    cr_assert_eq(o.size, sizeof o);
    cr_assert_eq(o.priority, MP_PRIO_NORMAL);
    cr_assert_eq(o.thread, MP_ANY_THREAD);
    mp_task_opts_init(NULL);

    /* A size that covers priority only: the other fields are defaults. */
    o.size = offsetof(mp_task_opts, priority) + sizeof o.priority;
    o.thread = 12345;   /* past size: not read */
    cr_assert_eq(mp_submit_ex(pool, nop_fn, NULL, &o, &t), MP_OK);
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    o.size = offsetof(mp_task_opts, priority);
    cr_assert_eq(mp_submit_ex(pool, nop_fn, NULL, &o, NULL), MP_EINVAL);

    /* A larger struct: only with zeroes past this library's. */
    struct { mp_task_opts o; char more[16]; } big;
    memset(&big, 0, sizeof big);
    mp_task_opts_init(&big.o);
    big.o.size = sizeof big;
    cr_assert_eq(mp_submit_ex(pool, nop_fn, NULL, &big.o, NULL), MP_OK);
    big.more[15] = 1;
    cr_assert_eq(mp_submit_ex(pool, nop_fn, NULL, &big.o, NULL), MP_EINVAL);

    /* NULL options are mp_submit. */
    cr_assert_eq(mp_submit_ex(pool, nop_fn, NULL, NULL, &t), MP_OK);
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    mpt_destroy(pool);
}
