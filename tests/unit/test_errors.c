/* Error codes, mp_strerror, and how callback errors travel back to their
 * own caller. */
#include "support.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

TestSuite(errors, .timeout = 40);

Test(errors, codes_are_the_negative_errno_values)
{
    cr_assert_eq(MP_OK, 0);
    cr_assert_eq(MP_EINVAL, -EINVAL);
    cr_assert_eq(MP_ENOMEM, -ENOMEM);
    cr_assert_eq(MP_EBUSY, -EBUSY);
    cr_assert_eq(MP_EDEADLK, -EDEADLK);
    cr_assert_eq(MP_ESHUTDOWN, -ESHUTDOWN);
    cr_assert_eq(MP_ECANCELED, -ECANCELED);
    cr_assert_eq(MP_ETIMEDOUT, -ETIMEDOUT);
}

Test(errors, strerror_names_every_code_with_a_distinct_static_string)
{
    static const int codes[] = {MP_OK,      MP_EINVAL,    MP_ENOMEM,   MP_EBUSY,
                                MP_EDEADLK, MP_ESHUTDOWN, MP_ECANCELED, MP_ETIMEDOUT};
    enum { N = sizeof codes / sizeof codes[0] };
    const char *names[N];
    char copies[N][128];
    for (int i = 0; i < N; i++) {
        names[i] = mp_strerror(codes[i]);
        cr_assert_not_null(names[i]);
        cr_assert_gt(strlen(names[i]), 0u);
        cr_assert_null(strstr(names[i], "callback error"), "code %d is the library's own",
                       codes[i]);
        snprintf(copies[i], sizeof copies[i], "%s", names[i]);
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            cr_assert_str_neq(names[i], names[j], "codes %d and %d share a name", codes[i],
                              codes[j]);
    /* Static: the same pointer every time, untouched by unknown codes. */
    for (int i = 0; i < N; i++) {
        (void)mp_strerror(12345);
        cr_assert(mp_strerror(codes[i]) == names[i]);
        cr_assert_str_eq(names[i], copies[i]);
    }
}

Test(errors, unknown_codes_are_callback_error_n)
{
    static const int codes[] = {1, 5, 42, INT_MAX, -1, -2, -4095, -4096, -5000, INT_MIN, 22, 35};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "callback error %d", codes[i]);
        const char *got = mp_strerror(codes[i]);
        cr_assert_not_null(got);
        cr_assert_str_eq(got, want);
    }
}

struct strerror_thread {
    int code;
    int ok;
    pthread_barrier_t *barrier;
};

static void *strerror_worker(void *arg)
{
    struct strerror_thread *st = arg;
    char want[64];
    snprintf(want, sizeof want, "callback error %d", st->code);
    st->ok = 1;
    for (int r = 0; r < 2000; r++) {
        const char *mine = mp_strerror(st->code + r);
        pthread_barrier_wait(st->barrier); /* both threads hold a string now */
        snprintf(want, sizeof want, "callback error %d", st->code + r);
        if (strcmp(mine, want) != 0)
            st->ok = 0;
        pthread_barrier_wait(st->barrier);
    }
    return NULL;
}

Test(errors, the_unknown_code_buffer_is_per_thread)
{
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    struct strerror_thread a = {100000, 0, &barrier}, b = {200000, 0, &barrier};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, strerror_worker, &a);
    pthread_create(&tb, NULL, strerror_worker, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    cr_assert(a.ok && b.ok, "another thread's mp_strerror overwrote this thread's string");
}

/* Bad arguments across the whole API (NULLs, unknown flags) are checked
 * by ../badinput/badinput.c, in every tree. */

static int fn0(void *arg)
{
    (void)arg;
    return 0;
}
static int range0(void *arg, size_t b, size_t e)
{
    (void)arg;
    (void)b;
    (void)e;
    return 0;
}

/* --------------------------------------------- errors go to their caller */

/* Several external threads run the same kinds of operations on one pool,
 * each failing with its own value; each must get exactly its own value. */
struct caller_errors {
    mp_pool *pool;
    int id;
    int wrong;
    int rounds;
};

static int fail_id_fn(void *arg)
{
    return *(int *)arg;
}

static int fail_id_range(void *arg, size_t b, size_t e)
{
    return (b <= 50 && 50 < e) ? *(int *)arg : 0;
}

static int fail_id_map(void *arg, size_t b, size_t e, void *acc)
{
    (void)acc;
    return (b <= 7 && 7 < e) ? *(int *)arg : 0;
}

static void add_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

static int fail_id_bcast(void *arg, unsigned i, unsigned n)
{
    return i == n - 1 ? *(int *)arg : 0;
}

static int fail_id_scope(mp_scope *scope, void *arg)
{
    for (int i = 0; i < 5; i++)
        if (mp_scope_spawn(scope, i == 3 ? fail_id_fn : fn0, arg) != MP_OK)
            return -77;
    return 0;
}

static void *error_caller(void *arg)
{
    struct caller_errors *ce = arg;
    int mine = 1000 + ce->id;
    for (int r = 0; r < ce->rounds; r++) {
        uint64_t acc = 0;
        mp_task *t = NULL;
        if (mp_join(ce->pool, fn0, NULL, fail_id_fn, &mine) != mine)
            ce->wrong++;
        if (mp_for(ce->pool, 100, 1, 0, fail_id_range, &mine) != mine)
            ce->wrong++;
        if (mp_reduce(ce->pool, 100, 1, 0, &acc, 8, fail_id_map, add_combine, &mine) != mine)
            ce->wrong++;
        if (mp_broadcast(ce->pool, fail_id_bcast, &mine) != mine)
            ce->wrong++;
        if (mp_scope_run(ce->pool, fail_id_scope, &mine) != mine)
            ce->wrong++;
        if (mp_submit(ce->pool, fail_id_fn, &mine, &t) != MP_OK || mp_task_wait(t) != mine)
            ce->wrong++;
        mp_task_release(t);
        /* A successful operation in between is not disturbed. */
        if (mp_for(ce->pool, 100, 1, 0, range0, NULL) != MP_OK)
            ce->wrong++;
    }
    return NULL;
}

Test(errors, every_error_returns_to_the_caller_whose_callback_failed)
{
    static const unsigned sizes[] = {1, 3};
    for (size_t k = 0; k < 2; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        enum { T = 4 };
        pthread_t th[T];
        struct caller_errors ce[T];
        for (int i = 0; i < T; i++) {
            ce[i] = (struct caller_errors){pool, i, 0, 100};
            cr_assert_eq(pthread_create(&th[i], NULL, error_caller, &ce[i]), 0);
        }
        for (int i = 0; i < T; i++) {
            pthread_join(th[i], NULL);
            cr_assert_eq(ce[i].wrong, 0, "%u threads: caller %d got %d wrong results", sizes[k],
                         i, ce[i].wrong);
        }
        mpt_destroy(pool);
    }
}

/* A library code returned by a callback is passed on like any value. */
Test(errors, a_callback_may_return_a_library_code)
{
    mp_pool *pool = mpt_pool(2);
    int v = MP_ECANCELED;
    cr_assert_eq(mp_join(pool, fn0, NULL, fail_id_fn, &v), MP_ECANCELED);
    v = MP_ENOMEM;
    cr_assert_eq(mp_for(pool, 100, 1, 0, fail_id_range, &v), MP_ENOMEM);
    mpt_destroy(pool);
}

/* Errors travel up through nested operations of different kinds. */
struct nest_err {
    mp_pool *pool;
    int value;
};

static int nest_scope_task(void *arg)
{
    struct nest_err *ne = arg;
    return mp_for(ne->pool, 100, 1, 0, fail_id_range, &ne->value);
}

static int nest_scope_body(mp_scope *scope, void *arg)
{
    return mp_scope_spawn(scope, nest_scope_task, arg);
}

static int nest_join_half(void *arg)
{
    struct nest_err *ne = arg;
    return mp_scope_run(ne->pool, nest_scope_body, ne);
}

static int nest_bcast(void *arg, unsigned i, unsigned n)
{
    (void)n;
    if (i != 0)
        return 0;
    return mp_join(((struct nest_err *)arg)->pool, fn0, NULL, nest_join_half, arg);
}

Test(errors, errors_cross_nested_operations_of_every_kind)
{
    static const unsigned sizes[] = {1, 2, 4};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        struct nest_err ne = {pool, 31337};
        cr_assert_eq(mp_broadcast(pool, nest_bcast, &ne), 31337, "%u threads", sizes[k]);
        mpt_destroy(pool);
    }
}
