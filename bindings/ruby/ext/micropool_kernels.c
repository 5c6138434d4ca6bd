/*
 * Numeric kernels on a micropool pool; see micropool_kernels.h.
 */
#include "micropool_kernels.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Smallest share of a sum or a map worth handing to another thread. */
#define SUM_GRAIN 8192u
#define MAP_GRAIN 2048u
/* Below this many elements a quicksort partition is sorted sequentially:
 * a join costs far less, but the partition itself is sequential work. */
#define SORT_PARALLEL_CUTOFF 8192u
#define SORT_INSERTION_CUTOFF 24u

/* ------------------------------------------------------------------ sums */

struct sum_f64 {
    const double *data;
};

static int sum_f64_map(void *arg, size_t begin, size_t end, void *acc)
{
    const double *x = ((const struct sum_f64 *)arg)->data;
    /* Four running sums let the loop overlap its additions; the order is
     * still fixed by the range alone. */
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = begin;
    for (; i + 4 <= end; i += 4) {
        s0 += x[i];
        s1 += x[i + 1];
        s2 += x[i + 2];
        s3 += x[i + 3];
    }
    for (; i < end; i++)
        s0 += x[i];
    *(double *)acc += (s0 + s1) + (s2 + s3);
    return 0;
}

static void sum_f64_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(double *)acc += *(const double *)other;
}

int mpk_sum_f64(mp_pool *pool, const double *data, size_t n, double *out)
{
    if (pool == NULL || out == NULL || (data == NULL && n > 0))
        return MP_EINVAL;
    struct sum_f64 job = { data };
    double acc = 0.0;
    int rc = mp_reduce(pool, n, SUM_GRAIN, MP_DETERMINISTIC, &acc, sizeof acc,
                       sum_f64_map, sum_f64_combine, &job);
    if (rc == MP_OK)
        *out = acc;
    return rc;
}

struct sum_i64_acc {
    int64_t sum;
    int overflow;
};

struct sum_i64 {
    const int64_t *data;
};

static int sum_i64_map(void *arg, size_t begin, size_t end, void *acc)
{
    const int64_t *x = ((const struct sum_i64 *)arg)->data;
    struct sum_i64_acc *a = acc;
    int64_t s = a->sum;
    for (size_t i = begin; i < end; i++) {
        if (__builtin_add_overflow(s, x[i], &s)) {
            a->overflow = 1;
            return 1; /* stop the parts that have not started */
        }
    }
    a->sum = s;
    return 0;
}

static void sum_i64_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    struct sum_i64_acc *a = acc;
    const struct sum_i64_acc *b = other;
    if (b->overflow || __builtin_add_overflow(a->sum, b->sum, &a->sum))
        a->overflow = 1;
}

int mpk_sum_i64(mp_pool *pool, const int64_t *data, size_t n, int64_t *out)
{
    if (pool == NULL || out == NULL || (data == NULL && n > 0))
        return MP_EINVAL;
    struct sum_i64 job = { data };
    struct sum_i64_acc acc = { 0, 0 };
    int rc = mp_reduce(pool, n, SUM_GRAIN, MP_DETERMINISTIC, &acc, sizeof acc,
                       sum_i64_map, sum_i64_combine, &job);
    if (rc == 1 || (rc == MP_OK && acc.overflow))
        return MPK_ERANGE;
    if (rc == MP_OK)
        *out = acc.sum;
    return rc;
}

/* ------------------------------------------------------------------ map */

struct map_f64 {
    double *data;
    int op;
};

static int map_f64_body(void *arg, size_t begin, size_t end)
{
    const struct map_f64 *job = arg;
    double *x = job->data;
    switch (job->op) {
    case MPK_SQRT:   for (size_t i = begin; i < end; i++) x[i] = sqrt(x[i]); break;
    case MPK_EXP:    for (size_t i = begin; i < end; i++) x[i] = exp(x[i]); break;
    case MPK_LOG:    for (size_t i = begin; i < end; i++) x[i] = log(x[i]); break;
    case MPK_SIN:    for (size_t i = begin; i < end; i++) x[i] = sin(x[i]); break;
    case MPK_COS:    for (size_t i = begin; i < end; i++) x[i] = cos(x[i]); break;
    case MPK_SQUARE: for (size_t i = begin; i < end; i++) x[i] = x[i] * x[i]; break;
    case MPK_ABS:    for (size_t i = begin; i < end; i++) x[i] = fabs(x[i]); break;
    default: break; /* rejected by mpk_map_f64 */
    }
    return 0;
}

int mpk_map_f64(mp_pool *pool, double *data, size_t n, int op)
{
    if (pool == NULL || (data == NULL && n > 0) || op < 0 || op >= MPK_OP_COUNT)
        return MP_EINVAL;
    struct map_f64 job = { data, op };
    return mp_for(pool, n, MAP_GRAIN, MP_SPLIT_DYNAMIC, map_f64_body, &job);
}

/* ------------------------------------------------------------------ sort
 *
 * Quicksort with a median-of-three pivot and Hoare partitioning; the two
 * sides of a large partition are sorted by an mp_join, small ones
 * sequentially with insertion sort at the leaves. A depth limit switches
 * to heapsort so that adversarial inputs stay O(n log n). The same code
 * serves both element types through one macro.
 */

static int depth_limit(size_t n)
{
    int d = 0;
    while (n > 1) {
        n >>= 1;
        d++;
    }
    return 2 * d;
}

#define DEFINE_SORT(T, NAME)                                                   \
    static void NAME##_insertion(T *a, size_t n)                               \
    {                                                                          \
        for (size_t i = 1; i < n; i++) {                                       \
            T v = a[i];                                                        \
            size_t j = i;                                                      \
            for (; j > 0 && v < a[j - 1]; j--)                                 \
                a[j] = a[j - 1];                                               \
            a[j] = v;                                                          \
        }                                                                      \
    }                                                                          \
                                                                               \
    static void NAME##_sift(T *a, size_t root, size_t n)                       \
    {                                                                          \
        T v = a[root];                                                         \
        for (size_t child; (child = 2 * root + 1) < n; root = child) {         \
            if (child + 1 < n && a[child] < a[child + 1])                      \
                child++;                                                       \
            if (!(v < a[child]))                                               \
                break;                                                         \
            a[root] = a[child];                                                \
        }                                                                      \
        a[root] = v;                                                           \
    }                                                                          \
                                                                               \
    static void NAME##_heapsort(T *a, size_t n)                                \
    {                                                                          \
        for (size_t i = n / 2; i-- > 0;)                                       \
            NAME##_sift(a, i, n);                                              \
        for (size_t end = n; end-- > 1;) {                                     \
            T t = a[0];                                                        \
            a[0] = a[end];                                                     \
            a[end] = t;                                                        \
            NAME##_sift(a, 0, end);                                            \
        }                                                                      \
    }                                                                          \
                                                                               \
    /* Returns p with 0 < p < n: a[0..p) <= pivot <= a[p..n). The median of \
     * three is moved to a[n/2], between a[0] <= it <= a[n-1], so both     \
     * scans stop inside the array and neither side can be empty. */         \
    static size_t NAME##_partition(T *a, size_t n)                             \
    {                                                                          \
        size_t m = n / 2;                                                      \
        T t;                                                                   \
        if (a[m] < a[0]) { t = a[m]; a[m] = a[0]; a[0] = t; }                  \
        if (a[n - 1] < a[m]) { t = a[n - 1]; a[n - 1] = a[m]; a[m] = t; }      \
        if (a[m] < a[0]) { t = a[m]; a[m] = a[0]; a[0] = t; }                  \
        T pivot = a[m];                                                        \
        size_t i = 0, j = n - 1;                                               \
        for (;;) {                                                             \
            while (a[i] < pivot)                                               \
                i++;                                                           \
            while (pivot < a[j])                                               \
                j--;                                                           \
            if (i >= j)                                                        \
                return j + 1;                                                  \
            t = a[i]; a[i] = a[j]; a[j] = t;                                   \
            i++;                                                               \
            j--;                                                               \
        }                                                                      \
    }                                                                          \
                                                                               \
    static void NAME##_sequential(T *a, size_t n, int depth)                   \
    {                                                                          \
        while (n > SORT_INSERTION_CUTOFF) {                                    \
            if (depth-- == 0) {                                                \
                NAME##_heapsort(a, n);                                         \
                return;                                                        \
            }                                                                  \
            size_t p = NAME##_partition(a, n);                                 \
            /* Recurse into the smaller side, loop on the larger one. */      \
            if (p < n - p) {                                                   \
                NAME##_sequential(a, p, depth);                                \
                a += p;                                                        \
                n -= p;                                                        \
            } else {                                                           \
                NAME##_sequential(a + p, n - p, depth);                        \
                n = p;                                                         \
            }                                                                  \
        }                                                                      \
        NAME##_insertion(a, n);                                                \
    }                                                                          \
                                                                               \
    struct NAME##_job {                                                        \
        mp_pool *pool;                                                         \
        T *a;                                                                  \
        size_t n;                                                              \
        int depth;                                                             \
    };                                                                         \
                                                                               \
    static int NAME##_parallel(void *arg)                                      \
    {                                                                          \
        const struct NAME##_job *job = arg;                                    \
        if (job->n <= SORT_PARALLEL_CUTOFF || job->depth == 0) {               \
            NAME##_sequential(job->a, job->n, job->depth);                     \
            return 0;                                                          \
        }                                                                      \
        size_t p = NAME##_partition(job->a, job->n);                           \
        struct NAME##_job left = { job->pool, job->a, p, job->depth - 1 };     \
        struct NAME##_job right = { job->pool, job->a + p, job->n - p,         \
                                    job->depth - 1 };                          \
        return mp_join(job->pool, NAME##_parallel, &left, NAME##_parallel,     \
                       &right);                                                \
    }                                                                          \
                                                                               \
    static int NAME##_sort(mp_pool *pool, T *a, size_t n)                      \
    {                                                                          \
        struct NAME##_job job = { pool, a, n, depth_limit(n) };                \
        return NAME##_parallel(&job);                                          \
    }

DEFINE_SORT(double, f64)
DEFINE_SORT(int64_t, i64)

int mpk_sort_f64(mp_pool *pool, double *data, size_t n)
{
    if (pool == NULL || (data == NULL && n > 0))
        return MP_EINVAL;
    /* NaNs compare false with everything: move them to the end first and
     * sort the rest, which is then totally ordered. */
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isnan(data[i])) {
            double t = data[keep];
            data[keep++] = data[i];
            data[i] = t;
        }
    }
    return f64_sort(pool, data, keep);
}

int mpk_sort_i64(mp_pool *pool, int64_t *data, size_t n)
{
    if (pool == NULL || (data == NULL && n > 0))
        return MP_EINVAL;
    return i64_sort(pool, data, n);
}
