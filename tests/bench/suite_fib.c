/*
 * suite_fib.c: fib(n), the join's own cost. With no cut-off (cut-off 0)
 * every call n >= 2 is a join; with a cut-off c, a call with n < c runs the
 * plain recursion. The fork-join frame is the join row's (backend_micropool.c),
 * so that fib(35) without a cut-off can be compared with the no-op join
 * floor (backend_nulljoin.c).
 */
#include "suite.h"

#include <stdlib.h>

/* The plain recursion (the serial version, and the fork-join version below
 * its cut-off). */
static long fib_plain(int n)
{
    return n < 2 ? n : fib_plain(n - 1) + fib_plain(n - 2);
}

struct fib_state {
    int n, cutoff;
    long r;
};

struct fib_frame {
    int n;
    long r;
};

/* No cut-off: the join row's code, a join at every n >= 2. */
static int fib_task(void *arg)
{
    struct fib_frame *f = arg;
    if (f->n < 2) {
        f->r = f->n;
        return 0;
    }
    struct fib_frame a = { f->n - 1, 0 }, b = { f->n - 2, 0 };
    int rc = suite_join(fib_task, &a, fib_task, &b);
    f->r = a.r + b.r;
    return rc;
}

static int fib_cutoff; /* the run's cut-off, set before its root runs */

static int fib_task_cut(void *arg)
{
    struct fib_frame *f = arg;
    if (f->n < fib_cutoff) {
        f->r = fib_plain(f->n);
        return 0;
    }
    struct fib_frame a = { f->n - 1, 0 }, b = { f->n - 2, 0 };
    int rc = suite_join(fib_task_cut, &a, fib_task_cut, &b);
    f->r = a.r + b.r;
    return rc;
}

static void *fib_create(long n, long cutoff)
{
    struct fib_state *s = calloc(1, sizeof *s);
    if (s) {
        s->n = (int)n;
        s->cutoff = (int)cutoff;
    }
    return s;
}

/* The serial version is the plain recursion at every n: below the cut-off
 * the fork-join version runs exactly that. */
static void fib_serial(void *state)
{
    struct fib_state *s = state;
    s->r = fib_plain(s->n);
}

static int fib_parallel(void *state)
{
    struct fib_state *s = state;
    fib_cutoff = s->cutoff;
    struct fib_frame f = { s->n, 0 };
    int rc = s->cutoff >= 2 ? fib_task_cut(&f) : fib_task(&f);
    s->r = f.r;
    return rc;
}

static double fib_result(void *state)
{
    return (double)((struct fib_state *)state)->r;
}

const suite_program suite_fib = {
    "fib", fib_create, NULL, fib_serial, fib_parallel, fib_result, free,
};
