/* warm.c: the estimates behind three choices: whether a cold call wakes
 * a sleeping worker (its share against a wake-up's cost), whether a warm
 * call splits (its split measured against its time alone), and when an
 * idle worker wakes by itself to keep watch for periodic calls. Hints
 * only, relaxed. See docs/design.md, "Bursts and periods". */
#include "pool.h"

/* The estimates of loops, by key. */
#define KEY_BITS 6

/* Calls timed (one in SAMPLE_EVERY), and warm calls split although
 * alone was faster (one in PROBE_EVERY). */
#define SAMPLE_EVERY 16u
#define PROBE_EVERY 64u

/* A warm loop this long alone always splits: a split costs its caller a
 * few microseconds at most (the posting, MP_LEAVE_NS of waiting), so a
 * split measured slower was a worker preempted with a part in hand, which
 * is no reason to give up the other threads. */
#define SPLIT_ALWAYS_NS 20000u

/* Woken workers count as running beside their waker while at least this
 * many of 256 recent ones ran on its CPU. A loop this long alone wakes
 * them anyway: a wake-up for nothing costs it little, and the kernel may
 * move a worker to a CPU that came free while it runs. */
#define BESIDE_MOST 128u
#define WAKE_ALWAYS_NS 250000u

/* Back-to-back wake-ups that were missed are let go 2^level - 1 times,
 * level up to this. */
#define BURST_LEVEL_MAX 6u

/* A share shorter than this gains nothing from a hand-off. */
#define MIN_SHARE_NS 1500u

/* A first guess of a wake-up's cost before one was measured. */
#define WAKE_NS_INITIAL 20000u

/* A worker on watch wakes this much before the call is due, on top of
 * how late its timer fires, and spins until this much after it (or a
 * quarter of the jitter more). */
#define WATCH_LEAD_NS 20000u
#define WATCH_SLACK_NS 30000u
/* A timer that fires later than this was held up by a busy CPU: it counts
 * as this much. A watch longer than a quarter of the period is not kept. */
#define TIMER_LATE_MAX_NS 200000u

/* Periods a worker keeps watch for: from a little above the spin window
 * (shorter gaps are covered by the spin) to 100 ms. */
#define PERIOD_MAX_NS 100000000u

/* Intervals count as regular while their mean deviation stays under an
 * eighth of the period. */
#define REGULAR_SHIFT 3

static inline uint64_t ld(const _Atomic uint64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static inline void st(_Atomic uint64_t *a, uint64_t v)
{
    atomic_store_explicit(a, v, memory_order_relaxed);
}

/* avg += (x - avg) / 2^shift */
static inline uint64_t ewma(uint64_t avg, uint64_t x, unsigned shift)
{
    return avg == 0 ? x : avg - (avg >> shift) + (x >> shift);
}

void mp__warm_init(mp_warm *w)
{
    for (unsigned k = 0; k < MP_WAKE_BUCKETS; k++)
        st(&w->wake_ns[k], WAKE_NS_INITIAL);
}

uint64_t mp__warm_key(const void *fn, size_t n)
{
    unsigned size_class = n ? 64u - (unsigned)__builtin_clzll((unsigned long long)n) : 0;
    return ((uint64_t)(uintptr_t)fn ^ ((uint64_t)size_class << 56)) | 1u;
}

/* The bucket of wake_ns for a worker asleep this long. */
static unsigned bucket(uint64_t slept_ns)
{
    unsigned k = 0;
    for (uint64_t up = 32000; slept_ns >= up && k + 1 < MP_WAKE_BUCKETS; up <<= 1)
        k++;
    return k;
}

static mp_warm_est *slot(mp_warm *w, uint64_t key)
{
    return &w->est[(key * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - KEY_BITS)];
}

/* Counts a call of the loop in e; true when this one is to be timed. */
static bool sampled(mp_warm_est *e)
{
    uint64_t calls = ld(&e->calls) + 1;
    st(&e->calls, calls);
    return calls % SAMPLE_EVERY == 0;
}

mp_warm_cold mp__warm_cold(mp_pool *pool, uint64_t key, uint64_t now)
{
    mp_warm *w = &pool->warm;
    mp_warm_est *e = slot(w, key);
    mp_warm_cold c = { false, false, false };
    if (ld(&e->key) != key || ld(&e->alone_ns) == 0) {
        c.wake = true;                  /* unknown: as if long (and measured) */
        return c;
    }
    c.measure = sampled(e);
    /* A wake-up costs what it costs after the sleep it ends; but waking
     * for calls that come every `every` makes each sleep that long: a
     * first wake-up after a long sleep is dearer, the next ones are not. */
    uint64_t share = ld(&e->alone_ns) / pool->nthreads;
    uint64_t since = now - ld(&w->asleep_at), last = ld(&w->last_call);
    uint64_t every = last && now > last ? now - last : since;
    uint64_t wake = ld(&w->wake_ns[bucket(every < since ? every : since)]);
    /* While woken workers mostly run on their waker's CPU (the kernel puts
     * them there when the other CPUs are busy), the two halves of a call
     * run one after the other and waking only adds its cost: a loop under
     * WAKE_ALWAYS_NS runs alone, and one call in PROBE_EVERY wakes to see
     * whether that still holds. */
    bool beside = ld(&w->beside) >= BESIDE_MOST && ld(&e->alone_ns) < WAKE_ALWAYS_NS &&
                  ld(&e->calls) % PROBE_EVERY != 0;
    if (share > wake && !beside) {
        c.wake = true;                  /* the share outlasts the worker's way in */
        return c;
    }
    if (share < MIN_SHARE_NS || beside)
        return c;
    /* Calls come back to back, so that a worker woken now will be polling
     * for the next ones: the last call began less than a wake-up's time
     * ago, or the last one run alone ended less than half a spin window
     * ago (a call longer than a wake-up would never look back to back by
     * its start, and its worker would sleep through the whole burst). */
    c.stamp_end = true;
    uint64_t end = ld(&w->last_end);
    if (!((last && now - last < wake) || (end && now >= end && now - end < pool->spin_ns / 2)))
        return c;
    /* But a wake-up that found the next call cold again (no whole call
     * fits between the two) kept nobody awake: the kernel put the worker
     * on the caller's CPU, or it slept before the call was over. Then
     * such wake-ups back off: 2^level - 1 chances are let go after each
     * miss, up to BURST_LEVEL_MAX, and a wake-up that was not missed lowers
     * the level again. */
    uint64_t at = ld(&w->burst_at), level = ld(&w->burst_level);
    if (at && now - at < ld(&e->alone_ns) + pool->spin_ns / 2) {
        if (level < BURST_LEVEL_MAX)
            level++;
        st(&w->burst_level, level);
        st(&w->burst_skip, (UINT64_C(1) << level) - 1);
        st(&w->burst_at, 0);
        return c;
    }
    uint64_t skip = ld(&w->burst_skip);
    if (skip) {
        st(&w->burst_skip, skip - 1);
        return c;
    }
    if (at && level)
        st(&w->burst_level, level - 1);
    st(&w->burst_at, now);
    c.wake = true;
    return c;
}

void mp__warm_ended(mp_pool *pool, uint64_t now)
{
    st(&pool->warm.last_end, now);
}

/* The slot of key, taken over from whatever loop it held before. */
static mp_warm_est *claim(mp_warm *w, uint64_t key)
{
    mp_warm_est *e = slot(w, key);
    if (ld(&e->key) != key) {
        st(&e->key, key);
        st(&e->alone_ns, 0);
        st(&e->split_ns, 0);
        st(&e->calls, 0);
    }
    return e;
}

bool mp__warm_split_pays(mp_pool *pool, uint64_t key, bool *measure)
{
    mp_warm_est *e = slot(&pool->warm, key);
    if (ld(&e->key) != key) {
        *measure = true;                /* unknown: split, and measure both */
        return true;
    }
    uint64_t alone = ld(&e->alone_ns), split = ld(&e->split_ns);
    *measure = sampled(e);
    if (alone == 0 || split == 0) {
        *measure = true;
        return true;
    }
    if (split < alone || alone >= SPLIT_ALWAYS_NS)
        return true;
    if (ld(&e->calls) % PROBE_EVERY == 0) {
        *measure = true;                /* a probe: is splitting still slower? */
        return true;
    }
    return false;
}

void mp__warm_record(mp_pool *pool, uint64_t key, uint64_t alone_ns)
{
    mp_warm_est *e = claim(&pool->warm, key);
    st(&e->alone_ns, ewma(ld(&e->alone_ns), alone_ns ? alone_ns : 1, 1));
}

void mp__warm_record_split(mp_pool *pool, uint64_t key, uint64_t split_ns)
{
    mp_warm_est *e = claim(&pool->warm, key);
    uint64_t avg = ld(&e->split_ns);
    /* One split held up (a worker preempted with its part) counts as
     * twice the usual, as in mp__warm_woke. */
    if (avg && split_ns > 2 * avg)
        split_ns = 2 * avg;
    st(&e->split_ns, ewma(avg, split_ns ? split_ns : 1, 2));
}

void mp__warm_beside(mp_pool *pool, bool same)
{
    /* of 256, a sixteenth of the way to the new sample: a handful of
     * wake-ups beside the waker (a pool's first ones often are, before
     * the scheduler spreads its threads) is not yet a busy machine */
    mp_warm *w = &pool->warm;
    uint64_t b = ld(&w->beside);
    st(&w->beside, b - (b >> 4) + (same ? 16u : 0u));
}

/* A wake-up that took longer than this says the machine is overloaded,
 * not what the next one costs: it counts as this much. */
#define WAKE_NS_MAX 1000000u

void mp__warm_asleep(mp_pool *pool, uint64_t now)
{
    st(&pool->warm.asleep_at, now);
}

void mp__warm_woke(mp_pool *pool, uint64_t slept_ns, uint64_t latency_ns)
{
    mp_warm *w = &pool->warm;
    unsigned k = bucket(slept_ns);
    uint64_t avg = ld(&w->wake_ns[k]);
    if (latency_ns > WAKE_NS_MAX)
        latency_ns = WAKE_NS_MAX;
    /* One wake-up held up (the wakee's CPU busy for a while) counts as
     * twice the usual: what matters is what most wake-ups cost, and a
     * mean follows its outliers. A lasting change still moves it, by up
     * to a quarter each time. */
    if (latency_ns > 2 * avg)
        latency_ns = 2 * avg;
    st(&w->wake_ns[k], ewma(avg, latency_ns, 2));
}

static bool regular(const mp_warm *w)
{
    uint64_t period = ld(&w->period);
    return period != 0 && ld(&w->jitter) <= period >> REGULAR_SHIFT;
}

static uint64_t watch_lead(const mp_warm *w)
{
    return WATCH_LEAD_NS + ld(&w->timer_late_ns);
}

static uint64_t watch_slack(const mp_warm *w)
{
    return WATCH_SLACK_NS + (ld(&w->jitter) >> 2);
}

/* Regular calls far enough apart that a watch costs a small part of the
 * period (shorter gaps the spin window covers, or nothing does). */
static bool watchable(const mp_pool *pool, const mp_warm *w)
{
    return pool->spin_ns != 0 && regular(w) &&
           watch_lead(w) + watch_slack(w) <= ld(&w->period) / 4;
}

void mp__warm_stamp(mp_pool *pool, uint64_t now)
{
    mp_warm *w = &pool->warm;
    uint64_t last = ld(&w->last_call);
    st(&w->last_call, now);
    if (last == 0 || now <= last)
        return;
    uint64_t gap = now - last;
    uint64_t period = ld(&w->period);
    if (gap <= pool->spin_ns || gap > PERIOD_MAX_NS) {
        /* back to back (the spin covers it) or too far apart to watch */
        st(&w->period, 0);
        return;
    }
    uint64_t dev = period > gap ? period - gap : gap - period;
    if (period == 0 || dev > period / 2) {
        st(&w->period, gap);            /* a new rhythm: start over */
        st(&w->jitter, gap >> REGULAR_SHIFT);
    } else {
        st(&w->period, ewma(period, gap, 2));
        st(&w->jitter, ewma(ld(&w->jitter), dev, 2));
    }
}

uint64_t mp__warm_watch_from(mp_pool *pool, uint64_t now, uint64_t *until)
{
    mp_warm *w = &pool->warm;
    uint64_t period = ld(&w->period), last = ld(&w->last_call);
    if (last == 0 || !watchable(pool, w))
        return 0;
    uint64_t slack = watch_slack(w);
    uint64_t due = last + period;
    if (now >= due + slack)
        due += period;                  /* one call missed: watch for the next */
    if (now >= due + slack) {
        st(&w->period, 0);              /* two missed: the rhythm is gone */
        return 0;
    }
    uint64_t lead = watch_lead(w);
    uint64_t from = due > lead ? due - lead : 0;
    *until = due + slack;
    return from > now ? from : now;
}

void mp__warm_timer_late(mp_pool *pool, uint64_t late_ns)
{
    mp_warm *w = &pool->warm;
    if (late_ns > TIMER_LATE_MAX_NS)
        late_ns = TIMER_LATE_MAX_NS;    /* a CPU taken away, not the timer */
    st(&w->timer_late_ns, ewma(ld(&w->timer_late_ns), late_ns, 2));
}
