/*
 * The folds of the reduce tests, shared by the Criterion suite and the
 * conformance runner (whose cases.txt defines them for every binding):
 *
 *   hash      h = (h * 31 + i) mod 1000003 over the items in order; not
 *             commutative, so a wrong combine order changes the result:
 *             combine(x, y) = (x.h * 31^y.len + y.h) mod 1000003
 *   harmonic  the double sum of 1 / (i + 1): a different grouping changes
 *             the low bits, so MP_DETERMINISTIC must fix it
 *
 * All are mp_map_fn / mp_combine_fn; their `arg` is not used.
 */
#ifndef MPT_FOLD_H
#define MPT_FOLD_H

#include <stddef.h>
#include <stdint.h>

#define MPT_HASH_P 1000003u

typedef struct mpt_hash {
    uint64_t h, len;
} mpt_hash;

int mpt_hash_map(void *arg, size_t begin, size_t end, void *acc);
void mpt_hash_combine(void *arg, void *acc, const void *other);

int mpt_harmonic_map(void *arg, size_t begin, size_t end, void *acc);
void mpt_double_combine(void *arg, void *acc, const void *other);

#endif
