/*
 * backend_futex.c: the floor of the wake-up row. One thread sleeps in
 * FUTEX_WAIT on a word; posting a job bumps the word and makes one
 * FUTEX_WAKE; the thread runs the job. No queue, no spin, no runtime: what
 * any pool that sleeps in the kernel pays at least on this machine for
 * the same hand-off, measured by the same harness as the pools (the
 * caller posts, then polls the job's flag).
 *
 * It offers only `post`. Every job posted in one workload is the same
 * (fn, arg), so the thread runs the latest pair once per bump of the word.
 */
#define _GNU_SOURCE

#include "bench.h"

#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic uint32_t fx_posted;      /* bumped once per job */
static atomic_int fx_stopping;
static bench_job_fn _Atomic fx_fn;
static void *_Atomic fx_arg;
static pthread_t fx_thread;

static void *fx_sleeper(void *unused)
{
    (void)unused;
    uint32_t done = 0;
    for (;;) {
        uint32_t now = atomic_load_explicit(&fx_posted, memory_order_acquire);
        if (atomic_load_explicit(&fx_stopping, memory_order_acquire))
            return NULL;
        if (now == done) {
            /* Returns at once if the word moved since the load. */
            syscall(SYS_futex, (uint32_t *)&fx_posted, FUTEX_WAIT_PRIVATE, now, NULL, NULL, 0);
            continue;
        }
        bench_job_fn fn = atomic_load_explicit(&fx_fn, memory_order_relaxed);
        void *arg = atomic_load_explicit(&fx_arg, memory_order_relaxed);
        for (; done != now; done++)
            fn(arg);
    }
}

static const char *fx_start(unsigned threads)
{
    (void)threads;  /* one sleeping thread, whatever T is */
    atomic_store(&fx_posted, 0);
    atomic_store(&fx_stopping, 0);
    if (pthread_create(&fx_thread, NULL, fx_sleeper, NULL) != 0)
        return "pthread_create failed";
    return NULL;
}

static void fx_wake(void)
{
    syscall(SYS_futex, (uint32_t *)&fx_posted, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void fx_stop(void)
{
    /* The harness stops only once every posted job has run. */
    atomic_store_explicit(&fx_stopping, 1, memory_order_release);
    atomic_fetch_add_explicit(&fx_posted, 1, memory_order_release);
    fx_wake();
    pthread_join(fx_thread, NULL);
}

static void fx_post(bench_job_fn fn, void *arg)
{
    atomic_store_explicit(&fx_fn, fn, memory_order_relaxed);
    atomic_store_explicit(&fx_arg, arg, memory_order_relaxed);
    atomic_fetch_add_explicit(&fx_posted, 1, memory_order_release);
    fx_wake();
}

const bench_backend bench_futex = {
    .name = "futex",
    .start = fx_start,
    .stop = fx_stop,
    .settle_ms = 5,
    .post = fx_post,
};
