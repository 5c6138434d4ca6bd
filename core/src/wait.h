/* wait.h: the one wait of a thread inside a call (wait.c): help, spin
 * for the spin window, then park until woken. Every wait uses it: a
 * stolen join, a loop's or a broadcast's parts, a scope, destroy's
 * drain, a task handle. See docs/design.md, "Idling". */
#ifndef MP_WAIT_H
#define MP_WAIT_H

#include "park.h"
#include "trace.h"

/* What a waiting thread owes others while it waits, whatever it waits
 * for (broadcast parts addressed to it: broadcast.h). The wait knows
 * nothing of them; its caller passes them in. */
typedef struct mp_duties {
    bool (*run)(void);              /* runs them; true if it ran any */
    bool (*pending)(void);          /* any left (seq_cst loads: the last check) */
} mp_duties;

/* What a thread waits for. */
typedef struct mp_waiter {
    /* The wait is over once *word == 0; or, when word is NULL, once
     * done(arg) (seq_cst loads). */
    _Atomic uint32_t *word;
    /* Work for `help` arrived once *more != 0, or more_fn(arg) (seq_cst
     * loads); NULL: never. Part of the last check before sleeping, so
     * that whoever publishes such work and then wakes this thread
     * (mp__wake_ctx) does wake it. */
    _Atomic uint32_t *more;
    bool (*done)(void *arg);
    bool (*more_fn)(void *arg);
    /* Runs one piece of the work this wait may help with (NULL: none);
     * true if it ran any. */
    bool (*help)(mp_ctx *ctx, void *arg);
    void *arg;
    const mp_duties *duties;        /* NULL: none */
    /* The monotonic clock (mp__now_ns) at which the wait gives up; 0: it
     * does not. */
    uint64_t deadline;
} mp_waiter;

/* Where a wait's sleeps are told: a counter (NULL: none), and the
 * tracing hooks of the pool the thread is in a call of, with its index
 * (tracer NULL: none; only for a thread whose pool outlives its wait). */
typedef struct mp_sleep_note {
    _Atomic uint64_t *sleeps;
    const mp_tracer *tracer;
    unsigned index;
} mp_sleep_note;

/* Waits on thread record t until w is over: helps (on ctx, which the
 * wait only passes to `help`), does its duties, spins for spin_ns, then
 * announces itself in t->waiting, checks once more and parks on t. Whoever
 * ends the wait, or publishes work for `help` or a duty, wakes t after its
 * seq_cst store (mp__wake_ctx, mp__wake_waiter). Each sleep is told to
 * *note (NULL: nowhere). Returns true when the wait is over, false when
 * the deadline passed first. */
MP_HIDDEN bool mp__wait_on(mp_thread *t, uint64_t spin_ns, const mp_sleep_note *note, mp_ctx *ctx,
                           const mp_waiter *w);

#endif
