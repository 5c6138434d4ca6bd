/*
 * suite_msort.c: merge sort of n ints (Cilk-5's cilksort in outline): the
 * two halves sorted by a fork, then merged by a fork too, the larger run
 * split at its middle element and the smaller one where that element
 * goes (a binary search), the two merges forked. The runs alternate
 * between the array and a buffer of the same size, so nothing is copied
 * back. Cut-offs: parts of at most SORT_LEAF ints are sorted by the serial
 * version, merges of at most MERGE_LEAF ints by the plain loop; the serial
 * version is the same recursion without the forks, down to runs of
 * INSERTION_LEAF ints sorted by insertion.
 */
#include "suite.h"

#include <stdlib.h>
#include <string.h>

#define SORT_LEAF 4096u
#define MERGE_LEAF 8192u
#define INSERTION_LEAF 32u

static void insertion_sort(int *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

static void merge_loop(const int *x, size_t nx, const int *y, size_t ny, int *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < nx && j < ny)
        out[k++] = y[j] < x[i] ? y[j++] : x[i++];
    while (i < nx)
        out[k++] = x[i++];
    while (j < ny)
        out[k++] = y[j++];
}

/* The first index of y[0..n) whose element is >= v. */
static size_t lower_bound(const int *y, size_t n, int v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (y[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Splits the merge of x and y (nx >= ny) in two: x[0..*mx) with y[0..*my),
 * and the rest. */
static void merge_split(const int *x, size_t nx, const int *y, size_t ny, size_t *mx, size_t *my)
{
    *mx = nx / 2;
    *my = lower_bound(y, ny, x[*mx]);
}

static void merge_serial(const int *x, size_t nx, const int *y, size_t ny, int *out)
{
    if (nx < ny) {
        merge_serial(y, ny, x, nx, out);
        return;
    }
    if (nx + ny <= MERGE_LEAF || ny == 0) {
        merge_loop(x, nx, y, ny, out);
        return;
    }
    size_t mx, my;
    merge_split(x, nx, y, ny, &mx, &my);
    merge_serial(x, mx, y, my, out);
    merge_serial(x + mx, nx - mx, y + my, ny - my, out + mx + my);
}

/* Sorts src[0..n); the result ends in dst when to_dst, else in src; the
 * other array is the scratch space. */
static void sort_serial(int *src, int *dst, size_t n, int to_dst)
{
    if (n <= INSERTION_LEAF) {
        insertion_sort(src, n);
        if (to_dst)
            memcpy(dst, src, n * sizeof *src);
        return;
    }
    size_t h = n / 2;
    sort_serial(src, dst, h, !to_dst);
    sort_serial(src + h, dst + h, n - h, !to_dst);
    const int *from = to_dst ? src : dst;
    merge_serial(from, h, from + h, n - h, to_dst ? dst : src);
}

struct merge_frame {
    const int *x, *y;
    size_t nx, ny;
    int *out;
};

static int merge_task(void *arg)
{
    struct merge_frame *f = arg;
    if (f->nx < f->ny) {
        struct merge_frame g = { f->y, f->x, f->ny, f->nx, f->out };
        return merge_task(&g);
    }
    if (f->nx + f->ny <= MERGE_LEAF || f->ny == 0) {
        merge_loop(f->x, f->nx, f->y, f->ny, f->out);
        return 0;
    }
    size_t mx, my;
    merge_split(f->x, f->nx, f->y, f->ny, &mx, &my);
    struct merge_frame a = { f->x, f->y, mx, my, f->out };
    struct merge_frame b = { f->x + mx, f->y + my, f->nx - mx, f->ny - my, f->out + mx + my };
    return suite_join(merge_task, &a, merge_task, &b);
}

struct sort_frame {
    int *src, *dst;
    size_t n;
    int to_dst;
};

static int sort_task(void *arg)
{
    struct sort_frame *f = arg;
    if (f->n <= SORT_LEAF) {
        sort_serial(f->src, f->dst, f->n, f->to_dst);
        return 0;
    }
    size_t h = f->n / 2;
    struct sort_frame a = { f->src, f->dst, h, !f->to_dst };
    struct sort_frame b = { f->src + h, f->dst + h, f->n - h, !f->to_dst };
    int rc = suite_join(sort_task, &a, sort_task, &b);
    if (rc)
        return rc;
    const int *from = f->to_dst ? f->src : f->dst;
    struct merge_frame m = { from, from + h, h, f->n - h, f->to_dst ? f->dst : f->src };
    return merge_task(&m);
}

struct msort_state {
    size_t n;
    int *input, *v, *tmp;
};

static void msort_destroy(void *state)
{
    struct msort_state *s = state;
    if (s) {
        free(s->input);
        free(s->v);
        free(s->tmp);
    }
    free(s);
}

static void *msort_create(long n, long unused)
{
    (void)unused;
    if (n < 1)
        return NULL;
    struct msort_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->n = (size_t)n;
    s->input = malloc(s->n * sizeof *s->input);
    s->v = malloc(s->n * sizeof *s->v);
    s->tmp = malloc(s->n * sizeof *s->tmp);
    if (!s->input || !s->v || !s->tmp) {
        msort_destroy(s);
        return NULL;
    }
    bench_fill_random(s->input, s->n, 0x5eed5eedu ^ s->n);
    memset(s->tmp, 0, s->n * sizeof *s->tmp);
    return s;
}

static void msort_prepare(void *state)
{
    struct msort_state *s = state;
    memcpy(s->v, s->input, s->n * sizeof *s->v);
}

static void msort_run_serial(void *state)
{
    struct msort_state *s = state;
    sort_serial(s->v, s->tmp, s->n, 0);
}

static int msort_parallel(void *state)
{
    struct msort_state *s = state;
    struct sort_frame f = { s->v, s->tmp, s->n, 0 };
    return sort_task(&f);
}

/* A checksum of the sorted array: the sum of v[i] (i + 1) modulo 2^52,
 * exact in a double; -1 when it is not sorted. */
static double msort_result(void *state)
{
    struct msort_state *s = state;
    if (!bench_is_sorted(s->v, s->n))
        return -1;
    uint64_t sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += (uint64_t)(int64_t)s->v[i] * (uint64_t)(i + 1);
    return (double)(sum & ((1ull << 52) - 1));
}

const suite_program suite_msort = {
    "sort", msort_create, msort_prepare, msort_run_serial, msort_parallel, msort_result,
    msort_destroy,
};
