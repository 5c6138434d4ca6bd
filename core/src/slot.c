/* slot.c: which context the current thread uses in a pool (its own, a
 * borrowed external slot, or an overflow slot), and the thread-local
 * chain of pools whose work it runs. See docs/design.md, "Threads and
 * contexts". */
#include "pool.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* Read by every mp_join: the initial-exec model makes that one load from
 * the thread pointer. It costs 8 bytes of static TLS, which glibc reserves
 * room for in libraries loaded with dlopen (the bindings load it so). */
__attribute__((tls_model("initial-exec"))) _Thread_local mp_link *mp__tls_top;
/* mp__tls_top->ctx (NULL without a link), kept beside it so that mp_join
 * reaches its deque with one load less. */
__attribute__((tls_model("initial-exec"))) _Thread_local mp_ctx *mp__tls_ctx;

mp_link *mp__link_find(const mp_pool *pool)
{
    for (mp_link *l = mp__tls_top; l; l = l->outer)
        if (l->pool == pool)
            return l;
    return NULL;
}

void mp__link_push(mp_link *link, mp_pool *pool, mp_ctx *ctx, int index)
{
    link->pool = pool;
    link->ctx = ctx;
    link->index = index;
    link->outer = mp__tls_top;
    mp__tls_top = link;
    mp__tls_ctx = ctx;
}

void mp__link_pop(mp_link *link)
{
    mp__tls_top = link->outer;
    mp__tls_ctx = link->outer ? link->outer->ctx : NULL;
}

static mp_ctx *claim_external(mp_pool *pool)
{
    mp_ctx *ext = pool->ctxs + pool->nworkers;
    for (unsigned i = 0; i < MP_EXTERNAL_SLOTS; i++) {
        mp_ctx *c = &ext[i];
        if (atomic_load_explicit(&c->slot.in_use, memory_order_relaxed) != 0 ||
            atomic_exchange_explicit(&c->slot.in_use, 1, memory_order_acquire) != 0)
            continue;
        atomic_store_explicit(&c->thread, mp__thread_self(), memory_order_release);
        /* Thieves scan external slots below ext_high only. It is raised
         * (seq_cst) before this slot can publish a job, so a sleeper that
         * sees the job's publication also scans the slot. */
        /* seq_cst even when it finds ext_high high enough: the slot's
         * later job publication must follow a seq_cst access of ext_high
         * that a sleeper's scan is ordered against. */
        unsigned high = atomic_load_explicit(&pool->slots.ext_high, memory_order_seq_cst);
        while (high < i + 1 &&
               !atomic_compare_exchange_weak_explicit(&pool->slots.ext_high, &high, i + 1,
                                                      memory_order_seq_cst,
                                                      memory_order_relaxed))
            ;
        return c;
    }
    return NULL;
}

/* All external slots are taken (e.g. more threads than slots wait inside
 * calls that need a pool's workers): take or make an overflow slot rather
 * than wait, which could deadlock. Its jobs stay private (push never shares
 * them), so it need not be scanned by thieves. */
static mp_ctx *claim_overflow(mp_pool *pool)
{
    mp_ctx *c = atomic_load_explicit(&pool->slots.overflow, memory_order_acquire);
    for (; c; c = c->slot.next) {
        if (atomic_load_explicit(&c->slot.in_use, memory_order_relaxed) == 0 &&
            atomic_exchange_explicit(&c->slot.in_use, 1, memory_order_acquire) == 0) {
            atomic_store_explicit(&c->thread, mp__thread_self(), memory_order_release);
            return c;
        }
    }
    c = aligned_alloc(MP_CACHELINE, sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, MP_CTX_HEAD);
    c->pool = pool;
    c->slot.overflow = true;
    c->dq.rng = 0x2545f491u;
    atomic_init(&c->slot.in_use, 1);
    atomic_init(&c->thread, mp__thread_self());
    mp_ctx *head = atomic_load_explicit(&pool->slots.overflow, memory_order_relaxed);
    do
        c->slot.next = head;
    while (!atomic_compare_exchange_weak_explicit(&pool->slots.overflow, &head, c,
                                                  memory_order_release, memory_order_relaxed));
    return c;
}

bool mp__enter(mp_pool *pool, mp_link *link, mp_ctx **ctx, bool need_ctx)
{
    mp_link *l = mp__link_find(pool);
    if (l && l->ctx) {
        *ctx = l->ctx;
        return false;
    }
    mp_ctx *c = claim_external(pool);
    if (!c)
        c = claim_overflow(pool);
    while (!c && need_ctx) {        /* out of memory: wait for a slot */
        sched_yield();
        c = claim_external(pool);
    }
    mp__link_push(link, pool, c, l ? l->index : 0);
    *ctx = c;
    return true;
}

void mp__leave(mp_link *link)
{
    mp_ctx *c = link->ctx;
    mp__link_pop(link);
    /* The slot's deque is empty again (every join in it has completed):
     * hand it over with release so the next owner sees bottom and split. */
    if (c)
        atomic_store_explicit(&c->slot.in_use, 0, memory_order_release);
}

void mp__slots_wait_returned(mp_pool *pool)
{
    /* A thread that ran a task inline (mp_task_wait) may still be leaving
     * its slot: its last touch of the pool is that release. */
    for (unsigned i = pool->nworkers; i < pool->nctxs; i++)
        while (atomic_load_explicit(&pool->ctxs[i].slot.in_use, memory_order_acquire))
            sched_yield();
    for (mp_ctx *c = atomic_load_explicit(&pool->slots.overflow, memory_order_acquire); c;
         c = c->slot.next)
        while (atomic_load_explicit(&c->slot.in_use, memory_order_acquire))
            sched_yield();
}

void mp__slots_free(mp_pool *pool)
{
    mp_ctx *c = atomic_load_explicit(&pool->slots.overflow, memory_order_relaxed);
    while (c) {
        mp_ctx *next = c->slot.next;
        free(c);
        c = next;
    }
}
