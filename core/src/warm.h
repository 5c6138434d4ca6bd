/* warm.h: when a call wakes a sleeping worker, when a warm call splits,
 * and when an idle worker wakes by itself to keep watch (warm.c). See
 * docs/design.md, "Bursts and periods". */
#ifndef MP_WARM_H
#define MP_WARM_H

#include "internal.h"

#define MP_WAKE_BUCKETS 12

/* What the calls of one loop cost. Hints only (relaxed). */
typedef struct mp_warm_est {
    _Atomic uint64_t key;           /* mp__warm_key of a loop, 0: empty */
    _Atomic uint64_t alone_ns;      /* the loop done alone, estimated */
    _Atomic uint64_t split_ns;      /* the loop split while workers poll */
    _Atomic uint64_t calls;         /* its calls, for samples and probes */
} mp_warm_est;

/* The pool's part: what a call knows of wake-ups, and what a worker
 * knows of the calls' rhythm. Hints only (relaxed). */
typedef struct mp_warm {
    /* From a wake to the worker running, by how long it had slept: bucket
     * k for up to 32 us << k (a CPU asleep longer may be further away:
     * a VM's vCPU stays polled for a while after it halts, then leaves) */
    alignas(MP_CACHELINE) _Atomic uint64_t wake_ns[MP_WAKE_BUCKETS];
    _Atomic uint64_t asleep_at;     /* when the latest worker went to sleep */
    _Atomic uint64_t timer_late_ns; /* how late a worker's timer fires */
    _Atomic uint64_t last_call;     /* when the latest stamped call came */
    _Atomic uint64_t last_end;      /* when the latest cold call run alone ended */
    _Atomic uint64_t burst_at;      /* the latest back-to-back wake-up, 0: none pending */
    _Atomic uint64_t burst_level;   /* how far such wake-ups back off */
    _Atomic uint64_t burst_skip;    /* chances to let go before the next */
    _Atomic uint64_t beside;        /* how often a woken worker ran on its waker's CPU, of 256 */
    _Atomic uint64_t period;        /* the calls' interval, 0: none */
    _Atomic uint64_t jitter;        /* mean deviation from it */
    mp_warm_est est[64];
} mp_warm;

MP_HIDDEN void mp__warm_init(mp_warm *w);
/* The key of a loop: its function and the size class of n. */
MP_HIDDEN uint64_t mp__warm_key(const void *fn, size_t n);
/* What a cold call does, and what it tells warm.c afterwards. */
typedef struct mp_warm_cold {
    bool wake;      /* wake the sleepers and split; else run alone */
    bool measure;   /* alone: time it (mp__warm_record) */
    bool stamp_end; /* alone: tell mp__warm_ended when it ends */
} mp_warm_cold;

/* A cold call (a worker it needs is not polling): is waking worth it? */
MP_HIDDEN mp_warm_cold mp__warm_cold(mp_pool *pool, uint64_t key, uint64_t now);
/* A cold call run alone ended at `now`. */
MP_HIDDEN void mp__warm_ended(mp_pool *pool, uint64_t now);
/* A warm call (every worker it needs polls): split it, or run it alone
 * because splitting it was measured slower? *measure: time this call. */
MP_HIDDEN bool mp__warm_split_pays(mp_pool *pool, uint64_t key, bool *measure);
/* How long the loop `key` takes alone, as the caller estimated it from
 * its own parts of a split. */
MP_HIDDEN void mp__warm_record(mp_pool *pool, uint64_t key, uint64_t alone_ns);
/* A cold call that woke a worker saw it run a part on the caller's own
 * CPU (same) or on another. */
MP_HIDDEN void mp__warm_beside(mp_pool *pool, bool same);
/* How long the loop `key` took split, in a warm call, from its caller's
 * start to its end. */
MP_HIDDEN void mp__warm_record_split(mp_pool *pool, uint64_t key, uint64_t split_ns);
/* A worker goes to sleep at `now`. */
MP_HIDDEN void mp__warm_asleep(mp_pool *pool, uint64_t now);
/* A worker that had slept slept_ns when a wake-up was sent ran latency_ns
 * after it. */
MP_HIDDEN void mp__warm_woke(mp_pool *pool, uint64_t slept_ns, uint64_t latency_ns);
/* A call arrived at `now` (a cold call's caller, or a worker on watch). */
MP_HIDDEN void mp__warm_stamp(mp_pool *pool, uint64_t now);
/* For a worker about to sleep at `now`: when to wake up to keep watch
 * until *until for the next call, or 0 (no rhythm: sleep until woken). */
MP_HIDDEN uint64_t mp__warm_watch_from(mp_pool *pool, uint64_t now, uint64_t *until);
/* A worker's timer fired late_ns after its deadline. */
MP_HIDDEN void mp__warm_timer_late(mp_pool *pool, uint64_t late_ns);

#endif
