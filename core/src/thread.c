/* thread.c: each OS thread's parking record (thread.h), taken on the
 * thread's first wait-capable call and handed back to a free list when
 * the thread exits (a pthread key destructor); never freed. */
#include "thread.h"

#include <stdlib.h>

static pthread_mutex_t free_mu = PTHREAD_MUTEX_INITIALIZER;
static mp_thread *free_list;
static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static _Thread_local mp_thread *self;
/* When no memory can be had: one record that such threads share. Wakers
 * wake every sleeper of a record, so sharing costs spurious wake-ups only. */
static mp_thread shared_fallback;

static void give_back(void *p)
{
    mp_thread *t = p;
    if (t == &shared_fallback)
        return;
    pthread_mutex_lock(&free_mu);
    t->next_free = free_list;
    free_list = t;
    pthread_mutex_unlock(&free_mu);
}

static void make_key(void)
{
    if (pthread_key_create(&exit_key, give_back) != 0)
        exit_key = (pthread_key_t)-1;
}

mp_thread *mp__thread_alloc(void)
{
    pthread_once(&key_once, make_key);
    pthread_mutex_lock(&free_mu);
    mp_thread *t = free_list;
    if (t)
        free_list = t->next_free;
    pthread_mutex_unlock(&free_mu);
    if (!t) {
        t = aligned_alloc(MP_CACHELINE, sizeof *t);
        if (!t)
            return NULL;
        atomic_init(&t->park, 0);
        atomic_init(&t->waiting, 0);
        atomic_init(&t->woken_at, 0);
    }
    t->next_free = NULL;
    return t;
}

void mp__thread_release(mp_thread *t)
{
    give_back(t);
}

void mp__thread_adopt(mp_thread *t)
{
    /* Without the key the record cannot be handed back at exit: it stays
     * this thread's only (it is never freed anyway). */
    if (exit_key != (pthread_key_t)-1)
        (void)pthread_setspecific(exit_key, t);
    self = t;
}

mp_thread *mp__thread_self(void)
{
    if (MP_LIKELY(self != NULL))
        return self;
    mp_thread *t = mp__thread_alloc();
    if (!t || exit_key == (pthread_key_t)-1 || pthread_setspecific(exit_key, t) != 0) {
        if (t)
            give_back(t);
        t = &shared_fallback;
    }
    self = t;
    return t;
}
