/*
 * suite_nqueens.c: the number of ways to place n queens on an n x n board
 * (Cilk-5's nqueens): row by row, a queen in every column that the queens
 * above leave free, each choice on a copy of the board. The fork-join
 * version forks over the columns of a row (a tree of two-way joins) in
 * the rows above the cut-off depth, and searches the rows from there on
 * serially; depth 0 is no cut-off.
 */
#include "suite.h"

#include <stdlib.h>
#include <string.h>

#define NQ_MAX 20

struct nq_state {
    int n, depth;
    long count;
};

/* Whether the queen of row k, in column b[k], leaves the queens of rows
 * 0..k-1 (in columns b[0..k-1], which leave one another alone) alone. */
static int nq_ok(int k, const signed char *b)
{
    int q = b[k];
    for (int i = 0; i < k; i++) {
        int p = b[i];
        if (p == q || p - q == k - i || q - p == k - i)
            return 0;
    }
    return 1;
}

/* Rows j.. of the board a[0..j), serially. */
static long nq_serial(int n, int j, const signed char *a)
{
    if (j == n)
        return 1;
    long count = 0;
    for (int i = 0; i < n; i++) {
        signed char b[NQ_MAX];
        if (j)
            memcpy(b, a, (size_t)j);
        b[j] = (signed char)i;
        if (nq_ok(j, b))
            count += nq_serial(n, j + 1, b);
    }
    return count;
}

/* The columns [lo, hi) of row j, above the board a[0..j). */
struct nq_frame {
    int n, depth, j, lo, hi;
    const signed char *a;
    long count;
};

static int nq_task(void *arg)
{
    struct nq_frame *f = arg;
    if (f->hi - f->lo > 1) {
        int mid = f->lo + (f->hi - f->lo) / 2;
        struct nq_frame x = *f, y = *f;
        x.hi = mid;
        y.lo = mid;
        int rc = suite_join(nq_task, &x, nq_task, &y);
        f->count = x.count + y.count;
        return rc;
    }
    signed char b[NQ_MAX];
    if (f->j)
        memcpy(b, f->a, (size_t)f->j);
    b[f->j] = (signed char)f->lo;
    f->count = 0;
    if (!nq_ok(f->j, b))
        return 0;
    int j = f->j + 1;
    if (j == f->n) {
        f->count = 1;
        return 0;
    }
    if (f->depth > 0 && j >= f->depth) {
        f->count = nq_serial(f->n, j, b);
        return 0;
    }
    struct nq_frame row = { f->n, f->depth, j, 0, f->n, b, 0 };
    int rc = nq_task(&row);
    f->count = row.count;
    return rc;
}

static void *nq_create(long n, long depth)
{
    if (n < 1 || n > NQ_MAX)
        return NULL;
    struct nq_state *s = calloc(1, sizeof *s);
    if (s) {
        s->n = (int)n;
        s->depth = (int)depth;
    }
    return s;
}

static void nq_run_serial(void *state)
{
    struct nq_state *s = state;
    s->count = nq_serial(s->n, 0, NULL);
}

static int nq_parallel(void *state)
{
    struct nq_state *s = state;
    struct nq_frame row = { s->n, s->depth, 0, 0, s->n, NULL, 0 };
    int rc = nq_task(&row);
    s->count = row.count;
    return rc;
}

static double nq_result(void *state)
{
    return (double)((struct nq_state *)state)->count;
}

const suite_program suite_nqueens = {
    "nqueens", nq_create, NULL, nq_run_serial, nq_parallel, nq_result, free,
};
