/* mp_reduce: sums, order of a non-commutative combine, deterministic
 * floats, accumulator copies and alignment, partitions, errors. */
#include "support.h"

#include "fold.h"

#include <limits.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

TestSuite(reduce, .timeout = 50);

static const unsigned all_flags[] = {MP_SPLIT_DYNAMIC, MP_SPLIT_STATIC, MP_DETERMINISTIC,
                                     MP_SPLIT_STATIC | MP_DETERMINISTIC};

/* ---------------------------------------------------------- plain sums */

struct sum_ctx {
    atomic_int calls;
    atomic_int bad;
};

/* 0 + 1 + ... + (x - 1) modulo 2^64. */
static uint64_t sum_below(size_t x)
{
    return x == 0 ? 0 : (uint64_t)((unsigned __int128)x * (x - 1) / 2);
}

/* Sum of the indices modulo 2^64, in O(1) per part. */
static int sum_map(void *arg, size_t begin, size_t end, void *acc)
{
    struct sum_ctx *c = arg;
    atomic_fetch_add(&c->calls, 1);
    if (begin >= end)
        atomic_fetch_add(&c->bad, 1);
    if (*(uint64_t *)acc != 0)
        atomic_fetch_add(&c->bad, 1); /* each part starts from the identity */
    *(uint64_t *)acc += sum_below(end) - sum_below(begin);
    return 0;
}

static void sum_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(uint64_t *)acc += *(const uint64_t *)other;
}

static uint64_t sum_expect(size_t n)
{
    return sum_below(n);
}

Test(reduce, sums_for_all_sizes_grains_flags_and_thread_counts)
{
    static const unsigned sizes[] = {1, 2, 3, 16};
    static const size_t ns[] = {1, 2, 63, 64, 65, 1000, 12345, 1000000};
    static const size_t grains[] = {0, 1, 100, 5000000};
    for (size_t k = 0; k < 4; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t gi = 0; gi < 4; gi++)
                for (size_t f = 0; f < 4; f++) {
                    struct sum_ctx c = {0};
                    uint64_t acc = 0;
                    int rc = mp_reduce(pool, ns[ni], grains[gi], all_flags[f], &acc, sizeof acc,
                                       sum_map, sum_combine, &c);
                    cr_assert_eq(rc, MP_OK);
                    cr_assert_eq(acc, sum_expect(ns[ni]), "threads=%u n=%zu grain=%zu flags=%u",
                                 sizes[k], ns[ni], grains[gi], all_flags[f]);
                    cr_assert_eq(atomic_load(&c.bad), 0);
                    cr_assert_leq(atomic_load(&c.calls), (int)MP_REDUCE_PARTS_MAX);
                    if (all_flags[f] == MP_SPLIT_STATIC)
                        cr_assert_leq(atomic_load(&c.calls), (int)sizes[k],
                                      "static: at most one part per thread");
                }
        mpt_destroy(pool);
    }
}

Test(reduce, huge_n_up_to_size_max)
{
    mp_pool *pool = mpt_pool(4);
    static const size_t ns[] = {SIZE_MAX, SIZE_MAX - 3, (size_t)1 << 40};
    static const size_t grains[] = {0, 1, SIZE_MAX / 3};
    for (size_t ni = 0; ni < 3; ni++)
        for (size_t gi = 0; gi < 3; gi++)
            for (size_t f = 0; f < 4; f++) {
                struct sum_ctx c = {0};
                uint64_t acc = 0;
                cr_assert_eq(mp_reduce(pool, ns[ni], grains[gi], all_flags[f], &acc, sizeof acc,
                                       sum_map, sum_combine, &c),
                             MP_OK);
                cr_assert_eq(acc, sum_expect(ns[ni]), "n=%zu grain=%zu flags=%u", ns[ni],
                             grains[gi], all_flags[f]);
                cr_assert_eq(atomic_load(&c.bad), 0);
            }
    mpt_destroy(pool);
}

static int must_not_map(void *arg, size_t begin, size_t end, void *acc)
{
    (void)begin;
    (void)end;
    (void)acc;
    atomic_fetch_add((atomic_int *)arg, 1);
    return 9;
}

static void must_not_combine(void *arg, void *acc, const void *other)
{
    (void)acc;
    (void)other;
    atomic_fetch_add((atomic_int *)arg, 1);
}

Test(reduce, n_zero_calls_nothing_and_leaves_acc_alone)
{
    mp_pool *pool = mpt_pool(3);
    atomic_int calls = 0;
    for (size_t f = 0; f < 4; f++) {
        uint64_t acc = 0xDEADBEEFCAFEull;
        cr_assert_eq(mp_reduce(pool, 0, 0, all_flags[f], &acc, sizeof acc, must_not_map,
                               must_not_combine, &calls),
                     MP_OK);
        cr_assert_eq(acc, 0xDEADBEEFCAFEull);
    }
    cr_assert_eq(atomic_load(&calls), 0);
    mpt_destroy(pool);
}

Test(reduce, bad_arguments_are_einval_before_any_call)
{
    mp_pool *pool = mpt_pool(2);
    atomic_int calls = 0;
    uint64_t acc = 0;
    cr_assert_eq(mp_reduce(NULL, 10, 1, 0, &acc, 8, must_not_map, must_not_combine, &calls),
                 MP_EINVAL);
    cr_assert_eq(mp_reduce(pool, 10, 1, 0, NULL, 8, must_not_map, must_not_combine, &calls),
                 MP_EINVAL);
    cr_assert_eq(mp_reduce(pool, 10, 1, 0, &acc, 0, must_not_map, must_not_combine, &calls),
                 MP_EINVAL);
    cr_assert_eq(mp_reduce(pool, 10, 1, 0, &acc, 8, NULL, must_not_combine, &calls), MP_EINVAL);
    cr_assert_eq(mp_reduce(pool, 10, 1, 0, &acc, 8, must_not_map, NULL, &calls), MP_EINVAL);
    static const unsigned bad[] = {4u, 0x80u, 1u << 31, 0xFFFFFFFFu, MP_DETERMINISTIC | 8u};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(mp_reduce(pool, 10, 1, bad[i], &acc, 8, must_not_map, must_not_combine,
                               &calls),
                     MP_EINVAL, "flags %#x", bad[i]);
    cr_assert_eq(atomic_load(&calls), 0);
    cr_assert_eq(acc, 0u);
    mpt_destroy(pool);
}

/* --------------------------------------------------- order of combine */

/* The accumulator is the range it covers; combining a range that does not
 * start where the accumulated one ends records an order error. */
struct span {
    uint64_t begin, end;
    uint32_t empty, disorder;
};

struct order_ctx {
    atomic_int not_identity;
    atomic_int calls;
};

static int span_map(void *arg, size_t begin, size_t end, void *acc)
{
    struct order_ctx *c = arg;
    struct span *s = acc;
    atomic_fetch_add(&c->calls, 1);
    if (!s->empty || s->disorder || s->begin != 0 || s->end != 0)
        atomic_fetch_add(&c->not_identity, 1);
    s->begin = begin;
    s->end = end;
    s->empty = 0;
    return 0;
}

static void span_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    struct span *a = acc;
    const struct span *b = other;
    a->disorder += b->disorder;
    if (b->empty)
        return;
    if (a->empty) {
        *a = *b;
        return;
    }
    if (a->end != b->begin)
        a->disorder++;
    a->end = b->end;
}

Test(reduce, combine_is_called_left_to_right)
{
    static const unsigned sizes[] = {1, 2, 3, 8, 16};
    static const size_t ns[] = {2, 100, 4097, 1000000};
    static const size_t grains[] = {0, 1, 50};
    for (size_t k = 0; k < 5; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (int rep = 0; rep < 5; rep++)
            for (size_t ni = 0; ni < 4; ni++)
                for (size_t gi = 0; gi < 3; gi++)
                    for (size_t f = 0; f < 4; f++) {
                        struct order_ctx c = {0};
                        struct span acc = {0, 0, 1, 0};
                        cr_assert_eq(mp_reduce(pool, ns[ni], grains[gi], all_flags[f], &acc,
                                               sizeof acc, span_map, span_combine, &c),
                                     MP_OK);
                        cr_assert_eq(atomic_load(&c.not_identity), 0,
                                     "map got a fresh copy of the identity");
                        cr_assert_eq(acc.disorder, 0u,
                                     "threads=%u n=%zu grain=%zu flags=%u: out of order",
                                     sizes[k], ns[ni], grains[gi], all_flags[f]);
                        cr_assert_eq(acc.empty, 0u);
                        cr_assert_eq(acc.begin, 0u);
                        cr_assert_eq(acc.end, ns[ni]);
                    }
        mpt_destroy(pool);
    }
}

/* The polynomial hash of ../common/fold.h (the conformance cases' too):
 * not commutative. */
Test(reduce, a_non_commutative_hash_matches_the_sequential_fold)
{
    mpt_hash seq = {0, 0};
    mpt_hash_map(NULL, 0, 100000, &seq);
    cr_assert_eq(seq.h, 933429u);
    static const unsigned sizes[] = {1, 2, 4, 16};
    for (size_t k = 0; k < 4; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t f = 0; f < 4; f++)
            for (size_t g = 0; g < 3; g++) {
                mpt_hash acc = {0, 0};
                size_t grain = (size_t[]){0, 1, 7}[g];
                cr_assert_eq(mp_reduce(pool, 100000, grain, all_flags[f], &acc, sizeof acc,
                                       mpt_hash_map, mpt_hash_combine, NULL),
                             MP_OK);
                cr_assert_eq(acc.h, seq.h, "threads=%u flags=%u grain=%zu", sizes[k],
                             all_flags[f], grain);
                cr_assert_eq(acc.len, 100000u);
            }
        mpt_destroy(pool);
    }
}

/* --------------------------------------------------------- determinism */

struct det_ctx {
    mpt_ranges rs;
};

/* The harmonic sum of ../common/fold.h, recording the parts' ranges. */
static int harmonic_map(void *arg, size_t begin, size_t end, void *acc)
{
    struct det_ctx *c = arg;
    if (c)
        mpt_ranges_add(&c->rs, begin, end);
    return mpt_harmonic_map(NULL, begin, end, acc);
}

Test(reduce, deterministic_float_sums_are_bitwise_equal_on_1_to_8_threads)
{
    struct {
        size_t n, grain, parts;
    } cases[] = {{100000, 0, 64}, {99991, 1000, 64}, {100000, 10000, 10}, {5000, 1, 64},
                 {777, 100, 8}};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        double first = 0;
        mpt_range first_parts[MP_REDUCE_PARTS_MAX];
        size_t first_count = 0;
        for (unsigned t = 1; t <= 8; t++) {
            mp_pool *pool = mpt_pool(t);
            for (int rep = 0; rep < 3; rep++) {
                struct det_ctx c;
                mpt_ranges_init(&c.rs, 1024);
                double acc = 0.0;
                cr_assert_eq(mp_reduce(pool, cases[ci].n, cases[ci].grain, MP_DETERMINISTIC, &acc,
                                       sizeof acc, harmonic_map, mpt_double_combine, &c),
                             MP_OK);
                size_t count = atomic_load(&c.rs.count);
                const char *why = mpt_ranges_check(&c.rs, cases[ci].n);
                cr_assert_null(why, "%s", why);
                cr_assert_eq(count, cases[ci].parts, "n=%zu grain=%zu threads=%u: %zu parts",
                             cases[ci].n, cases[ci].grain, t, count);
                if (t == 1 && rep == 0) {
                    first = acc;
                    first_count = count;
                    memcpy(first_parts, c.rs.r, count * sizeof *first_parts);
                } else {
                    cr_assert(memcmp(&acc, &first, sizeof acc) == 0,
                              "n=%zu grain=%zu: %.17g on %u threads, %.17g on 1", cases[ci].n,
                              cases[ci].grain, acc, t, first);
                    cr_assert_eq(count, first_count);
                    cr_assert(memcmp(first_parts, c.rs.r, count * sizeof *first_parts) == 0,
                              "the partition depends on (n, grain) only");
                }
                mpt_ranges_free(&c.rs);
            }
            mpt_destroy(pool);
        }
    }
}

/* ------------------------------------------------- accumulator handling */

/* An accumulator of `size` bytes: a count of items in bytes 1..8 (byte 0
 * when it is smaller than 9 bytes), filler bytes elsewhere that nobody may
 * change. The identity has a zero count. */
struct wide_ctx {
    size_t size;
    atomic_int misaligned;
    atomic_int not_identity;
};

static int wide_is_count_byte(size_t size, size_t i)
{
    return size >= 9 ? (i >= 1 && i <= 8) : i == 0;
}

static unsigned char wide_filler(size_t i)
{
    return (unsigned char)(i * 7 + 1);
}

static void wide_identity(unsigned char *a, size_t size)
{
    for (size_t i = 0; i < size; i++)
        a[i] = wide_is_count_byte(size, i) ? 0 : wide_filler(i);
}

static uint64_t wide_count(const unsigned char *a, size_t size)
{
    if (size < 9)
        return a[0];
    uint64_t c;
    memcpy(&c, a + 1, 8);
    return c;
}

static void wide_set_count(unsigned char *a, size_t size, uint64_t c)
{
    if (size < 9)
        a[0] = (unsigned char)c;
    else
        memcpy(a + 1, &c, 8);
}

static int wide_map(void *arg, size_t begin, size_t end, void *acc)
{
    struct wide_ctx *c = arg;
    unsigned char *a = acc;
    if ((uintptr_t)acc % alignof(max_align_t) != 0)
        atomic_fetch_add(&c->misaligned, 1);
    for (size_t i = 0; i < c->size; i++)
        if (a[i] != (wide_is_count_byte(c->size, i) ? 0 : wide_filler(i)))
            atomic_fetch_add(&c->not_identity, 1);
    wide_set_count(a, c->size, end - begin);
    return 0;
}

static void wide_combine(void *arg, void *acc, const void *other)
{
    struct wide_ctx *c = arg;
    wide_set_count(acc, c->size, wide_count(acc, c->size) + wide_count(other, c->size));
}

Test(reduce, accumulators_of_any_size_are_aligned_private_copies_of_the_identity)
{
    static const size_t acc_sizes[] = {1, 3, 8, 9, 16, 63, 64, 65, 256, 1000};
    static const unsigned sizes[] = {1, 2, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t si = 0; si < sizeof acc_sizes / sizeof acc_sizes[0]; si++)
            for (size_t f = 0; f < 4; f++) {
                size_t sz = acc_sizes[si];
                struct wide_ctx c = {.size = sz};
                /* The caller's acc need not be aligned: offset it by one. */
                unsigned char *buf = malloc(sz + 1), *acc = buf + 1;
                wide_identity(acc, sz);
                size_t n = 100003;
                int rc = mp_reduce(pool, n, 10, all_flags[f], acc, sz, wide_map, wide_combine, &c);
                cr_assert_eq(rc, MP_OK, "acc_size %zu: %d", sz, rc);
                cr_assert_eq(atomic_load(&c.misaligned), 0,
                             "threads=%u flags=%u acc_size %zu: map got an accumulator that is "
                             "not aligned like max_align_t (the caller's acc is not)",
                             sizes[k], all_flags[f], sz);
                cr_assert_eq(atomic_load(&c.not_identity), 0,
                             "acc_size %zu: map must start from a copy of the identity", sz);
                uint64_t want = sz < 9 ? (unsigned char)n : n;
                cr_assert_eq(wide_count(acc, sz), want, "acc_size %zu: items counted", sz);
                for (size_t i = 0; i < sz; i++)
                    if (!wide_is_count_byte(sz, i))
                        cr_assert_eq(acc[i], wide_filler(i), "acc_size %zu: byte %zu changed",
                                     sz, i);
                free(buf);
            }
        mpt_destroy(pool);
    }
}

/* ------------------------------------------------------------ nesting */

struct nested_reduce {
    mp_pool *pool;
    size_t inner_n;
    atomic_int bad;
};

static int nested_map(void *arg, size_t begin, size_t end, void *acc)
{
    struct nested_reduce *nr = arg;
    for (size_t i = begin; i < end; i++) {
        struct sum_ctx c = {0};
        uint64_t inner = 0;
        int rc = mp_reduce(nr->pool, nr->inner_n, 1, 0, &inner, sizeof inner, sum_map,
                           sum_combine, &c);
        if (rc != 0)
            return rc;
        if (inner != sum_expect(nr->inner_n))
            atomic_fetch_add(&nr->bad, 1);
        *(uint64_t *)acc += inner + i;
    }
    return 0;
}

Test(reduce, nested_reductions_on_the_same_pool)
{
    mp_pool *pool = mpt_pool(3);
    struct nested_reduce nr = {pool, 1000, 0};
    uint64_t acc = 0;
    cr_assert_eq(mp_reduce(pool, 200, 1, 0, &acc, sizeof acc, nested_map, sum_combine, &nr),
                 MP_OK);
    cr_assert_eq(atomic_load(&nr.bad), 0);
    cr_assert_eq(acc, 200 * sum_expect(1000) + sum_expect(200));
    mpt_destroy(pool);
}

/* --------------------------------------------------------------- errors */

struct fail_map_ctx {
    size_t bad;
    int value;
    int fail_all;
    atomic_int calls;
};

static int fail_map(void *arg, size_t begin, size_t end, void *acc)
{
    struct fail_map_ctx *c = arg;
    atomic_fetch_add(&c->calls, 1);
    *(uint64_t *)acc += end - begin;
    if (c->fail_all || (c->bad >= begin && c->bad < end))
        return c->value;
    return 0;
}

Test(reduce, the_error_of_map_comes_back_unchanged_and_skips_parts)
{
    static const int values[] = {1, 42, INT_MAX, -1, -5000, INT_MIN};
    static const unsigned sizes[] = {1, 2, 16};
    for (size_t k = 0; k < 3; k++) {
        mp_pool *pool = mpt_pool(sizes[k]);
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++)
            for (size_t f = 0; f < 4; f++) {
                size_t where[] = {0, 500, 999};
                for (int w = 0; w < 3; w++) {
                    struct fail_map_ctx c = {.bad = where[w], .value = values[v]};
                    uint64_t acc = 0;
                    cr_assert_eq(mp_reduce(pool, 1000, 1, all_flags[f], &acc, sizeof acc,
                                           fail_map, sum_combine, &c),
                                 values[v], "threads=%u flags=%u item %zu", sizes[k],
                                 all_flags[f], where[w]);
                }
            }
        if (sizes[k] > 1) {
            struct fail_map_ctx c = {.bad = SIZE_MAX, .value = 3, .fail_all = 1};
            uint64_t acc = 0;
            cr_assert_eq(mp_reduce(pool, 1000000, 1, MP_DETERMINISTIC, &acc, sizeof acc, fail_map,
                                   sum_combine, &c),
                         3);
            cr_assert_lt(atomic_load(&c.calls), 64,
                         "%u threads: the 64 parts did not all start after failures", sizes[k]);
        }
        /* Still fine afterwards. */
        struct sum_ctx sc = {0};
        uint64_t acc = 0;
        cr_assert_eq(mp_reduce(pool, 5000, 1, 0, &acc, sizeof acc, sum_map, sum_combine, &sc),
                     MP_OK);
        cr_assert_eq(acc, sum_expect(5000));
        mpt_destroy(pool);
    }
}
