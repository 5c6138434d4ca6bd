/*
 * runner_core.c: the backends of micropool-bench-run, the runner that
 * links libmicropool.
 */
#include "bench.h"

extern const bench_backend bench_micropool, bench_micropool_handles, bench_seq,
    bench_seq_quicksort, bench_cvpool;

const bench_backend *const bench_backends[] = {
    &bench_micropool, &bench_micropool_handles, &bench_seq, &bench_seq_quicksort, &bench_cvpool, NULL,
};
