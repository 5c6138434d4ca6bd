/*
 * backend_nulljoin.c: fib(n) as the micropool row computes it, the same
 * frame and the same call shape, with a join that runs both halves on the
 * calling thread (nulljoin.c, in a shared library of its own): the floor
 * of a join through a library call, on one thread.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

typedef int (*bench_null_fn)(void *arg);
int bench_null_join(void *pool, bench_null_fn a, void *a_arg, bench_null_fn b, void *b_arg);

static const char *nj_start(unsigned threads)
{
    (void)threads;
    return NULL;
}

static void nj_stop(void)
{
}

struct nj_frame {
    int n;
    long r;
};

static int nj_fib_join(void *arg)
{
    struct nj_frame *f = arg;
    if (f->n < 2) {
        f->r = f->n;
        return 0;
    }
    struct nj_frame a = { f->n - 1, 0 }, b = { f->n - 2, 0 };
    int rc = bench_null_join(NULL, nj_fib_join, &a, nj_fib_join, &b);
    f->r = a.r + b.r;
    return rc;
}

static long nj_fib(int n)
{
    struct nj_frame f = { n, 0 };
    if (nj_fib_join(&f) != 0) {
        fprintf(stderr, "nulljoin: a join failed\n");
        exit(1);
    }
    return f.r;
}

const bench_backend bench_nulljoin = {
    .name = "nulljoin",
    .start = nj_start,
    .stop = nj_stop,
    .fib = nj_fib,
};
