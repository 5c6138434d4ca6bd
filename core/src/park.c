/* park.c: the clock, the futex, waking a thread record, the spin lock.
 * See docs/design.md, "Idling". */
#include "park.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

uint64_t mp__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void mp__futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *timeout)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, timeout, NULL, 0);
}

bool mp__futex_wait_until(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline_ns)
{
    struct timespec ts = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};
    /* WAIT_BITSET takes an absolute CLOCK_MONOTONIC time; FUTEX_WAKE wakes
     * it like a plain wait (its bitset matches any). */
    long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, val, &ts, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    return !(r == -1 && errno == ETIMEDOUT);
}

void mp__futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

void mp__park_wake(mp_thread *t)
{
    /* For the wake-up's cost (warm.c): the wakee reads it when it runs. */
    atomic_store_explicit(&t->woken_at, mp__now_ns(), memory_order_relaxed);
    atomic_fetch_add_explicit(&t->park, 1, memory_order_release);
    /* All sleepers: a record shared as a last resort (thread.c) may have
     * several; a thread's own record has at most one. */
    mp__futex_wake(&t->park, INT_MAX);
}

void mp__spinlock_wait(mp_spinlock *l)
{
    for (unsigned n = 0;; n++) {
        if (!atomic_load_explicit(&l->locked, memory_order_relaxed) &&
            !atomic_exchange_explicit(&l->locked, 1, memory_order_acquire))
            return;
        if (n < 128)
            mp__cpu_relax();
        else
            sched_yield();
    }
}
