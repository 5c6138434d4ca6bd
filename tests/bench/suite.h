/*
 * suite.h: the classic fork-join suite (the workload `suite`), the
 * programs that runtime papers compare on: fib, nqueens, uts, integrate,
 * matmul and a merge sort. One file per program (suite_*.c). Unlike the
 * other kernels, the programs are compiled once by CMake's C compiler for
 * all the peers' runners (an object library, linked into the clang-built
 * LLVM OpenMP runner too), and again for micropool's runner with the same
 * compiler and flags: every runtime runs the same machine code for the
 * work, and only the joins differ. They use nothing of kernels.c in a
 * timed run.
 *
 * Each program has two versions with the same algorithm and the same
 * cut-offs:
 *   - the serial one, plain recursion: what one thread does without a
 *     runtime (the T = 1 overhead is measured against it);
 *   - the fork-join one, written once, whose every fork is a two-way
 *     suite_join(a, a_arg, b, b_arg) on frames of the caller's stack: it
 *     runs a and b, maybe in parallel, and returns when both are done (a
 *     wider fork is a tree of these). Each runner supplies the join: in
 *     micropool's runner it is mp_join itself (no wrapper); OpenMP's is a
 *     task for b, a on the caller, taskwait; oneTBB's is parallel_invoke.
 *     The root runs inside the runtime (an OpenMP parallel region's single
 *     thread, a task_arena), through bench_backend.suite_root.
 */
#ifndef MP_BENCH_SUITE_H
#define MP_BENCH_SUITE_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef SUITE_MICROPOOL
#include <micropool.h>
/* the micropool backend's pool (backend_micropool.c) */
extern mp_pool *suite_mp_pool;
#define suite_join(a, a_arg, b, b_arg) mp_join(suite_mp_pool, (a), (a_arg), (b), (b_arg))
#else
/* The runner's join (backend_omp.c, backend_tbb.cpp): runs a(a_arg) and
 * b(b_arg), returns the first non-zero result. */
int suite_join(bench_job_fn a, void *a_arg, bench_job_fn b, void *b_arg);
#endif

/* One program. Its parameters are two numbers: a size and a second one
 * (fib's cut-off; 0 where a program has none). */
typedef struct suite_program {
    const char *name;
    /* Makes the program's input, untimed; NULL when out of memory. */
    void *(*create)(long size, long arg);
    /* Untimed, before every run (a fresh copy of the input); may be NULL. */
    void (*prepare)(void *state);
    /* The serial version. */
    void (*serial)(void *state);
    /* The fork-join version's root; non-zero when a join failed. */
    int (*parallel)(void *state);
    /* The run's result (a count, a sum, a checksum): every runtime's must
     * equal the serial version's, bit for bit. */
    double (*result)(void *state);
    void (*destroy)(void *state);
} suite_program;

extern const suite_program suite_fib, suite_nqueens, suite_uts, suite_integrate, suite_matmul,
    suite_msort;
/* all of them, NULL-terminated (suite.c) */
extern const suite_program *const suite_programs[];

/* A deterministic stream of 64-bit numbers (splitmix64), for inputs. */
uint64_t suite_mix64(uint64_t x);

#ifdef __cplusplus
}
#endif

#endif /* MP_BENCH_SUITE_H */
