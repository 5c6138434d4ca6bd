#include "fold.h"

static uint64_t pow31(uint64_t e)
{
    uint64_t r = 1, b = 31;
    while (e) {
        if (e & 1)
            r = r * b % MPT_HASH_P;
        b = b * b % MPT_HASH_P;
        e >>= 1;
    }
    return r;
}

int mpt_hash_map(void *arg, size_t begin, size_t end, void *acc)
{
    (void)arg;
    mpt_hash *h = acc;
    for (size_t i = begin; i < end; i++)
        h->h = (h->h * 31 + i) % MPT_HASH_P;
    h->len += end - begin;
    return 0;
}

void mpt_hash_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    mpt_hash *x = acc;
    const mpt_hash *y = other;
    x->h = (x->h * pow31(y->len) + y->h) % MPT_HASH_P;
    x->len += y->len;
}

int mpt_harmonic_map(void *arg, size_t begin, size_t end, void *acc)
{
    (void)arg;
    double s = *(double *)acc;
    for (size_t i = begin; i < end; i++)
        s += 1.0 / (double)(i + 1);
    *(double *)acc = s;
    return 0;
}

void mpt_double_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(double *)acc += *(const double *)other;
}
