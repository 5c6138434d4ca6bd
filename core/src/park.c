/* park.c: spinning, sleeping in the kernel and waking up.
 *
 * Every thread has one futex word `park` (thread.c); a context names the
 * thread running on it. A thread that has spun for the pool's spin window
 * without finding what it waits for announces itself (ctx->sleeping = 1
 * for an idle worker, thread->waiting = 1 for a thread waiting inside a
 * call), checks its condition once more and sleeps on `park` with the
 * value it read before announcing. A waker first publishes its work or
 * completion with a seq_cst operation, then reads the announcement with a
 * seq_cst load; if it is set it bumps `park` and calls futex_wake. Either
 * the waker sees the announcement or the sleeper's last check sees the
 * work (store-buffering is excluded between seq_cst operations), and a
 * bump between the sleeper's read of `park` and its futex_wait makes the
 * futex_wait return at once: no wake-up is lost. See docs/design.md. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t mp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void mp_futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *timeout)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, timeout, NULL, 0);
}

bool mp_futex_wait_until(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline_ns)
{
    struct timespec ts = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};
    /* WAIT_BITSET takes an absolute CLOCK_MONOTONIC time; FUTEX_WAKE wakes
     * it like a plain wait (its bitset matches any). */
    long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, val, &ts, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    return !(r == -1 && errno == ETIMEDOUT);
}

void mp_futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static void wake(mp_pool *pool, mp_thread *t)
{
    /* For the wake-up's cost (warm.c): the wakee reads it when it runs. */
    atomic_store_explicit(&t->woken_at, mp_now_ns(), memory_order_relaxed);
    atomic_fetch_add_explicit(&t->park, 1, memory_order_release);
    /* All waiters: a record shared as a last resort (thread.c) may have
     * several; a thread's own record has at most one. */
    mp_futex_wake(&t->park, INT_MAX);
    atomic_fetch_add_explicit(&pool->wakeups, 1, memory_order_relaxed);
}

void mp_wake_idle(mp_pool *pool, unsigned n)
{
    /* The common case when workers are busy or spinning: one load, no
     * system call. */
    if (atomic_load_explicit(&pool->sleepers, memory_order_seq_cst) == 0)
        return;
    for (unsigned i = 0; i < pool->nworkers && n > 0; i++) {
        mp_ctx *w = &pool->ctxs[i];
        if (atomic_load_explicit(&w->sleeping, memory_order_relaxed) &&
            atomic_exchange_explicit(&w->sleeping, 0, memory_order_acq_rel)) {
            wake(pool, atomic_load_explicit(&w->thread, memory_order_acquire));
            n--;
        }
    }
}

void mp_wake_worker(mp_pool *pool, mp_ctx *w)
{
    if (atomic_load_explicit(&pool->sleepers, memory_order_seq_cst) != 0 &&
        atomic_load_explicit(&w->sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&w->sleeping, 0, memory_order_acq_rel))
        wake(pool, atomic_load_explicit(&w->thread, memory_order_acquire));
}

void mp_wake_ctx(mp_pool *pool, mp_ctx *ctx)
{
    mp_thread *t = atomic_load_explicit(&ctx->thread, memory_order_seq_cst);
    if (t && (atomic_load_explicit(&t->waiting, memory_order_seq_cst) ||
              atomic_load_explicit(&ctx->sleeping, memory_order_seq_cst)))
        wake(pool, t);
}

void mp_wake_waiter(mp_pool *pool, mp_thread *t)
{
    if (atomic_load_explicit(&t->waiting, memory_order_seq_cst))
        wake(pool, t);
}

/* Is the wait over? Acquire while spinning, seq_cst (`sc`) in the last
 * check before sleeping. */
static bool over(const mp_waiter *w, bool sc)
{
    if (!w->word)
        return w->done(w->arg);
    if (sc)
        return atomic_load_explicit(w->word, memory_order_seq_cst) == 0;
    return atomic_load_explicit(w->word, memory_order_acquire) == 0;
}

static bool more_work(const mp_waiter *w)
{
    return (w->more && atomic_load_explicit(w->more, memory_order_seq_cst) != 0) ||
           (w->more_fn && w->more_fn(w->arg));
}

/* Parks thread record t until it is woken (mp_wake_ctx, mp_wake_waiter),
 * unless the wait is over, its helper has work, or a broadcast part is
 * pending for a worker context of this thread: checked with seq_cst loads
 * after announcing (see the top). Counts the sleep in *sleeps (if any). */
static void park(mp_thread *t, _Atomic uint64_t *sleeps, const mp_waiter *w)
{
    uint32_t p = atomic_load_explicit(&t->park, memory_order_acquire);
    /* A count, not a flag: threads that share the last-resort record may
     * wait at the same time. */
    atomic_fetch_add_explicit(&t->waiting, 1, memory_order_seq_cst);
    if (!over(w, true) && !more_work(w) && !mp_bcast_pending_thread_sc()) {
        if (sleeps)
            mp_count(sleeps);
        mp_futex_wait(&t->park, p, NULL);
    }
    atomic_fetch_sub_explicit(&t->waiting, 1, memory_order_relaxed);
}

/* The one wait: ctx (NULL for mp_wait_self) is what `help` runs on. */
static void wait_on(mp_ctx *ctx, mp_thread *t, uint64_t spin_ns, _Atomic uint64_t *sleeps,
                    const mp_waiter *w)
{
    mp_spin spin;
    mp_spin_reset(&spin);
    while (!over(w, false)) {
        if ((w->help && w->help(ctx, w->arg)) || mp_bcast_run_thread()) {
            mp_spin_reset(&spin);
            continue;
        }
        if (mp_spin_on(&spin, spin_ns))
            continue;
        park(t, sleeps, w);
        mp_spin_reset(&spin);
    }
}

void mp_wait(mp_ctx *ctx, const mp_waiter *w)
{
    wait_on(ctx, atomic_load_explicit(&ctx->thread, memory_order_relaxed), ctx->pool->spin_ns,
            &ctx->count.sleeps, w);
}

void mp_wait_self(uint64_t spin_ns, const mp_waiter *w)
{
    wait_on(NULL, mp_thread_self(), spin_ns, NULL, w);
}

void mp_wait_zero(mp_ctx *ctx, _Atomic uint32_t *word)
{
    struct mp_waiter w = {word, NULL, NULL, NULL, NULL, NULL};
    mp_wait(ctx, &w);
}

void mp_spinlock_wait(mp_spinlock *l)
{
    for (unsigned n = 0;; n++) {
        if (!atomic_load_explicit(&l->locked, memory_order_relaxed) &&
            !atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
            return;
        if (n < 128)
            mp_cpu_relax();
        else
            sched_yield();
    }
}
