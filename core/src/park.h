/* park.h: the kernel's sleep and wake-up, and spinning (park.c). It
 * knows thread records and nothing of what a thread waits for: the
 * announcement a sleeper makes and the check it does before it sleeps
 * belong to its caller (wait.c for a wait inside a call, idle.c for an
 * idle worker). See docs/design.md, "Idling". */
#ifndef MP_PARK_H
#define MP_PARK_H

#include "thread.h"

struct timespec;

/* Sleeps while *addr == val, at most *timeout (NULL: no limit). */
MP_HIDDEN void mp__futex_wait(_Atomic uint32_t *addr, uint32_t val,
                              const struct timespec *timeout);
/* Sleeps while *addr == val, until the monotonic clock reads deadline_ns;
 * false when it returned because the deadline passed. */
MP_HIDDEN bool mp__futex_wait_until(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline_ns);
MP_HIDDEN void mp__futex_wake(_Atomic uint32_t *addr, int n);

/* Wakes every thread sleeping on record t, and makes a sleep that has
 * read t->park but not yet reached the kernel return at once: a bump of
 * the word, then futex_wake. The caller has published what the sleeper
 * checks for with a seq_cst operation and read its announcement. */
MP_HIDDEN void mp__park_wake(mp_thread *t);

/* The spin window of one wait: mp__spin_on is true while it lasts. It
 * reads the clock once every mask + 1 rounds (64 unless mp__spin_init
 * says otherwise: a round that scans many deques is long, and the window
 * is time, not rounds); with spin_ns == 0 it is never true. */
typedef struct mp_spin {
    uint64_t deadline;
    unsigned rounds;
    unsigned mask;                      /* 2^k - 1 */
} mp_spin;

static inline void mp__spin_init(mp_spin *s, unsigned mask)
{
    s->deadline = 0;
    s->rounds = 0;
    s->mask = mask;
}

/* Starts the window again (the mask stays). */
static inline void mp__spin_reset(mp_spin *s)
{
    s->deadline = 0;
    s->rounds = 0;
}

static inline bool mp__spin_on(mp_spin *s, uint64_t spin_ns)
{
    if (spin_ns == 0)
        return false;
    if ((++s->rounds & s->mask) != 0) {
        mp__cpu_relax();
        return true;
    }
    uint64_t t = mp__now_ns();
    if (s->deadline == 0)
        s->deadline = t + spin_ns;
    return t < s->deadline;
}

#endif
