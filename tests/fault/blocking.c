/*
 * Callbacks that block (in read() on a pipe, as on slow I/O) must not stall
 * the unrelated work of other callers beyond what the pool's size makes
 * unavoidable.
 *
 * A pool of N = 4 threads. A first caller occupies k of its 3 workers with
 * callbacks that block in read() (k = 0..3), in two ways: broadcast parts
 * (part i runs on worker i) and background tasks. While they block, a
 * second caller runs a workload of every operation except broadcast
 * (which needs every worker by contract) and checks its results: it must
 * finish, with the k blocked workers simply missing (with k = 3 the
 * caller does all of its work itself). Then the pipe is written, the
 * blocked callbacks return, and everything is checked again.
 *
 * A watchdog turns a stall into a failure (it does not measure speed: the
 * bound is 120 s for work that takes milliseconds). The times printed are
 * information for docs/reliability.md, not assertions.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <micropool.h>

#include "check.h"
#include "cover.h"

#define THREADS 4

static int gate[2];             /* the pipe blocked callbacks read from */
static atomic_int blocked;      /* callbacks inside read() (or about to) */
static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void block_on_gate(void)
{
    atomic_fetch_add(&blocked, 1);
    char c;
    ssize_t r;
    do
        r = read(gate[0], &c, 1);
    while (r < 0 && errno == EINTR);
    if (r != 1)
        MPT_FAILF("%s", "read from the gate");
}

static void open_gate(int n)
{
    for (int i = 0; i < n; i++)
        if (write(gate[1], "x", 1) != 1)
            MPT_FAILF("%s", "write to the gate");
}

/* Waits until `n` callbacks block; a stall here is a failure too. */
static void wait_blocked(int n)
{
    for (int i = 0; i < 120000 && atomic_load(&blocked) < n; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&blocked) < n) {
        fprintf(stderr, "FAIL: only %d of %d callbacks started\n", atomic_load(&blocked), n);
        exit(1);
    }
}

/* ------------------------------------------------------------ watchdog */

/* When the current watched step began (ms), 0: nothing watched. */
static _Atomic double watch_since;
static const char *watch_what;

static void watch(const char *what)
{
    watch_what = what;
    atomic_store(&watch_since, now_ms());
}

static void unwatch(void)
{
    atomic_store(&watch_since, 0.0);
}

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        sleep(1);
        double since = atomic_load(&watch_since);
        if (since != 0.0 && now_ms() - since > 120e3) {
            fprintf(stderr, "FAIL: stalled for 120 s: %s\n", watch_what);
            _exit(1);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ workload */

struct fib {
    mp_pool *pool;
    int n;
    long result;
};

static int fib_fn(void *arg)
{
    struct fib *f = arg;
    if (f->n < 2) {
        f->result = f->n;
        return 0;
    }
    struct fib a = {f->pool, f->n - 1, 0}, b = {f->pool, f->n - 2, 0};
    int rc = mp_join(f->pool, fib_fn, &a, fib_fn, &b);
    f->result = a.result + b.result;
    return rc;
}

#define ITEMS 200000u
static mpt_cover seen; /* the coverage checker of ../common */

static int sum_map(void *arg, size_t b, size_t e, void *acc)
{
    (void)arg;
    for (size_t i = b; i < e; i++)
        *(uint64_t *)acc += i;
    return 0;
}

static void sum_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

static int count_fn(void *arg)
{
    atomic_fetch_add((atomic_long *)arg, 1);
    return 0;
}

static int scope_body(mp_scope *s, void *arg)
{
    for (int i = 0; i < 200; i++)
        if (mp_scope_spawn(s, count_fn, arg) != MP_OK)
            return -1;
    return 0;
}

/* Every operation but broadcast; returns how long it took (ms). */
static double workload(mp_pool *pool, const char *when)
{
    char what[160];
    snprintf(what, sizeof what, "the other caller's work (%s)", when);
    watch(what);
    double t0 = now_ms();

    struct fib f = {pool, 22, 0};
    if (fib_fn(&f) != MP_OK || f.result != 17711)
        MPT_FAILF("%s", "join: fib(22) wrong");

    mpt_cover_reset(&seen);
    if (mp_for(pool, ITEMS, 1000, MP_SPLIT_DYNAMIC, mpt_cover_body, &seen) != MP_OK)
        MPT_FAILF("%s", "mp_for returned an error");
    if (mp_for(pool, ITEMS, 0, MP_SPLIT_STATIC, mpt_cover_body, &seen) != MP_OK)
        MPT_FAILF("%s", "static mp_for returned an error");
    if (mpt_cover_off(&seen, 2) != 0)
        MPT_FAILF("%s", "mp_for: an item not processed exactly once per loop");

    uint64_t sum = 0;
    if (mp_reduce(pool, ITEMS, 1000, 0, &sum, sizeof sum, sum_map, sum_combine, NULL) !=
            MP_OK ||
        sum != (uint64_t)ITEMS * (ITEMS - 1) / 2)
        MPT_FAILF("%s", "mp_reduce: wrong sum");

    atomic_long spawned = 0;
    if (mp_scope_run(pool, scope_body, &spawned) != MP_OK || atomic_load(&spawned) != 200)
        MPT_FAILF("%s", "mp_scope_run: not every spawned task ran");

    atomic_long task_ran = 0;
    mp_task *t[20];
    for (int i = 0; i < 20; i++)
        if (mp_submit(pool, count_fn, &task_ran, &t[i]) != MP_OK)
            MPT_FAILF("%s", "mp_submit refused");
    for (int i = 0; i < 20; i++) {
        if (mp_task_wait(t[i]) != 0)
            MPT_FAILF("%s", "mp_task_wait: wrong result");
        mp_task_release(t[i]);
    }
    if (atomic_load(&task_ran) != 20)
        MPT_FAILF("%s", "not every task ran");

    double ms = now_ms() - t0;
    unwatch();
    return ms;
}

/* The workload 7 times; the median time (ms), for the table it prints. */
static double workload_median(mp_pool *pool, const char *when)
{
    enum { R = 7 };
    double t[R];
    for (int i = 0; i < R; i++) {
        double v = workload(pool, when);
        int j = i;
        for (; j > 0 && t[j - 1] > v; j--)
            t[j] = t[j - 1];
        t[j] = v;
    }
    return t[R / 2];
}

/* ------------------------------------------------------------ blockers */

static int k_blocking;

static int blocking_part(void *arg, unsigned i, unsigned n)
{
    (void)arg;
    (void)n;
    if (i >= 1 && (int)i <= k_blocking)
        block_on_gate();
    return 0;
}

struct bcaster {
    mp_pool *pool;
    int rc;
};

static void *bcast_main(void *arg)
{
    struct bcaster *b = arg;
    b->rc = mp_broadcast(b->pool, blocking_part, NULL);
    return NULL;
}

static int blocking_task(void *arg)
{
    (void)arg;
    block_on_gate();
    return 5;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    mpt_checks_init("blocking", 0);
    mpt_cover_init(&seen, ITEMS);
    if (pipe(gate) != 0) {
        perror("pipe");
        return 1;
    }
    pthread_t dog;
    pthread_create(&dog, NULL, watchdog, NULL);
    pthread_detach(dog);

    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = THREADS;
    mp_pool *pool;
    if (mp_pool_create(&cfg, &pool) != MP_OK) {
        fprintf(stderr, "FAIL: mp_pool_create\n");
        return 1;
    }
    workload(pool, "warm-up");

    printf("pool of %d threads; the other caller's workload (fib(22) by joins, 2 loops "
           "and a reduce over %u items, 200 scope tasks, 20 background tasks), median "
           "of 7 runs:\n",
           THREADS, ITEMS);
    /* Blocked broadcast parts: worker i runs part i. */
    for (int k = 0; k <= THREADS - 1; k++) {
        atomic_store(&blocked, 0);
        k_blocking = k;
        struct bcaster b = {pool, -1};
        pthread_t th;
        pthread_create(&th, NULL, bcast_main, &b);
        wait_blocked(k);
        char when[64];
        snprintf(when, sizeof when, "%d workers blocked in broadcast parts", k);
        double ms = workload_median(pool, when);
        printf("  %d of %d workers blocked in read() (broadcast parts): %8.1f ms\n", k,
               THREADS - 1, ms);
        open_gate(k);
        watch("a broadcast whose blocked parts were released");
        pthread_join(th, NULL);
        unwatch();
        if (b.rc != MP_OK)
            MPT_FAILF("%s", "the blocking broadcast returned an error");
    }
    /* Blocked background tasks. */
    for (int k = 1; k <= THREADS - 1; k++) {
        atomic_store(&blocked, 0);
        mp_task *t[THREADS];
        for (int i = 0; i < k; i++)
            if (mp_submit(pool, blocking_task, NULL, &t[i]) != MP_OK)
                MPT_FAILF("%s", "mp_submit of a blocking task");
        wait_blocked(k);
        char when[64];
        snprintf(when, sizeof when, "%d workers blocked in background tasks", k);
        double ms = workload_median(pool, when);
        printf("  %d of %d workers blocked in read() (background tasks): %8.1f ms\n", k,
               THREADS - 1, ms);
        open_gate(k);
        for (int i = 0; i < k; i++) {
            if (mp_task_wait(t[i]) != 5)
                MPT_FAILF("%s", "a released blocking task returned a wrong result");
            mp_task_release(t[i]);
        }
    }
    double ms = workload_median(pool, "after release");
    printf("  none blocked, after release: %8.1f ms\n", ms);

    if (mp_pool_destroy(pool) != MP_OK)
        MPT_FAILF("%s", "mp_pool_destroy");
    mpt_cover_free(&seen);
    if (mpt_failures()) {
        fprintf(stderr, "blocking: %ld failure(s)\n", mpt_failures());
        return 1;
    }
    printf("blocking: unrelated work finished with 0..%d workers blocked; nothing lost\n",
           THREADS - 1);
    return 0;
}
