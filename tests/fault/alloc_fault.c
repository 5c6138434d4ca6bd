/*
 * Allocation and thread-creation failures, injected at every site in turn.
 *
 * The program is linked against the static library with the linker's
 * --wrap option for malloc, calloc, aligned_alloc, posix_memalign, free and
 * pthread_create, so every call the library makes goes through the
 * wrappers below. A run of one scenario counts those calls; the driver then
 * re-runs the scenario once for every k = 1, 2, ... with the k-th call
 * failing (mode "once") and with every call from the k-th on failing (mode
 * "from"), until a run no longer reaches call k. Each run happens in a
 * fresh child process (fork from a process that has no other thread), so
 * the library's per-thread records are allocated again in every run and
 * their allocation site is reached too.
 *
 * What every run checks:
 *  - mp_pool_create returns MP_OK or MP_ENOMEM; on MP_ENOMEM *out is
 *    untouched, no thread of the pool is left and the start and stop hooks
 *    ran equally often;
 *  - every call returns MP_OK or, where the header allows it, MP_ENOMEM,
 *    and its results are exact (every item once, every accepted task or
 *    spawn run exactly once, every refused one never);
 *  - once injection is switched off, the same pool runs the whole workload
 *    again without an error;
 *  - after mp_pool_destroy nothing the library allocated is still live,
 *    except the per-thread parking records, which are kept on a free list
 *    by design (never freed; docs/design.md, "Idling").
 *
 * usage: mp_alloc_fault [--max-k K]   prints its figures, exits 0 if clean.
 */
#include "pool.h"

#include "check.h"
#include "cover.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ wrappers */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_aligned_alloc(size_t align, size_t size);
int __real_posix_memalign(void **p, size_t align, size_t size);
void __real_free(void *p);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_aligned_alloc(size_t align, size_t size);
int __wrap_posix_memalign(void **p, size_t align, size_t size);
void __wrap_free(void *p);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);

enum { MODE_ONCE, MODE_FROM };

/* Injection state: set by the child before it runs its scenario. */
static atomic_int armed_alloc, armed_thread;
static atomic_long alloc_calls, thread_calls;
static long fail_alloc_at, fail_thread_at; /* 0: never */
static int fail_mode;
static int records_only; /* fail only parking-record allocations */
static atomic_long allocs_failed, threads_failed;

static int should_fail(atomic_int *armed, atomic_long *calls, long at, atomic_long *failed)
{
    if (!atomic_load(armed))
        return 0;
    long k = atomic_fetch_add(calls, 1) + 1;
    if (at == 0)
        return 0;
    if (k == at || (fail_mode == MODE_FROM && k > at)) {
        atomic_fetch_add(failed, 1);
        return 1;
    }
    return 0;
}

/* Live allocations: an open-addressing table under a mutex (the library
 * allocates rarely; this is not a hot path). */
#define LIVE_CAP 65536u
struct live {
    void *p;
    size_t size;
    int record; /* aligned like a parking record and of its size */
};
static struct live live[LIVE_CAP];
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static long live_count;
static int live_overflow;

static size_t slot_of(void *p)
{
    return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull) & (LIVE_CAP - 1);
}

static void live_add(void *p, size_t size, int record)
{
    if (!p)
        return;
    pthread_mutex_lock(&live_mu);
    if (live_count >= (long)LIVE_CAP / 2) {
        live_overflow = 1;
    } else {
        size_t i = slot_of(p);
        while (live[i].p)
            i = (i + 1) & (LIVE_CAP - 1);
        live[i] = (struct live){p, size, record};
        live_count++;
    }
    pthread_mutex_unlock(&live_mu);
}

static void live_remove(void *p)
{
    pthread_mutex_lock(&live_mu);
    size_t i = slot_of(p);
    while (live[i].p && live[i].p != p)
        i = (i + 1) & (LIVE_CAP - 1);
    if (live[i].p == p) {
        /* Backward-shift deletion keeps every probe chain intact. */
        live[i].p = NULL;
        live_count--;
        size_t j = i;
        for (;;) {
            j = (j + 1) & (LIVE_CAP - 1);
            if (!live[j].p)
                break;
            size_t home = slot_of(live[j].p);
            if (((j - home) & (LIVE_CAP - 1)) >= ((j - i) & (LIVE_CAP - 1))) {
                live[i] = live[j];
                live[j].p = NULL;
                i = j;
            }
        }
    }
    pthread_mutex_unlock(&live_mu);
}

/* Live allocations other than parking records. */
static long live_non_records(size_t *example_size)
{
    long n = 0;
    pthread_mutex_lock(&live_mu);
    for (size_t i = 0; i < LIVE_CAP; i++)
        if (live[i].p && !live[i].record) {
            n++;
            *example_size = live[i].size;
        }
    pthread_mutex_unlock(&live_mu);
    return n;
}

void *__wrap_malloc(size_t size)
{
    if (should_fail(&armed_alloc, &alloc_calls, fail_alloc_at, &allocs_failed))
        return NULL;
    void *p = __real_malloc(size);
    live_add(p, size, 0);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (should_fail(&armed_alloc, &alloc_calls, fail_alloc_at, &allocs_failed))
        return NULL;
    void *p = __real_calloc(n, size);
    live_add(p, n * size, 0);
    return p;
}

void *__wrap_aligned_alloc(size_t align, size_t size)
{
    int record = align == MP_CACHELINE && size == sizeof(mp_thread);
    if (records_only && record && atomic_load(&armed_alloc)) {
        atomic_fetch_add(&alloc_calls, 1);
        atomic_fetch_add(&allocs_failed, 1);
        return NULL;
    }
    if (!records_only &&
        should_fail(&armed_alloc, &alloc_calls, fail_alloc_at, &allocs_failed))
        return NULL;
    void *p = __real_aligned_alloc(align, size);
    live_add(p, size, record);
    return p;
}

int __wrap_posix_memalign(void **out, size_t align, size_t size)
{
    if (should_fail(&armed_alloc, &alloc_calls, fail_alloc_at, &allocs_failed))
        return ENOMEM;
    int r = __real_posix_memalign(out, align, size);
    if (r == 0)
        live_add(*out, size, align == MP_CACHELINE && size == sizeof(mp_thread));
    return r;
}

void __wrap_free(void *p)
{
    if (p)
        live_remove(p);
    __real_free(p);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg)
{
    if (should_fail(&armed_thread, &thread_calls, fail_thread_at, &threads_failed))
        return EAGAIN;
    return __real_pthread_create(t, attr, fn, arg);
}

/* ------------------------------------------------------------- checks */

/* Checks: ../common/check.h, counted in the child that runs a scenario. */

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* An exited thread leaves /proc/self/task a moment after pthread_join
 * returned; wait for that, bounded (a thread still there after 10 s is a
 * thread left behind). */
static int wait_thread_count(int want)
{
    for (int i = 0; i < 10000; i++) {
        int n = thread_count();
        if (n == want)
            return n;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return thread_count();
}

/* ------------------------------------------------------------ workload */

static atomic_int hook_starts, hook_stops;

static void on_start(void *arg, unsigned i)
{
    (void)arg;
    (void)i;
    atomic_fetch_add(&hook_starts, 1);
}

static void on_stop(void *arg, unsigned i)
{
    (void)arg;
    (void)i;
    atomic_fetch_add(&hook_stops, 1);
}

#define FOR_N 4096u
/* The coverage checker of ../common, on counters of its own: the heap is
 * what this program watches. */
static atomic_uchar hits[FOR_N];
static mpt_cover cover;

static int check_hits(const char *what)
{
    size_t bad = mpt_cover_wrong(&cover);
    mpt_cover_reset(&cover);
    if (bad)
        MPT_FAILF("%s: %zu items not processed exactly once or bad ranges", what, bad);
    return bad != 0;
}

/* A reduction whose accumulator (128 bytes) is above MP_ACC_INLINE_MAX, so
 * that the parts' accumulators come from the heap. */
struct big_acc {
    alignas(16) uint64_t sum;
    uint64_t count;
    unsigned char pad[112];
};

static int big_map(void *arg, size_t b, size_t e, void *acc)
{
    (void)arg;
    struct big_acc *a = acc;
    for (size_t i = b; i < e; i++) {
        a->sum += i;
        a->count++;
    }
    return 0;
}

static void big_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    struct big_acc *a = acc;
    const struct big_acc *o = other;
    a->sum += o->sum;
    a->count += o->count;
}

static int leaf(void *arg)
{
    atomic_fetch_add((atomic_long *)arg, 1);
    return 0;
}

static int seven(void *arg)
{
    atomic_fetch_add((atomic_long *)arg, 1);
    return 7;
}

static atomic_long bcast_parts;
/* Detached tasks: all of them have run when destroy returns. */
static atomic_long detached_ran;
static long detached_accepted;

static int bcast_part(void *arg, unsigned i, unsigned n)
{
    (void)arg;
    if (i >= n)
        return 99;
    atomic_fetch_add(&bcast_parts, 1);
    return 0;
}

struct scope_job {
    atomic_long ran;
    long accepted;
    int bad_rc;
};

static int scope_body(mp_scope *s, void *arg)
{
    struct scope_job *sj = arg;
    for (int i = 0; i < 24; i++) {
        int rc = mp_scope_spawn(s, leaf, &sj->ran);
        if (rc == MP_OK)
            sj->accepted++;
        else if (rc != MP_ENOMEM)
            sj->bad_rc = rc;
    }
    return 0;
}

/* Many external threads inside calls at once: more than the 32 external
 * slots, so that overflow slots are allocated (or, when that fails, joins
 * run on the caller alone and parking calls wait for a slot). */
#define CROWD 40
static pthread_barrier_t crowd_barrier;

struct crowd {
    mp_pool *pool;
    atomic_long count;
    int bad;
};

static int crowd_a(void *arg)
{
    pthread_barrier_wait(&crowd_barrier);
    atomic_fetch_add(&((struct crowd *)arg)->count, 1);
    return 0;
}

static void *crowd_main(void *arg)
{
    struct crowd *c = arg;
    atomic_long local = 0;
    int rc = mp_join(c->pool, crowd_a, c, leaf, &local);
    if (rc != MP_OK || atomic_load(&local) != 1)
        c->bad++;
    /* Broadcasts make every caller park until the workers have run their
     * parts: several rounds, so that waits on a shared parking record
     * (when records could not be allocated) overlap. */
    for (int r = 0; r < 10; r++) {
        rc = mp_broadcast(c->pool, bcast_part, NULL);
        if (rc != MP_OK)
            c->bad++;
    }
    struct scope_job sj = {0};
    rc = mp_scope_run(c->pool, scope_body, &sj);
    if (rc != MP_OK || sj.bad_rc || atomic_load(&sj.ran) != sj.accepted)
        c->bad++;
    return NULL;
}

/* One pass of every operation; `may_fail`: allocation failures may be
 * injected now, so the calls that may allocate may return MP_ENOMEM. */
static void workload(mp_pool *pool, int may_fail, const char *phase)
{
    unsigned n = mp_pool_threads(pool);

    /* join, nested once, and a failing half */
    atomic_long cnt = 0;
    int rc = mp_join(pool, leaf, &cnt, leaf, &cnt);
    if (rc != MP_OK || atomic_load(&cnt) != 2)
        MPT_FAILF("%s: mp_join returned %d, ran %ld halves", phase, rc, (long)atomic_load(&cnt));
    cnt = 0;
    rc = mp_join(pool, leaf, &cnt, seven, &cnt);
    if (rc != 7 || atomic_load(&cnt) != 2)
        MPT_FAILF("%s: failing mp_join returned %d (want 7)", phase, rc);

    /* loops: dynamic and static; never allocate */
    rc = mp_for(pool, FOR_N, 16, MP_SPLIT_DYNAMIC, mpt_cover_body, &cover);
    if (rc != MP_OK)
        MPT_FAILF("%s: mp_for returned %d", phase, rc);
    check_hits(phase);
    rc = mp_for(pool, FOR_N, 0, MP_SPLIT_STATIC, mpt_cover_body, &cover);
    if (rc != MP_OK)
        MPT_FAILF("%s: static mp_for returned %d", phase, rc);
    check_hits(phase);

    /* reduce with heap accumulators */
    static const unsigned flags[] = {MP_SPLIT_DYNAMIC, MP_DETERMINISTIC};
    for (int f = 0; f < 2; f++) {
        struct big_acc acc = {0};
        size_t items = 10000;
        rc = mp_reduce(pool, items, 100, flags[f], &acc, sizeof acc, big_map, big_combine,
                       NULL);
        if (rc == MP_ENOMEM && may_fail)
            continue;
        if (rc != MP_OK || acc.count != items || acc.sum != items * (items - 1) / 2)
            MPT_FAILF("%s: mp_reduce(flags %u) returned %d, count %llu", phase, flags[f], rc,
                  (unsigned long long)acc.count);
    }

    /* broadcast */
    atomic_store(&bcast_parts, 0);
    rc = mp_broadcast(pool, bcast_part, NULL);
    if (rc != MP_OK || atomic_load(&bcast_parts) != (long)n)
        MPT_FAILF("%s: mp_broadcast returned %d, ran %ld of %u parts", phase, rc,
              (long)atomic_load(&bcast_parts), n);

    /* scope */
    struct scope_job sj = {0};
    rc = mp_scope_run(pool, scope_body, &sj);
    if (rc != MP_OK || sj.bad_rc)
        MPT_FAILF("%s: mp_scope_run returned %d, a spawn returned %d", phase, rc, sj.bad_rc);
    if (atomic_load(&sj.ran) != sj.accepted)
        MPT_FAILF("%s: %ld spawns accepted, %ld ran", phase, sj.accepted,
              (long)atomic_load(&sj.ran));
    if (!may_fail && sj.accepted != 24)
        MPT_FAILF("%s: only %ld of 24 spawns accepted without injection", phase, sj.accepted);

    /* background tasks: with handles, detached, cancelled */
    enum { T = 12 };
    mp_task *tasks[T];
    atomic_long task_ran = 0;
    long accepted = 0, cancelled = 0;
    for (int i = 0; i < T; i++) {
        tasks[i] = NULL;
        rc = mp_submit(pool, i % 3 == 2 ? seven : leaf, &task_ran, &tasks[i]);
        if (rc == MP_OK)
            accepted++;
        else if (rc == MP_ENOMEM && may_fail)
            tasks[i] = NULL;
        else
            MPT_FAILF("%s: mp_submit returned %d", phase, rc);
    }
    /* More detached tasks than the queue's first ring holds: on a pool
     * without workers they all wait there, and the queue grows. */
    for (int i = 0; i < 1100; i++) {
        /* A detached task may run after this function has returned (at the
         * latest in destroy): it counts into a static. */
        rc = mp_submit(pool, leaf, &detached_ran, NULL);
        if (rc == MP_OK)
            detached_accepted++;
        else if (!(rc == MP_ENOMEM && may_fail))
            MPT_FAILF("%s: detached mp_submit returned %d", phase, rc);
    }
    for (int i = 0; i < T; i++) {
        if (!tasks[i])
            continue;
        if (i % 4 == 3 && mp_task_cancel(tasks[i]) == MP_OK) {
            cancelled++;
            rc = mp_task_wait(tasks[i]);
            if (rc != MP_ECANCELED)
                MPT_FAILF("%s: wait on a cancelled task returned %d", phase, rc);
        } else {
            rc = mp_task_wait(tasks[i]);
            if (rc != (i % 3 == 2 ? 7 : 0))
                MPT_FAILF("%s: mp_task_wait returned %d", phase, rc);
        }
        if (mp_task_done(tasks[i]) != 1)
            MPT_FAILF("%s: a waited-for task is not done", phase);
        mp_task_release(tasks[i]);
    }
    long want = accepted - cancelled;
    if (atomic_load(&task_ran) != want)
        MPT_FAILF("%s: %ld tasks ran, want %ld", phase, (long)atomic_load(&task_ran), want);

    /* Task options (1.1): each level, a task bound to worker 1 (or to
     * thread 0 on a pool without workers), a chain of prerequisites, and a
     * named detached task: each record is an allocation. */
    enum { G = 6 };
    mp_task *g[G];
    atomic_long graph_ran = 0;
    long graph_accepted = 0;
    for (int i = 0; i < G; i++) {
        mp_task_opts o;
        mp_task_opts_init(&o);
        o.priority = i % 3 - 1;
        o.name = "fault";
        if (i == 1)
            o.thread = mp_pool_threads(pool) > 1 ? 1 : 0;
        if (i >= 3 && g[i - 1]) {
            o.after = &g[i - 1];
            o.nafter = 1;
        }
        g[i] = NULL;
        rc = mp_submit_ex(pool, leaf, &graph_ran, &o, &g[i]);
        if (rc == MP_OK)
            graph_accepted++;
        else if (rc == MP_ENOMEM && may_fail)
            g[i] = NULL;
        else
            MPT_FAILF("%s: mp_submit_ex returned %d", phase, rc);
    }
    for (int i = G; i-- > 0;) {
        if (!g[i])
            continue;
        rc = mp_task_wait(g[i]);
        if (rc != 0)
            MPT_FAILF("%s: mp_task_wait on an mp_submit_ex task returned %d", phase, rc);
        mp_task_release(g[i]);
    }
    if (atomic_load(&graph_ran) != graph_accepted)
        MPT_FAILF("%s: %ld mp_submit_ex tasks ran, want %ld", phase, (long)atomic_load(&graph_ran),
                  graph_accepted);
    {
        mp_task_opts o;
        mp_task_opts_init(&o);
        o.name = "fault-detached";
        o.priority = MP_PRIO_LOW;
        rc = mp_submit_ex(pool, leaf, &detached_ran, &o, NULL);
        if (rc == MP_OK)
            detached_accepted++;
        else if (!(rc == MP_ENOMEM && may_fail))
            MPT_FAILF("%s: detached mp_submit_ex returned %d", phase, rc);
    }

    /* the crowd: more external callers than external slots */
    struct crowd c = {.pool = pool};
    pthread_t th[CROWD];
    pthread_barrier_init(&crowd_barrier, NULL, CROWD);
    int started = 0;
    for (; started < CROWD; started++)
        if (__real_pthread_create(&th[started], NULL, crowd_main, &c) != 0)
            break;
    if (started < CROWD) {
        /* The test's own threads could not be had: the barrier would never
         * open. Not a library failure, but the run cannot go on. */
        fprintf(stderr, "FAIL: could not start the test's own threads\n");
        _exit(3);
    }
    for (int i = 0; i < CROWD; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&crowd_barrier);
    if (c.bad || atomic_load(&c.count) != CROWD)
        MPT_FAILF("%s: %d of %d crowd callers saw a wrong result", phase, c.bad, CROWD);
}

/* ------------------------------------------------------------ scenarios */

struct shared {
    long alloc_calls, thread_calls;
    long allocs_failed, threads_failed;
    long creates_refused;
    long records_live;
};
static struct shared *shm;

enum { SC_WORKLOAD, SC_CREATE_ONLY, SC_THREADS, SC_RECORDS, SC_SHARED };

static const char *scenario_name[] = {"create+workload+destroy", "create+destroy",
                                      "pthread_create", "no parking records",
                                      "shared pool, 2 refs"};

/* Every parking record fails (thread.c falls back to one record shared by
 * all such threads) while 8 callers broadcast and join, so that their
 * waits on the shared record overlap many times. */
static int bcast_noop(void *arg, unsigned i, unsigned n)
{
    (void)arg;
    (void)i;
    (void)n;
    return 0;
}

static void *record_caller(void *arg)
{
    mp_pool *pool = arg;
    atomic_long cnt = 0;
    for (int r = 0; r < 2000; r++) {
        if (mp_broadcast(pool, bcast_noop, NULL) != MP_OK)
            MPT_FAILF("broadcast without a parking record failed");
        if (mp_join(pool, leaf, &cnt, leaf, &cnt) != MP_OK)
            MPT_FAILF("join without a parking record failed");
    }
    if (atomic_load(&cnt) != 4000)
        MPT_FAILF("joins without a parking record ran %ld halves, want 4000",
              (long)atomic_load(&cnt));
    return NULL;
}

static void records_scenario(mp_pool *pool)
{
    enum { CALLERS = 8 };
    pthread_t th[CALLERS];
    for (int i = 0; i < CALLERS; i++)
        if (__real_pthread_create(&th[i], NULL, record_caller, pool) != 0) {
            fprintf(stderr, "FAIL: could not start the test's own threads\n");
            _exit(3);
        }
    for (int i = 0; i < CALLERS; i++)
        pthread_join(th[i], NULL);
}

static int run_child(int scenario, unsigned nthreads)
{
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = nthreads;
    cfg.spin_us = 5;
    cfg.name = "fault";
    cfg.on_thread_start = on_start;
    cfg.on_thread_stop = on_stop;
    mp_pool *sentinel = (mp_pool *)&cfg;
    mp_pool *pool = sentinel;

    int before = thread_count();
    if (scenario == SC_RECORDS) {
        /* the pool's own workers keep their records; the callers get none */
        int rc = mp_pool_create(&cfg, &pool);
        if (rc != MP_OK) {
            MPT_FAILF("mp_pool_create returned %d", rc);
            return 1;
        }
        records_only = 1;
        atomic_store(&armed_alloc, 1);
        records_scenario(pool);
        atomic_store(&armed_alloc, 0);
        if (mp_pool_destroy(pool) != MP_OK)
            MPT_FAILF("mp_pool_destroy");
        shm->alloc_calls = atomic_load(&alloc_calls);
        shm->allocs_failed = atomic_load(&allocs_failed);
        return mpt_failures() ? 1 : 0;
    }
    /* The shared pool is made with the defaults (no hooks), its size from
     * MICROPOOL_THREADS. */
    int hooks = scenario != SC_SHARED;
    if (scenario == SC_SHARED) {
        char n[16];
        snprintf(n, sizeof n, "%u", nthreads);
        setenv("MICROPOOL_THREADS", n, 1);
    }
    if (scenario == SC_THREADS)
        atomic_store(&armed_thread, 1);
    else
        atomic_store(&armed_alloc, 1);
    int rc = scenario == SC_SHARED ? mp_pool_shared(&pool) : mp_pool_create(&cfg, &pool);
    if (rc == MP_ENOMEM) {
        atomic_store(&armed_alloc, 0);
        atomic_store(&armed_thread, 0);
        shm->creates_refused++;
        if (pool != sentinel)
            MPT_FAILF("mp_pool_create failed but wrote *out");
        int after = wait_thread_count(before);
        if (after != before)
            MPT_FAILF("mp_pool_create failed and left %d thread(s) behind", after - before);
        if (atomic_load(&hook_starts) != atomic_load(&hook_stops))
            MPT_FAILF("failed create: %d start hooks, %d stop hooks", atomic_load(&hook_starts),
                  atomic_load(&hook_stops));
    } else if (rc != MP_OK) {
        MPT_FAILF("mp_pool_create returned %d (%s)", rc, mp_strerror(rc));
    } else {
        if (scenario == SC_WORKLOAD) {
            workload(pool, 1, "injected");
            atomic_store(&armed_alloc, 0);
            atomic_store(&armed_thread, 0);
            workload(pool, 0, "after injection");
        }
        if (scenario == SC_SHARED) {
            /* A second reference, dropped first: the pool lives on. */
            mp_pool *again = NULL;
            int rc2 = mp_pool_shared(&again);
            if (rc2 != MP_OK || again != pool)
                MPT_FAILF("a second mp_pool_shared returned %d and another pool", rc2);
            else if (mp_pool_destroy(again) != MP_OK)
                MPT_FAILF("dropping a reference to the shared pool");
            else if (mp_pool_threads(pool) != nthreads)
                MPT_FAILF("the shared pool has %u threads, MICROPOOL_THREADS %u",
                          mp_pool_threads(pool), nthreads);
        }
        /* create+destroy: destroy's own allocations are injected too */
        rc = mp_pool_destroy(pool);
        atomic_store(&armed_alloc, 0);
        atomic_store(&armed_thread, 0);
        if (atomic_load(&detached_ran) != detached_accepted)
            MPT_FAILF("%ld detached tasks accepted, %ld ran by the end of destroy",
                  detached_accepted, (long)atomic_load(&detached_ran));
        if (rc != MP_OK)
            MPT_FAILF("mp_pool_destroy returned %d", rc);
        int after = wait_thread_count(before);
        if (after != before)
            MPT_FAILF("%d thread(s) left after destroy", after - before);
        if (hooks && (atomic_load(&hook_starts) != (int)nthreads - 1 ||
                      atomic_load(&hook_stops) != (int)nthreads - 1))
            MPT_FAILF("%d start hooks, %d stop hooks for %u workers", atomic_load(&hook_starts),
                  atomic_load(&hook_stops), nthreads - 1);
    }
    size_t example = 0;
    long leaked = live_non_records(&example);
    if (leaked)
        MPT_FAILF("%ld allocation(s) still live after the pool is gone (one of %zu bytes)", leaked,
              example);
    if (live_overflow)
        MPT_FAILF("the allocation table overflowed");
    pthread_mutex_lock(&live_mu);
    shm->records_live = live_count;
    pthread_mutex_unlock(&live_mu);
    shm->alloc_calls = atomic_load(&alloc_calls);
    shm->thread_calls = atomic_load(&thread_calls);
    shm->allocs_failed = atomic_load(&allocs_failed);
    shm->threads_failed = atomic_load(&threads_failed);
    return mpt_failures() ? 1 : 0;
}

/* Runs one child; returns its exit status (0 clean), fills *shm. */
static int spawn_child(int scenario, unsigned nthreads, int mode, long k)
{
    memset(shm, 0, sizeof *shm);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        fail_mode = mode;
        if (scenario == SC_THREADS)
            fail_thread_at = k;
        else
            fail_alloc_at = k;
        /* A run takes well under a second; one still busy after 30 s is
         * hung (a lost wake-up or a deadlock) and is killed by the alarm. */
        alarm(30);
        fflush(NULL);
        _exit(run_child(scenario, nthreads));
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) {
        perror("waitpid");
        exit(2);
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "FAIL: child killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (hung for 30 s)" : "");
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
    long max_k = 5000;
    mpt_checks_init("alloc_fault", 0);
    mpt_cover_init_with(&cover, hits, FOR_N);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max-k") && i + 1 < argc)
            max_k = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--max-k K]\n", argv[0]);
            return 2;
        }
    }
    /* A record and other blocks must be told apart by size. */
    if (sizeof(mp_thread) == sizeof(mp_ctx) || sizeof(mp_thread) == sizeof(mp_pool)) {
        fprintf(stderr, "FAIL: cannot tell parking records from other allocations by size\n");
        return 2;
    }
    shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct plan {
        int scenario;
        unsigned threads;
    } plans[] = {
        {SC_CREATE_ONLY, 1}, {SC_CREATE_ONLY, 4}, {SC_WORKLOAD, 1},
        {SC_WORKLOAD, 3},    {SC_THREADS, 6},     {SC_SHARED, 3},
    };
    static const char *mode_name[] = {"once", "from"};
    long runs = 0, faults = 0, refused = 0, failed_runs = 0;
    for (int r = 0; r < 3; r++) {
        int rc = spawn_child(SC_RECORDS, 3, MODE_FROM, 1);
        runs++;
        faults += shm->allocs_failed;
        printf("%-24s threads 3  run %d: 8 callers x 2000 broadcasts and joins, "
               "%ld record allocations failed%s\n",
               scenario_name[SC_RECORDS], r + 1, shm->allocs_failed, rc ? ": FAILED" : "");
        if (rc) {
            fprintf(stderr, "FAIL: %s: status %d\n", scenario_name[SC_RECORDS], rc);
            failed_runs++;
            break;
        }
    }
    for (size_t p = 0; p < sizeof plans / sizeof plans[0]; p++) {
        int sc = plans[p].scenario;
        unsigned nt = plans[p].threads;
        int rc = spawn_child(sc, nt, MODE_ONCE, 0);
        long base = sc == SC_THREADS ? shm->thread_calls : shm->alloc_calls;
        runs++;
        if (rc) {
            fprintf(stderr, "FAIL: %s, %u threads, no injection: status %d\n",
                    scenario_name[sc], nt, rc);
            failed_runs++;
            continue;
        }
        for (int mode = MODE_ONCE; mode <= MODE_FROM; mode++) {
            long k = 1, injected_here = 0, max_calls = base;
            for (; k <= max_k; k++) {
                rc = spawn_child(sc, nt, mode, k);
                runs++;
                long failed = sc == SC_THREADS ? shm->threads_failed : shm->allocs_failed;
                long calls = sc == SC_THREADS ? shm->thread_calls : shm->alloc_calls;
                if (calls > max_calls)
                    max_calls = calls;
                if (rc) {
                    fprintf(stderr, "FAIL: %s, %u threads, mode %s, k = %ld: status %d\n",
                            scenario_name[sc], nt, mode_name[mode], k, rc);
                    failed_runs++;
                    /* After a hang, the next k would most likely hang the
                     * same way: one is enough to show (and hung runs are
                     * slow). */
                    if (rc >= 128)
                        break;
                }
                if (failed == 0 && rc == 0)
                    break; /* call k was not reached: every site was covered */
                faults += failed;
                injected_here += failed;
                refused += shm->creates_refused;
            }
            if (k > max_k) {
                fprintf(stderr, "FAIL: %s: still injecting at k = %ld\n", scenario_name[sc],
                        max_k);
                failed_runs++;
            }
            printf("%-24s threads %u  mode %-4s  calls per run %3ld..%3ld  runs %4ld  "
                   "faults injected %5ld\n",
                   scenario_name[sc], nt, mode_name[mode], base, max_calls, k, injected_here);
        }
    }
    printf("alloc_fault: %ld runs, %ld faults injected, %ld creates refused cleanly, "
           "%ld failed runs\n",
           runs, faults, refused, failed_runs);
    return failed_runs ? 1 : 0;
}
