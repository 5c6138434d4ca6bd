/* pool.c: the configuration, pool creation and destruction, statistics.
 * See docs/design.md, "Threads and contexts". */
#include "pool.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What 1.0's mp_config held: every field before stack_size. */
#define MP_CONFIG_SIZE_1_0 offsetof(mp_config, stack_size)

static void config_init(mp_config *cfg, size_t size)
{
    if (!cfg)
        return;
    memset(cfg, 0, size);
    cfg->size = size;
    cfg->spin_us = MP_SPIN_US_DEFAULT;
}

/* A program built against the 1.0 header has a config of 1.0's size: it
 * calls mp_config_init@MICROPOOL_1.0, which writes no byte past that. A
 * program built now links the default, mp_config_init@@MICROPOOL_1.1 (also
 * what a static link resolves mp_config_init to). MP_NO_SYMVER: a build
 * without the version script (an ABI guard's mutant) has one, unversioned. */
#ifndef MP_NO_SYMVER
MP_API void mp_config_init_1_0(mp_config *cfg);
MP_API void mp_config_init_1_1(mp_config *cfg);
__asm__(".symver mp_config_init_1_0, mp_config_init@MICROPOOL_1.0");
__asm__(".symver mp_config_init_1_1, mp_config_init@@MICROPOOL_1.1");

void mp_config_init_1_0(mp_config *cfg)
{
    config_init(cfg, MP_CONFIG_SIZE_1_0);
}

void mp_config_init_1_1(mp_config *cfg)
#else
void mp_config_init(mp_config *cfg)
#endif
{
    config_init(cfg, sizeof *cfg);
}

/* Reads the caller's config under the copy_struct_from_user rule. */
static int read_config(const mp_config *user, mp_config *cfg)
{
    config_init(cfg, sizeof *cfg);
    if (!user)
        return MP_OK;
    size_t size = user->size;
    if (size < offsetof(mp_config, threads) + sizeof user->threads)
        return MP_EINVAL;
    if (size > sizeof *cfg) {
        const unsigned char *tail = (const unsigned char *)user + sizeof *cfg;
        for (size_t i = 0; i < size - sizeof *cfg; i++)
            if (tail[i] != 0)
                return MP_EINVAL;
    }
#define TAKE(field)                                                           \
    if (offsetof(mp_config, field) + sizeof cfg->field <= size)               \
        cfg->field = user->field;
    TAKE(threads)
    TAKE(spin_us)
    TAKE(pin)
    TAKE(name)
    TAKE(on_thread_start)
    TAKE(on_thread_stop)
    TAKE(hook_arg)
    TAKE(stack_size)
    TAKE(trace)
#undef TAKE
    cfg->size = sizeof *cfg;
    if (cfg->threads > MP_THREADS_MAX || (cfg->pin != 0 && cfg->pin != 1))
        return MP_EINVAL;
    if (cfg->stack_size != 0 &&
        (cfg->stack_size < (size_t)PTHREAD_STACK_MIN ||
         !mp__size_round_up(cfg->stack_size, (size_t)sysconf(_SC_PAGESIZE), &cfg->stack_size)))
        return MP_EINVAL;
    return MP_OK;
}

static unsigned cpus_allowed(cpu_set_t *set)
{
    if (sched_getaffinity(0, sizeof *set, set) != 0)
        return 1;
    int n = CPU_COUNT(set);
    return n > 0 ? (unsigned)n : 1;
}

/* The i-th CPU (0-based, wrapping) of the affinity mask. */
static int nth_cpu(const cpu_set_t *set, unsigned count, unsigned i)
{
    unsigned want = i % count;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, set) && want-- == 0)
            return cpu;
    return -1;
}

static void free_pool(mp_pool *pool)
{
    mp__ready_free(pool);
    mp__records_free(pool);         /* before the overflow slots go */
    mp__slots_free(pool);
    pthread_mutex_destroy(&pool->bc.mu);
    pthread_mutex_destroy(&pool->sc.mu);
    mp__taskq_free(&pool->tq);
    free(pool->threads);
    free(pool->ctxs);
    free(pool);
}

/* Starts worker i (0-based), pinned to the i+1-th allowed CPU if asked. */
static bool start_worker(mp_pool *pool, unsigned i, const cpu_set_t *cpus, unsigned ncpu)
{
    mp_ctx *w = &pool->ctxs[i];
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return false;
    if (pool->stack_size && pthread_attr_setstacksize(&attr, pool->stack_size) != 0) {
        pthread_attr_destroy(&attr);
        return false;
    }
    if (pool->pin) {
        int cpu = nth_cpu(cpus, ncpu, w->index);
        if (cpu >= 0) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            pthread_attr_setaffinity_np(&attr, sizeof one, &one);
        }
    }
    int err = pthread_create(&pool->threads[i], &attr, mp__worker_main, w);
    pthread_attr_destroy(&attr);
    return err == 0;
}

int mp_pool_create(const mp_config *user, mp_pool **out)
{
    if (!out)
        return MP_EINVAL;
    mp_config cfg;
    int rc = read_config(user, &cfg);
    mp_tracer tracer;
    if (rc == MP_OK)
        rc = mp__tracer_read(cfg.trace, &tracer);
    if (rc)
        return rc;

    cpu_set_t cpus;
    unsigned ncpu = cpus_allowed(&cpus);
    unsigned n = cfg.threads ? cfg.threads : ncpu;

    mp_pool *pool = aligned_alloc(MP_CACHELINE, sizeof *pool);
    if (!pool)
        return MP_ENOMEM;
    memset(pool, 0, sizeof *pool);
    pool->nthreads = n;
    pool->nworkers = n - 1;
    pool->nctxs = pool->nworkers + MP_EXTERNAL_SLOTS;
    pool->spin_ns = (uint64_t)cfg.spin_us * 1000u;
    pool->pin = cfg.pin;
    pool->stack_size = cfg.stack_size;
    snprintf(pool->name, sizeof pool->name, "%s", cfg.name ? cfg.name : "micropool");
    pool->on_thread_start = cfg.on_thread_start;
    pool->on_thread_stop = cfg.on_thread_stop;
    pool->hook_arg = cfg.hook_arg;
    pool->tracer = tracer;
    pthread_mutex_init(&pool->bc.mu, NULL);
    pthread_mutex_init(&pool->sc.mu, NULL);
    mp__warm_init(&pool->warm);

    /* Whatever fails, one way back: workers [0, started) run and are
     * stopped, records [started, records) were never adopted. */
    unsigned records = 0, started = 0;
    pool->ctxs = aligned_alloc(MP_CACHELINE, sizeof(mp_ctx) * pool->nctxs);
    for (unsigned i = 0; pool->ctxs && i < pool->nctxs; i++) {
        mp_ctx *c = &pool->ctxs[i];
        memset(c, 0, MP_CTX_HEAD);
        c->pool = pool;
        c->index = i < pool->nworkers ? i + 1 : 0;
        c->dq.rng = 0x9e3779b9u * (i + 1);
    }
    pool->threads = calloc(pool->nworkers ? pool->nworkers : 1, sizeof *pool->threads);
    if (!pool->ctxs || !pool->threads || mp__taskq_init(&pool->tq) != MP_OK ||
        mp__ready_init(pool) != MP_OK)
        goto fail;
    for (; records < pool->nworkers; records++) {
        mp_thread *t = mp__thread_alloc();
        if (!t)
            goto fail;
        atomic_init(&pool->ctxs[records].thread, t);
    }
    for (; started < pool->nworkers; started++)
        if (!start_worker(pool, started, &cpus, ncpu))
            goto fail;
    *out = pool;
    return MP_OK;

fail:
    mp__workers_stop(pool, started);
    for (unsigned i = started; i < records; i++)
        mp__thread_release(atomic_load_explicit(&pool->ctxs[i].thread, memory_order_relaxed));
    free_pool(pool);
    return MP_ENOMEM;
}

unsigned mp_pool_threads(const mp_pool *pool)
{
    return pool ? pool->nthreads : 0;
}

int mp_pool_thread_index(const mp_pool *pool)
{
    if (!pool)
        return -1;
    mp_link *l = mp__link_find(pool);
    return l ? l->index : -1;
}

static void add_counters(mp_stats *s, const mp_counters *c)
{
    s->jobs += atomic_load_explicit(&c->jobs, memory_order_relaxed);
    s->steals += atomic_load_explicit(&c->steals, memory_order_relaxed);
    s->sleeps += atomic_load_explicit(&c->sleeps, memory_order_relaxed);
}

int mp_pool_stats(const mp_pool *pool, mp_stats *out)
{
    if (!pool || !out || out->size < offsetof(mp_stats, jobs) + sizeof out->jobs)
        return MP_EINVAL;
    mp_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    /* Every context: workers, external slots and the overflow slots (a
     * list that only grows; acquire pairs with the release that linked
     * each slot). */
    for (unsigned i = 0; i < pool->nctxs; i++)
        add_counters(&s, &pool->ctxs[i].count);
    for (const mp_ctx *c = atomic_load_explicit(&pool->slots.overflow,
                                                memory_order_acquire);
         c; c = c->slot.next)
        add_counters(&s, &c->count);
    s.wakeups = atomic_load_explicit(&pool->idle.wakeups, memory_order_relaxed);
    s.tasks_run = atomic_load_explicit(&pool->tasks.tasks_run, memory_order_relaxed);
    size_t n = out->size < sizeof s ? out->size : sizeof s;
    memcpy((char *)out + sizeof out->size, (const char *)&s + sizeof s.size, n - sizeof s.size);
    return MP_OK;
}

int mp_pool_destroy(mp_pool *pool)
{
    if (!pool)
        return MP_EINVAL;
    if (mp__link_find(pool))
        return MP_EDEADLK;
    if (!mp__shared_release(pool))
        return MP_OK;               /* the shared pool has other references */

    /* Refuse new tasks, run what is queued, helped by the workers; then
     * wait for the tasks that other threads are running. */
    mp_link link;
    mp_ctx *ctx;
    mp__enter(pool, &link, &ctx, true);
    mp__taskq_drain(pool, ctx);
    mp__leave(&link);

    mp__workers_stop(pool, pool->nworkers);
    mp__slots_wait_returned(pool);
    free_pool(pool);
    return MP_OK;
}
