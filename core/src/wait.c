/* wait.c: the one wait inside a call. See docs/design.md, "Idling". */
#include "wait.h"

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
           (w->more_fn && w->more_fn(w->arg)) ||
           (w->duties && w->duties->pending());
}

/* Announces the wait in t->waiting, checks with seq_cst loads that it
 * is neither over nor has work, and sleeps on t->park with the value read
 * before announcing, until woken or the deadline. */
static void park(mp_thread *t, const mp_sleep_note *note, const mp_waiter *w)
{
    uint32_t p = atomic_load_explicit(&t->park, memory_order_acquire);
    /* A count, not a flag: threads that share the last-resort record may
     * wait at the same time. */
    atomic_fetch_add_explicit(&t->waiting, 1, memory_order_seq_cst);
    if (!over(w, true) && !more_work(w)) {
        const mp_tracer *tr = note ? note->tracer : NULL;
        if (note && note->sleeps)
            mp__count(note->sleeps);
        if (MP_UNLIKELY(tr && tr->begin))
            tr->begin(tr->arg, MP_TRACE_SLEEP, note->index, NULL);
        if (w->deadline)
            mp__futex_wait_until(&t->park, p, w->deadline);
        else
            mp__futex_wait(&t->park, p, NULL);
        if (MP_UNLIKELY(tr && tr->end))
            tr->end(tr->arg, MP_TRACE_SLEEP, note->index, NULL);
    }
    atomic_fetch_sub_explicit(&t->waiting, 1, memory_order_relaxed);
}

bool mp__wait_on(mp_thread *t, uint64_t spin_ns, const mp_sleep_note *note, mp_ctx *ctx,
                 const mp_waiter *w)
{
    mp_spin spin;
    mp__spin_init(&spin, 63);
    while (!over(w, false)) {
        if ((w->help && w->help(ctx, w->arg)) || (w->duties && w->duties->run())) {
            mp__spin_reset(&spin);
            continue;
        }
        /* A bounded wait reads the clock each round; the others never. */
        if (w->deadline && mp__now_ns() >= w->deadline)
            return over(w, true);
        if (mp__spin_on(&spin, spin_ns))
            continue;
        park(t, note, w);
        mp__spin_reset(&spin);
    }
    return true;
}
