/*
 * micropool-fftw.h: FFTW's threads on a micropool pool.
 *
 * Since 3.3.9, FFTW's threads library (libfftw3_threads, or libfftw3_omp)
 * lets a program run FFTW's parallel loops on its own pool:
 * fftw_threads_set_callback(parallel_loop, data). FFTW then calls
 * parallel_loop(work, jobdata, elsize, njobs, data) instead of starting
 * threads of its own, and expects work(jobdata + elsize * i) to have run
 * for every i in [0, njobs) when it returns. This header gives that
 * callback on top of mp_for, and a function that sets it up:
 *
 *     #include <micropool-fftw.h>      (includes micropool.h and fftw3.h)
 *
 *     mp_pool *pool;
 *     mp_pool_create(NULL, &pool);
 *     if (!mp_fftw_init(pool))          once, before any plan is made
 *         ... FFTW's threads could not be initialised ...
 *     fftw_plan p = fftw_plan_dft_1d(n, in, out, FFTW_FORWARD, FFTW_MEASURE);
 *     fftw_execute(p);                  FFTW's jobs run on the pool
 *
 *     cc prog.c $(pkg-config --cflags --libs micropool) -lfftw3_threads -lfftw3 -lm
 *
 * mp_fftw_init calls fftw_init_threads(), fftw_plan_with_nthreads() with
 * the pool's thread count (the calling thread counted) and
 * fftw_threads_set_callback(mp_fftw_parallel_loop, pool). Plans made
 * afterwards use up to that many threads, and FFTW's planner (under
 * FFTW_MEASURE) times its threaded plans on the pool itself. The pool must
 * outlive every plan that may run on it. To make the single-precision or
 * long-double library use the same pool, pass mp_fftw_parallel_loop to
 * fftwf_threads_set_callback or fftwl_threads_set_callback: the callback
 * does not depend on the precision.
 *
 * Each of FFTW's jobs is one index of an mp_for with grain 1, so a pool
 * thread that is free takes the next job; the call makes no heap
 * allocation. A job may call FFTW again (a sub-plan's own parallel loop):
 * mp_for nests. Should mp_for refuse the loop (a NULL pool), the jobs run
 * one after the other on the calling thread, so a transform is never left
 * half done.
 *
 * Everything here is static inline and uses only micropool's stable
 * functions: it is compiled into the program that includes it and works
 * with every libmicropool.so.1. Include it from one file or from many.
 */
#ifndef MICROPOOL_FFTW_H
#define MICROPOOL_FFTW_H

#include <micropool.h>
#include <fftw3.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One call of FFTW's parallel loop, on the caller's stack. */
struct mp_fftw_loop {
    void *(*work)(char *);
    char *jobdata;
    size_t elsize;
};

static inline int mp_fftw_jobs(void *arg, size_t begin, size_t end)
{
    const struct mp_fftw_loop *loop = (const struct mp_fftw_loop *)arg;
    for (size_t i = begin; i < end; i++)
        (void)loop->work(loop->jobdata + loop->elsize * i);
    return 0;
}

/* The callback for fftw_threads_set_callback; `data` is the mp_pool. */
static inline void mp_fftw_parallel_loop(void *(*work)(char *), char *jobdata, size_t elsize,
                                         int njobs, void *data)
{
    if (njobs <= 0)
        return;
    struct mp_fftw_loop loop = { work, jobdata, elsize };
    if (mp_for((mp_pool *)data, (size_t)njobs, 1, MP_SPLIT_DYNAMIC, mp_fftw_jobs, &loop) != MP_OK)
        mp_fftw_jobs(&loop, 0, (size_t)njobs); /* refused before any job ran */
}

/* Makes FFTW's double-precision plans made from now on run on `pool`.
 * Returns fftw_init_threads()'s result: non-zero on success, 0 when FFTW's
 * threads could not be initialised (then nothing else was changed). */
static inline int mp_fftw_init(mp_pool *pool)
{
    if (!fftw_init_threads())
        return 0;
    fftw_plan_with_nthreads((int)mp_pool_threads(pool));
    fftw_threads_set_callback(mp_fftw_parallel_loop, pool);
    return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* MICROPOOL_FFTW_H */
