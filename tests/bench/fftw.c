/*
 * fftw.c: the runners of the fftw workload (driver.c, 11): FFTW's threads
 * on micropool against FFTW's own two back ends and one thread.
 *
 * Built twice: micropool-bench-fftw (libfftw3_threads) offers the backends
 * fftw-seq (plans for one thread), fftw-pthreads (FFTW's own threads) and
 * fftw-micropool (fftw_threads_set_callback with micropool-fftw.h);
 * micropool-bench-fftw-omp (libfftw3_omp, built with BENCH_FFTW_OMP)
 * offers fftw-omp. The two threads libraries export the same symbols, so
 * they cannot share a process.
 *
 * usage: RUNNER BACKEND fftw THREADS SAMPLES BUDGET_MS PARAM...
 *   c1d:N   complex 1D forward transform of N points, out of place
 *   r1d:N   real to complex 1D transform of N points, out of place
 *   c2d:N   complex 2D forward transform of N x N points, out of place
 *   audio:N:P  the periodic row: a real transform of N points every P us,
 *              the caller asleep in between (clock_nanosleep, absolute)
 *
 * Every plan is an FFTW_MEASURE plan for THREADS threads (fftw-seq: one).
 * When MP_BENCH_FFTW_WISDOM names a directory, the runner imports
 * DIR/BACKEND.wisdom before planning and exports its wisdom there at the
 * end, so a back end plans each size once per run and every later batch
 * reuses those plans.
 *
 * Lines out, as the other runners' (harness.c): "sample PARAM VALUE" is ns
 * per transform (for audio, one per call; PARAM/seq the calls of a
 * 1-thread plan of the same transform timed in the same process, in
 * blocks that alternate with the back end's; PARAM/cpu_ns and
 * PARAM/wall_ns the process's CPU time and the wall time over the back
 * end's blocks); "PARAM/threaded 0|1" whether FFTW's plan is a
 * threaded one. Each plan's first output is checked against a 1-thread
 * plan: a relative error of 1e-10 or more is a broken run (exit 1).
 */
#define _GNU_SOURCE

#include "bench.h"

#ifdef BENCH_FFTW_OMP
#include <fftw3.h>
#else
#include <micropool-fftw.h>
#endif

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *backend;
static unsigned threads, max_samples;
static uint64_t budget_ns;
static char wisdom[4096];

static void fail(const char *what, const char *param)
{
    fprintf(stderr, "%s: %s %s\n", backend ? backend : "fftw runner", what, param);
    exit(1);
}

/* ---------------------------------------------------------------- back ends */
#ifndef BENCH_FFTW_OMP
static mp_pool *pool;
#endif

/* Sets FFTW up for this back end; NULL, or why it cannot run. */
static const char *start(void)
{
    if (!fftw_init_threads())
        return "fftw_init_threads failed";
    if (!strcmp(backend, "fftw-seq"))
        return NULL;
#ifdef BENCH_FFTW_OMP
    if (strcmp(backend, "fftw-omp"))
        return "no such back end in this runner";
    return NULL;
#else
    if (!strcmp(backend, "fftw-pthreads"))
        return NULL;
    if (strcmp(backend, "fftw-micropool"))
        return "no such back end in this runner";
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = threads;
    if (mp_pool_create(&cfg, &pool) != MP_OK)
        return "mp_pool_create failed";
    mp_fftw_init(pool); /* FFTW's threads are initialised already */
    return NULL;
#endif
}

/* The thread count that plans of this back end are made for. */
static int plan_threads(void)
{
    return strcmp(backend, "fftw-seq") ? (int)threads : 1;
}

/* ---------------------------------------------------------------- transforms */
struct transform {
    char kind;          /* 'c': c1d, 'r': r1d, '2': c2d */
    int n;
    size_t in_len, out_len; /* doubles */
    double *in, *out;
};

static void parse(const char *param, struct transform *t, unsigned *period_us)
{
    char kind[8];
    int n = 0;
    unsigned p = 0;
    *period_us = 0;
    if (sscanf(param, "audio:%d:%u", &n, &p) == 2 && n > 1 && p > 0) {
        t->kind = 'r';
        *period_us = p;
    } else if (sscanf(param, "%3[a-z0-9]:%d", kind, &n) == 2 && n > 1 &&
               (!strcmp(kind, "c1d") || !strcmp(kind, "r1d") || !strcmp(kind, "c2d"))) {
        t->kind = kind[0] == 'c' && kind[1] == '2' ? '2' : kind[0];
    } else {
        fprintf(stderr, "fftw runner: not a transform: %s\n", param);
        exit(2);
    }
    t->n = n;
    size_t points = t->kind == '2' ? (size_t)n * (size_t)n : (size_t)n;
    t->in_len = t->kind == 'r' ? points : 2 * points;
    t->out_len = t->kind == 'r' ? 2 * (points / 2 + 1) : 2 * points;
    t->in = fftw_malloc(t->in_len * sizeof(double));
    t->out = fftw_malloc(t->out_len * sizeof(double));
    if (!t->in || !t->out)
        fail("out of memory for", param);
}

static fftw_plan plan_for(const struct transform *t, int nthreads, unsigned flags, double *out)
{
    fftw_plan_with_nthreads(nthreads);
    if (t->kind == 'r')
        return fftw_plan_dft_r2c_1d(t->n, t->in, (fftw_complex *)out, flags);
    if (t->kind == '2')
        return fftw_plan_dft_2d(t->n, t->n, (fftw_complex *)t->in, (fftw_complex *)out,
                                FFTW_FORWARD, flags);
    return fftw_plan_dft_1d(t->n, (fftw_complex *)t->in, (fftw_complex *)out, FFTW_FORWARD, flags);
}

/* Makes the back end's plan (planning overwrites the arrays), fills the
 * input, and checks the plan's output against a 1-thread plan's. */
static fftw_plan prepare(const struct transform *t, const char *param)
{
    fftw_plan p = plan_for(t, plan_threads(), FFTW_MEASURE, t->out);
    if (!p)
        fail("FFTW made no plan for", param);
    uint64_t x = 0x2545f4914f6cdd1du ^ (uint64_t)t->n;
    for (size_t i = 0; i < t->in_len; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t->in[i] = (double)(x >> 11) / 9007199254740992.0 - 0.5;
    }
    double *want = fftw_malloc(t->out_len * sizeof(double));
    if (!want)
        fail("out of memory for", param);
    fftw_plan one = plan_for(t, 1, FFTW_ESTIMATE, want);
    if (!one)
        fail("FFTW made no 1-thread plan for", param);
    fftw_execute(one);
    fftw_execute(p);
    double diff = 0, scale = 0;
    for (size_t i = 0; i < t->out_len; i++) {
        double d = fabs(t->out[i] - want[i]);
        diff = d > diff || isnan(d) ? d : diff;
        scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    }
    if (!(diff <= 1e-10 * scale))
        fail("wrong transform (off by more than 1e-10 of its largest value):", param);
    fftw_destroy_plan(one);
    fftw_free(want);
    char *text = fftw_sprint_plan(p);
    printf("sample %s/threaded %d\n", param, text && strstr(text, "-thr") ? 1 : 0);
    free(text);
    return p;
}

/* ---------------------------------------------------------------- timing */
static int more(unsigned taken, uint64_t since)
{
    return taken == 0 || (taken < max_samples && bench_now_ns() - since < budget_ns);
}

/* Back-to-back transforms: each sample is the mean of enough of them to
 * take about 2 ms (one at least). */
static void time_sizes(fftw_plan p, const char *param)
{
    uint64_t t0 = bench_now_ns();
    fftw_execute(p);
    double one = (double)(bench_now_ns() - t0);
    uint64_t reps = one > 0 && one < 2e6 ? (uint64_t)(2e6 / one) : 1;
    uint64_t since = bench_now_ns();
    for (unsigned s = 0; more(s, since); s++) {
        t0 = bench_now_ns();
        for (uint64_t r = 0; r < reps; r++)
            fftw_execute(p);
        printf("sample %s %.6g\n", param, (double)(bench_now_ns() - t0) / (double)reps);
    }
}

static uint64_t process_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* Sleeps until the next period after `*next`, skipping those an overrun
 * missed; returns when the call may start. */
static void next_period(uint64_t *next, uint64_t period_ns)
{
    uint64_t now = bench_now_ns();
    while (*next <= now)
        *next += period_ns;
    struct timespec ts = { (time_t)(*next / 1000000000u), (long)(*next % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* One block of `calls` periods of plan p (one untimed first, as the other
 * block left the pool idle for longer); the times go out under `param`. */
static void periodic_block(fftw_plan p, uint64_t period_ns, uint64_t *next, unsigned calls,
                           const char *param, uint64_t *wall, uint64_t *cpu)
{
    double ns[BENCH_PACED_BLOCK];
    next_period(next, period_ns);
    fftw_execute(p);
    uint64_t w0 = bench_now_ns(), c0 = process_cpu_ns();
    for (unsigned i = 0; i < calls; i++) {
        next_period(next, period_ns);
        uint64_t t0 = bench_now_ns();
        fftw_execute(p);
        ns[i] = (double)(bench_now_ns() - t0);
    }
    *cpu += process_cpu_ns() - c0;
    *wall += bench_now_ns() - w0;
    for (unsigned i = 0; i < calls; i++)
        printf("sample %s %.6g\n", param, ns[i]);
}

static void time_periodic(const struct transform *t, fftw_plan p, unsigned period_us,
                          const char *param)
{
    char seq_param[64];
    snprintf(seq_param, sizeof seq_param, "%s/seq", param);
    fftw_plan one = plan_for(t, 1, FFTW_MEASURE, t->out);
    if (!one)
        fail("FFTW made no 1-thread plan for", param);
    uint64_t period_ns = (uint64_t)period_us * 1000u, next = bench_now_ns();
    uint64_t wall = 0, cpu = 0, seq_wall = 0, seq_cpu = 0, since = bench_now_ns();
    for (unsigned taken = 0;
         more(taken, since) ||
         (wall < BENCH_PACED_MIN_MS * 1000000ull && bench_now_ns() - since < budget_ns);) {
        unsigned calls = BENCH_PACED_BLOCK;
        if (taken < max_samples && max_samples - taken < calls)
            calls = max_samples - taken;
        periodic_block(p, period_ns, &next, calls, param, &wall, &cpu);
        periodic_block(one, period_ns, &next, calls, seq_param, &seq_wall, &seq_cpu);
        taken += calls;
    }
    printf("sample %s/wall_ns %llu\n", param, (unsigned long long)wall);
    printf("sample %s/cpu_ns %llu\n", param, (unsigned long long)cpu);
    fftw_destroy_plan(one);
}

/* ---------------------------------------------------------------- main */
int main(int argc, char **argv)
{
    if (argc < 7 || strcmp(argv[2], "fftw")) {
        fprintf(stderr, "usage: %s BACKEND fftw THREADS SAMPLES BUDGET_MS PARAM...\n", argv[0]);
        return 2;
    }
    backend = argv[1];
    threads = (unsigned)strtoul(argv[3], NULL, 10);
    max_samples = (unsigned)strtoul(argv[4], NULL, 10);
    budget_ns = strtoull(argv[5], NULL, 10) * 1000000u;
    if (threads < 1 || max_samples < 1) {
        fprintf(stderr, "%s: bad THREADS or SAMPLES\n", argv[0]);
        return 2;
    }
    alarm(900); /* planning the largest sizes takes seconds; a hang ends here */
    const char *why = start();
    if (why) {
        printf("skip %s\n", why);
        return 0;
    }
    const char *dir = getenv("MP_BENCH_FFTW_WISDOM");
    if (dir && *dir) {
        snprintf(wisdom, sizeof wisdom, "%s/%s.wisdom", dir, backend);
        if (access(wisdom, R_OK) == 0 && !fftw_import_wisdom_from_filename(wisdom))
            fail("cannot read the wisdom in", wisdom);
    }
    for (int i = 6; i < argc; i++) {
        struct transform t;
        unsigned period_us;
        parse(argv[i], &t, &period_us);
        fftw_plan p = prepare(&t, argv[i]);
        if (period_us)
            time_periodic(&t, p, period_us, argv[i]);
        else
            time_sizes(p, argv[i]);
        fftw_destroy_plan(p);
        fftw_free(t.in);
        fftw_free(t.out);
    }
    if (*wisdom && !fftw_export_wisdom_to_filename(wisdom))
        fail("cannot write the wisdom to", wisdom);
#ifndef BENCH_FFTW_OMP
    if (pool) {
        fftw_threads_set_callback(NULL, NULL);
        mp_pool_destroy(pool);
    }
#endif
    fflush(stdout);
    return 0;
}
