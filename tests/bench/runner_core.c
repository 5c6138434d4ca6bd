/*
 * runner_core.c: the backends of micropool-bench-run, the runner that
 * links libmicropool (and the floors: the raw futex hand-off of the wake-up
 * row, the no-op join of the join row).
 */
#include "bench.h"

extern const bench_backend bench_micropool, bench_micropool_handles, bench_micropool_fifo, bench_seq,
    bench_seq_quicksort, bench_cvpool, bench_futex, bench_nulljoin;

const bench_backend *const bench_backends[] = {
    &bench_micropool, &bench_micropool_handles, &bench_micropool_fifo, &bench_seq, &bench_seq_quicksort,
    &bench_cvpool, &bench_futex, &bench_nulljoin, NULL,
};
