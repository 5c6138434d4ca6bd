/* mp_pool_shared (since 1.1): one pool for the process, counted
 * references, MICROPOOL_THREADS. Criterion runs each test in a process of
 * its own, so each starts without a shared pool. */
#include "support.h"

#include <stdlib.h>
#include <unistd.h>

TestSuite(shared, .timeout = 60);

static int count_range(void *arg, size_t begin, size_t end)
{
    atomic_fetch_add((atomic_long *)arg, (long)(end - begin));
    return 0;
}

static void check_usable(mp_pool *pool)
{
    atomic_long n = 0;
    cr_assert_eq(mp_for(pool, 1000, 1, 0, count_range, &n), MP_OK);
    cr_assert_eq(atomic_load(&n), 1000);
}

/* Waits until the process has `want` threads (workers exit after destroy
 * returns only in the kernel's view). */
static int threads_become(int want)
{
    for (int i = 0; i < 2000 && mpt_thread_count() != want; i++)
        usleep(1000);
    return mpt_thread_count();
}

Test(shared, one_pool_until_the_last_reference_is_dropped)
{
    unsetenv("MICROPOOL_THREADS");
    int before = mpt_thread_count();
    mp_pool *a = NULL, *b = NULL, *c = NULL;
    cr_assert_eq(mp_pool_shared(&a), MP_OK);
    cr_assert_eq(mp_pool_shared(&b), MP_OK);
    cr_assert(a != NULL && a == b, "two calls, one pool");
    cr_assert_eq(mp_pool_threads(a), mpt_cpus(), "the defaults of mp_config_init");
    cr_assert_eq(mpt_thread_count(), before + (int)mpt_cpus() - 1, "one set of workers");
    cr_assert_eq(mp_pool_destroy(a), MP_OK);
    check_usable(b);                    /* b's reference keeps the pool */
    cr_assert_eq(mp_pool_destroy(b), MP_OK);
    cr_assert_eq(threads_become(before), before, "the last reference destroyed the pool");
    cr_assert_eq(mp_pool_shared(&c), MP_OK, "a later call makes a new pool");
    check_usable(c);
    cr_assert_eq(mp_pool_destroy(c), MP_OK);
    cr_assert_eq(threads_become(before), before);
}

enum { CALLERS = 8 };
static pthread_barrier_t start;

static void *first_call(void *arg)
{
    mp_pool **out = arg;
    pthread_barrier_wait(&start);
    if (mp_pool_shared(out) != MP_OK)
        *out = NULL;
    return NULL;
}

Test(shared, concurrent_first_calls_make_one_pool)
{
    setenv("MICROPOOL_THREADS", "3", 1);
    int before = mpt_thread_count();
    pthread_t th[CALLERS];
    mp_pool *got[CALLERS];
    pthread_barrier_init(&start, NULL, CALLERS);
    for (int i = 0; i < CALLERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, first_call, &got[i]), 0);
    for (int i = 0; i < CALLERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < CALLERS; i++)
        cr_assert(got[i] != NULL && got[i] == got[0], "caller %d got another pool", i);
    cr_assert_eq(mpt_thread_count(), before + 2, "one pool of 3 threads: 2 workers");
    for (int i = 0; i < CALLERS; i++) {
        check_usable(got[0]);
        cr_assert_eq(mp_pool_destroy(got[i]), MP_OK);
    }
    cr_assert_eq(threads_become(before), before);
}

Test(shared, micropool_threads_sets_the_size_and_anything_else_is_ignored)
{
    static const struct {
        const char *value;
        unsigned threads;              /* 0: the default (the CPUs) */
    } cases[] = {
        {"3", 3},     {"1", 1},    {"64", 64},     {"1024", 1024}, {"0", 0},   {"1025", 0},  {"abc", 0},
        {"3x", 0},    {"", 0},     {"-2", 0},      {" 3", 0},   {"+3", 0},    {"0x10", 0},
        {"99999999999999999999999", 0},            {"2 ", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("MICROPOOL_THREADS", cases[i].value, 1);
        mp_pool *p = NULL;
        cr_assert_eq(mp_pool_shared(&p), MP_OK, "MICROPOOL_THREADS=\"%s\"", cases[i].value);
        unsigned want = cases[i].threads ? cases[i].threads : mpt_cpus();
        cr_assert_eq(mp_pool_threads(p), want, "MICROPOOL_THREADS=\"%s\": %u threads, want %u",
                     cases[i].value, mp_pool_threads(p), want);
        cr_assert_eq(mp_pool_destroy(p), MP_OK);
    }
}

static atomic_int deadlk;

static int drop_from_inside(void *arg)
{
    if (mp_pool_destroy(arg) == MP_EDEADLK)
        atomic_fetch_add(&deadlk, 1);
    return 0;
}

Test(shared, dropping_a_reference_from_inside_the_pool_is_edeadlk_and_keeps_it)
{
    setenv("MICROPOOL_THREADS", "2", 1);
    int before = mpt_thread_count();
    mp_pool *p = NULL;
    cr_assert_eq(mp_pool_shared(&p), MP_OK);
    cr_assert_eq(mp_join(p, drop_from_inside, p, drop_from_inside, p), MP_OK);
    cr_assert_eq(atomic_load(&deadlk), 2);
    check_usable(p);                    /* the one reference is still there */
    cr_assert_eq(mp_pool_destroy(p), MP_OK);
    cr_assert_eq(threads_become(before), before);
}
