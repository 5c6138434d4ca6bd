/* Tracing hooks, since 1.1: every kind is reported, begin and end balance
 * and nest on each thread, the index is the thread's, names of named
 * tasks are delivered; the hooks struct follows the size rule. */
#include "support.h"

#include <string.h>
#include <unistd.h>

TestSuite(trace, .timeout = 60);

#define KINDS 7

/* Per thread: the open begins, innermost last. */
static _Thread_local int open_kind[64];
static _Thread_local int open_n;
static _Thread_local int my_index = -1;

static atomic_int begins[KINDS], ends[KINDS];
static atomic_int named_seen, bad_nesting, bad_index, bad_kind;
static const char task_name[] = "named-task";

static void on_begin(void *arg, int kind, unsigned index, const char *name)
{
    (void)arg;
    if (kind < 1 || kind >= KINDS) {
        atomic_fetch_add(&bad_kind, 1);
        return;
    }
    if (my_index < 0)
        my_index = (int)index;
    else if (my_index != (int)index && index != 0 && my_index != 0)
        atomic_fetch_add(&bad_index, 1);
    if (open_n < 64)
        open_kind[open_n] = kind;
    open_n++;
    atomic_fetch_add(&begins[kind], 1);
    if (name == task_name)
        atomic_fetch_add(&named_seen, 1);
    else if (name != NULL)
        atomic_fetch_add(&bad_kind, 1);
}

static void on_end(void *arg, int kind, unsigned index, const char *name)
{
    (void)arg;
    (void)index;
    (void)name;
    if (kind < 1 || kind >= KINDS) {
        atomic_fetch_add(&bad_kind, 1);
        return;
    }
    if (open_n == 0 || (open_n <= 64 && open_kind[open_n - 1] != kind))
        atomic_fetch_add(&bad_nesting, 1);
    if (open_n > 0)
        open_n--;
    atomic_fetch_add(&ends[kind], 1);
}

static mp_pool *traced_pool(unsigned threads, const mp_trace_hooks *h)
{
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = threads;
    cfg.trace = h;
    mp_pool *pool = NULL;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    return pool;
}

static int body(void *arg, size_t b, size_t e)
{
    (void)arg;
    (void)b;
    (void)e;
    return 0;
}

static int bcast(void *arg, unsigned i, unsigned n)
{
    (void)arg;
    (void)i;
    (void)n;
    return 0;
}

static int nop(void *arg)
{
    (void)arg;
    return 0;
}

static int scope_body(mp_scope *s, void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++)
        mp_scope_spawn(s, nop, NULL);
    return 0;
}

/* A join whose first half waits until the second has started: another
 * thread must have taken it. */
static atomic_int b_started;

static int half_a(void *arg)
{
    (void)arg;
    while (!atomic_load(&b_started))
        usleep(50);
    return 0;
}

static int half_b(void *arg)
{
    (void)arg;
    atomic_store(&b_started, 1);
    return 0;
}

Test(trace, every_kind_is_reported_balanced_and_nested)
{
    static mp_trace_hooks h = {sizeof h, on_begin, on_end, NULL};
    mp_pool *pool = traced_pool(3, &h);
    for (int r = 0; r < 20; r++) {
        cr_assert_eq(mp_for(pool, 1000, 1, 0, body, NULL), 0);
        cr_assert_eq(mp_for(pool, 1000, 1, MP_SPLIT_STATIC, body, NULL), 0);
        cr_assert_eq(mp_broadcast(pool, bcast, NULL), 0);
        cr_assert_eq(mp_scope_run(pool, scope_body, NULL), 0);
    }
    atomic_store(&b_started, 0);
    cr_assert_eq(mp_join(pool, half_a, NULL, half_b, NULL), 0);
    mp_task_opts o;
    mp_task_opts_init(&o);
    o.name = task_name;
    mp_task *t;
    cr_assert_eq(mp_submit_ex(pool, nop, NULL, &o, &t), MP_OK);
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    o.priority = MP_PRIO_LOW;
    cr_assert_eq(mp_submit_ex(pool, nop, NULL, &o, &t), MP_OK);
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    cr_assert_eq(mp_submit(pool, nop, NULL, NULL), MP_OK);
    usleep(50000);      /* past the spin window: the workers sleep */
    mpt_destroy(pool);

    static const char *names[KINDS] = {"", "JOB", "PART", "BROADCAST", "SCOPE_TASK", "TASK",
                                       "SLEEP"};
    for (int k = 1; k < KINDS; k++) {
        cr_assert(atomic_load(&begins[k]) > 0, "no %s was traced", names[k]);
        cr_assert_eq(atomic_load(&begins[k]), atomic_load(&ends[k]), "%s: %d begins, %d ends",
                     names[k], atomic_load(&begins[k]), atomic_load(&ends[k]));
    }
    cr_assert_eq(atomic_load(&bad_nesting), 0, "an end did not match the last begin");
    cr_assert_eq(atomic_load(&bad_kind), 0, "a kind out of range, or a name on an unnamed piece");
    cr_assert_eq(atomic_load(&bad_index), 0, "a thread changed index");
    cr_assert_eq(atomic_load(&named_seen), 2, "the named tasks' name came %d times",
                 atomic_load(&named_seen));
    cr_assert(atomic_load(&begins[MP_TRACE_BROADCAST]) >= 60);
}

static atomic_int ends_only;

static void count_end(void *arg, int kind, unsigned index, const char *name)
{
    (void)kind;
    (void)index;
    (void)name;
    atomic_fetch_add((atomic_int *)arg, 1);
}

Test(trace, hooks_follow_the_size_rule_and_either_may_be_null)
{
    mp_config cfg;
    mp_config_init(&cfg);
    mp_pool *pool = (mp_pool *)&cfg;
    mp_trace_hooks h = {sizeof h, NULL, count_end, &ends_only};
    cfg.trace = &h;
    cfg.threads = 2;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    cr_assert_eq(mp_for(pool, 100, 1, 0, body, NULL), 0);
    mpt_destroy(pool);
    cr_assert(atomic_load(&ends_only) > 0);

    /* A size that does not cover `begin`. */
    h.size = offsetof(mp_trace_hooks, begin);
    pool = (mp_pool *)&cfg;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_EINVAL);
    cr_assert_eq(pool, (mp_pool *)&cfg, "*out written");
    /* A size that covers begin only: end and trace_arg are not read. */
    h.size = offsetof(mp_trace_hooks, end);
    h.begin = on_begin;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    mpt_destroy(pool);
    /* Larger: only with zeroes past the library's struct. */
    struct { mp_trace_hooks h; unsigned char more[8]; } big;
    memset(&big, 0, sizeof big);
    big.h.size = sizeof big;
    cfg.trace = &big.h;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    mpt_destroy(pool);
    big.more[7] = 1;
    pool = (mp_pool *)&cfg;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_EINVAL);
    cr_assert_eq(pool, (mp_pool *)&cfg);
}
