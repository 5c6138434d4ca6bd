/*
 * The conformance kinds of ABI 1.1 (cases-1.1.txt), run through the C API:
 * priority levels, prerequisites, bound tasks, mp_pool_run_pinned, bounded
 * waits and mp_yield. cases-1.1.txt says what each kind does and expects.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <micropool.h>

#include "conformance.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
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
        sleep_ms(1);
    return 0;
}

static int gate_hold(mp_pool *pool, struct gate *g, struct outcome *o)
{
    int rc = mp_submit(pool, gate_fn, g, NULL);
    if (rc != MP_OK) {
        problem(o, "mp_submit = %d (%s)", rc, mp_strerror(rc));
        return 0;
    }
    for (int i = 0; i < 20000 && !atomic_load(&g->started); i++)
        sleep_ms(1);
    return 1;
}

static int submit_opts(mp_pool *pool, mp_fn fn, void *arg, int prio, unsigned thread,
                       mp_task *const *after, size_t nafter, unsigned flags, mp_task **out,
                       struct outcome *o)
{
    mp_task_opts opts;
    mp_task_opts_init(&opts);
    opts.priority = prio;
    opts.thread = thread;
    opts.after = after;
    opts.nafter = nafter;
    opts.flags = flags;
    int rc = mp_submit_ex(pool, fn, arg, &opts, out);
    if (rc != MP_OK)
        problem(o, "mp_submit_ex = %d (%s)", rc, mp_strerror(rc));
    return rc;
}

/* A task that records its place in the order of runs. */
struct order {
    atomic_long next;
    long *seen;
};

struct order_job {
    struct order *o;
    long id;
};

static int order_fn(void *arg)
{
    struct order_job *j = arg;
    long pos = atomic_fetch_add(&j->o->next, 1);
    j->o->seen[pos] = j->id;
    return 0;
}

static void kind_prio_order(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(2, o);
    if (!pool)
        return;
    struct gate g = {0};
    long n = (long)cc->a;
    struct order ord = {0};
    ord.seen = calloc((size_t)n + 1, sizeof *ord.seen);
    struct order_job *jobs = calloc((size_t)n + 1, sizeof *jobs);
    static const int prio[3] = {MP_PRIO_HIGH, MP_PRIO_NORMAL, MP_PRIO_LOW};
    if (gate_hold(pool, &g, o))
        for (long i = 0; i < n; i++) {
            jobs[i] = (struct order_job){&ord, i};
            submit_opts(pool, order_fn, &jobs[i], prio[i % 3], MP_ANY_THREAD, NULL, 0, 0, NULL, o);
        }
    atomic_store(&g.open, 1);
    /* Only the worker may take them: destroy would run tasks on this
     * thread too, beside it. */
    for (int i = 0; i < 30000 && atomic_load(&ord.next) < n; i++)
        sleep_ms(1);
    end_pool(pool, o);
    long pos = 0, good = 0;
    for (int level = 0; level < 3; level++)
        for (long i = level; i < n; i += 3, pos++)
            good += ord.seen[pos] == i;
    if (good != n)
        problem(o, "%ld of %ld tasks ran in the order of their levels", good, n);
    o->value = good;
    free(ord.seen);
    free(jobs);
}

static void kind_after_chain(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    long n = (long)cc->a;
    struct order ord = {0};
    ord.seen = calloc((size_t)n + 1, sizeof *ord.seen);
    struct order_job *jobs = calloc((size_t)n + 1, sizeof *jobs);
    mp_task *prev = NULL, *t = NULL;
    for (long i = 0; i < n; i++) {
        jobs[i] = (struct order_job){&ord, i};
        if (submit_opts(pool, order_fn, &jobs[i], MP_PRIO_NORMAL, MP_ANY_THREAD, &prev,
                        prev ? 1 : 0, 0, &t, o) != MP_OK)
            break;
        if (prev)
            mp_task_release(prev);
        prev = t;
    }
    if (prev) {
        mp_task_wait(prev);
        mp_task_release(prev);
    }
    end_pool(pool, o);
    long good = 0;
    for (long i = 0; i < n; i++)
        good += ord.seen[i] == i;
    o->value = good;
    free(ord.seen);
    free(jobs);
}

static int count_fn(void *arg)
{
    atomic_fetch_add((atomic_long *)arg, 1);
    return 0;
}

static int fail_fn(void *arg)
{
    (void)arg;
    return CASE_ERROR;
}

struct fan {
    atomic_long ran;
    long saw;
};

static int fan_end(void *arg)
{
    struct fan *f = arg;
    f->saw = atomic_load(&f->ran);
    atomic_fetch_add(&f->ran, 1);
    return 0;
}

static void kind_after_diamond(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    long n = (long)cc->a;
    struct fan f = {0};
    mp_task *root = NULL, *end = NULL;
    mp_task **mid = calloc((size_t)n + 1, sizeof *mid);
    submit_opts(pool, count_fn, &f.ran, MP_PRIO_NORMAL, MP_ANY_THREAD, NULL, 0, 0, &root, o);
    for (long i = 0; i < n && root; i++)
        submit_opts(pool, count_fn, &f.ran, MP_PRIO_NORMAL, MP_ANY_THREAD, &root, 1, 0, &mid[i], o);
    if (root)
        mp_task_release(root);
    submit_opts(pool, fan_end, &f, MP_PRIO_NORMAL, MP_ANY_THREAD, mid, (size_t)n, 0, &end, o);
    for (long i = 0; i < n; i++)
        if (mid[i])
            mp_task_release(mid[i]);
    if (end) {
        mp_task_wait(end);
        mp_task_release(end);
    }
    end_pool(pool, o);
    if (f.saw != n + 1)
        problem(o, "the last task saw %ld of %ld tasks done", f.saw, n + 1);
    o->value = atomic_load(&f.ran);
    free(mid);
}

static void kind_after_cancel_on_error(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    atomic_long ran = 0;
    mp_task *root = NULL, *t = NULL;
    submit_opts(pool, fail_fn, NULL, MP_PRIO_NORMAL, MP_ANY_THREAD, NULL, 0, 0, &root, o);
    long cancelled = 0;
    for (long i = 0; i < cc->a + cc->b && root; i++) {
        unsigned flags = i < cc->a ? MP_AFTER_CANCEL_ON_ERROR : 0;
        if (submit_opts(pool, count_fn, &ran, MP_PRIO_NORMAL, MP_ANY_THREAD, &root, 1, flags, &t,
                        o) != MP_OK)
            break;
        int rc = mp_task_wait(t);
        if (flags && rc == MP_ECANCELED)
            cancelled++;
        else if (flags || rc != 0)
            problem(o, "dependent %ld: wait = %d (%s)", i, rc, mp_strerror(rc));
        mp_task_release(t);
    }
    if (root) {
        if (mp_task_wait(root) != CASE_ERROR)
            problem(o, "the failing prerequisite did not return its error");
        mp_task_release(root);
    }
    end_pool(pool, o);
    if (cancelled != cc->a)
        problem(o, "%ld of %lld flagged dependents were cancelled", cancelled, cc->a);
    o->value = atomic_load(&ran);
}

struct bound {
    mp_pool *pool;
    unsigned want;
    atomic_long *good;
};

static int bound_fn(void *arg)
{
    struct bound *b = arg;
    if (mp_pool_thread_index(b->pool) == (int)b->want)
        atomic_fetch_add(b->good, 1);
    return 0;
}

static void kind_bound_worker(const struct conf_case *cc, struct outcome *o)
{
    if (cc->threads < 2) {
        problem(o, "bound_worker needs a pool with workers (threads >= 2)");
        return;
    }
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    long n = (long)cc->a;
    atomic_long good = 0;
    struct bound *b = calloc((size_t)n + 1, sizeof *b);
    mp_task **t = calloc((size_t)n + 1, sizeof *t);
    for (long i = 0; i < n; i++) {
        b[i] = (struct bound){pool, 1 + (unsigned)(i % (cc->threads - 1)), &good};
        submit_opts(pool, bound_fn, &b[i], MP_PRIO_NORMAL, b[i].want, NULL, 0, 0, &t[i], o);
    }
    for (long i = 0; i < n; i++)
        if (t[i]) {
            mp_task_wait(t[i]);
            mp_task_release(t[i]);
        }
    end_pool(pool, o);
    o->value = atomic_load(&good);
    free(b);
    free(t);
}

static void kind_pinned_run(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(cc->threads, o);
    if (!pool)
        return;
    atomic_long ran = 0;
    for (long i = 0; i < cc->a; i++)
        submit_opts(pool, count_fn, &ran, (int)(i % 3) - 1, 0, NULL, 0, 0, NULL, o);
    sleep_ms(10);
    if (atomic_load(&ran) != 0)
        problem(o, "%ld tasks bound to thread 0 ran on a worker", (long)atomic_load(&ran));
    int n = mp_pool_run_pinned(pool, 0);
    if (n != (int)atomic_load(&ran))
        problem(o, "mp_pool_run_pinned = %d, but %ld ran", n, (long)atomic_load(&ran));
    end_pool(pool, o);
    o->value = n;
}

static int seven_fn(void *arg)
{
    (void)arg;
    return 7;
}

static void kind_wait_for_timeout(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(1, o);   /* no worker: nobody runs the task */
    if (!pool)
        return;
    mp_task *t = NULL;
    if (mp_submit(pool, seven_fn, NULL, &t) == MP_OK) {
        int rc = mp_task_wait_for(t, (uint64_t)cc->b * 1000u);
        if (rc != MP_ETIMEDOUT)
            problem(o, "mp_task_wait_for = %d (%s), want MP_ETIMEDOUT", rc, mp_strerror(rc));
        if (mp_task_done(t) != 0)
            problem(o, "the task is done after the timeout");
        o->value = mp_task_wait(t);
        mp_task_release(t);
    } else {
        problem(o, "mp_submit failed");
    }
    end_pool(pool, o);
}

static void kind_yield_outside(const struct conf_case *cc, struct outcome *o)
{
    mp_pool *pool = make_pool(1, o);
    if (!pool)
        return;
    atomic_long ran = 0;
    for (long i = 0; i < cc->a; i++)
        submit_opts(pool, count_fn, &ran, (int)(i % 3) - 1, i % 2 ? 0 : MP_ANY_THREAD, NULL, 0, 0,
                    NULL, o);
    long yields = 0;
    for (int r; (r = mp_yield(pool)) == 1;)
        yields++;
    if (yields != atomic_load(&ran))
        problem(o, "%ld yields returned 1, %ld tasks ran", yields, (long)atomic_load(&ran));
    end_pool(pool, o);
    o->value = yields;
}

const struct kind kinds_1_1[] = {
    {"prio_order", kind_prio_order, 1, 0},
    {"after_chain", kind_after_chain, 1, 0},
    {"after_diamond", kind_after_diamond, 1, 0},
    {"after_cancel_on_error", kind_after_cancel_on_error, 1, 1},
    {"bound_worker", kind_bound_worker, 1, 0},
    {"pinned_run", kind_pinned_run, 1, 0},
    {"wait_for_timeout", kind_wait_for_timeout, 0, 1},
    {"yield_outside", kind_yield_outside, 1, 0},
};
const size_t kinds_1_1_count = sizeof kinds_1_1 / sizeof kinds_1_1[0];
