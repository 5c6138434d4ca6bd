/*
 * suite_matmul.c: C += A B for n x n matrices of doubles, row-major, by
 * recursion on quadrants (Cilk-5's matmul, without its extra storage): the
 * eight products of quadrants in two rounds of four that write different
 * quadrants of C, each round a fork of four; blocks of MM_BLOCK x MM_BLOCK
 * are multiplied serially (the cut-off). Every element of C sums its terms
 * in the same order in every version, so the results are equal bit for bit.
 * Rows are MM_PAD doubles longer than n: with a power-of-two stride the
 * rows of a block would share cache sets, and the time would depend on
 * where the allocator put the matrices.
 */
#include "suite.h"

#include <stdlib.h>
#include <string.h>

#define MM_BLOCK 64
#define MM_PAD 8

/* c[0..MM_BLOCK)^2 += a b, rows ld apart */
static void mm_block(const double *restrict a, const double *restrict b, double *restrict c,
                     size_t ld)
{
    for (size_t i = 0; i < MM_BLOCK; i++) {
        double *restrict ci = c + i * ld;
        for (size_t k = 0; k < MM_BLOCK; k++) {
            double aik = a[i * ld + k];
            const double *restrict bk = b + k * ld;
            for (size_t j = 0; j < MM_BLOCK; j++)
                ci[j] += aik * bk[j];
        }
    }
}

/* The quadrants of an s x s block at m: 0 1 / 2 3. */
static const double *quad(const double *m, size_t s, size_t ld, int q)
{
    return m + (q >> 1) * (s / 2) * ld + (q & 1) * (s / 2);
}

/* The two rounds: C[c] += A[a] B[b] for (c, a, b) in each round. */
static const int mm_round[2][4][3] = {
    { { 0, 0, 0 }, { 1, 0, 1 }, { 2, 2, 0 }, { 3, 2, 1 } },
    { { 0, 1, 2 }, { 1, 1, 3 }, { 2, 3, 2 }, { 3, 3, 3 } },
};

static void mm_serial(const double *a, const double *b, double *c, size_t s, size_t ld)
{
    if (s <= MM_BLOCK) {
        mm_block(a, b, c, ld);
        return;
    }
    for (int r = 0; r < 2; r++)
        for (int p = 0; p < 4; p++) {
            const int *t = mm_round[r][p];
            mm_serial(quad(a, s, ld, t[1]), quad(b, s, ld, t[2]),
                      (double *)quad(c, s, ld, t[0]), s / 2, ld);
        }
}

struct mm_frame {
    const double *a, *b;
    double *c;
    size_t s, ld;
};

struct mm_pair {
    struct mm_frame *x, *y;
};

static int mm_task(void *arg);

static int mm_pair_task(void *arg)
{
    struct mm_pair *p = arg;
    return suite_join(mm_task, p->x, mm_task, p->y);
}

static int mm_task(void *arg)
{
    struct mm_frame *f = arg;
    if (f->s <= MM_BLOCK) {
        mm_block(f->a, f->b, f->c, f->ld);
        return 0;
    }
    for (int r = 0; r < 2; r++) {
        struct mm_frame q[4];
        for (int p = 0; p < 4; p++) {
            const int *t = mm_round[r][p];
            q[p].a = quad(f->a, f->s, f->ld, t[1]);
            q[p].b = quad(f->b, f->s, f->ld, t[2]);
            q[p].c = (double *)quad(f->c, f->s, f->ld, t[0]);
            q[p].s = f->s / 2;
            q[p].ld = f->ld;
        }
        struct mm_pair lo = { &q[0], &q[1] }, hi = { &q[2], &q[3] };
        int rc = suite_join(mm_pair_task, &lo, mm_pair_task, &hi);
        if (rc)
            return rc;
    }
    return 0;
}

struct mm_state {
    size_t n, ld;
    double *a, *b, *c;
};

static void mm_destroy(void *state)
{
    struct mm_state *s = state;
    if (s) {
        free(s->a);
        free(s->b);
        free(s->c);
    }
    free(s);
}

/* n: a power of two, at least MM_BLOCK */
static void *mm_create(long n, long unused)
{
    (void)unused;
    if (n < MM_BLOCK || (n & (n - 1)))
        return NULL;
    struct mm_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->n = (size_t)n;
    s->ld = s->n + MM_PAD;
    size_t cells = s->n * s->ld;
    s->a = malloc(cells * sizeof *s->a);
    s->b = malloc(cells * sizeof *s->b);
    s->c = malloc(cells * sizeof *s->c);
    if (!s->a || !s->b || !s->c) {
        mm_destroy(s);
        return NULL;
    }
    /* entries in [-1, 1): 53-bit fractions of a splitmix64 stream */
    for (size_t i = 0; i < cells; i++) {
        s->a[i] = (double)(suite_mix64(2 * i) >> 11) * 0x1p-52 - 1.0;
        s->b[i] = (double)(suite_mix64(2 * i + 1) >> 11) * 0x1p-52 - 1.0;
    }
    return s;
}

static void mm_prepare(void *state)
{
    struct mm_state *s = state;
    memset(s->c, 0, s->n * s->ld * sizeof *s->c);
}

static void mm_run_serial(void *state)
{
    struct mm_state *s = state;
    mm_serial(s->a, s->b, s->c, s->n, s->ld);
}

static int mm_parallel(void *state)
{
    struct mm_state *s = state;
    struct mm_frame f = { s->a, s->b, s->c, s->n, s->ld };
    return mm_task(&f);
}

/* The sum of C's entries, in row order. */
static double mm_result(void *state)
{
    struct mm_state *s = state;
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        for (size_t j = 0; j < s->n; j++)
            sum += s->c[i * s->ld + j];
    return sum;
}

const suite_program suite_matmul = {
    "matmul", mm_create, mm_prepare, mm_run_serial, mm_parallel, mm_result, mm_destroy,
};
