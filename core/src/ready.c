/* ready.c: the ready lists: for each thread of a pool the tasks bound to
 * it, and one list for the tasks any thread may run that the ring does
 * not hold; each with a first-in first-out list per priority level under
 * a spin lock. Thread 0's list keeps an eventfd readable while it holds
 * tasks. See docs/design.md, "The ready lists". */
#include "pool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int mp__ready_init(mp_pool *pool)
{
    size_t n = (size_t)pool->nthreads + 1;
    pool->ready.lists = aligned_alloc(MP_CACHELINE, n * sizeof(mp_ready));
    if (!pool->ready.lists)
        return MP_ENOMEM;
    memset(pool->ready.lists, 0, n * sizeof(mp_ready));
    for (size_t i = 0; i < n; i++)
        pool->ready.lists[i].fd = -1;
    return MP_OK;
}

void mp__ready_free(mp_pool *pool)
{
    mp_ready *lists = pool->ready.lists;
    if (!lists)
        return;
    for (unsigned i = 0; i <= pool->nthreads; i++) {
        for (int lv = 0; lv < MP_LEVELS; lv++)
            for (mp_task_ex *t = lists[i].head[lv], *next; t; t = next) {
                next = t->next;
                mp__task_unref(&t->base);
            }
        if (lists[i].fd >= 0)
            close(lists[i].fd);
    }
    free(lists);
}

static uint32_t total(mp_ready *r)
{
    uint32_t n = 0;
    for (int lv = 0; lv < MP_LEVELS; lv++)
        n += atomic_load_explicit(&r->n[lv], memory_order_relaxed);
    return n;
}

uint32_t mp__ready_count(mp_ready *r)
{
    return total(r);
}

/* Thread 0's eventfd follows whether its list holds tasks; under the
 * lock, so that its readability and the list agree. */
static void signal_fd(mp_ready *r, bool queued)
{
    if (r->fd < 0)
        return;
    if (queued) {
        eventfd_write(r->fd, 1);
    } else {
        eventfd_t v;
        eventfd_read(r->fd, &v);    /* nonblocking: resets the count */
    }
}

void mp__ready_push(mp_pool *pool, mp_task_ex *t)
{
    unsigned who = t->thread == MP_ANY_THREAD ? pool->nthreads : t->thread;
    mp_ready *r = &pool->ready.lists[who];
    int lv = t->level;
    t->next = NULL;
    mp__spin_lock(&r->lock);
    bool was_empty = who == 0 && total(r) == 0;
    if (r->tail[lv])
        r->tail[lv]->next = t;
    else
        r->head[lv] = t;
    r->tail[lv] = t;
    /* The publication a sleeper's last check reads (then the wake). */
    atomic_fetch_add_explicit(&r->n[lv], 1, memory_order_seq_cst);
    if (was_empty)
        signal_fd(r, true);
    mp__spin_unlock(&r->lock);

    if (who == pool->nthreads)
        mp__wake_idle(pool, 1);
    else if (who > 0)
        mp__wake_worker(pool, &pool->ctxs[who - 1]);
    /* Thread 0's tasks: threads outside the pool are not idle workers;
     * the eventfd and mp_pool_run_pinned serve them, and destroy's wait
     * is woken when the task that made this one ready settles. Threads
     * waiting on unfinished prerequisites may take from the shared list
     * and their own: every worker's waits and every outside thread's. */
    mp__task_wake_helpers(pool);
}

mp_task_ex *mp__ready_take(mp_ready *r, int lv)
{
    mp__spin_lock(&r->lock);
    mp_task_ex *t = r->head[lv];
    if (t) {
        r->head[lv] = t->next;
        if (!t->next)
            r->tail[lv] = NULL;
        atomic_store_explicit(&r->n[lv], atomic_load_explicit(&r->n[lv], memory_order_relaxed) - 1,
                              memory_order_relaxed);
        if (r->fd >= 0 && total(r) == 0)
            signal_fd(r, false);
    }
    mp__spin_unlock(&r->lock);
    return t;
}

bool mp__ready_visible(mp_pool *pool, unsigned index)
{
    mp_ready *own = &pool->ready.lists[index];
    mp_ready *any = &pool->ready.lists[pool->nthreads];
    for (int lv = 0; lv < MP_LEVELS; lv++)
        if (atomic_load_explicit(&own->n[lv], memory_order_seq_cst) != 0 ||
            atomic_load_explicit(&any->n[lv], memory_order_seq_cst) != 0)
            return true;
    return false;
}

int mp__ready_fd(mp_pool *pool)
{
    mp_ready *r = &pool->ready.lists[0];
    mp__spin_lock(&r->lock);
    if (r->fd < 0) {
        r->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (r->fd >= 0 && total(r) != 0)
            signal_fd(r, true);
    }
    int fd = r->fd;
    mp__spin_unlock(&r->lock);
    return fd >= 0 ? fd : MP_ENOMEM;
}
