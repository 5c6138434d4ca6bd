/* Pool lifecycle: version, configuration, workers, names, pinning, hooks,
 * thread indices, statistics and destroy. */
#include "support.h"

#include <dirent.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(pool, .timeout = 30);

Test(pool, version_matches_the_header)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MICROPOOL_VERSION_MAJOR,
             MICROPOOL_VERSION_MINOR, MICROPOOL_VERSION_PATCH);
    cr_assert_str_eq(mp_version(), "1.1.0");
    cr_assert_str_eq(mp_version(), want);
    cr_assert(mp_version() == mp_version(), "the version string is static");
}

Test(pool, config_init_sets_the_documented_defaults)
{
    mp_config cfg;
    memset(&cfg, 0xA5, sizeof cfg);
    mp_config_init(&cfg);
    cr_assert_eq(cfg.size, sizeof(mp_config));
    cr_assert_eq(cfg.threads, 0u);
    cr_assert_eq(cfg.spin_us, MP_SPIN_US_DEFAULT);
    cr_assert_eq(cfg.pin, 0);
    cr_assert_null(cfg.name);
    cr_assert_null((void *)cfg.on_thread_start);
    cr_assert_null((void *)cfg.on_thread_stop);
    cr_assert_null(cfg.hook_arg);
    cr_assert_eq(cfg.stack_size, 0u);
    mp_config_init(NULL); /* documented to do nothing */
}

Test(pool, null_config_gives_one_thread_per_cpu)
{
    mp_pool *pool = NULL;
    cr_assert_eq(mp_pool_create(NULL, &pool), MP_OK);
    cr_assert_not_null(pool);
    cr_assert_eq(mp_pool_threads(pool), mpt_cpus());
    mpt_destroy(pool);

    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = 0;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    cr_assert_eq(mp_pool_threads(pool), mpt_cpus(), "threads = 0 resolves to the CPUs");
    mpt_destroy(pool);
}

Test(pool, create_rejects_bad_arguments_and_leaves_out_untouched)
{
    mp_config cfg;
    mp_pool *sentinel = (mp_pool *)(uintptr_t)0x1234;
    mp_pool *pool = sentinel;

    cr_assert_eq(mp_pool_create(NULL, NULL), MP_EINVAL);
    mp_config_init(&cfg);
    cr_assert_eq(mp_pool_create(&cfg, NULL), MP_EINVAL);

    mp_config_init(&cfg);
    cfg.threads = MP_THREADS_MAX + 1;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_EINVAL);
    cr_assert(pool == sentinel);
    cfg.threads = 1u << 31;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_EINVAL);
    cr_assert(pool == sentinel);

    mp_config_init(&cfg);
    cfg.threads = 2;
    cfg.pin = 2;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_EINVAL);
    cfg.pin = -1;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_EINVAL);
    cr_assert(pool == sentinel);

    cr_assert_eq(mp_pool_destroy(NULL), MP_EINVAL);
    cr_assert_eq(mp_pool_threads(NULL), 0u);
    cr_assert_eq(mp_pool_thread_index(NULL), -1);
}

static int wait_thread_count(int want)
{
    /* A joined thread may stay listed for a moment: poll briefly. */
    for (int i = 0; i < 2000; i++) {
        if (mpt_thread_count() == want)
            return 1;
        usleep(1000);
    }
    return 0;
}

Test(pool, threads_count_the_caller_and_workers_are_joined_at_destroy)
{
    int base = mpt_thread_count();
    cr_assert_gt(base, 0);
    static const unsigned sizes[] = {1, 2, 3, 16};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        unsigned n = sizes[k];
        mp_pool *pool = mpt_pool(n);
        cr_assert_eq(mp_pool_threads(pool), n);
        cr_assert(wait_thread_count(base + (int)n - 1),
                  "pool of %u threads: %d threads in the process, want %d", n,
                  mpt_thread_count(), base + (int)n - 1);
        mpt_destroy(pool);
        cr_assert(wait_thread_count(base), "after destroy of %u: %d threads, want %d", n,
                  mpt_thread_count(), base);
    }
}

Test(pool, many_pools_at_once_and_in_sequence)
{
    mp_pool *pools[8];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 8; i++)
            pools[i] = mpt_pool((unsigned)(i % 4) + 1);
        for (int i = 0; i < 8; i++) {
            mpt_cover c;
            mpt_cover_init(&c, 1000);
            cr_assert_eq(mp_for(pools[i], 1000, 10, 0, mpt_cover_body, &c), MP_OK);
            cr_assert_eq(mpt_cover_wrong(&c), 0u);
            mpt_cover_free(&c);
        }
        for (int i = 7; i >= 0; i--)
            mpt_destroy(pools[i]);
    }
}

/* ------------------------------------------------------------- size rule */

struct hook_log {
    atomic_int starts[64];
    atomic_int stops[64];
    atomic_int start_total;
    atomic_int stop_total;
    atomic_int bad_index;
    atomic_int started_before_work[64];
    pthread_t main_thread;
    atomic_int on_main_thread;
    char names[64][16];
};

static void hook_start(void *arg, unsigned index)
{
    struct hook_log *log = arg;
    atomic_fetch_add(&log->start_total, 1);
    if (index >= 64) {
        atomic_fetch_add(&log->bad_index, 1);
        return;
    }
    if (pthread_equal(pthread_self(), log->main_thread))
        atomic_fetch_add(&log->on_main_thread, 1);
    pthread_getname_np(pthread_self(), log->names[index], sizeof log->names[index]);
    atomic_fetch_add(&log->starts[index], 1);
}

static void hook_stop(void *arg, unsigned index)
{
    struct hook_log *log = arg;
    atomic_fetch_add(&log->stop_total, 1);
    if (index >= 64) {
        atomic_fetch_add(&log->bad_index, 1);
        return;
    }
    if (pthread_equal(pthread_self(), log->main_thread))
        atomic_fetch_add(&log->on_main_thread, 1);
    atomic_fetch_add(&log->stops[index], 1);
}

static int worker_names_seen(const char *prefix, unsigned threads);

Test(pool, smaller_size_gives_defaults_for_the_fields_beyond_it)
{
    struct hook_log *log = calloc(1, sizeof *log);
    log->main_thread = pthread_self();
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.size = offsetof(mp_config, spin_us); /* covers size and threads only */
    cfg.threads = 3;
    cfg.spin_us = 123456789;
    cfg.pin = 7;                /* would be MP_EINVAL if it were read */
    cfg.name = "ignored";
    cfg.on_thread_start = hook_start;
    cfg.on_thread_stop = hook_stop;
    cfg.hook_arg = log;
    mp_pool *pool = NULL;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK, "an older caller's config is accepted");
    cr_assert_eq(mp_pool_threads(pool), 3u, "threads was read");
    cr_assert(worker_names_seen("micropool", 3), "the default name was used");
    mpt_destroy(pool);
    cr_assert_eq(atomic_load(&log->start_total), 0, "hooks beyond size must not be called");
    cr_assert_eq(atomic_load(&log->stop_total), 0);

    /* Covering pin but not name: pin is read, the name is the default. */
    mp_config_init(&cfg);
    cfg.size = offsetof(mp_config, name);
    cfg.threads = 2;
    cfg.pin = 5;
    cfg.name = "ignored";
    pool = NULL;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_EINVAL, "pin lies within size: it is read");
    cfg.pin = 0;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    cr_assert(worker_names_seen("micropool", 2));
    mpt_destroy(pool);
    free(log);
}

Test(pool, size_must_cover_size_and_threads)
{
    mp_config cfg;
    mp_pool *pool = NULL;
    static const size_t sizes[] = {0, 1, sizeof(size_t), offsetof(mp_config, threads) + 1,
                                   offsetof(mp_config, threads) + sizeof(unsigned) - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        mp_config_init(&cfg);
        cfg.threads = 2;
        cfg.size = sizes[i];
        cr_assert_eq(mp_pool_create(&cfg, &pool), MP_EINVAL, "size %zu", sizes[i]);
        cr_assert_null(pool);
    }
    mp_config_init(&cfg);
    cfg.threads = 2;
    cfg.size = offsetof(mp_config, threads) + sizeof(unsigned);
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK, "exactly size and threads is enough");
    cr_assert_eq(mp_pool_threads(pool), 2u);
    mpt_destroy(pool);
}

struct newer_config {
    mp_config cfg;
    uint64_t future[4];
};

Test(pool, larger_size_needs_a_zero_tail)
{
    struct newer_config big;
    memset(&big, 0, sizeof big);
    mp_config_init(&big.cfg);
    big.cfg.size = sizeof big;
    big.cfg.threads = 2;
    mp_pool *pool = NULL;
    cr_assert_eq(mp_pool_create(&big.cfg, &pool), MP_OK, "a zero tail is accepted");
    cr_assert_eq(mp_pool_threads(pool), 2u);
    mpt_destroy(pool);

    for (int i = 0; i < 4; i++) {
        pool = NULL;
        memset(big.future, 0, sizeof big.future);
        big.future[i] = 1u << (i * 8);
        cr_assert_eq(mp_pool_create(&big.cfg, &pool), MP_EINVAL,
                     "non-zero byte in future field %d", i);
        cr_assert_null(pool);
    }
    /* The very last byte counts too. */
    memset(big.future, 0, sizeof big.future);
    ((unsigned char *)&big)[sizeof big - 1] = 0x80;
    cr_assert_eq(mp_pool_create(&big.cfg, &pool), MP_EINVAL);
}

/* ------------------------------------------------------------ hooks, names */

static int check_started_bcast(void *arg, unsigned index, unsigned count)
{
    struct hook_log *log = arg;
    (void)count;
    if (index > 0 && index < 64)
        atomic_store(&log->started_before_work[index], atomic_load(&log->starts[index]) == 1 &&
                                                           atomic_load(&log->stops[index]) == 0);
    return 0;
}

Test(pool, hooks_run_once_per_worker_with_its_index)
{
    struct hook_log *log = calloc(1, sizeof *log);
    log->main_thread = pthread_self();
    /* Ten rounds: a hook that runs before the worker is named is a race. */
    static const unsigned sizes[] = {1, 2, 5, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        unsigned n = sizes[k];
        memset(log, 0, sizeof *log);
        log->main_thread = pthread_self();
        mp_config cfg;
        mp_config_init(&cfg);
        cfg.threads = n;
        cfg.name = "hooked";
        cfg.on_thread_start = hook_start;
        cfg.on_thread_stop = hook_stop;
        cfg.hook_arg = log;
        mp_pool *pool = NULL;
        cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
        cr_assert_eq(mp_broadcast(pool, check_started_bcast, log), MP_OK);
        for (unsigned i = 1; i < n; i++)
            cr_assert_eq(atomic_load(&log->started_before_work[i]), 1,
                         "worker %u: on_thread_start ran before its work", i);
        mpt_destroy(pool);
        cr_assert_eq(atomic_load(&log->bad_index), 0);
        cr_assert_eq(atomic_load(&log->on_main_thread), 0, "hooks never run on the caller");
        cr_assert_eq(atomic_load(&log->starts[0]), 0, "no hook for index 0");
        cr_assert_eq(atomic_load(&log->stops[0]), 0);
        cr_assert_eq(atomic_load(&log->start_total), (int)n - 1);
        cr_assert_eq(atomic_load(&log->stop_total), (int)n - 1);
        for (unsigned i = 1; i < n; i++) {
            cr_assert_eq(atomic_load(&log->starts[i]), 1, "start hook of worker %u", i);
            cr_assert_eq(atomic_load(&log->stops[i]), 1, "stop hook of worker %u", i);
            char want[32];
            snprintf(want, sizeof want, "hooked-%u", i);
            cr_assert_str_eq(log->names[i], want,
                             "on_thread_start of worker %u saw the thread name '%s', want '%s' "
                             "(the hook runs on the worker, after it was named)",
                             i, log->names[i], want);
        }
    }
    free(log);
}

/* Every "<prefix>-<i>" for i in 1..threads-1 is the name of exactly one
 * thread of this process (full names of at most 15 characters). */
static int worker_names_seen(const char *prefix, unsigned threads)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int ok = 1;
        for (unsigned i = 1; i < threads && ok; i++) {
            char want[32];
            snprintf(want, sizeof want, "%s-%u", prefix, i);
            int seen = 0;
            DIR *d = opendir("/proc/self/task");
            struct dirent *e;
            while (d && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                    continue;
                char path[300], comm[64] = "";
                snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
                FILE *f = fopen(path, "r");
                if (!f)
                    continue;
                if (fgets(comm, sizeof comm, f))
                    comm[strcspn(comm, "\n")] = 0;
                fclose(f);
                if (strcmp(comm, want) == 0)
                    seen++;
            }
            if (d)
                closedir(d);
            ok = seen == 1;
        }
        if (ok)
            return 1;
        usleep(5000); /* workers may name themselves just after create */
    }
    return 0;
}

Test(pool, workers_are_named_prefix_dash_index)
{
    mp_pool *pool = mpt_pool(4);
    cr_assert(worker_names_seen("micropool", 4), "default names micropool-1..3");
    mpt_destroy(pool);

    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = 12;
    cfg.name = "mpt";
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    cr_assert(worker_names_seen("mpt", 12), "names mpt-1..mpt-11");
    mpt_destroy(pool);
}

struct name_check {
    char expect_prefix[32];
    atomic_int wrong;
    atomic_int checked;
};

static int check_name_bcast(void *arg, unsigned index, unsigned count)
{
    struct name_check *nc = arg;
    (void)count;
    if (index == 0)
        return 0;
    char want[64], got[32] = "";
    snprintf(want, sizeof want, "%s-%u", nc->expect_prefix, index);
    want[15] = 0; /* Linux keeps 15 characters */
    pthread_getname_np(pthread_self(), got, sizeof got);
    if (strcmp(got, want) != 0)
        atomic_fetch_add(&nc->wrong, 1);
    atomic_fetch_add(&nc->checked, 1);
    return 0;
}

Test(pool, the_name_is_copied_and_cut_to_fifteen_characters)
{
    char buf[32] = "copied";
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = 3;
    cfg.name = buf;
    mp_pool *pool = NULL;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    memset(buf, 'X', sizeof buf - 1); /* the pool must have its own copy */
    struct name_check nc = {.expect_prefix = "copied"};
    cr_assert_eq(mp_broadcast(pool, check_name_bcast, &nc), MP_OK);
    cr_assert_eq(atomic_load(&nc.checked), 2);
    cr_assert_eq(atomic_load(&nc.wrong), 0, "workers named copied-1, copied-2");
    mpt_destroy(pool);

    cfg.name = "averyveryverylongprefix";
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    struct name_check lc = {.expect_prefix = "averyveryverylongprefix"};
    cr_assert_eq(mp_broadcast(pool, check_name_bcast, &lc), MP_OK);
    cr_assert_eq(atomic_load(&lc.wrong), 0, "a long name is cut to 15 characters");
    mpt_destroy(pool);
}

/* ----------------------------------------------------------------- pinning */

struct pin_check {
    cpu_set_t process;
    int cpu_of[64];            /* the single CPU of worker i, -1 if not pinned */
    int mask_size[64];
    cpu_set_t caller_before;
    atomic_int caller_moved;
};

static int pin_bcast(void *arg, unsigned index, unsigned count)
{
    struct pin_check *pc = arg;
    (void)count;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    if (index == 0) {
        if (!CPU_EQUAL(&set, &pc->caller_before))
            atomic_store(&pc->caller_moved, 1);
        return 0;
    }
    pc->mask_size[index] = CPU_COUNT(&set);
    pc->cpu_of[index] = -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            pc->cpu_of[index] = c;
            break;
        }
    return 0;
}

Test(pool, pin_puts_worker_i_on_the_ith_cpu_wrapping_around)
{
    struct pin_check *pc = calloc(1, sizeof *pc);
    cr_assert_eq(sched_getaffinity(0, sizeof pc->process, &pc->process), 0);
    pc->caller_before = pc->process;
    int ncpu = CPU_COUNT(&pc->process);
    int cpus[CPU_SETSIZE], k = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &pc->process))
            cpus[k++] = c;

    unsigned n = (unsigned)(2 * ncpu + 1);
    if (n > 64)
        n = 64;
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = n;
    cfg.pin = 1;
    mp_pool *pool = NULL;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK);
    cr_assert_eq(mp_broadcast(pool, pin_bcast, pc), MP_OK);
    mpt_destroy(pool);

    cr_assert_eq(atomic_load(&pc->caller_moved), 0, "the calling thread is never moved");
    cpu_set_t now;
    sched_getaffinity(0, sizeof now, &now);
    cr_assert(CPU_EQUAL(&now, &pc->process), "the caller's mask is unchanged after the pool");

    /* Worker 1 tells where the count starts (CPU 0 or 1 of the mask); from
     * there, worker i is on the next CPU of the mask, wrapping around. */
    int first = -1;
    for (int j = 0; j < ncpu; j++)
        if (cpus[j] == pc->cpu_of[1])
            first = j;
    cr_assert_neq(first, -1, "worker 1 is pinned to a CPU of the process's mask");
    for (unsigned i = 1; i < n; i++) {
        cr_assert_eq(pc->mask_size[i], 1, "worker %u is pinned to exactly one CPU", i);
        int want = cpus[(first + (int)i - 1) % ncpu];
        cr_assert_eq(pc->cpu_of[i], want, "worker %u on CPU %d, want %d", i, pc->cpu_of[i], want);
    }
    free(pc);
}

Test(pool, without_pin_workers_keep_the_process_mask)
{
    struct pin_check *pc = calloc(1, sizeof *pc);
    cr_assert_eq(sched_getaffinity(0, sizeof pc->process, &pc->process), 0);
    pc->caller_before = pc->process;
    mp_pool *pool = mpt_pool(3);
    cr_assert_eq(mp_broadcast(pool, pin_bcast, pc), MP_OK);
    mpt_destroy(pool);
    for (unsigned i = 1; i < 3; i++)
        cr_assert_eq(pc->mask_size[i], CPU_COUNT(&pc->process), "worker %u not pinned", i);
    free(pc);
}

/* ----------------------------------------------------------- thread index */

struct index_ctx {
    mp_pool *pool;
    mp_pool *other;
    pthread_t caller;
    pthread_t thread_of[64];
    atomic_int seen[64];
};

static int index_body(void *arg, size_t begin, size_t end)
{
    struct index_ctx *c = arg;
    (void)begin;
    (void)end;
    int idx = mp_pool_thread_index(c->pool);
    unsigned n = mp_pool_threads(c->pool);
    MPT_CHECK(idx >= 0 && (unsigned)idx < n);
    if (pthread_equal(pthread_self(), c->caller))
        MPT_CHECK(idx == 0);
    else
        MPT_CHECK(idx >= 1);
    MPT_CHECK(mp_pool_thread_index(c->other) == -1);
    if (idx >= 0 && idx < 64) {
        if (atomic_fetch_add(&c->seen[idx], 1) == 0)
            c->thread_of[idx] = pthread_self();
        else
            MPT_CHECK(pthread_equal(c->thread_of[idx], pthread_self()));
    }
    mpt_spin_us(20);
    return 0;
}

Test(pool, thread_index_in_loops_is_0_on_the_caller_and_1_to_n_minus_1_on_workers)
{
    struct index_ctx c = {.pool = mpt_pool(4), .other = mpt_pool(2), .caller = pthread_self()};
    cr_assert_eq(mp_pool_thread_index(c.pool), -1, "outside any call");
    cr_assert_eq(mp_pool_thread_index(c.other), -1);
    for (int r = 0; r < 20; r++)
        cr_assert_eq(mp_for(c.pool, 2000, 1, 0, index_body, &c), MP_OK);
    cr_assert_eq(mp_pool_thread_index(c.pool), -1, "-1 again after the call");
    MPT_ASSERT_CLEAN();
    cr_assert_gt(atomic_load(&c.seen[0]), 0, "the caller did its share");
    mpt_destroy(c.pool);
    mpt_destroy(c.other);
}

static int index_bcast(void *arg, unsigned index, unsigned count)
{
    mp_pool *pool = arg;
    (void)count;
    MPT_CHECK(mp_pool_thread_index(pool) == (int)index);
    return 0;
}

struct nested_index {
    mp_pool *a, *b;
    unsigned part;
};

static int nested_index_body(void *arg, size_t begin, size_t end)
{
    struct nested_index *ni = arg;
    (void)begin;
    (void)end;
    MPT_CHECK(mp_pool_thread_index(ni->b) == 0);   /* pool b has one thread: inline */
    MPT_CHECK(mp_pool_thread_index(ni->a) == (int)ni->part); /* still a's thread */
    return 0;
}

static int nested_index_bcast(void *arg, unsigned index, unsigned count)
{
    struct nested_index *base = arg;
    (void)count;
    struct nested_index mine = {.a = base->a, .b = base->b, .part = index};
    MPT_CHECK(mp_pool_thread_index(base->b) == -1);
    MPT_CHECK(mp_for(base->b, 10, 0, 0, nested_index_body, &mine) == MP_OK);
    MPT_CHECK(mp_pool_thread_index(base->b) == -1);
    MPT_CHECK(mp_pool_thread_index(base->a) == (int)index);
    return 0;
}

Test(pool, thread_index_in_broadcasts_and_across_pools)
{
    mp_pool *a = mpt_pool(4), *b = mpt_pool(1);
    for (int r = 0; r < 10; r++)
        cr_assert_eq(mp_broadcast(a, index_bcast, a), MP_OK);
    struct nested_index ni = {.a = a, .b = b};
    cr_assert_eq(mp_broadcast(a, nested_index_bcast, &ni), MP_OK);
    MPT_ASSERT_CLEAN();
    mpt_destroy(a);
    mpt_destroy(b);
}

struct task_index {
    mp_pool *pool;
    atomic_int index;
    pthread_t ran_on;
};

static int record_index_task(void *arg)
{
    struct task_index *ti = arg;
    ti->ran_on = pthread_self();
    atomic_store(&ti->index, mp_pool_thread_index(ti->pool));
    return 0;
}

static void *external_waiter(void *arg)
{
    struct task_index *ti = arg;
    mp_task *t = NULL;
    if (mp_submit(ti->pool, record_index_task, ti, &t) != MP_OK)
        return (void *)1;
    int rc = mp_task_wait(t);
    mp_task_release(t);
    MPT_CHECK(mp_pool_thread_index(ti->pool) == -1);
    return (void *)(intptr_t)rc;
}

Test(pool, thread_index_of_tasks)
{
    /* A task run inline by mp_task_wait: index 0, on the waiting thread. */
    mp_pool *one = mpt_pool(1);
    struct task_index ti = {.pool = one, .index = 99};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(one, record_index_task, &ti, &t), MP_OK);
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    cr_assert_eq(atomic_load(&ti.index), 0);
    cr_assert(pthread_equal(ti.ran_on, pthread_self()));
    cr_assert_eq(mp_pool_thread_index(one), -1);

    /* The same from another external thread. */
    pthread_t th;
    atomic_store(&ti.index, 99);
    cr_assert_eq(pthread_create(&th, NULL, external_waiter, &ti), 0);
    void *rv;
    pthread_join(th, &rv);
    cr_assert_null(rv);
    cr_assert_eq(atomic_load(&ti.index), 0);
    cr_assert(pthread_equal(ti.ran_on, th));

    /* A task run at destroy by the destroying thread of a 1-thread pool. */
    atomic_store(&ti.index, 99);
    cr_assert_eq(mp_submit(one, record_index_task, &ti, NULL), MP_OK);
    mpt_destroy(one);
    cr_assert_eq(atomic_load(&ti.index), 0, "a task run by destroy is pool work on index 0");

    /* A task run by the worker of a 2-thread pool: index 1. */
    mp_pool *two = mpt_pool(2);
    struct task_index tw = {.pool = two, .index = 99};
    cr_assert_eq(mp_submit(two, record_index_task, &tw, &t), MP_OK);
    for (int i = 0; i < 10000 && mp_task_done(t) == 0; i++)
        usleep(500);
    cr_assert_eq(mp_task_done(t), 1, "the worker ran the task");
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    cr_assert_eq(atomic_load(&tw.index), 1);
    cr_assert(!pthread_equal(tw.ran_on, pthread_self()));
    mpt_destroy(two);
    MPT_ASSERT_CLEAN();
}

/* ----------------------------------------------------------- statistics */

static int noop_bcast(void *arg, unsigned index, unsigned count)
{
    (void)arg;
    (void)index;
    (void)count;
    return 0;
}

static int count_task(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

Test(pool, stats_follow_the_size_rule)
{
    mp_pool *pool = mpt_pool(2);
    mp_stats s;

    static const size_t too_small[] = {0, sizeof(size_t), offsetof(mp_stats, jobs),
                                       offsetof(mp_stats, jobs) + sizeof(uint64_t) - 1};
    for (size_t i = 0; i < sizeof too_small / sizeof too_small[0]; i++) {
        memset(&s, 0xEE, sizeof s);
        s.size = too_small[i];
        cr_assert_eq(mp_pool_stats(pool, &s), MP_EINVAL, "size %zu", too_small[i]);
    }
    s.size = sizeof s;
    cr_assert_eq(mp_pool_stats(NULL, &s), MP_EINVAL);
    cr_assert_eq(mp_pool_stats(pool, NULL), MP_EINVAL);

    for (int i = 0; i < 20; i++)
        cr_assert_eq(mp_broadcast(pool, noop_bcast, NULL), MP_OK);
    atomic_int ran = 0;
    for (int i = 0; i < 20; i++)
        cr_assert_eq(mp_submit(pool, count_task, &ran, NULL), MP_OK);
    cr_assert(mpt_wait_at_least(&ran, 20, 20.0), "the worker ran the tasks");

    /* Only jobs fits: the rest is left untouched. */
    memset(&s, 0xEE, sizeof s);
    s.size = offsetof(mp_stats, jobs) + sizeof(uint64_t);
    cr_assert_eq(mp_pool_stats(pool, &s), MP_OK);
    cr_assert_geq(s.jobs, 1u, "operations were counted");
    cr_assert_lt(s.jobs, 0xEEEEEEEEEEEEEEEEull);
    cr_assert_eq(s.steals, 0xEEEEEEEEEEEEEEEEull, "steals lies beyond size");
    cr_assert_eq(s.tasks_run, 0xEEEEEEEEEEEEEEEEull);

    /* The full struct. */
    memset(&s, 0xEE, sizeof s);
    s.size = sizeof s;
    cr_assert_eq(mp_pool_stats(pool, &s), MP_OK);
    cr_assert_eq(s.size, sizeof s);
    cr_assert_geq(s.jobs, 1u);
    cr_assert_geq(s.tasks_run, 1u, "background tasks were counted");
    cr_assert_leq(s.tasks_run, 20u);
    cr_assert_neq(s.steals, 0xEEEEEEEEEEEEEEEEull);
    cr_assert_neq(s.sleeps, 0xEEEEEEEEEEEEEEEEull);
    cr_assert_neq(s.wakeups, 0xEEEEEEEEEEEEEEEEull);
    uint64_t jobs_before = s.jobs;
    for (int i = 0; i < 50; i++)
        cr_assert_eq(mp_broadcast(pool, noop_bcast, NULL), MP_OK);

    /* A newer caller's larger struct: the tail is left as it is. */
    struct {
        mp_stats s;
        uint64_t future[3];
    } big;
    memset(&big, 0xEE, sizeof big);
    big.s.size = sizeof big;
    cr_assert_eq(mp_pool_stats(pool, &big.s), MP_OK);
    cr_assert_gt(big.s.jobs, jobs_before, "counters grow");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(big.future[i], 0xEEEEEEEEEEEEEEEEull, "bytes beyond the library's struct");
    mpt_destroy(pool);
}

/* A join at every level of a recursion, nothing else: tree(depth) makes
 * 2^depth - 1 joins. */
struct tree_arg {
    mp_pool *pool;
    int depth;
};

static int tree(void *arg)
{
    struct tree_arg *t = arg;
    if (t->depth == 0)
        return 0;
    struct tree_arg l = {t->pool, t->depth - 1}, r = {t->pool, t->depth - 1};
    return mp_join(t->pool, tree, &l, tree, &r);
}

static uint64_t stats_jobs(mp_pool *pool)
{
    mp_stats s;
    s.size = sizeof s;
    cr_assert_eq(mp_pool_stats(pool, &s), MP_OK);
    return s.jobs;
}

Test(pool, stats_count_every_nested_join)
{
    /* The joins nested inside a callback take the fast path of mp_join;
     * each is an operation started. Once the outer join has returned,
     * every count made for it (on any thread) is visible: a stolen half
     * completes with a seq_cst store that the caller reads. */
    for (unsigned threads = 1; threads <= 2; threads++) {
        mp_pool *pool = mpt_pool(threads);
        for (int round = 0; round < 3; round++) {
            uint64_t before = stats_jobs(pool);
            struct tree_arg t = {pool, 10};
            cr_assert_eq(tree(&t), 0);
            cr_assert_eq(stats_jobs(pool) - before, 1023u, "threads %u round %d", threads, round);
        }
        mpt_destroy(pool);
    }
}

/* 40 outside threads inside mp_join at once: 32 take the external slots,
 * the others overflow slots, and every join is counted wherever it ran.
 * (The sum once walked the context array only and reported 32.) */
#define OVERFLOW_CALLERS 40

struct overflow_arg {
    mp_pool *pool;
    atomic_int inside;
};

static int wait_for_all_inside(void *arg)
{
    struct overflow_arg *o = arg;
    atomic_fetch_add(&o->inside, 1);
    MPT_CHECK(mpt_wait_at_least(&o->inside, OVERFLOW_CALLERS, 20.0));
    return 0;
}

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static void *overflow_caller(void *arg)
{
    struct overflow_arg *o = arg;
    MPT_CHECK(mp_join(o->pool, wait_for_all_inside, o, nothing, NULL) == 0);
    return NULL;
}

Test(pool, stats_count_the_joins_of_overflow_slots)
{
    mp_pool *pool = mpt_pool(2);
    struct overflow_arg o = {.pool = pool};
    atomic_init(&o.inside, 0);
    uint64_t before = stats_jobs(pool);
    pthread_t th[OVERFLOW_CALLERS];
    for (int i = 0; i < OVERFLOW_CALLERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, overflow_caller, &o), 0);
    for (int i = 0; i < OVERFLOW_CALLERS; i++)
        pthread_join(th[i], NULL);
    MPT_ASSERT_CLEAN();
    cr_assert_eq(atomic_load(&o.inside), OVERFLOW_CALLERS);
    cr_assert_eq(stats_jobs(pool) - before, (uint64_t)OVERFLOW_CALLERS);
    mpt_destroy(pool);
}

/* ------------------------------------------------------------- destroy */

struct deadlk {
    mp_pool *pool;
    atomic_int calls;
    atomic_int rc_not_edeadlk;
};

static int destroy_from_body(void *arg, size_t b, size_t e)
{
    struct deadlk *d = arg;
    (void)b;
    (void)e;
    atomic_fetch_add(&d->calls, 1);
    if (mp_pool_destroy(d->pool) != MP_EDEADLK)
        atomic_fetch_add(&d->rc_not_edeadlk, 1);
    return 0;
}

static int destroy_from_bcast(void *arg, unsigned index, unsigned count)
{
    (void)index;
    (void)count;
    return destroy_from_body(arg, 0, 1);
}

static int destroy_from_task(void *arg)
{
    return destroy_from_body(arg, 0, 1);
}

Test(pool, destroy_from_inside_the_pool_is_edeadlk_and_does_nothing)
{
    struct deadlk d = {.pool = mpt_pool(3)};
    cr_assert_eq(mp_for(d.pool, 64, 1, 0, destroy_from_body, &d), MP_OK);
    cr_assert_eq(mp_broadcast(d.pool, destroy_from_bcast, &d), MP_OK);
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(d.pool, destroy_from_task, &d, &t), MP_OK);
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    cr_assert_geq(atomic_load(&d.calls), 1 + 3 + 1);
    cr_assert_eq(atomic_load(&d.rc_not_edeadlk), 0);
    /* The pool still works. */
    mpt_cover c;
    mpt_cover_init(&c, 5000);
    cr_assert_eq(mp_for(d.pool, 5000, 1, 0, mpt_cover_body, &c), MP_OK);
    cr_assert_eq(mpt_cover_wrong(&c), 0u);
    mpt_cover_free(&c);
    cr_assert_eq(mp_pool_threads(d.pool), 3u);
    mpt_destroy(d.pool);

    /* On a pool of one thread: inline work and a task run by destroy. */
    struct deadlk one = {.pool = mpt_pool(1)};
    cr_assert_eq(mp_for(one.pool, 10, 0, 0, destroy_from_body, &one), MP_OK);
    cr_assert_eq(mp_submit(one.pool, destroy_from_task, &one, NULL), MP_OK);
    mpt_destroy(one.pool);
    cr_assert_eq(atomic_load(&one.calls), 2);
    cr_assert_eq(atomic_load(&one.rc_not_edeadlk), 0);
}

struct other_pool_destroy {
    mp_pool *victim;
    atomic_int rc;
};

static int destroy_other_task(void *arg)
{
    struct other_pool_destroy *o = arg;
    atomic_store(&o->rc, mp_pool_destroy(o->victim));
    return 0;
}

Test(pool, a_callback_may_destroy_another_pool)
{
    mp_pool *outer = mpt_pool(2);
    struct other_pool_destroy o = {.victim = mpt_pool(3), .rc = 99};
    mp_task *t = NULL;
    cr_assert_eq(mp_submit(outer, destroy_other_task, &o, &t), MP_OK);
    cr_assert_eq(mp_task_wait(t), 0);
    mp_task_release(t);
    cr_assert_eq(atomic_load(&o.rc), MP_OK, "destroying a different pool from a task is fine");
    mpt_destroy(outer);
}

/* ------------------------------------------- many external callers */

/* More external threads than a pool might keep places for, nesting across
 * two pools: each thread runs a scope on b whose body broadcasts on a,
 * and a's worker opens a scope on b in its part. Part 0 (on the external
 * thread) lets the callers pile up first. Nested calls cannot deadlock by
 * themselves, whatever the number of calling threads. */
enum { PILE_THREADS = 48 };

static struct {
    mp_pool *a, *b;
    atomic_int inside;
    pthread_barrier_t start;
} pile;

static int pile_trivial(mp_scope *scope, void *arg)
{
    (void)scope;
    (void)arg;
    return 0;
}

static int pile_part(void *arg, unsigned index, unsigned count)
{
    (void)arg;
    (void)count;
    if (index != 0) {
        /* The worker's part waits for the pile-up too (at most 1 s), so
         * every caller that can get in is in when b is entered here. */
        mpt_wait_at_least(&pile.inside, PILE_THREADS, 1.0);
        return mp_scope_run(pile.b, pile_trivial, NULL);
    }
    atomic_fetch_add(&pile.inside, 1);
    mpt_wait_at_least(&pile.inside, PILE_THREADS, 1.0);
    return 0;
}

static int pile_body(mp_scope *scope, void *arg)
{
    (void)scope;
    (void)arg;
    return mp_broadcast(pile.a, pile_part, NULL);
}

static void *pile_thread(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&pile.start);
    return (void *)(intptr_t)mp_scope_run(pile.b, pile_body, NULL);
}

Test(pool, many_external_threads_nesting_across_two_pools, .timeout = 25)
{
    pile.a = mpt_pool(2);
    pile.b = mpt_pool(2);
    for (int rep = 0; rep < 3; rep++) {
        atomic_store(&pile.inside, 0);
        pthread_barrier_init(&pile.start, NULL, PILE_THREADS);
        pthread_t th[PILE_THREADS];
        for (int i = 0; i < PILE_THREADS; i++)
            cr_assert_eq(pthread_create(&th[i], NULL, pile_thread, NULL), 0);
        int errors = 0;
        for (int i = 0; i < PILE_THREADS; i++) {
            void *rv;
            pthread_join(th[i], &rv);
            errors += rv != NULL;
        }
        pthread_barrier_destroy(&pile.start);
        cr_assert_eq(errors, 0);
    }
    mpt_destroy(pile.a);
    mpt_destroy(pile.b);
}

/* -------------------------------------------------- the largest pool */

struct max_bcast {
    atomic_uchar *runs;
    atomic_int wrong;
};

static int max_part(void *arg, unsigned index, unsigned count)
{
    struct max_bcast *m = arg;
    if (count != MP_THREADS_MAX || index >= count)
        atomic_fetch_add(&m->wrong, 1);
    else
        atomic_fetch_add(&m->runs[index], 1);
    return 0;
}

Test(pool, a_pool_of_mp_threads_max_threads_works)
{
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = MP_THREADS_MAX;
    cfg.spin_us = 0; /* 1023 idle workers on 2 CPUs: sleep at once */
    mp_pool *pool = NULL;
    int rc = mp_pool_create(&cfg, &pool);
    cr_assert_eq(rc, MP_OK, "threads = MP_THREADS_MAX: %d (%s)", rc, mp_strerror(rc));
    cr_assert_eq(mp_pool_threads(pool), MP_THREADS_MAX);
    struct max_bcast m = {calloc(MP_THREADS_MAX, 1), 0};
    cr_assert_eq(mp_broadcast(pool, max_part, &m), MP_OK);
    cr_assert_eq(atomic_load(&m.wrong), 0);
    for (unsigned i = 0; i < MP_THREADS_MAX; i++)
        cr_assert_eq(atomic_load(&m.runs[i]), 1, "index %u", i);
    free(m.runs);
    mpt_cover c;
    mpt_cover_init(&c, 200000);
    cr_assert_eq(mp_for(pool, 200000, 1, 0, mpt_cover_body, &c), MP_OK);
    cr_assert_eq(mpt_cover_wrong(&c), 0u);
    mpt_cover_free(&c);
    mpt_destroy(pool);
}

/* ---- mp_config.stack_size (since 1.1) ---- */

struct stack_probe {
    atomic_size_t size[4];          /* the stack each worker index reports */
    atomic_int deep_ok;
};

/* 4 MiB on the stack, every page touched: a function of its own, so that
 * its frame exists only when it is called (the small stacks never do). */
static __attribute__((noinline)) int use_4_mib_of_stack(void)
{
    volatile char buf[(size_t)4 << 20];
    for (size_t i = 0; i < sizeof buf; i += 4096)
        buf[i] = (char)(i >> 12);
    return buf[4096] == 1;
}

/* Worker parts only: index 0 is the calling thread, whose stack is not
 * the pool's to choose. */
static int probe_stack(void *arg, unsigned index, unsigned count)
{
    struct stack_probe *sp = arg;
    (void)count;
    if (index == 0)
        return 0;
    pthread_attr_t attr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstacksize(&attr, &size);
        pthread_attr_destroy(&attr);
    }
    atomic_store(&sp->size[index], size);
    if (size >= (size_t)8 << 20 && use_4_mib_of_stack())
        atomic_fetch_add(&sp->deep_ok, 1);
    return 0;
}

static void check_stacks(size_t ask, size_t want_at_least, size_t want_below)
{
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = 3;
    cfg.stack_size = ask;
    mp_pool *pool = NULL;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK, "stack_size %zu", ask);
    struct stack_probe sp = {0};
    cr_assert_eq(mp_broadcast(pool, probe_stack, &sp), MP_OK);
    for (unsigned i = 1; i < 3; i++) {
        size_t got = atomic_load(&sp.size[i]);
        cr_assert(got >= want_at_least && got < want_below,
                  "asked %zu: worker %u has a stack of %zu bytes, want [%zu, %zu)", ask, i, got,
                  want_at_least, want_below);
    }
    if (want_at_least >= (size_t)8 << 20)
        cr_assert_eq(atomic_load(&sp.deep_ok), 2, "both workers used 4 MiB of their stack");
    mpt_destroy(pool);
}

Test(pool, stack_size_sets_the_workers_stacks_rounded_up_to_a_page)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    check_stacks((size_t)8 << 20, (size_t)8 << 20, ((size_t)8 << 20) + page);
    check_stacks(((size_t)8 << 20) + 1, ((size_t)8 << 20) + page, ((size_t)8 << 20) + 2 * page);
    check_stacks((size_t)64 << 10, (size_t)64 << 10, ((size_t)64 << 10) + page);
    /* 32 MiB, well above the usual default of 8 MiB */
    check_stacks((size_t)32 << 20, (size_t)32 << 20, ((size_t)32 << 20) + page);
}

Test(pool, stack_size_below_the_minimum_is_einval)
{
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = 2;
    mp_pool *sentinel = (mp_pool *)&cfg, *pool = sentinel;
    cfg.stack_size = (size_t)PTHREAD_STACK_MIN - 1;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_EINVAL);
    cr_assert(pool == sentinel);
    cfg.stack_size = (size_t)PTHREAD_STACK_MIN;
    cr_assert_eq(mp_pool_create(&cfg, &pool), MP_OK, "the minimum itself is accepted");
    mpt_destroy(pool);
}
