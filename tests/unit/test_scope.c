/* Scopes: tasks that borrow the caller's stack, spawning from spawned
 * tasks, nesting, external threads, errors. */
#include "support.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

TestSuite(scope, .timeout = 50);

/* ------------------------------------------------- borrowing the stack */

struct slot_task {
    int *slot;
    int value;
    mp_pool *pool;
    atomic_int *bad_index;
};

static int fill_slot(void *arg)
{
    struct slot_task *t = arg;
    int idx = mp_pool_thread_index(t->pool);
    if (idx < 0 || (unsigned)idx >= mp_pool_threads(t->pool))
        atomic_fetch_add(t->bad_index, 1);
    mpt_spin_us(5);
    *t->slot = t->value;
    return 0;
}

struct stack_body {
    int *slots;
    struct slot_task *tasks;
    int n;
    mp_pool *pool;
    pthread_t caller;
    atomic_int body_off_caller;
    atomic_int *bad_index;
};

static int spawn_slots(mp_scope *scope, void *arg)
{
    struct stack_body *b = arg;
    if (!pthread_equal(pthread_self(), b->caller))
        atomic_fetch_add(&b->body_off_caller, 1);
    for (int i = 0; i < b->n; i++) {
        b->tasks[i] = (struct slot_task){&b->slots[i], i * 3 + 1, b->pool, b->bad_index};
        int rc = mp_scope_spawn(scope, fill_slot, &b->tasks[i]);
        if (rc != MP_OK)
            return rc;
    }
    return 0;
}

/* Everything lives in this frame: the scope must not return before the
 * last task wrote into it. */
static void run_on_stack(mp_pool *pool)
{
    enum { N = 500 };
    int slots[N];
    struct slot_task tasks[N];
    atomic_int bad_index = 0;
    for (int i = 0; i < N; i++)
        slots[i] = -1;
    struct stack_body b = {slots, tasks, N, pool, pthread_self(), 0, &bad_index};
    int rc = mp_scope_run(pool, spawn_slots, &b);
    /* Copy before any assert: late writes would show up as wrong values. */
    int wrong = 0;
    for (int i = 0; i < N; i++)
        wrong += slots[i] != i * 3 + 1;
    cr_assert_eq(rc, MP_OK);
    cr_assert_eq(wrong, 0, "%d slots not written when mp_scope_run returned", wrong);
    cr_assert_eq(atomic_load(&b.body_off_caller), 0, "the body runs on the calling thread");
    cr_assert_eq(atomic_load(&bad_index), 0, "tasks run on threads of the pool");
}

Test(scope, tasks_borrow_the_callers_stack)
{
    static const unsigned sizes[] = {1, 2, 3, 16};
    for (size_t k = 0; k < 4; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (int rep = 0; rep < 10; rep++)
            run_on_stack(pool);
        mpt_destroy(pool);
    }
}

static int empty_body(mp_scope *scope, void *arg)
{
    (void)scope;
    return arg == NULL ? 0 : *(int *)arg;
}

Test(scope, a_body_that_spawns_nothing)
{
    mp_pool *pool = mpt_pool(2);
    cr_assert_eq(mp_scope_run(pool, empty_body, NULL), MP_OK);
    int v = 31;
    cr_assert_eq(mp_scope_run(pool, empty_body, &v), 31);
    mpt_destroy(pool);
}

/* --------------------------------------------------- spawn from spawned */

struct tree_node {
    mp_scope *scope;
    int depth;
    atomic_int *count;
    atomic_int *spawn_errors;
};

static int tree_task(void *arg)
{
    struct tree_node *node = arg;
    atomic_fetch_add(node->count, 1);
    if (node->depth > 0) {
        for (int c = 0; c < 2; c++) {
            struct tree_node *child = malloc(sizeof *child);
            *child = *node;
            child->depth = node->depth - 1;
            if (mp_scope_spawn(node->scope, tree_task, child) != MP_OK) {
                atomic_fetch_add(node->spawn_errors, 1);
                free(child);
            }
        }
    }
    free(node);
    return 0;
}

struct tree_root {
    int depth;
    atomic_int count;
    atomic_int spawn_errors;
};

static int tree_body(mp_scope *scope, void *arg)
{
    struct tree_root *root = arg;
    struct tree_node *node = malloc(sizeof *node);
    *node = (struct tree_node){scope, root->depth, &root->count, &root->spawn_errors};
    return mp_scope_spawn(scope, tree_task, node);
}

Test(scope, spawned_tasks_spawn_more_and_all_finish_before_return)
{
    static const unsigned sizes[] = {1, 2, 4, 16};
    for (size_t k = 0; k < 4; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        struct tree_root root = {.depth = 11};
        cr_assert_eq(mp_scope_run(pool, tree_body, &root), MP_OK);
        cr_assert_eq(atomic_load(&root.spawn_errors), 0);
        cr_assert_eq(atomic_load(&root.count), (1 << 12) - 1, "%u threads", sizes[k]);
        mpt_destroy(pool);
    }
}

/* On one thread the caller runs every task itself while it waits. */
struct where {
    pthread_t caller;
    atomic_int off_caller;
    atomic_int runs;
};

static int where_task(void *arg)
{
    struct where *w = arg;
    if (!pthread_equal(pthread_self(), w->caller))
        atomic_fetch_add(&w->off_caller, 1);
    atomic_fetch_add(&w->runs, 1);
    return 0;
}

static int where_body(mp_scope *scope, void *arg)
{
    for (int i = 0; i < 100; i++)
        if (mp_scope_spawn(scope, where_task, arg) != MP_OK)
            return 1;
    return 0;
}

Test(scope, on_one_thread_the_caller_runs_the_tasks)
{
    mp_pool *pool = mpt_pool(1);
    struct where w = {.caller = pthread_self()};
    cr_assert_eq(mp_scope_run(pool, where_body, &w), MP_OK);
    cr_assert_eq(atomic_load(&w.runs), 100);
    cr_assert_eq(atomic_load(&w.off_caller), 0);
    mpt_destroy(pool);
}

/* ----------------------------------------------------------- nesting */

struct nested_scope {
    mp_pool *pool;
    atomic_int leaves;
    atomic_int errors;
};

static int nested_leaf(void *arg)
{
    atomic_fetch_add(&((struct nested_scope *)arg)->leaves, 1);
    return 0;
}

static int inner_scope_body(mp_scope *scope, void *arg)
{
    for (int i = 0; i < 10; i++)
        if (mp_scope_spawn(scope, nested_leaf, arg) != MP_OK)
            return 1;
    return 0;
}

static int task_with_scope(void *arg)
{
    struct nested_scope *ns = arg;
    int rc = mp_scope_run(ns->pool, inner_scope_body, ns);
    if (rc != 0)
        atomic_fetch_add(&ns->errors, 1);
    return rc;
}

static int outer_scope_body(mp_scope *scope, void *arg)
{
    for (int i = 0; i < 20; i++)
        if (mp_scope_spawn(scope, task_with_scope, arg) != MP_OK)
            return 1;
    return 0;
}

static int scope_in_loop(void *arg, size_t begin, size_t end)
{
    for (size_t i = begin; i < end; i++) {
        int rc = mp_scope_run(((struct nested_scope *)arg)->pool, outer_scope_body, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

Test(scope, scopes_inside_scope_tasks_and_loop_bodies)
{
    static const unsigned sizes[] = {1, 2, 3};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        struct nested_scope ns = {.pool = pool};
        cr_assert_eq(mp_scope_run(pool, outer_scope_body, &ns), MP_OK);
        cr_assert_eq(atomic_load(&ns.leaves), 200);
        cr_assert_eq(mp_for(pool, 10, 1, 0, scope_in_loop, &ns), MP_OK);
        cr_assert_eq(atomic_load(&ns.leaves), 200 + 10 * 200);
        cr_assert_eq(atomic_load(&ns.errors), 0);
        mpt_destroy(pool);
    }
}

struct ext_scope {
    mp_pool *pool;
    int ok_rounds;
};

static void *external_scoper(void *arg)
{
    struct ext_scope *e = arg;
    for (int r = 0; r < 20; r++) {
        struct tree_root root = {.depth = 7};
        if (mp_scope_run(e->pool, tree_body, &root) == MP_OK &&
            atomic_load(&root.count) == (1 << 8) - 1 && atomic_load(&root.spawn_errors) == 0)
            e->ok_rounds++;
    }
    return NULL;
}

Test(scope, scopes_from_several_external_threads_at_once)
{
    mp_pool *pool = mpt_pool(3);
    enum { T = 5 };
    pthread_t th[T];
    struct ext_scope e[T];
    for (int i = 0; i < T; i++) {
        e[i] = (struct ext_scope){pool, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, external_scoper, &e[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(e[i].ok_rounds, 20, "thread %d", i);
    }
    mpt_destroy(pool);
}

/* --------------------------------------------------------------- errors */

#define FAIL_ALL (-2)

struct scope_fail;
struct fail_task_arg {
    struct scope_fail *sf;
    int id;
};

struct scope_fail {
    mp_pool *pool;
    int value;
    int bad_task;          /* index of the failing task, -1 none, FAIL_ALL */
    int body_value;
    int n;
    atomic_int started;
    struct fail_task_arg args[10000];
};

static int maybe_fail_task(void *arg)
{
    struct fail_task_arg *a = arg;
    atomic_fetch_add(&a->sf->started, 1);
    if (a->id == a->sf->bad_task || a->sf->bad_task == FAIL_ALL)
        return a->sf->value;
    return 0;
}

static int fail_body(mp_scope *scope, void *arg)
{
    struct scope_fail *sf = arg;
    for (int i = 0; i < sf->n; i++) {
        sf->args[i] = (struct fail_task_arg){sf, i};
        if (mp_scope_spawn(scope, maybe_fail_task, &sf->args[i]) != MP_OK)
            return 1;
    }
    return sf->body_value;
}

Test(scope, the_error_of_a_task_or_the_body_comes_back_unchanged)
{
    static const int values[] = {1, 42, INT_MAX, -1, -5000, INT_MIN};
    static const unsigned sizes[] = {1, 2, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            struct scope_fail *sf = calloc(1, sizeof *sf);
            sf->pool = pool;
            sf->value = values[v];
            sf->bad_task = 3;
            sf->n = 10;
            cr_assert_eq(mp_scope_run(pool, fail_body, sf), values[v], "task fails, %u threads",
                         sizes[k]);
            sf->bad_task = -1;
            sf->body_value = values[v];
            atomic_store(&sf->started, 0);
            cr_assert_eq(mp_scope_run(pool, fail_body, sf), values[v], "body fails, %u threads",
                         sizes[k]);
            cr_assert_leq(atomic_load(&sf->started), 10);
            free(sf);
        }
        mpt_destroy(pool);
    }
}

Test(scope, after_a_failing_task_the_tasks_not_started_are_skipped)
{
    /* Every task fails: whichever starts first makes the pool skip the
     * ones that have not started. */
    mp_pool *one = mpt_pool(1);
    struct scope_fail *sf = calloc(1, sizeof *sf);
    sf->pool = one;
    sf->value = 17;
    sf->bad_task = FAIL_ALL;
    sf->n = 10000;
    cr_assert_eq(mp_scope_run(one, fail_body, sf), 17);
    cr_assert_lt(atomic_load(&sf->started), 10000, "all 10000 tasks ran after the failure");
    mpt_destroy(one);

    static const unsigned sizes[] = {2, 4};
    for (size_t k = 0; k < 2; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        memset(sf, 0, sizeof *sf);
        sf->pool = pool;
        sf->value = 18;
        sf->bad_task = FAIL_ALL;
        sf->n = 10000;
        cr_assert_eq(mp_scope_run(pool, fail_body, sf), 18);
        cr_assert_lt(atomic_load(&sf->started), 10000, "%u threads: all tasks ran", sizes[k]);
        mpt_destroy(pool);
    }
    free(sf);
}

/* A task that fails while the body is still spawning: what is spawned after
 * the failure was seen must not run. */
struct late_spawn {
    atomic_int failed;
    atomic_int late_runs;
    atomic_int timed_out;
};

static int failing_first(void *arg)
{
    atomic_store(&((struct late_spawn *)arg)->failed, 1);
    return 23;
}

static int late_task(void *arg)
{
    atomic_fetch_add(&((struct late_spawn *)arg)->late_runs, 1);
    return 0;
}

static int late_body(mp_scope *scope, void *arg)
{
    struct late_spawn *ls = arg;
    if (mp_scope_spawn(scope, failing_first, ls) != MP_OK)
        return 1;
    if (!mpt_wait_at_least(&ls->failed, 1, 10.0)) {
        atomic_store(&ls->timed_out, 1);
        return 0;
    }
    for (int i = 0; i < 1000; i++)
        if (mp_scope_spawn(scope, late_task, ls) != MP_OK)
            return 2;
    return 0;
}

Test(scope, tasks_spawned_after_the_failure_are_skipped)
{
    mp_pool *pool = mpt_pool(2);
    struct late_spawn ls = {0};
    cr_assert_eq(mp_scope_run(pool, late_body, &ls), 23);
    cr_assert_eq(atomic_load(&ls.timed_out), 0, "the worker never ran the spawned task");
    cr_assert_lt(atomic_load(&ls.late_runs), 1000, "%d of 1000 late tasks ran",
                 atomic_load(&ls.late_runs));
    mpt_destroy(pool);
}

static int spawn_null(mp_scope *scope, void *arg)
{
    (void)arg;
    int a = mp_scope_spawn(scope, NULL, NULL);
    int b = mp_scope_spawn(NULL, nested_leaf, NULL);
    return (a == MP_EINVAL && b == MP_EINVAL) ? 0 : 1;
}

static int must_not_run_body(mp_scope *scope, void *arg)
{
    (void)scope;
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

Test(scope, null_arguments_are_einval)
{
    mp_pool *pool = mpt_pool(2);
    atomic_int calls = 0;
    cr_assert_eq(mp_scope_run(NULL, must_not_run_body, &calls), MP_EINVAL);
    cr_assert_eq(mp_scope_run(pool, NULL, &calls), MP_EINVAL);
    cr_assert_eq(atomic_load(&calls), 0);
    cr_assert_eq(mp_scope_run(pool, spawn_null, NULL), MP_OK,
                 "mp_scope_spawn with a NULL scope or fn is MP_EINVAL");
    cr_assert_eq(mp_scope_spawn(NULL, nested_leaf, NULL), MP_EINVAL);
    mpt_destroy(pool);
}
