/*
 * suite_integrate.c: adaptive quadrature (Cilk-5's integrate): the
 * integral of f(x) = (x^2 + 1) x over [0, X] by trapezoids, each interval
 * halved until halving changes its area by less than 1e-9. No cut-off:
 * every halving forks its two halves. The sum is formed in the same order
 * by every version, so every result is the same double.
 */
#include "suite.h"

#include <stdlib.h>

#define INTEGRATE_EPSILON 1e-9

static double integrand(double x)
{
    return (x * x + 1.0) * x;
}

static double integrate_serial(double x1, double y1, double x2, double y2, double area)
{
    double half = (x2 - x1) / 2, x0 = x1 + half, y0 = integrand(x0);
    double left = (y1 + y0) / 2 * half, right = (y0 + y2) / 2 * half, both = left + right;
    if (both - area < INTEGRATE_EPSILON && area - both < INTEGRATE_EPSILON)
        return both;
    left = integrate_serial(x1, y1, x0, y0, left);
    right = integrate_serial(x0, y0, x2, y2, right);
    return left + right;
}

struct integrate_frame {
    double x1, y1, x2, y2, area;
};

/* The frame's area becomes the interval's integral. */
static int integrate_task(void *arg)
{
    struct integrate_frame *f = arg;
    double half = (f->x2 - f->x1) / 2, x0 = f->x1 + half, y0 = integrand(x0);
    double left = (f->y1 + y0) / 2 * half, right = (y0 + f->y2) / 2 * half, both = left + right;
    if (both - f->area < INTEGRATE_EPSILON && f->area - both < INTEGRATE_EPSILON) {
        f->area = both;
        return 0;
    }
    struct integrate_frame a = { f->x1, f->y1, x0, y0, left }, b = { x0, y0, f->x2, f->y2, right };
    int rc = suite_join(integrate_task, &a, integrate_task, &b);
    f->area = a.area + b.area;
    return rc;
}

struct integrate_state {
    double x, area;
};

static void *integrate_create(long x, long unused)
{
    (void)unused;
    struct integrate_state *s = calloc(1, sizeof *s);
    if (s)
        s->x = (double)x;
    return s;
}

static void integrate_run_serial(void *state)
{
    struct integrate_state *s = state;
    s->area = integrate_serial(0, integrand(0), s->x, integrand(s->x), 0);
}

static int integrate_parallel(void *state)
{
    struct integrate_state *s = state;
    struct integrate_frame f = { 0, integrand(0), s->x, integrand(s->x), 0 };
    int rc = integrate_task(&f);
    s->area = f.area;
    return rc;
}

static double integrate_result(void *state)
{
    return ((struct integrate_state *)state)->area;
}

const suite_program suite_integrate = {
    "integrate", integrate_create, NULL, integrate_run_serial, integrate_parallel,
    integrate_result, free,
};
