/*
 * bench.h: what the benchmark's runners share.
 *
 * The benchmark is one driver (driver.c) and a few runner programs. Every
 * runner is the same harness (harness.c) and kernels (kernels.c) linked
 * with one or more backends: micropool, the sequential baseline and a plain
 * mutex + condition variable pool (runner_core.c), GCC OpenMP and LLVM
 * OpenMP (backend_omp.c, built once with each compiler), oneTBB
 * (backend_tbb.cpp). libgomp and libomp export the same symbols, so they
 * cannot share a process; and the two OMP_WAIT_POLICY settings of libgomp
 * are read once at start-up. So the driver runs every batch of samples in a
 * fresh runner process with the right environment, and reads back lines of
 * text (see harness.c for their format).
 */
#ifndef MP_BENCH_H
#define MP_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- clock */
uint64_t bench_now_ns(void);            /* CLOCK_MONOTONIC */
void     bench_sleep_ns(uint64_t ns);

/* ---------------------------------------------------------------- kernels */

/* Counts from begin to end one increment at a time (the seeds' workload);
 * returns end - begin. The compiler may neither vectorize nor fold it. */
uint64_t bench_count_range(uint64_t begin, uint64_t end);

/* Plain recursive Fibonacci: the sequential baseline of the join test. */
long bench_fib_seq(int n);
/* How many joins a fib(n) with a join at every level n >= 2 performs. */
uint64_t bench_fib_joins(int n);

/* Quicksort pieces shared by every parallel quicksort: below the cut-off a
 * part is sorted sequentially (the seeds' example uses 5000). */
#define BENCH_SORT_CUTOFF 5000u
void   bench_quicksort_seq(int *v, size_t n);
/* Hoare partition around a median of three: returns m in [1, n-1] with
 * every v[0..m) <= every v[m..n). Needs n >= 2. */
size_t bench_partition(int *v, size_t n);
void   bench_fill_random(int *v, size_t n, uint64_t seed);
int    bench_is_sorted(const int *v, size_t n);
int    bench_cmp_int(const void *a, const void *b);

/* Which threads ran a part. A part calls bench_mark_part(); each thread
 * counts its parts in a cache line of its own, so marking costs a few
 * instructions and no traffic between threads. */
void     bench_mark_part(void);
void     bench_marks_reset(void);       /* zero the counts */
unsigned bench_marks_threads(void);     /* threads with at least one part */
uint64_t bench_marks_total(void);       /* parts in all */
uint64_t bench_marks_mine(void);        /* parts of the calling thread */

/* The tiny background task: one relaxed atomic increment. */
int      bench_tick(void *unused);
void     bench_ticks_reset(void);
uint64_t bench_ticks(void);             /* acquire load */

/* The bursts and periods (harness.c, 9 and 10) time a runtime's calls in
 * blocks of this many, alternating with as many sequential calls, and go
 * on for at least BENCH_PACED_MIN_MS of the runtime's blocks: the kernel
 * brings another running thread's CPU time up to date at its tick (4 ms at
 * HZ=250), so a shorter stretch would not say what the other threads
 * burnt. */
#define BENCH_PACED_BLOCK 20u
#define BENCH_PACED_MIN_MS 50u

/* The stack of every thread of a runtime, its caller's included, in the
 * suite: the uts tree is more than 8000 levels deep, and a runtime that
 * runs other tasks on a waiting thread's stack stacks their frames too.
 * The harness raises the calling thread's limit (RLIMIT_STACK) to it and
 * sets bench_stack_size before the backend starts; the driver gives
 * OpenMP's runners OMP_STACKSIZE, which they read when they load. */
#define BENCH_SUITE_STACK_MB 64u
extern size_t bench_stack_size; /* bytes; 0: the runtime's default */

/* ---------------------------------------------------------------- backends */
typedef int (*bench_job_fn)(void *arg);

/* One runtime. An operation a runtime does not offer is NULL, and the
 * harness answers "skip" for it. */
typedef struct bench_backend {
    const char *name;
    /* Creates the pool of `threads` threads, the caller counted. Returns
     * NULL, or why the runtime cannot run here. */
    const char *(*start)(unsigned threads);
    void (*stop)(void);
    /* How long the pool needs, once idle, before its threads sleep in the
     * kernel (its default spin window or block time, with a margin). */
    unsigned settle_ms;

    /* fork-join: one empty parallel reduction over the items 0..threads-1
     * that calls bench_mark_part() and adds 1 for each item; returns the
     * sum. */
    uint64_t (*empty_reduce)(unsigned threads);
    /* join: fib(n) with a join at every level and no cut-off. */
    long (*fib)(int n);
    /* counting to n, split in one share per thread; returns the count. */
    uint64_t (*count)(uint64_t n);
    /* wake-up and idle: hands fn(arg) to a pool thread other than the
     * caller, from outside the pool. May return before fn has run. (The
     * sequential baseline runs it on the caller: the idle test's floor.) */
    void (*post)(bench_job_fn fn, void *arg);
    /* background tasks: n times bench_tick as tasks submitted from the
     * calling thread, then waits until all have run. 0 on success. */
    int (*tasks)(size_t n);
    /* sorts v[0..n) ascending. */
    void (*sort)(int *v, size_t n);
    /* task graphs (12): a wavefront of n x n tasks (bench_tick each), the
     * task of cell (i, j) after those of (i-1, j) and (i, j-1), built and
     * run from the calling thread; returns once all have run. 0 on
     * success. */
    int (*wavefront)(unsigned n);
    /* priority (12): queues nlow background tasks of BENCH_PRIO_LOW_NS of
     * busy work each at the lowest priority the runtime has, then one task
     * at its highest; returns the nanoseconds from that submit until the
     * task started (negative on failure), after every task has run. */
    double (*prio_latency)(size_t nlow);
    /* the classic suite (suite.h): runs fn(arg), the root of a program's
     * fork-join version, inside the runtime (as the caller, in a parallel
     * region, in the arena) and returns its result. */
    int (*suite_root)(bench_job_fn fn, void *arg);
    /* non-zero: the suite runs the programs' serial versions instead */
    int suite_serial;
} bench_backend;

/* The busy work of each low-priority task of the priority test. */
#define BENCH_PRIO_LOW_NS 1000u
/* The high-priority task: records when it starts. */
void bench_prio_reset(void);
int  bench_prio_high(void *unused);
int  bench_prio_low(void *unused);
/* Waits (sleeping) until the high task and `nlow` low tasks have run;
 * returns its start minus t0, or -1 after 10 s without progress. */
double bench_prio_wait(uint64_t t0, size_t nlow);

/* Each runner defines its backends, NULL-terminated. */
extern const bench_backend *const bench_backends[];

#ifdef __cplusplus
}
#endif

#endif /* MP_BENCH_H */
