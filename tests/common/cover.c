#include "cover.h"

#include <stdio.h>
#include <stdlib.h>

void mpt_cover_init_with(mpt_cover *c, atomic_uchar *hits, size_t n)
{
    c->n = n;
    c->hits = hits;
    c->owned = 0;
    atomic_init(&c->bad_range, 0);
    atomic_init(&c->calls, 0);
    mpt_cover_reset(c);
}

void mpt_cover_init(mpt_cover *c, size_t n)
{
    atomic_uchar *hits = calloc(n ? n : 1, sizeof *hits);
    if (!hits) {
        fprintf(stderr, "mpt_cover_init: no memory for %zu counters\n", n);
        abort();
    }
    mpt_cover_init_with(c, hits, n);
    c->owned = 1;
}

void mpt_cover_free(mpt_cover *c)
{
    if (c->owned)
        free(c->hits);
    c->hits = NULL;
}

void mpt_cover_reset(mpt_cover *c)
{
    for (size_t i = 0; i < c->n; i++)
        atomic_store_explicit(&c->hits[i], 0, memory_order_relaxed);
    atomic_store(&c->bad_range, 0);
    atomic_store(&c->calls, 0);
}

int mpt_cover_mark(mpt_cover *c, size_t begin, size_t end)
{
    atomic_fetch_add(&c->calls, 1);
    if (begin >= end || end > c->n) {
        atomic_fetch_add(&c->bad_range, 1);
        return -1;
    }
    for (size_t i = begin; i < end; i++)
        atomic_fetch_add_explicit(&c->hits[i], 1, memory_order_relaxed);
    return 0;
}

int mpt_cover_body(void *arg, size_t begin, size_t end)
{
    (void)mpt_cover_mark(arg, begin, end);
    return 0;
}

size_t mpt_cover_off(const mpt_cover *c, unsigned times)
{
    size_t wrong = (size_t)atomic_load(&c->bad_range);
    for (size_t i = 0; i < c->n; i++)
        if (atomic_load_explicit(&c->hits[i], memory_order_relaxed) != times)
            wrong++;
    return wrong;
}

size_t mpt_cover_wrong(const mpt_cover *c)
{
    return mpt_cover_off(c, 1);
}
