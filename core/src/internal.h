/*
 * internal.h: what every file of the engine shares. Nothing here is
 * public, and nothing here is a mechanism: each mechanism has its own
 * header (see pool.h for how they compose), and docs/design.md tells
 * how they work together.
 *
 * Names: mp_ for the ABI, mp__ for functions of the engine that other
 * files of the engine call; static functions have no prefix.
 */
#ifndef MP_INTERNAL_H
#define MP_INTERNAL_H

#include "micropool.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP_HIDDEN __attribute__((visibility("hidden")))
#define MP_LIKELY(x) __builtin_expect(!!(x), 1)
#define MP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MP_CACHELINE 64

typedef struct mp_ctx mp_ctx;

/* The monotonic clock, in nanoseconds (park.c). */
MP_HIDDEN uint64_t mp__now_ns(void);

static inline void mp__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Size arithmetic that says when it does not fit in a size_t, for every
 * size the library computes from a caller's numbers. */
static inline bool mp__size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

static inline bool mp__size_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* x rounded up to a multiple of `to` (a power of two). */
static inline bool mp__size_round_up(size_t x, size_t to, size_t *out)
{
    if (!mp__size_add(x, to - 1, out))
        return false;
    *out &= ~(to - 1);
    return true;
}

/* Keeps the first nonzero result of a call made of several parts (a
 * loop, a broadcast, a scope): a CAS from 0, relaxed, because the caller
 * reads it after the call's completion count ordered every part. */
static inline void mp__first_error(_Atomic int *err, int r)
{
    int zero = 0;
    if (r)
        atomic_compare_exchange_strong_explicit(err, &zero, r, memory_order_relaxed,
                                                memory_order_relaxed);
}

/* Per-thread statistics, written only by the thread that owns the
 * context (relaxed load + store: no read-modify-write on the hot path). */
typedef struct mp_counters {
    _Atomic uint64_t jobs, steals, sleeps;
} mp_counters;

static inline void mp__count(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* A spin lock for short critical sections (the task queue's growth and
 * its side list), where a mutex's sleeping and waking would cost more
 * than the section. A waiter yields its CPU after a short spin, in case
 * the holder was preempted (park.c). */
typedef struct mp_spinlock {
    _Atomic uint32_t locked;
} mp_spinlock;

MP_HIDDEN void mp__spinlock_wait(mp_spinlock *l);

static inline void mp__spin_lock(mp_spinlock *l)
{
    if (MP_UNLIKELY(atomic_exchange_explicit(&l->locked, 1, memory_order_acquire)))
        mp__spinlock_wait(l);
}

static inline void mp__spin_unlock(mp_spinlock *l)
{
    atomic_store_explicit(&l->locked, 0, memory_order_release);
}

#endif
