/*
 * runner_core.c: the backends of micropool-bench-run, the runner that
 * links libmicropool (and the raw futex hand-off, the wake-up row's floor).
 */
#include "bench.h"

extern const bench_backend bench_micropool, bench_micropool_handles, bench_seq,
    bench_seq_quicksort, bench_cvpool, bench_futex;

const bench_backend *const bench_backends[] = {
    &bench_micropool, &bench_micropool_handles, &bench_seq, &bench_seq_quicksort,
    &bench_cvpool, &bench_futex, NULL,
};
