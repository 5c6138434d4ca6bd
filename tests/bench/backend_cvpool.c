/*
 * backend_cvpool.c: the pool everybody writes first: one mutex, one queue,
 * a condition variable for "work is there" and one for "all done". Its
 * threads do all the work (the submitting thread only submits and waits),
 * so it gets as many workers as the other pools have threads.
 */
#define _GNU_SOURCE

#include "bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct cv_job {
    bench_job_fn fn;
    void *arg;
};

static pthread_mutex_t cv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t cv_idle = PTHREAD_COND_INITIALIZER;
static struct cv_job *cv_ring;  /* a growable ring buffer */
static size_t cv_cap, cv_head, cv_len, cv_pending;
static int cv_stopping;
static pthread_t *cv_threads;
static unsigned cv_nthreads;

static void *cv_worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&cv_lock);
    for (;;) {
        while (cv_len == 0 && !cv_stopping)
            pthread_cond_wait(&cv_work, &cv_lock);
        if (cv_len == 0)
            break;
        struct cv_job job = cv_ring[cv_head];
        cv_head = (cv_head + 1) % cv_cap;
        cv_len--;
        pthread_mutex_unlock(&cv_lock);
        job.fn(job.arg);
        pthread_mutex_lock(&cv_lock);
        if (--cv_pending == 0)
            pthread_cond_broadcast(&cv_idle);
    }
    pthread_mutex_unlock(&cv_lock);
    return NULL;
}

static int cv_grow(void)
{
    size_t cap = cv_cap ? cv_cap * 2 : 1024;
    struct cv_job *r = malloc(cap * sizeof *r);
    if (!r)
        return -1;
    for (size_t i = 0; i < cv_len; i++)
        r[i] = cv_ring[(cv_head + i) % cv_cap];
    free(cv_ring);
    cv_ring = r;
    cv_cap = cap;
    cv_head = 0;
    return 0;
}

static int cv_submit(bench_job_fn fn, void *arg)
{
    pthread_mutex_lock(&cv_lock);
    if (cv_len == cv_cap && cv_grow() != 0) {
        pthread_mutex_unlock(&cv_lock);
        return -1;
    }
    cv_ring[(cv_head + cv_len) % cv_cap] = (struct cv_job){ fn, arg };
    cv_len++;
    cv_pending++;
    pthread_mutex_unlock(&cv_lock);
    pthread_cond_signal(&cv_work);
    return 0;
}

static const char *cv_start(unsigned threads)
{
    cv_threads = calloc(threads, sizeof *cv_threads);
    if (!cv_threads)
        return "out of memory";
    for (cv_nthreads = 0; cv_nthreads < threads; cv_nthreads++)
        if (pthread_create(&cv_threads[cv_nthreads], NULL, cv_worker, NULL) != 0)
            return "pthread_create failed";
    return NULL;
}

static void cv_stop(void)
{
    pthread_mutex_lock(&cv_lock);
    cv_stopping = 1;
    pthread_mutex_unlock(&cv_lock);
    pthread_cond_broadcast(&cv_work);
    for (unsigned i = 0; i < cv_nthreads; i++)
        pthread_join(cv_threads[i], NULL);
    free(cv_threads);
    free(cv_ring);
}

static int cv_tasks(size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cv_submit(bench_tick, NULL) != 0)
            return -1;
    pthread_mutex_lock(&cv_lock);
    while (cv_pending != 0)
        pthread_cond_wait(&cv_idle, &cv_lock);
    pthread_mutex_unlock(&cv_lock);
    return 0;
}

const bench_backend bench_cvpool = {
    .name = "cvpool",
    .start = cv_start,
    .stop = cv_stop,
    .tasks = cv_tasks,
};
