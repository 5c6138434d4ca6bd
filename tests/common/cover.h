/*
 * The coverage checker: a counter per item, to check that the ranges a
 * loop or a reduction hands out cover [0, n) exactly (each item the
 * expected number of times, no empty or out-of-bounds range).
 */
#ifndef MPT_COVER_H
#define MPT_COVER_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct mpt_cover {
    size_t n;
    atomic_uchar *hits;
    int owned;                 /* hits was allocated by mpt_cover_init */
    atomic_int bad_range;      /* empty, reversed or out-of-bounds ranges */
    atomic_long calls;
} mpt_cover;

/* n counters from the heap (aborts when there is no memory)... */
void mpt_cover_init(mpt_cover *c, size_t n);
/* ... or the caller's (a program that counts the heap's use). */
void mpt_cover_init_with(mpt_cover *c, atomic_uchar *hits, size_t n);
void mpt_cover_free(mpt_cover *c);
/* Clears the counters for the next loop. */
void mpt_cover_reset(mpt_cover *c);
/* Marks [begin, end); an mp_range_fn with the cover as its argument. */
int mpt_cover_body(void *arg, size_t begin, size_t end);
/* Marks [begin, end) as mpt_cover_body does; returns 0 if the range was
 * in bounds and not empty. */
int mpt_cover_mark(mpt_cover *c, size_t begin, size_t end);
/* Items not hit exactly `times` times, plus bad ranges. */
size_t mpt_cover_off(const mpt_cover *c, unsigned times);
/* Items not hit exactly once, plus bad ranges. */
size_t mpt_cover_wrong(const mpt_cover *c);

#endif
