/*
 * Shared helpers of the Criterion suite.
 *
 * Criterion's assertions may only run on the test's own thread (a failing
 * cr_assert jumps out of the test), so callbacks that run on pool threads
 * use MPT_CHECK, which records the failure; the test thread then calls
 * MPT_ASSERT_CLEAN() to turn recorded failures into a test failure.
 * The checks' counters and the coverage checker (mpt_cover) are those of
 * the standalone programs (../common).
 */
#ifndef MPT_SUPPORT_H
#define MPT_SUPPORT_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <micropool.h>

#include "check.h"
#include "cover.h"

#define MPT_ASSERT_CLEAN() \
    cr_assert(mpt_failures() == 0, "%ld check(s) failed on pool threads, first: %s", \
              mpt_failures(), mpt_first_failure())

/* A pool of `threads` threads (default settings otherwise); fails the test
 * if it cannot be created. */
mp_pool *mpt_pool(unsigned threads);
/* mp_pool_destroy, asserting MP_OK. */
void mpt_destroy(mp_pool *pool);

/* The CPUs this process may run on. */
unsigned mpt_cpus(void);
/* The number of threads of this process (entries of /proc/self/task). */
int mpt_thread_count(void);

/* Waits (yielding) until *flag >= value or `seconds` pass; returns 1 if the
 * value was reached. Bounded so that a broken pool fails a test instead of
 * hanging it. */
int mpt_wait_at_least(atomic_int *flag, int value, double seconds);
/* Burns about `us` microseconds of CPU. */
void mpt_spin_us(unsigned us);

/* A record of the ranges a callback saw. */
typedef struct mpt_range { size_t begin, end; } mpt_range;
typedef struct mpt_ranges {
    mpt_range *r;
    size_t cap;
    atomic_size_t count;
} mpt_ranges;

void mpt_ranges_init(mpt_ranges *rs, size_t cap);
void mpt_ranges_free(mpt_ranges *rs);
void mpt_ranges_add(mpt_ranges *rs, size_t begin, size_t end);
/* Sorts the ranges and checks that they are non-empty, disjoint and cover
 * [0, n) exactly; returns NULL if so, else a static description. */
const char *mpt_ranges_check(mpt_ranges *rs, size_t n);

#endif
