/*
 * micropool_kernels.h: numeric kernels that run on a micropool pool.
 *
 * The Ruby binding calls these with the GVL released, so every thread of
 * the pool works at once: this is what runs in parallel from Ruby (Ruby
 * blocks themselves take turns on the GVL). They are plain C and usable
 * from any language.
 *
 * Every function returns MP_OK, MP_EINVAL (NULL pool, or NULL data with
 * n > 0, or an unknown op), MPK_ERANGE (an int64 sum overflowed), or
 * another micropool error code. Results are identical whatever the number
 * of threads of the pool: sums use MP_DETERMINISTIC, so a float sum
 * associates the same way on 1 thread as on 64.
 */
#ifndef MICROPOOL_KERNELS_H
#define MICROPOOL_KERNELS_H

#include <micropool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MPK_BUILDING) && defined(__GNUC__)
#define MPK_API __attribute__((visibility("default")))
#else
#define MPK_API
#endif

#define MPK_ERANGE (-34)   /* -ERANGE: an integer sum overflowed */

/* Elementwise operations of mpk_map_f64: x[i] = op(x[i]). */
enum mpk_op {
    MPK_SQRT = 0,
    MPK_EXP = 1,
    MPK_LOG = 2,
    MPK_SIN = 3,
    MPK_COS = 4,
    MPK_SQUARE = 5,
    MPK_ABS = 6,
    MPK_OP_COUNT
};

/* *out = the sum of data[0..n). Parts of the input are summed in parallel
 * and combined in a fixed order. */
MPK_API int mpk_sum_f64(mp_pool *pool, const double *data, size_t n, double *out);
MPK_API int mpk_sum_i64(mp_pool *pool, const int64_t *data, size_t n, int64_t *out);

/* Sorts data[0..n) in place, ascending, by a parallel quicksort (the two
 * sides of each partition run as an mp_join). For doubles NaNs go last. */
MPK_API int mpk_sort_f64(mp_pool *pool, double *data, size_t n);
MPK_API int mpk_sort_i64(mp_pool *pool, int64_t *data, size_t n);

/* data[i] = op(data[i]) for every i, by mp_for. */
MPK_API int mpk_map_f64(mp_pool *pool, double *data, size_t n, int op);

#ifdef __cplusplus
}
#endif

#endif /* MICROPOOL_KERNELS_H */
