/* Background tasks: submit, wait, done, cancel, release, order, destroy
 * with pending tasks, submit during destroy. */
#include "support.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

TestSuite(task, .timeout = 50);

struct job {
    mp_pool *pool;
    int result;
    atomic_int runs;
    atomic_int index;
    pthread_t ran_on;
};

static int job_fn(void *arg)
{
    struct job *j = arg;
    j->ran_on = pthread_self();
    atomic_store(&j->index, mp_pool_thread_index(j->pool));
    atomic_fetch_add(&j->runs, 1);
    return j->result;
}

/* Polls mp_task_done without waiting (waiting could run the task here). */
static int poll_done(mp_task *t, double seconds)
{
    for (int i = 0; i < (int)(seconds * 2000); i++) {
        int d = mp_task_done(t);
        if (d != 0)
            return d;
        usleep(500);
    }
    return mp_task_done(t);
}

Test(task, wait_returns_the_result_unchanged)
{
    static const int values[] = {0, 1, 42, INT_MAX, -1, -4096, -100000, INT_MIN};
    static const unsigned sizes[] = {1, 2, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        struct job jobs[8];
        mp_task *t[8];
        for (int i = 0; i < 8; i++) {
            jobs[i] = (struct job){.pool = pool, .result = values[i]};
            cr_assert_eq(mp_submit(pool, job_fn, &jobs[i], &t[i]), MP_OK);
            cr_assert_not_null(t[i]);
        }
        for (int i = 0; i < 8; i++) {
            cr_assert_eq(mp_task_wait(t[i]), values[i]);
            cr_assert_eq(mp_task_wait(t[i]), values[i], "waiting twice gives the result again");
            cr_assert_eq(mp_task_done(t[i]), 1);
            cr_assert_eq(atomic_load(&jobs[i].runs), 1);
            mp_task_release(t[i]);
        }
        mpt_destroy(pool);
    }
}

Test(task, null_arguments_are_einval)
{
    mp_pool *pool = mpt_pool(2);
    struct job j = {.pool = pool};
    mp_task *t = (mp_task *)(uintptr_t)0x42;
    cr_assert_eq(mp_submit(NULL, job_fn, &j, &t), MP_EINVAL);
    cr_assert_eq(mp_submit(pool, NULL, &j, &t), MP_EINVAL);
    cr_assert(t == (mp_task *)(uintptr_t)0x42, "the out-pointer is untouched");
    cr_assert_eq(mp_task_wait(NULL), MP_EINVAL);
    cr_assert_eq(mp_task_done(NULL), MP_EINVAL);
    cr_assert_eq(mp_task_cancel(NULL), MP_EINVAL);
    mp_task_release(NULL);
    mpt_destroy(pool);
    cr_assert_eq(atomic_load(&j.runs), 0);
}

Test(task, on_one_thread_a_task_runs_when_waited_for_on_the_waiting_thread)
{
    mp_pool *pool = mpt_pool(1);
    struct job j = {.pool = pool, .result = 5, .index = -9};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(pool, job_fn, &j, &t), MP_OK);
    cr_assert_eq(atomic_load(&j.runs), 0, "mp_submit never runs the task itself");
    cr_assert_eq(mp_task_done(t), 0);
    /* Other work on the pool does not run it either (nobody waits for it). */
    mpt_cover c;
    mpt_cover_init(&c, 100);
    cr_assert_eq(mp_for(pool, 100, 1, 0, mpt_cover_body, &c), MP_OK);
    mpt_cover_free(&c);
    cr_assert_eq(mp_task_done(t), 0);
    cr_assert_eq(atomic_load(&j.runs), 0);

    cr_assert_eq(mp_task_wait(t), 5);
    cr_assert_eq(atomic_load(&j.runs), 1);
    cr_assert(pthread_equal(j.ran_on, pthread_self()));
    cr_assert_eq(atomic_load(&j.index), 0);
    cr_assert_eq(mp_task_done(t), 1);
    mp_task_release(t);
    mpt_destroy(pool);
}

/* mp_submit must return before the task may run on the submitting thread:
 * the caller may hold a lock the task needs. */
struct lock_job {
    pthread_mutex_t lock;
    pthread_t submitter;
    atomic_int submit_returned;
    atomic_int violation;
    atomic_int runs;
};

static int lock_job_fn(void *arg)
{
    struct lock_job *lj = arg;
    if (pthread_equal(pthread_self(), lj->submitter) && !atomic_load(&lj->submit_returned))
        atomic_store(&lj->violation, 1);
    pthread_mutex_lock(&lj->lock);
    pthread_mutex_unlock(&lj->lock);
    atomic_fetch_add(&lj->runs, 1);
    return 0;
}

Test(task, submit_never_runs_the_task_before_it_returns)
{
    static const unsigned sizes[] = {1, 2, 4};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (int rep = 0; rep < 100; rep++) {
            struct lock_job lj = {.lock = PTHREAD_MUTEX_INITIALIZER, .submitter = pthread_self()};
            mp_task *t = NULL;
            pthread_mutex_lock(&lj.lock);
            cr_assert_eq(mp_submit(pool, lock_job_fn, &lj, &t), MP_OK);
            atomic_store(&lj.submit_returned, 1);
            pthread_mutex_unlock(&lj.lock);
            cr_assert_eq(mp_task_wait(t), 0);
            mp_task_release(t);
            cr_assert_eq(atomic_load(&lj.violation), 0);
            cr_assert_eq(atomic_load(&lj.runs), 1);
        }
        mpt_destroy(pool);
    }
}

Test(task, done_turns_to_1_when_a_worker_finishes_the_task)
{
    mp_pool *pool = mpt_pool(2);
    struct job j = {.pool = pool, .result = 77, .index = -9};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(pool, job_fn, &j, &t), MP_OK);
    cr_assert_eq(poll_done(t, 20.0), 1, "the worker runs background tasks by itself");
    cr_assert_eq(atomic_load(&j.runs), 1);
    cr_assert_eq(atomic_load(&j.index), 1, "run by worker 1");
    cr_assert_eq(mp_task_wait(t), 77);
    mp_task_release(t);
    mpt_destroy(pool);
}

/* ------------------------------------------------------------- cancel */

Test(task, cancel_before_start_means_it_never_runs)
{
    mp_pool *pool = mpt_pool(1);
    struct job j = {.pool = pool, .result = 1};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(pool, job_fn, &j, &t), MP_OK);
    cr_assert_eq(mp_task_cancel(t), MP_OK);
    cr_assert_eq(mp_task_cancel(t), MP_OK, "cancelling again is still MP_OK");
    cr_assert_eq(mp_task_done(t), 1);
    cr_assert_eq(mp_task_wait(t), MP_ECANCELED);
    mpt_destroy(pool);
    cr_assert_eq(atomic_load(&j.runs), 0, "not even destroy runs a cancelled task");
    cr_assert_eq(mp_task_wait(t), MP_ECANCELED, "the handle outlives the pool");
    cr_assert_eq(mp_task_done(t), 1);
    mp_task_release(t);
}

Test(task, cancel_after_finish_is_ebusy)
{
    static const unsigned sizes[] = {1, 2};
    for (size_t k = 0; k < 2; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        struct job j = {.pool = pool, .result = 8};
        mp_task *t = NULL;
        cr_assert_eq(mp_submit(pool, job_fn, &j, &t), MP_OK);
        cr_assert_eq(mp_task_wait(t), 8);
        cr_assert_eq(mp_task_cancel(t), MP_EBUSY);
        cr_assert_eq(mp_task_wait(t), 8, "cancel changed nothing");
        mp_task_release(t);
        mpt_destroy(pool);
    }
}

struct gate_job {
    atomic_int started;
    atomic_int open;
    atomic_int timed_out;
};

static int gate_fn(void *arg)
{
    struct gate_job *g = arg;
    atomic_store(&g->started, 1);
    if (!mpt_wait_at_least(&g->open, 1, 10.0))
        atomic_store(&g->timed_out, 1);
    return 66;
}

Test(task, cancel_while_running_is_ebusy_and_the_result_still_comes)
{
    mp_pool *pool = mpt_pool(2);
    struct gate_job g = {0};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(pool, gate_fn, &g, &t), MP_OK);
    cr_assert(mpt_wait_at_least(&g.started, 1, 20.0), "the worker started the task");
    cr_assert_eq(mp_task_done(t), 0);
    cr_assert_eq(mp_task_cancel(t), MP_EBUSY);
    atomic_store(&g.open, 1);
    cr_assert_eq(mp_task_wait(t), 66);
    cr_assert_eq(atomic_load(&g.timed_out), 0);
    mp_task_release(t);
    mpt_destroy(pool);
}

Test(task, cancel_some_of_many_queued_tasks)
{
    mp_pool *pool = mpt_pool(2);
    struct gate_job g = {0};
    cr_assert_eq(mp_submit(pool, gate_fn, &g, NULL), MP_OK);
    cr_assert(mpt_wait_at_least(&g.started, 1, 20.0));
    /* The only worker is busy: these stay queued. */
    enum { N = 200 };
    struct job *jobs = calloc(N, sizeof *jobs);
    mp_task *t[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct job){.pool = pool, .result = i};
        cr_assert_eq(mp_submit(pool, job_fn, &jobs[i], &t[i]), MP_OK);
    }
    for (int i = 0; i < N; i += 2)
        cr_assert_eq(mp_task_cancel(t[i]), MP_OK, "task %d had not started", i);
    atomic_store(&g.open, 1);
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0) {
            cr_assert_eq(mp_task_wait(t[i]), MP_ECANCELED);
            cr_assert_eq(atomic_load(&jobs[i].runs), 0);
        } else {
            cr_assert_eq(mp_task_wait(t[i]), i);
            cr_assert_eq(atomic_load(&jobs[i].runs), 1);
        }
        mp_task_release(t[i]);
    }
    mpt_destroy(pool);
    for (int i = 0; i < N; i += 2)
        cr_assert_eq(atomic_load(&jobs[i].runs), 0);
    free(jobs);
}

/* ------------------------------------------------------------ release */

static int count_fn(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

Test(task, a_released_handle_still_runs_and_handles_outlive_the_pool)
{
    mp_pool *pool = mpt_pool(2);
    atomic_int ran = 0;
    for (int i = 0; i < 50; i++) {
        mp_task *t = NULL;
        cr_assert_eq(mp_submit(pool, count_fn, &ran, &t), MP_OK);
        mp_task_release(t);
    }
    cr_assert(mpt_wait_at_least(&ran, 50, 20.0), "released tasks run (%d of 50)",
              atomic_load(&ran));

    struct job j = {.pool = pool, .result = 12};
    mp_task *keep = NULL;
    cr_assert_eq(mp_submit(pool, job_fn, &j, &keep), MP_OK);
    mpt_destroy(pool);
    cr_assert_eq(atomic_load(&j.runs), 1, "destroy ran the task");
    cr_assert_eq(mp_task_done(keep), 1);
    cr_assert_eq(mp_task_wait(keep), 12);
    cr_assert_eq(mp_task_cancel(keep), MP_EBUSY);
    mp_task_release(keep);
}

/* ------------------------------------------------- destroy with pending */

Test(task, tasks_left_pending_at_destroy_all_run)
{
    /* One thread: nothing runs before destroy. */
    mp_pool *one = mpt_pool(1);
    atomic_int ran = 0;
    mp_task *handles[10];
    for (int i = 0; i < 100; i++)
        cr_assert_eq(mp_submit(one, count_fn, &ran, i < 10 ? &handles[i] : NULL), MP_OK);
    cr_assert_eq(atomic_load(&ran), 0);
    mpt_destroy(one);
    cr_assert_eq(atomic_load(&ran), 100, "destroy ran every pending task");
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(mp_task_done(handles[i]), 1);
        cr_assert_eq(mp_task_wait(handles[i]), 0);
        mp_task_release(handles[i]);
    }

    /* Many threads, many tasks. */
    static const unsigned sizes[] = {2, 4, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        atomic_int n = 0;
        for (int i = 0; i < 5000; i++)
            cr_assert_eq(mp_submit(pool, count_fn, &n, NULL), MP_OK);
        mpt_destroy(pool);
        cr_assert_eq(atomic_load(&n), 5000, "%u threads", sizes[k]);
    }
}

/* Tasks running during destroy may still use the pool, but what they
 * submit gets MP_ESHUTDOWN and never runs. */
struct shutdown_job {
    mp_pool *pool;
    atomic_int submit_rc;
    atomic_int follow_runs;
    atomic_int loop_rc;
    atomic_int done;
    mp_task *follow_handle;
};

static int shutdown_fn(void *arg)
{
    struct shutdown_job *s = arg;
    /* The pool is still usable for foreground work. */
    mpt_cover c;
    c.n = 1000;
    c.hits = calloc(c.n, 1);
    atomic_init(&c.bad_range, 0);
    atomic_init(&c.calls, 0);
    int rc = mp_for(s->pool, c.n, 1, 0, mpt_cover_body, &c);
    atomic_store(&s->loop_rc, rc == MP_OK && mpt_cover_wrong(&c) == 0 ? 0 : (rc ? rc : -1));
    free(c.hits);
    s->follow_handle = (mp_task *)(uintptr_t)0x77;
    atomic_store(&s->submit_rc, mp_submit(s->pool, count_fn, &s->follow_runs, &s->follow_handle));
    atomic_store(&s->done, 1);
    return 0;
}

Test(task, a_task_running_during_destroy_gets_eshutdown_from_submit)
{
    mp_pool *pool = mpt_pool(1);
    struct shutdown_job s = {.pool = pool, .submit_rc = 99};
    cr_assert_eq(mp_submit(pool, shutdown_fn, &s, NULL), MP_OK);
    mpt_destroy(pool);
    cr_assert_eq(atomic_load(&s.done), 1);
    cr_assert_eq(atomic_load(&s.loop_rc), 0, "the running task could still use the pool");
    cr_assert_eq(atomic_load(&s.submit_rc), MP_ESHUTDOWN);
    cr_assert_eq(atomic_load(&s.follow_runs), 0, "a refused task never runs");
    cr_assert(s.follow_handle == (mp_task *)(uintptr_t)0x77, "no handle on failure");
}

struct two_phase {
    struct gate_job gate;
    struct shutdown_job sj;
};

static int open_gate_then_submit(void *arg)
{
    struct two_phase *tp = arg;
    atomic_store(&tp->gate.open, 1);
    return shutdown_fn(&tp->sj);
}

Test(task, eshutdown_on_a_pool_with_workers)
{
    /* The only worker blocks in the first task until the second one runs,
     * and the second one can only start once destroy was called. */
    mp_pool *pool = mpt_pool(2);
    struct two_phase tp = {0};
    tp.sj.pool = pool;
    atomic_store(&tp.sj.submit_rc, 99);
    cr_assert_eq(mp_submit(pool, gate_fn, &tp.gate, NULL), MP_OK);
    cr_assert(mpt_wait_at_least(&tp.gate.started, 1, 20.0));
    cr_assert_eq(mp_submit(pool, open_gate_then_submit, &tp, NULL), MP_OK);
    mpt_destroy(pool);
    cr_assert_eq(atomic_load(&tp.sj.done), 1);
    cr_assert_eq(atomic_load(&tp.sj.loop_rc), 0);
    cr_assert_eq(atomic_load(&tp.sj.submit_rc), MP_ESHUTDOWN);
    cr_assert_eq(atomic_load(&tp.sj.follow_runs), 0);
}

/* ------------------------------------------------------------- order */

/* More tasks than the queue's first ring holds, all queued while the only
 * worker is held: the queue grows while full, and the order must hold
 * across its rings. */
#define ORDER_N 5000

struct order {
    atomic_int next;
    atomic_int written;
    int seen[ORDER_N];
};

struct order_job {
    struct order *o;
    int id;
};

static int order_fn(void *arg)
{
    struct order_job *oj = arg;
    int pos = atomic_fetch_add(&oj->o->next, 1);
    if (pos < ORDER_N)
        oj->o->seen[pos] = oj->id;
    atomic_fetch_add(&oj->o->written, 1);
    return 0;
}

Test(task, tasks_start_in_submission_order)
{
    mp_pool *pool = mpt_pool(2);
    struct gate_job g = {0};
    cr_assert_eq(mp_submit(pool, gate_fn, &g, NULL), MP_OK);
    cr_assert(mpt_wait_at_least(&g.started, 1, 20.0));
    static struct order o;
    static struct order_job jobs[ORDER_N];
    for (int i = 0; i < ORDER_N; i++) {
        jobs[i] = (struct order_job){&o, i};
        cr_assert_eq(mp_submit(pool, order_fn, &jobs[i], NULL), MP_OK);
    }
    atomic_store(&g.open, 1);
    /* Do not wait or destroy yet: only the worker may run them. */
    cr_assert(mpt_wait_at_least(&o.written, ORDER_N, 30.0), "the worker ran %d of %d tasks",
              atomic_load(&o.written), ORDER_N);
    for (int i = 0; i < ORDER_N; i++)
        cr_assert_eq(o.seen[i], i, "position %d ran task %d", i, o.seen[i]);
    mpt_destroy(pool);
}

/* A worker running a batch of queued tasks gives the rest back when a
 * broadcast is published, runs its part at once, then takes the rest in
 * their order. */
#define GIVE_N 100
#define GIVE_BCAST -1

struct give {
    atomic_int next;
    int log[GIVE_N + 1];
    atomic_int part0_ran;
};

struct give_job {
    struct give *g;
    int id;
};

static void give_log(struct give *g, int what)
{
    int pos = atomic_fetch_add(&g->next, 1);
    if (pos <= GIVE_N)
        g->log[pos] = what;
}

static int give_fn(void *arg)
{
    struct give_job *j = arg;
    give_log(j->g, j->id);
    /* The first task of the batch returns once the broadcast is out. */
    if (j->id == 0)
        mpt_wait_at_least(&j->g->part0_ran, 1, 20.0);
    return 0;
}

static int give_part(void *arg, unsigned index, unsigned count)
{
    struct give *g = arg;
    (void)count;
    if (index == 0)
        atomic_store(&g->part0_ran, 1);
    else
        give_log(g, GIVE_BCAST);
    return 0;
}

Test(task, a_batch_is_given_back_for_a_broadcast_and_keeps_its_order)
{
    mp_pool *pool = mpt_pool(2);
    struct gate_job gate = {0};
    cr_assert_eq(mp_submit(pool, gate_fn, &gate, NULL), MP_OK);
    cr_assert(mpt_wait_at_least(&gate.started, 1, 20.0));
    static struct give g;
    static struct give_job jobs[GIVE_N];
    for (int i = 0; i < GIVE_N; i++) {
        jobs[i] = (struct give_job){&g, i};
        cr_assert_eq(mp_submit(pool, give_fn, &jobs[i], NULL), MP_OK);
    }
    atomic_store(&gate.open, 1);
    cr_assert(mpt_wait_at_least(&g.next, 1, 20.0), "the worker started the first task");
    cr_assert_eq(mp_broadcast(pool, give_part, &g), MP_OK);
    cr_assert(mpt_wait_at_least(&g.next, GIVE_N + 1, 30.0), "%d of %d logged",
              atomic_load(&g.next), GIVE_N + 1);
    cr_assert_eq(g.log[0], 0);
    cr_assert_eq(g.log[1], GIVE_BCAST, "the worker ran task %d before its broadcast part",
                 g.log[1]);
    for (int i = 1; i < GIVE_N; i++)
        cr_assert_eq(g.log[i + 1], i, "position %d ran task %d", i + 1, g.log[i + 1]);
    mpt_destroy(pool);
}

/* ----------------------------------------------------------- nesting */

struct chain_job {
    mp_pool *pool;
    int depth;
    atomic_int *runs;
};

static int chain_fn(void *arg)
{
    struct chain_job *c = arg;
    atomic_fetch_add(c->runs, 1);
    if (c->depth == 0)
        return 1;
    struct chain_job next = {c->pool, c->depth - 1, c->runs};
    mp_task *t = NULL;
    int rc = mp_submit(c->pool, chain_fn, &next, &t);
    if (rc != MP_OK)
        return -1000000 + rc;
    rc = mp_task_wait(t);
    mp_task_release(t);
    return rc < 0 ? rc : rc + 1;
}

Test(task, tasks_submit_and_wait_for_tasks)
{
    static const unsigned sizes[] = {1, 2, 4};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        atomic_int runs = 0;
        struct chain_job c = {pool, 200, &runs};
        mp_task *t = NULL;
        cr_assert_eq(mp_submit(pool, chain_fn, &c, &t), MP_OK);
        cr_assert_eq(mp_task_wait(t), 201, "%u threads", sizes[k]);
        mp_task_release(t);
        cr_assert_eq(atomic_load(&runs), 201);
        mpt_destroy(pool);
    }
}

struct worker_wait {
    mp_pool *pool;
    struct job inner;
    atomic_int outer_index;
};

static int wait_inside_worker(void *arg)
{
    struct worker_wait *ww = arg;
    atomic_store(&ww->outer_index, mp_pool_thread_index(ww->pool));
    mp_task *t = NULL;
    /* The pool's only worker is this thread: nobody else can start it. */
    int rc = mp_submit(ww->pool, job_fn, &ww->inner, &t);
    if (rc != MP_OK)
        return rc;
    rc = mp_task_wait(t);
    mp_task_release(t);
    return rc;
}

Test(task, a_worker_that_waits_runs_the_task_with_its_own_index)
{
    mp_pool *pool = mpt_pool(2);
    struct worker_wait ww = {.pool = pool, .inner = {.pool = pool, .result = 4, .index = -9}};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(pool, wait_inside_worker, &ww, &t), MP_OK);
    cr_assert_eq(poll_done(t, 20.0), 1);
    cr_assert_eq(mp_task_wait(t), 4);
    mp_task_release(t);
    cr_assert_eq(atomic_load(&ww.outer_index), 1);
    cr_assert_eq(atomic_load(&ww.inner.index), 1, "the inner task ran on worker 1");
    mpt_destroy(pool);
}

struct ext_tasks {
    mp_pool *pool;
    long sum;
    int bad;
};

static int echo_fn(void *arg)
{
    return (int)(intptr_t)arg;
}

static void *external_submitter(void *arg)
{
    struct ext_tasks *e = arg;
    enum { N = 400 };
    mp_task *t[N];
    for (int i = 0; i < N; i++)
        if (mp_submit(e->pool, echo_fn, (void *)(intptr_t)(i + 1), &t[i]) != MP_OK) {
            e->bad++;
            t[i] = NULL;
        }
    for (int i = 0; i < N; i++) {
        if (!t[i])
            continue;
        if (i % 3 == 0) {
            mp_task_release(t[i]); /* detached after all */
            continue;
        }
        e->sum += mp_task_wait(t[i]);
        mp_task_release(t[i]);
    }
    return NULL;
}

Test(task, several_external_threads_submit_and_wait_at_once)
{
    mp_pool *pool = mpt_pool(3);
    enum { T = 5 };
    pthread_t th[T];
    struct ext_tasks e[T];
    long want = 0;
    for (int i = 0; i < 400; i++)
        if (i % 3 != 0)
            want += i + 1;
    for (int i = 0; i < T; i++) {
        e[i] = (struct ext_tasks){pool, 0, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, external_submitter, &e[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(e[i].bad, 0);
        cr_assert_eq(e[i].sum, want, "thread %d", i);
    }
    mpt_destroy(pool);
}

/* A task that submits to another pool, which outlives it. */
struct cross {
    mp_pool *other;
    atomic_int ran;
};

static int cross_fn(void *arg)
{
    struct cross *c = arg;
    return mp_submit(c->other, count_fn, &c->ran, NULL);
}

Test(task, tasks_may_submit_to_another_pool)
{
    mp_pool *a = mpt_pool(2), *b = mpt_pool(2);
    struct cross c = {b, 0};
    mp_task *t[20];
    for (int i = 0; i < 20; i++)
        cr_assert_eq(mp_submit(a, cross_fn, &c, &t[i]), MP_OK);
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(mp_task_wait(t[i]), MP_OK);
        mp_task_release(t[i]);
    }
    mpt_destroy(a);
    mpt_destroy(b);
    cr_assert_eq(atomic_load(&c.ran), 20);
}

/* ------------------------------------------------ one handle, two threads */

struct shared_handle {
    mp_task *task;
    pthread_barrier_t *go;
    int rc;
    int cancel;         /* this thread cancels instead of waiting */
};

static void *handle_user(void *arg)
{
    struct shared_handle *sh = arg;
    pthread_barrier_wait(sh->go);
    sh->rc = sh->cancel ? mp_task_cancel(sh->task) : mp_task_wait(sh->task);
    return NULL;
}

Test(task, two_threads_wait_on_one_handle)
{
    static const unsigned sizes[] = {1, 2};
    for (size_t k = 0; k < 2; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (int rep = 0; rep < 200; rep++) {
            struct job j = {.pool = pool, .result = 1000 + rep};
            mp_task *t = NULL;
            cr_assert_eq(mp_submit(pool, job_fn, &j, &t), MP_OK);
            pthread_barrier_t go;
            pthread_barrier_init(&go, NULL, 2);
            struct shared_handle a = {t, &go, 0, 0}, b = {t, &go, 0, 0};
            pthread_t ta, tb;
            pthread_create(&ta, NULL, handle_user, &a);
            pthread_create(&tb, NULL, handle_user, &b);
            pthread_join(ta, NULL);
            pthread_join(tb, NULL);
            pthread_barrier_destroy(&go);
            cr_assert_eq(a.rc, 1000 + rep);
            cr_assert_eq(b.rc, 1000 + rep);
            cr_assert_eq(atomic_load(&j.runs), 1, "the task ran once for two waiters");
            mp_task_release(t);
        }
        mpt_destroy(pool);
    }
}

/* A worker that waits on a task another thread runs sleeps until it is
 * woken, not in slices (the wait of 1.0 woke every 1 ms), and a broadcast
 * addressed to it wakes it for its part in the meantime. */
struct sleepy_wait {
    mp_pool *pool;
    struct gate_job hold;       /* the task waited for, run by another thread */
    mp_task *held;
    atomic_int waiting;
    atomic_int part1_ran;
    long switches;              /* the waiter's voluntary context switches */
};

static void *run_held_inline(void *arg)
{
    struct sleepy_wait *s = arg;
    /* PENDING (the only worker is busy): mp_task_wait runs it here. */
    return (void *)(intptr_t)mp_task_wait(s->held);
}

static int sleepy_waiter(void *arg)
{
    struct sleepy_wait *s = arg;
    struct rusage before, after;
    getrusage(RUSAGE_THREAD, &before);
    atomic_store(&s->waiting, 1);
    int rc = mp_task_wait(s->held);
    getrusage(RUSAGE_THREAD, &after);
    s->switches = after.ru_nvcsw - before.ru_nvcsw;
    return rc;
}

static int sleepy_part(void *arg, unsigned index, unsigned count)
{
    struct sleepy_wait *s = arg;
    (void)count;
    if (index == 1)
        atomic_store(&s->part1_ran, 1);
    return 0;
}

Test(task, a_worker_waiting_on_a_task_sleeps_until_woken_and_runs_broadcast_parts)
{
    static struct sleepy_wait s;
    s.pool = mpt_pool(2);
    struct gate_job busy = {0};
    cr_assert_eq(mp_submit(s.pool, gate_fn, &busy, NULL), MP_OK);
    cr_assert(mpt_wait_at_least(&busy.started, 1, 20.0), "the worker started the first task");
    cr_assert_eq(mp_submit(s.pool, gate_fn, &s.hold, &s.held), MP_OK);
    pthread_t x;
    cr_assert_eq(pthread_create(&x, NULL, run_held_inline, &s), 0);
    cr_assert(mpt_wait_at_least(&s.hold.started, 1, 20.0), "the outside thread runs the task");
    mp_task *w = NULL;
    cr_assert_eq(mp_submit(s.pool, sleepy_waiter, &s, &w), MP_OK);
    atomic_store(&busy.open, 1);
    cr_assert(mpt_wait_at_least(&s.waiting, 1, 20.0), "the worker waits on the task");
    usleep(100 * 1000);
    cr_assert_eq(mp_broadcast(s.pool, sleepy_part, &s), MP_OK);
    cr_assert_eq(atomic_load(&s.part1_ran), 1);
    cr_assert_eq(mp_task_done(w), 0, "the broadcast ran while the worker waited");
    usleep(100 * 1000);
    atomic_store(&s.hold.open, 1);
    void *xrc;
    pthread_join(x, &xrc);
    cr_assert_eq((int)(intptr_t)xrc, 66);
    cr_assert_eq(mp_task_wait(w), 66);
    mp_task_release(w);
    mp_task_release(s.held);
    /* Asleep twice (before and after the broadcast), plus what the
     * machine adds; 200 ms in 1 ms slices would be some 200. */
    cr_assert_lt(s.switches, 20, "the waiting worker switched %ld times in 200 ms", s.switches);
    mpt_destroy(s.pool);
}

Test(task, cancel_racing_with_wait_is_one_or_the_other)
{
    static const unsigned sizes[] = {1, 2};
    int cancelled = 0, ran = 0;
    for (size_t k = 0; k < 2; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (int rep = 0; rep < 300; rep++) {
            struct job j = {.pool = pool, .result = 7};
            mp_task *t = NULL;
            cr_assert_eq(mp_submit(pool, job_fn, &j, &t), MP_OK);
            pthread_barrier_t go;
            pthread_barrier_init(&go, NULL, 2);
            struct shared_handle w = {t, &go, 0, 0}, c = {t, &go, 0, 1};
            pthread_t tw, tc;
            pthread_create(&tw, NULL, handle_user, &w);
            pthread_create(&tc, NULL, handle_user, &c);
            pthread_join(tw, NULL);
            pthread_join(tc, NULL);
            pthread_barrier_destroy(&go);
            if (c.rc == MP_OK) {
                cr_assert_eq(w.rc, MP_ECANCELED);
                cr_assert_eq(atomic_load(&j.runs), 0);
                cancelled++;
            } else {
                cr_assert_eq(c.rc, MP_EBUSY, "cancel returned %d", c.rc);
                cr_assert_eq(w.rc, 7);
                cr_assert_eq(atomic_load(&j.runs), 1);
                ran++;
            }
            cr_assert_eq(mp_task_done(t), 1);
            mp_task_release(t);
        }
        mpt_destroy(pool);
    }
    cr_log_info("cancel won %d times, the task ran %d times", cancelled, ran);
}

/* ---- mp_task_wait_for (since 1.1) ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

Test(task, wait_for_times_out_and_leaves_a_running_task_as_it_was)
{
    mp_pool *pool = mpt_pool(2);
    struct gate_job g = {0};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(pool, gate_fn, &g, &t), MP_OK);
    cr_assert(mpt_wait_at_least(&g.started, 1, 20.0), "the worker started the task");
    cr_assert_eq(mp_task_wait_for(t, 0), MP_ETIMEDOUT, "0 only looks");
    double t0 = now_s();
    cr_assert_eq(mp_task_wait_for(t, 20000000), MP_ETIMEDOUT);
    double waited = now_s() - t0;
    cr_assert_geq(waited, 0.020, "it gave up after %.6f s, before its 20 ms", waited);
    cr_assert_eq(mp_task_done(t), 0);
    cr_assert_eq(mp_task_cancel(t), MP_EBUSY);
    atomic_store(&g.open, 1);
    cr_assert_eq(mp_task_wait_for(t, 10000000000u), 66);
    cr_assert_eq(mp_task_wait_for(t, 0), 66, "a finished task answers at once");
    cr_assert_eq(atomic_load(&g.timed_out), 0);
    mp_task_release(t);
    mpt_destroy(pool);
}

Test(task, wait_for_never_runs_the_task_on_the_calling_thread)
{
    mp_pool *pool = mpt_pool(1);     /* no worker: only a wait runs it */
    struct job j = {.pool = pool, .result = 5};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(pool, job_fn, &j, &t), MP_OK);
    cr_assert_eq(mp_task_wait_for(t, 0), MP_ETIMEDOUT);
    cr_assert_eq(mp_task_wait_for(t, 2000000), MP_ETIMEDOUT);
    cr_assert_eq(atomic_load(&j.runs), 0);
    cr_assert_eq(mp_task_cancel(t), MP_OK, "still queued after the timeouts");
    cr_assert_eq(mp_task_wait_for(t, 0), MP_ECANCELED);
    mp_task_release(t);
    mpt_destroy(pool);
    cr_assert_eq(atomic_load(&j.runs), 0);
}

struct timed_waiter {
    mp_task *task;
    int rc;
};

static void *timed_wait_thread(void *arg)
{
    struct timed_waiter *w = arg;
    w->rc = mp_task_wait_for(w->task, UINT64_MAX);   /* wraps the clock: no limit */
    return NULL;
}

Test(task, wait_for_wakes_every_waiter_when_the_task_finishes)
{
    mp_pool *pool = mpt_pool(2);
    struct gate_job g = {0};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(pool, gate_fn, &g, &t), MP_OK);
    cr_assert(mpt_wait_at_least(&g.started, 1, 20.0), "the worker started the task");
    enum { W = 4 };
    pthread_t th[W];
    struct timed_waiter w[W];
    for (int i = 0; i < W; i++) {
        w[i] = (struct timed_waiter){t, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, timed_wait_thread, &w[i]), 0);
    }
    usleep(20000);          /* let them park (or not: both must work) */
    /* A waiter that gives up leaves the others on the task's list. */
    cr_assert_eq(mp_task_wait_for(t, 5000000), MP_ETIMEDOUT);
    atomic_store(&g.open, 1);
    for (int i = 0; i < W; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].rc, 66, "waiter %d got %d", i, w[i].rc);
    }
    mp_task_release(t);
    mpt_destroy(pool);
}
