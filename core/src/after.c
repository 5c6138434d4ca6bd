/* after.c: prerequisites. Each dependent holds one edge per
 * prerequisite, linked into that prerequisite's list of dependents; when
 * the prerequisite settles, its settler takes the list and counts it
 * finished in each dependent; the count that reaches 0 makes the
 * dependent ready. See docs/design.md, "Prerequisites". */
#include "pool.h"

/* Does p's outcome cancel a dependent with MP_AFTER_CANCEL_ON_ERROR? */
static bool failed(const mp_task *p, uint32_t state)
{
    return state == T_CANCELLED || p->result != 0;
}

bool mp__after_link(mp_task_ex *t, mp_task *p, mp_task_edge *e)
{
    e->task = t;
    uint32_t s = atomic_load_explicit(&p->state, memory_order_acquire);
    if (s < T_DONE) {
        mp__spin_lock(&p->wlock);
        bool open = p->dependents != MP_EDGES_CLOSED;
        if (open) {
            e->next = p->dependents;
            p->dependents = e;
        }
        mp__spin_unlock(&p->wlock);
        if (open) {
            /* Settle stores the state and then loads `linked`; this
             * stores `linked` and then loads the state (all seq_cst): one
             * of the two sees the other. If settle missed the hint, it
             * never takes the list, and this thread sees the state. */
            atomic_store_explicit(&p->linked, 1, memory_order_seq_cst);
            if (atomic_load_explicit(&p->state, memory_order_seq_cst) < T_DONE)
                return true;
            /* Settled meanwhile: the list was either taken (then the
             * settler counts this edge) or never will be (then the edge
             * comes out again, here). Decided under the lock. */
            mp__spin_lock(&p->wlock);
            open = p->dependents != MP_EDGES_CLOSED;
            if (open)
                for (mp_task_edge **q = &p->dependents; *q; q = &(*q)->next)
                    if (*q == e) {
                        *q = e->next;
                        break;
                    }
            mp__spin_unlock(&p->wlock);
            if (!open)
                return true;
        }
        s = atomic_load_explicit(&p->state, memory_order_acquire);
    }
    if (t->cancel_on_error && failed(p, s))
        atomic_store_explicit(&t->poisoned, 1, memory_order_relaxed);
    return false;
}

uint64_t mp__after_release(mp_pool *pool, mp_task *t, mp_task_edge *deps)
{
    /* Tasks whose dependents are still to be counted, on a stack through
     * their `next` links (their `dependents` list was taken by settle and
     * is kept in `todo` alongside): a chain of cancellations of any length
     * takes no stack depth. */
    uint64_t cancelled = 0;
    mp_task_ex *todo = NULL;
    bool bad = failed(t, atomic_load_explicit(&t->state, memory_order_relaxed));
    for (;;) {
        for (mp_task_edge *e = deps, *next; e; e = next) {
            next = e->next;         /* e lives in its dependent: read first */
            mp_task_ex *d = e->task;
            if (bad && d->cancel_on_error)
                atomic_store_explicit(&d->poisoned, 1, memory_order_relaxed);
            /* acq_rel: the last count sees every poisoned store before it. */
            if (atomic_fetch_sub_explicit(&d->unfinished, 1, memory_order_acq_rel) != 1)
                continue;
            /* The last prerequisite: d holds the queue's reference. */
            uint32_t s = T_WAITING;
            bool poison = atomic_load_explicit(&d->poisoned, memory_order_relaxed);
            if (!atomic_compare_exchange_strong_explicit(&d->base.state, &s,
                                                         poison ? T_CANCELLED : T_PENDING,
                                                         memory_order_seq_cst,
                                                         memory_order_relaxed)) {
                mp__task_unref(&d->base);   /* cancelled while it waited */
            } else if (!poison) {
                mp__task_wake_waiters(&d->base);
                mp__ready_push(pool, d);
            } else {
                /* Its own dependents come next; the record stays alive
                 * through the queue's reference until then. */
                mp_task_edge *more = mp__task_settle(&d->base, T_CANCELLED);
                cancelled++;
                d->edges[0].next = more;    /* its edges are all counted: reuse one */
                d->next = todo;
                todo = d;
            }
        }
        if (!todo)
            return cancelled;
        mp_task_ex *d = todo;
        todo = d->next;
        deps = d->edges[0].next;
        bad = true;
        mp__task_unref(&d->base);
        /* deps are edges in other records, which d's unref does not free. */
    }
}
