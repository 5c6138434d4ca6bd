/*
 * nulljoin.c: a shared library with one function of mp_join's shape that
 * runs a, then b, and nothing else. The join table's floor row calls it
 * exactly as the micropool row calls mp_join (through the PLT of a shared
 * library, two calls through function pointers, a frame per level): what a
 * join of this ABI costs before any scheduling.
 */
typedef int (*bench_null_fn)(void *arg);

int bench_null_join(void *pool, bench_null_fn a, void *a_arg, bench_null_fn b, void *b_arg);

int bench_null_join(void *pool, bench_null_fn a, void *a_arg, bench_null_fn b, void *b_arg)
{
    (void)pool;
    int r = a(a_arg);
    return r ? r : b(b_arg);
}
