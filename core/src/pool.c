/* pool.c: pool creation and destruction, the workers' loop, statistics. */
#include "internal.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

void mp_config_init(mp_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->spin_us = MP_SPIN_US_DEFAULT;
}

/* Reads the caller's config under the copy_struct_from_user rule. */
static int read_config(const mp_config *user, mp_config *cfg)
{
    mp_config_init(cfg);
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
#undef TAKE
    cfg->size = sizeof *cfg;
    if (cfg->threads > MP_THREADS_MAX || (cfg->pin != 0 && cfg->pin != 1))
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

bool mp_work_visible(mp_pool *pool, mp_ctx *self)
{
    return mp_bcast_pending_sc(self) || mp_mbox_posted_sc(self) ||
           mp_flat_open(pool, self, memory_order_seq_cst) ||
           mp_any_shared(pool) ||
           atomic_load_explicit(&pool->scope_queued, memory_order_seq_cst) != 0 ||
           mp_task_visible(pool) ||
           atomic_load_explicit(&pool->stop, memory_order_seq_cst) != 0;
}

/* One round of looking for work, in priority order: broadcast parts, a
 * loop part addressed to this worker, the flat loop, foreground jobs of
 * other threads, scope tasks, background tasks. */
static bool find_work(mp_ctx *self)
{
    mp_pool *pool = self->pool;
    return mp_bcast_run_pending(self) || mp_mbox_run(self) || mp_flat_participate(self) ||
           mp_steal_and_run(self) || mp_scope_run_one(pool) || mp_task_run_one(pool, self);
}

/* Sleeps until woken, or, when calls come at a regular period, until
 * shortly before the next one is due (warm.c); without a period, for at
 * most MP_RECHECK_NS, then again. Returns true when it woke by its timer
 * to keep watch until *until. */
#define MP_RECHECK_NS 50000000u
static bool worker_sleep(mp_ctx *self, uint64_t *until)
{
    mp_pool *pool = self->pool;
    mp_thread *t = atomic_load_explicit(&self->thread, memory_order_relaxed);
    uint32_t p = atomic_load_explicit(&t->park, memory_order_acquire);
    /* seq_cst, not only before the seq_cst `sleepers` increment: a
     * broadcaster reads `sleeping` without reading `sleepers`
     * (mp_wake_ctx), so this store itself must be in the total order
     * before the checks below (docs/design.md, "Idling"). */
    atomic_store_explicit(&self->sleeping, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&pool->sleepers, 1, memory_order_seq_cst);
    bool watch = false;
    if (!mp_work_visible(pool, self)) {
        mp_count(&self->count.sleeps);
        uint64_t now = mp_now_ns();
        uint64_t from = mp_warm_watch_from(pool, now, until);
        if (from == 0) {
            /* No rhythm yet: look again later by itself, so that no caller
             * has to pay a wake-up for it to learn one (waking an idle
             * CPU can cost the waker tens of microseconds). */
            mp_futex_wait_until(&t->park, p, now + MP_RECHECK_NS);
        } else if (from > now && mp_futex_wait_until(&t->park, p, from)) {
            /* woken (or the word moved): not by the timer */
        } else {
            watch = true;
            if (from > now)
                mp_warm_timer_late(pool, mp_now_ns() - from);
        }
        uint64_t sent = atomic_load_explicit(&t->woken_at, memory_order_relaxed);
        if (!watch && sent > now) {
            uint64_t ran = mp_now_ns();
            if (ran > sent)
                mp_warm_woke(pool, ran - sent);
        }
    }
    atomic_store_explicit(&self->sleeping, 0, memory_order_relaxed);
    atomic_fetch_sub_explicit(&pool->sleepers, 1, memory_order_relaxed);
    return watch;
}

/* The idle spin adapts to how work arrives. A worker spins for `window`
 * (at most spin_us) before it sleeps. If work came less than spin_us after
 * it gave up, a longer spin would have caught it: back to the full window.
 * If the sleep was longer, the spin was CPU time spent for nothing: halve
 * the window, down to an eighth of spin_us. So a pool that gets one small
 * job every millisecond stops burning its spin window each time, while
 * back-to-back calls keep the full window. */
static uint64_t next_window(const mp_pool *pool, uint64_t window, uint64_t gave_up)
{
    uint64_t full = pool->spin_ns;
    if (full == 0 || gave_up == 0)
        return full;
    if (mp_now_ns() - gave_up < full)
        return full;
    return window / 2 > full / 8 ? window / 2 : full / 8;
}

static void *worker_main(void *arg)
{
    mp_ctx *self = arg;
    mp_pool *pool = self->pool;
    mp_link link;
    mp_link_push(&link, pool, self, (int)self->index);
    mp_thread_adopt(atomic_load_explicit(&self->thread, memory_order_relaxed));

    /* "<name>-<i>" cut to the 15 characters Linux keeps, set before the
     * start hook runs so that the hook sees it. */
    char tname[40];
    snprintf(tname, sizeof tname, "%s-%u", pool->name, self->index);
    tname[15] = '\0';
    pthread_setname_np(pthread_self(), tname);

    if (pool->on_thread_start)
        pool->on_thread_start(pool->hook_arg, self->index);

    /* A worker keeping watch wakes by a timer: let it fire on time. */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);

    mp_spin spin;
    mp_spin_reset(&spin);
    uint64_t window = pool->spin_ns;
    bool watching = false;              /* woke by its timer, spins until spin.deadline */
    for (;;) {
        if (find_work(self)) {
            if (watching) {             /* the call it kept watch for */
                mp_warm_stamp(pool, mp_now_ns());
                watching = false;
            }
            mp_set_spinning(self, 1);   /* polling again */
            mp_spin_reset(&spin);
            continue;
        }
        if (atomic_load_explicit(&pool->stop, memory_order_acquire))
            break;
        if (mp_spin_on(&spin, window)) {
            mp_set_spinning(self, 1);
            continue;
        }
        mp_set_spinning(self, 0);
        uint64_t gave_up = watching ? 0 : spin.deadline;
        uint64_t until = 0;
        watching = worker_sleep(self, &until);
        mp_spin_reset(&spin);
        if (watching)
            spin.deadline = until;      /* mp_spin_on spins until then */
        else
            window = next_window(pool, window, gave_up);
    }
    mp_set_spinning(self, 0);

    if (pool->on_thread_stop)
        pool->on_thread_stop(pool->hook_arg, self->index);
    mp_link_pop(&link);
    return NULL;
}

static void stop_workers(mp_pool *pool, unsigned started)
{
    atomic_store_explicit(&pool->stop, 1, memory_order_seq_cst);
    for (unsigned i = 0; i < started; i++) {
        mp_thread *t = atomic_load_explicit(&pool->ctxs[i].thread, memory_order_acquire);
        atomic_fetch_add_explicit(&t->park, 1, memory_order_release);
        mp_futex_wake(&t->park, INT_MAX);
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(pool->threads[i], NULL);
}

static void free_pool(mp_pool *pool)
{
    mp_ctx *c = atomic_load_explicit(&pool->overflow, memory_order_relaxed);
    while (c) {
        mp_ctx *next = c->next_overflow;
        free(c);
        c = next;
    }
    pthread_mutex_destroy(&pool->bmu);
    pthread_mutex_destroy(&pool->smu);
    mp_task_queue_free(pool);
    free(pool->threads);
    free(pool->ctxs);
    free(pool);
}

int mp_pool_create(const mp_config *user, mp_pool **out)
{
    if (!out)
        return MP_EINVAL;
    mp_config cfg;
    int rc = read_config(user, &cfg);
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
    snprintf(pool->name, sizeof pool->name, "%s", cfg.name ? cfg.name : "micropool");
    pool->on_thread_start = cfg.on_thread_start;
    pool->on_thread_stop = cfg.on_thread_stop;
    pool->hook_arg = cfg.hook_arg;
    pthread_mutex_init(&pool->bmu, NULL);
    pthread_mutex_init(&pool->smu, NULL);
    mp_warm_init(&pool->warm);

    size_t ctx_bytes = sizeof(mp_ctx) * pool->nctxs;
    pool->ctxs = aligned_alloc(MP_CACHELINE, ctx_bytes);
    pool->threads = calloc(pool->nworkers ? pool->nworkers : 1, sizeof *pool->threads);
    if (!pool->ctxs || !pool->threads || mp_task_queue_init(pool) != MP_OK) {
        free_pool(pool);
        return MP_ENOMEM;
    }
    for (unsigned i = 0; i < pool->nctxs; i++) {
        mp_ctx *c = &pool->ctxs[i];
        memset(c, 0, MP_CTX_HEAD);
        c->pool = pool;
        c->index = i < pool->nworkers ? i + 1 : 0;
        c->rng = 0x9e3779b9u * (i + 1);
    }

    unsigned records = 0;
    for (; records < pool->nworkers; records++) {
        mp_thread *t = mp_thread_alloc();
        if (!t)
            break;
        atomic_init(&pool->ctxs[records].thread, t);
    }
    if (records < pool->nworkers) {
        for (unsigned i = 0; i < records; i++)
            mp_thread_release(atomic_load_explicit(&pool->ctxs[i].thread, memory_order_relaxed));
        free_pool(pool);
        return MP_ENOMEM;
    }

    unsigned started = 0;
    for (; started < pool->nworkers; started++) {
        mp_ctx *w = &pool->ctxs[started];
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0)
            break;
        if (cfg.pin) {
            int cpu = nth_cpu(&cpus, ncpu, w->index);
            if (cpu >= 0) {
                cpu_set_t one;
                CPU_ZERO(&one);
                CPU_SET(cpu, &one);
                pthread_attr_setaffinity_np(&attr, sizeof one, &one);
            }
        }
        int err = pthread_create(&pool->threads[started], &attr, worker_main, w);
        pthread_attr_destroy(&attr);
        if (err != 0)
            break;
    }
    if (started < pool->nworkers) {
        stop_workers(pool, started);
        for (unsigned i = started; i < pool->nworkers; i++)
            mp_thread_release(atomic_load_explicit(&pool->ctxs[i].thread, memory_order_relaxed));
        free_pool(pool);
        return MP_ENOMEM;
    }
    *out = pool;
    return MP_OK;
}

unsigned mp_pool_threads(const mp_pool *pool)
{
    return pool ? pool->nthreads : 0;
}

int mp_pool_thread_index(const mp_pool *pool)
{
    if (!pool)
        return -1;
    mp_link *l = mp_link_find(pool);
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
    for (const mp_ctx *c = atomic_load_explicit(&pool->overflow,
                                                memory_order_acquire);
         c; c = c->next_overflow)
        add_counters(&s, &c->count);
    s.wakeups = atomic_load_explicit(&pool->wakeups, memory_order_relaxed);
    s.tasks_run = atomic_load_explicit(&pool->tasks_run, memory_order_relaxed);
    size_t n = out->size < sizeof s ? out->size : sizeof s;
    memcpy((char *)out + sizeof out->size, (const char *)&s + sizeof s.size, n - sizeof s.size);
    return MP_OK;
}

int mp_pool_destroy(mp_pool *pool)
{
    if (!pool)
        return MP_EINVAL;
    if (mp_link_find(pool))
        return MP_EDEADLK;

    /* Refuse new tasks, run what is queued, helped by the workers; then
     * wait for the tasks that other threads are running. */
    mp_link link;
    mp_ctx *ctx;
    mp_enter(pool, &link, &ctx, true);
    mp_task_drain(pool, ctx);
    mp_leave(&link);

    stop_workers(pool, pool->nworkers);
    /* A thread that ran a task inline (mp_task_wait) may still be leaving
     * its external slot: its last touch of the pool is that release. */
    for (unsigned i = pool->nworkers; i < pool->nctxs; i++)
        while (atomic_load_explicit(&pool->ctxs[i].in_use, memory_order_acquire))
            sched_yield();
    for (mp_ctx *c = atomic_load_explicit(&pool->overflow, memory_order_acquire); c;
         c = c->next_overflow)
        while (atomic_load_explicit(&c->in_use, memory_order_acquire))
            sched_yield();
    free_pool(pool);
    return MP_OK;
}
