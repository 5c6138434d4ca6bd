/*
 * driver.c: micropool-bench, micropool and its peers side by side.
 *
 * usage: micropool-bench [--quick] [--threads T] [--plot FILE.svg]
 *                        [--only W1,W2,...]
 *   --quick        fewer samples: about two minutes on 2 cores
 *   --threads T    threads of every pool, the calling thread counted
 *                  (default: the CPUs this process may run on)
 *   --plot FILE    draw the counting curves with gnuplot into FILE (SVG),
 *                  and the burst speed-ups into FILE-burst.svg
 *   --only LIST    run only these workloads: forkjoin, fib, count, wakeup,
 *                  idle, tasks, sort, allocs, burst, periodic, fftw, graph, suite
 *
 * Every batch of samples runs in a fresh runner process (see bench.h for
 * why), and the runtimes take turns batch by batch, in a rotating order,
 * so that a drift of the machine hits all of them alike. The driver prints
 * a Markdown table of medians per workload with the ratio micropool / peer
 * on every row, and one "result:" line per figure for scripts.
 *
 * Exit status: 0 when every run worked, 1 when a runner reported a wrong
 * result or crashed, or a micropool call allocated memory after warm-up.
 * Times are reported, never judged.
 */
#define _GNU_SOURCE

#include "bench.h"
#include "bench_config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---------------------------------------------------------------- runtimes */
enum rt {
    MICROPOOL, MICROPOOL_HANDLES, MICROPOOL_FIFO, TBB_TASKGROUP, SEQ, SEQ_QUICKSORT, CVPOOL, FUTEX, NULLJOIN,
    GOMP_ACTIVE, GOMP_PASSIVE, GOMP_DEFAULT, LLVM_OMP, LLVM_OMP_BT0, TBB, ALLOCS,
    FFTW_SEQ, FFTW_PTHREADS, FFTW_OMP, FFTW_MP, RT_COUNT
};

struct runtime {
    const char *id;          /* in result: lines */
    const char *label;       /* in tables */
    const char *exe;         /* runner program, beside this one */
    const char *backend;     /* backend inside the runner */
    const char *env;         /* a setting of one of env_owned; NULL: none */
    const char *skip;        /* why it does not run, NULL if it does */
};

static struct runtime rts[RT_COUNT] = {
    [MICROPOOL] = { "micropool", "micropool", "micropool-bench-run", "micropool", NULL, NULL },
    [MICROPOOL_HANDLES] = { "micropool-handles", "micropool, a handle per task",
                            "micropool-bench-run", "micropool-handles", NULL, NULL },
    [MICROPOOL_FIFO] = { "micropool-fifo", "micropool, 1.0's way (counters and mp_submit; one level)",
                         "micropool-bench-run", "micropool-fifo", NULL, NULL },
    [TBB_TASKGROUP] = { "tbb-taskgroup", "oneTBB task_group (counters)", "micropool-bench-tbb",
                        "tbb-taskgroup", NULL, MP_BENCH_TBB_MISSING },
    [SEQ] = { "seq", "sequential", "micropool-bench-run", "seq", NULL, NULL },
    [SEQ_QUICKSORT] = { "seq-quicksort", "sequential quicksort (same code)",
                        "micropool-bench-run", "seq-quicksort", NULL, NULL },
    [CVPOOL] = { "cvpool", "mutex + condvar pool", "micropool-bench-run", "cvpool", NULL, NULL },
    [FUTEX] = { "futex", "raw futex hand-off (floor)", "micropool-bench-run", "futex", NULL, NULL },
    [NULLJOIN] = { "nulljoin", "no-op join through a library call, 1 thread (floor)",
                   "micropool-bench-run", "nulljoin", NULL, NULL },
    [GOMP_ACTIVE] = { "gomp-active", "GCC OpenMP, active wait", "micropool-bench-gomp", "omp",
                      "OMP_WAIT_POLICY=active", MP_BENCH_GOMP_MISSING },
    [GOMP_PASSIVE] = { "gomp-passive", "GCC OpenMP, passive wait", "micropool-bench-gomp", "omp",
                       "OMP_WAIT_POLICY=passive", MP_BENCH_GOMP_MISSING },
    [GOMP_DEFAULT] = { "gomp-default", "GCC OpenMP, default wait", "micropool-bench-gomp", "omp",
                       NULL, MP_BENCH_GOMP_MISSING },
    [LLVM_OMP] = { "llvm-omp", "LLVM OpenMP", "micropool-bench-llvm-omp", "omp", NULL,
                   MP_BENCH_LLVM_OMP_MISSING },
    [LLVM_OMP_BT0] = { "llvm-omp-blocktime0", "LLVM OpenMP, KMP_BLOCKTIME=0",
                       "micropool-bench-llvm-omp", "omp", "KMP_BLOCKTIME=0",
                       MP_BENCH_LLVM_OMP_MISSING },
    [TBB] = { "tbb", "oneTBB", "micropool-bench-tbb", "tbb", NULL, MP_BENCH_TBB_MISSING },
    [ALLOCS] = { "micropool", "micropool", "micropool-bench-allocs", NULL, NULL, NULL },
    [FFTW_SEQ] = { "fftw-seq", "FFTW, one thread", "micropool-bench-fftw", "fftw-seq", NULL,
                   MP_BENCH_FFTW_MISSING },
    [FFTW_PTHREADS] = { "fftw-pthreads", "FFTW's pthreads back end", "micropool-bench-fftw",
                        "fftw-pthreads", NULL, MP_BENCH_FFTW_MISSING },
    [FFTW_OMP] = { "fftw-omp", "FFTW's OpenMP back end (GCC)", "micropool-bench-fftw-omp",
                   "fftw-omp", NULL, MP_BENCH_FFTW_OMP_MISSING },
    [FFTW_MP] = { "fftw-micropool", "FFTW on micropool", "micropool-bench-fftw", "fftw-micropool",
                  NULL, MP_BENCH_FFTW_MISSING },
};

/* Why a runtime skipped the workload being measured (its permanent
 * reason, r->skip, or what its runner answered this time). */
static const char *skip_now[RT_COUNT];

static char exe_dir[PATH_MAX];
static unsigned threads;
static int quick;
static int broken;

/* ---------------------------------------------------------------- samples */
struct series {
    enum rt rt;
    char workload[16];
    char param[32];
    double *v;
    size_t n, cap;
};

static struct series *all;
static size_t n_all, cap_all;

static struct series *series_of(enum rt rt, const char *workload, const char *param, int create)
{
    for (size_t i = 0; i < n_all; i++)
        if (all[i].rt == rt && !strcmp(all[i].workload, workload) && !strcmp(all[i].param, param))
            return &all[i];
    if (!create)
        return NULL;
    if (n_all == cap_all) {
        cap_all = cap_all ? 2 * cap_all : 64;
        all = realloc(all, cap_all * sizeof *all);
        if (!all) {
            perror("micropool-bench");
            exit(1);
        }
    }
    struct series *s = &all[n_all++];
    memset(s, 0, sizeof *s);
    s->rt = rt;
    snprintf(s->workload, sizeof s->workload, "%s", workload);
    snprintf(s->param, sizeof s->param, "%s", param);
    return s;
}

static void add_value(enum rt rt, const char *workload, const char *param, double v)
{
    struct series *s = series_of(rt, workload, param, 1);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) {
            perror("micropool-bench");
            exit(1);
        }
    }
    s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of a series (0.5: the median, 1: the largest), between
 * the two nearest samples; NAN when there is none. */
static double quantile(enum rt rt, const char *workload, const char *param, double q)
{
    struct series *s = series_of(rt, workload, param, 0);
    if (!s || s->n == 0)
        return NAN;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    double at = q * (double)(s->n - 1);
    size_t lo = (size_t)at;
    if (lo + 1 >= s->n)
        return s->v[s->n - 1];
    return s->v[lo] + (at - (double)lo) * (s->v[lo + 1] - s->v[lo]);
}

static double median(enum rt rt, const char *workload, const char *param)
{
    return quantile(rt, workload, param, 0.5);
}

/* The sum of a series, NAN when there is none. */
static double total(enum rt rt, const char *workload, const char *param)
{
    struct series *s = series_of(rt, workload, param, 0);
    if (!s || s->n == 0)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    return sum;
}

static size_t count_of(enum rt rt, const char *workload, const char *param)
{
    struct series *s = series_of(rt, workload, param, 0);
    return s ? s->n : 0;
}

/* ---------------------------------------------------------------- runners */

/* The variables a runtime's row may set: no runner inherits them from our
 * environment, so that a row without a setting has the runtime's
 * default. (libomp reads OMP_WAIT_POLICY too.) */
static const char *const env_owned[] = { "OMP_WAIT_POLICY=", "KMP_BLOCKTIME=", "OMP_STACKSIZE=" };

/* A setting every runner gets beside its own (the suite's OMP_STACKSIZE);
 * NULL: none. */
static const char *env_extra;

static int env_is_owned(const char *var)
{
    for (size_t i = 0; i < sizeof env_owned / sizeof env_owned[0]; i++)
        if (!strncmp(var, env_owned[i], strlen(env_owned[i])))
            return 1;
    return 0;
}

/* The environment of a runner: ours without the owned variables, plus
 * the runtime's own setting. */
static char **runner_env(const struct runtime *r)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!env_is_owned(environ[i]))
            env[k++] = environ[i];
    if (r->env)
        env[k++] = (char *)r->env;
    if (env_extra)
        env[k++] = (char *)env_extra;
    env[k] = NULL;
    return env;
}

/* Runs one batch and files its lines under `workload`. Returns 0 when it
 * ran, 1 when the runtime skipped it (skip_now says why), -1 when the
 * run broke. */
static int run_batch(enum rt id, const char *workload, unsigned samples, unsigned budget_ms,
                     const char *const *params)
{
    struct runtime *r = &rts[id];
    char path[PATH_MAX + 64], a_threads[16], a_samples[16], a_budget[16];
    snprintf(path, sizeof path, "%s/%s", exe_dir, r->exe);
    snprintf(a_threads, sizeof a_threads, "%u", threads);
    snprintf(a_samples, sizeof a_samples, "%u", samples);
    snprintf(a_budget, sizeof a_budget, "%u", budget_ms);
    const char *argv[64];
    int argc = 0;
    argv[argc++] = path;
    if (r->backend) {
        argv[argc++] = r->backend;
        argv[argc++] = workload;
        argv[argc++] = a_threads;
        argv[argc++] = a_samples;
        argv[argc++] = a_budget;
        for (int i = 0; params && params[i] && argc < 63; i++)
            argv[argc++] = params[i];
    } else {
        argv[argc++] = a_threads;
    }
    argv[argc] = NULL;

    int fds[2];
    if (pipe(fds) != 0) {
        perror("micropool-bench: pipe");
        exit(1);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char **env = runner_env(r);
    pid_t pid;
    int err = posix_spawn(&pid, path, &fa, NULL, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(fds[1]);
    if (err != 0) {
        close(fds[0]);
        static char why[PATH_MAX + 128];
        snprintf(why, sizeof why, "cannot run %s: %s", path, strerror(err));
        r->skip = skip_now[id] = why;
        return 1;
    }

    FILE *in = fdopen(fds[0], "r");
    if (!in)
        close(fds[0]);
    char *line = NULL;
    size_t cap = 0;
    int skipped = 0;
    /* the batch's figures, filed only if the runner ends well */
    struct pending {
        char name[64];
        double v;
    } *got = NULL;
    size_t n_got = 0, cap_got = 0;
    while (in && getline(&line, &cap, in) > 0) {
        line[strcspn(line, "\n")] = 0;
        char param[64], key[64];
        double v;
        const char *name = NULL;
        if (sscanf(line, "sample %63s %lf", param, &v) == 2)
            name = param;
        else if (sscanf(line, "info %63s %63s %lf", param, key, &v) == 3)
            name = key;
        if (name) {
            if (n_got == cap_got) {
                cap_got = cap_got ? 2 * cap_got : 64;
                got = realloc(got, cap_got * sizeof *got);
                if (!got) {
                    perror("micropool-bench");
                    exit(1);
                }
            }
            snprintf(got[n_got].name, sizeof got[n_got].name, "%s", name);
            got[n_got++].v = v;
        } else if (!strncmp(line, "skip ", 5)) {
            static char why[RT_COUNT][256];
            snprintf(why[id], sizeof why[id], "%s", line + 5);
            skip_now[id] = why[id];
            skipped = 1;
        } else {
            fprintf(stderr, "micropool-bench: %s: unexpected line: %s\n", r->id, line);
        }
    }
    free(line);
    if (in)
        fclose(in);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    for (size_t i = 0; ok && i < n_got; i++)
        add_value(id, workload, got[i].name, got[i].v);
    free(got);
    if (ok)
        return skipped;
    if (WIFSIGNALED(status))
        fprintf(stderr, "micropool-bench: %s %s: killed by signal %d (%s)\n", r->id, workload,
                WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        fprintf(stderr, "micropool-bench: %s %s: exit status %d\n", r->id, workload,
                WEXITSTATUS(status));
    skip_now[id] = "BROKEN: its runner failed (its message is above)";
    broken = 1;
    return -1;
}

struct plan {
    unsigned rounds, samples, budget_ms;
};

/* Runs `rounds` batches of every runtime in `list`, taking turns. */
static void collect(const char *workload, const enum rt *list, size_t k, struct plan p,
                    const char *const *params)
{
    int active[RT_COUNT] = { 0 };
    for (size_t j = 0; j < k; j++) {
        skip_now[list[j]] = rts[list[j]].skip;
        active[list[j]] = rts[list[j]].skip == NULL;
    }
    for (unsigned round = 0; round < p.rounds; round++) {
        for (size_t j = 0; j < k; j++) {
            enum rt id = list[(j + round) % k];
            if (!active[id])
                continue;
            if (run_batch(id, workload, p.samples, p.budget_ms, params) != 0)
                active[id] = 0;
        }
    }
}

/* ---------------------------------------------------------------- output */
static void result(const char *workload, enum rt id, const char *param, const char *metric, double v,
                   size_t samples, double ratio)
{
    if (isnan(v))
        return;
    printf("result: workload=%s runtime=%s threads=%u param=%s metric=%s value=%.6g samples=%zu",
           workload, rts[id].id, threads, param, metric, v, samples);
    if (!isnan(ratio))
        printf(" micropool_ratio=%.4g", ratio);
    printf("\n");
}

static const char *fmt(char *buf, size_t size, double v, int decimals)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else if (isinf(v))
        snprintf(buf, size, "inf");
    else
        snprintf(buf, size, "%.*f", decimals, v);
    return buf;
}

/* mp / peer, NAN when either is missing or the peer is 0 */
static double ratio(double mp, double peer)
{
    if (isnan(mp) || isnan(peer) || peer == 0)
        return NAN;
    return mp / peer;
}

static uint64_t section_start;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The lines under a table: who was skipped, how long it took. */
static void skipped_rows(const enum rt *list, size_t k)
{
    for (size_t j = 0; j < k; j++)
        if (skip_now[list[j]])
            printf("- %s: skipped: %s\n", rts[list[j]].label, skip_now[list[j]]);
    printf("(measured in %.1f s)\n", (double)(now_ms() - section_start) / 1e3);
}

static void heading(const char *title)
{
    printf("\n## %s\n\n", title);
    fflush(stdout);
    section_start = now_ms();
}

/* ---------------------------------------------------------------- workloads */
/* One "result:" line of the median of each runtime in `list` at each
 * parameter, with the ratio of micropool's (`mp`) to it. */
static void median_results(const char *workload, const enum rt *list, size_t k, enum rt mp,
                           const char *const *params)
{
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; params[i]; i++) {
            double v = median(list[j], workload, params[i]);
            result(workload, list[j], params[i], "ns", v, count_of(list[j], workload, params[i]),
                   ratio(median(mp, workload, params[i]), v));
        }
}

static const enum rt fork_rts[] = { MICROPOOL, GOMP_ACTIVE, GOMP_PASSIVE, LLVM_OMP, TBB };
static const enum rt fib_rts[] = { SEQ, MICROPOOL, GOMP_ACTIVE, GOMP_PASSIVE, LLVM_OMP, TBB };
static const enum rt join_rts[] = { SEQ, NULLJOIN, MICROPOOL, GOMP_ACTIVE, GOMP_PASSIVE,
                                    LLVM_OMP, TBB };
static const enum rt idle_rts[] = { SEQ, MICROPOOL, GOMP_ACTIVE, GOMP_PASSIVE, LLVM_OMP, TBB };
static const enum rt wake_rts[] = { MICROPOOL, GOMP_ACTIVE, GOMP_PASSIVE, LLVM_OMP, TBB, FUTEX };
static const enum rt task_rts[] = { MICROPOOL, MICROPOOL_HANDLES, TBB, CVPOOL };
static const enum rt graph_rts[] = { MICROPOOL, MICROPOOL_FIFO, TBB, TBB_TASKGROUP };
static const enum rt prio_rts[] = { MICROPOOL, MICROPOOL_FIFO, TBB };
static const enum rt sort_rts[] = { SEQ, SEQ_QUICKSORT, MICROPOOL, GOMP_ACTIVE, GOMP_PASSIVE,
                                    LLVM_OMP, TBB };
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* figures the targets section reads */
static double fig_fork_mp = NAN, fig_fork_llvm = NAN, fig_fork_share = NAN;
static double fig_fib_x = NAN, fig_fib_floor = NAN;
/* break-even: -1 = not measured, NAN = never */
static double fig_be_mp = -1, fig_be_llvm = -1;
static double fig_wake_mp = NAN, fig_wake_gomp = NAN;
static double fig_idle = NAN, fig_tick = NAN, fig_tick_floor = NAN;
static double fig_tasks_mp = NAN, fig_tasks_tbb = NAN;
static double fig_allocs = NAN;

static void bench_forkjoin(void)
{
    struct plan p = quick ? (struct plan){ 3, 10, 300 } : (struct plan){ 8, 25, 1000 };
    heading("1. Fork-join: one empty parallel reduction over T threads, back to back");
    collect("forkjoin", fork_rts, LEN(fork_rts), p, NULL);
    double mp = median(MICROPOOL, "forkjoin", "-");
    printf("| runtime | ns per call | threads that ever ran a part | parts run off the calling thread | micropool / runtime |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (size_t j = 0; j < LEN(fork_rts); j++) {
        enum rt id = fork_rts[j];
        double v = median(id, "forkjoin", "-");
        if (isnan(v))
            continue;
        double used = median(id, "forkjoin", "threads_used");
        double share = median(id, "forkjoin", "helper_share");
        char a[32], b[32], c[32], d[32];
        printf("| %s | %s | %s | %s%% | %s |\n", rts[id].label, fmt(a, sizeof a, v, 0),
               fmt(b, sizeof b, used, 0), fmt(c, sizeof c, 100 * share, 0),
               fmt(d, sizeof d, ratio(mp, v), 2));
    }
    printf("\nmicropool: mp_reduce(n = T, grain 1, MP_SPLIT_STATIC); OpenMP: a parallel region with "
           "reduction(+); oneTBB: parallel_reduce over T items. A hand-off to every thread at every "
           "call runs %.0f%% of the parts off the calling thread; a runtime that runs them all on the "
           "caller hands nothing off. Below 1 in the last column: micropool is faster.\n",
           100.0 * (threads - 1) / threads);
    skipped_rows(fork_rts, LEN(fork_rts));
    printf("\n");
    for (size_t j = 0; j < LEN(fork_rts); j++) {
        enum rt id = fork_rts[j];
        double v = median(id, "forkjoin", "-");
        result("forkjoin", id, "-", "ns_per_call", v, count_of(id, "forkjoin", "-"), ratio(mp, v));
        result("forkjoin", id, "-", "threads_used", median(id, "forkjoin", "threads_used"),
               count_of(id, "forkjoin", "threads_used"), NAN);
        result("forkjoin", id, "-", "parts_off_caller", median(id, "forkjoin", "helper_share"),
               count_of(id, "forkjoin", "helper_share"), NAN);
    }
    fig_fork_mp = mp;
    fig_fork_llvm = median(LLVM_OMP, "forkjoin", "-");
    fig_fork_share = median(MICROPOOL, "forkjoin", "helper_share");
}

static double fib_joins(int n)
{
    double a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        double t = a + b;
        a = b;
        b = t;
    }
    return b - 1;
}

static void bench_fib(void)
{
    struct plan p = quick ? (struct plan){ 1, 5, 800 } : (struct plan){ 3, 10, 4000 };
    const char *params[] = { "30", NULL };
    heading("2. Join: fib(30) with a join at every level, no cut-off");
    collect("fib", join_rts, LEN(join_rts), p, params);
    double joins = fib_joins(30);
    double seq = median(SEQ, "fib", "30"), mp = median(MICROPOOL, "fib", "30");
    printf("| runtime | ms per fib(30) | ns per join | time / sequential | micropool / runtime |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (size_t j = 0; j < LEN(join_rts); j++) {
        enum rt id = join_rts[j];
        double v = median(id, "fib", "30");
        if (isnan(v))
            continue;
        char a[32], b[32], c[32], d[32];
        printf("| %s | %s | %s | %s | %s |\n", rts[id].label, fmt(a, sizeof a, v / 1e6, 2),
               id == SEQ ? "-" : fmt(b, sizeof b, v / joins, 1), fmt(c, sizeof c, ratio(v, seq), 2),
               fmt(d, sizeof d, ratio(mp, v), 3));
    }
    printf("\n%.0f joins per fib(30). micropool: mp_join; OpenMP: task + taskwait; oneTBB: "
           "parallel_invoke; sequential: plain recursion. The floor: the micropool row's code "
           "with a join that runs a then b on the caller, in a shared library of its own; "
           "divided by T, it is what a join of this shape could reach on T threads with a perfect "
           "speed-up.\n",
           joins);
    skipped_rows(join_rts, LEN(join_rts));
    printf("\n");
    for (size_t j = 0; j < LEN(join_rts); j++) {
        enum rt id = join_rts[j];
        double v = median(id, "fib", "30");
        size_t n = count_of(id, "fib", "30");
        result("fib", id, "30", "ns", v, n, ratio(mp, v));
        if (id != SEQ)
            result("fib", id, "30", "ns_per_join", v / joins, n, ratio(mp, v));
        result("fib", id, "30", "x_sequential", ratio(v, seq), n, NAN);
    }
    fig_fib_x = ratio(mp, seq);
    fig_fib_floor = ratio(median(NULLJOIN, "fib", "30"), seq) / threads;
}

/* counting: n = 2^10 .. 2^26 */
#define COUNT_LO 10
#define COUNT_HI 26

/* The smallest n from which `id` beats the sequential loop at every larger
 * n measured; NAN when it loses at the largest n, -1 when a size misses. */
static double break_even(enum rt id)
{
    double be = NAN;
    for (int e = COUNT_HI; e >= COUNT_LO; e--) {
        char param[24];
        snprintf(param, sizeof param, "%llu", 1ull << e);
        double par = median(id, "count", param), seq = median(SEQ, "count", param);
        if (isnan(par) || isnan(seq))
            return -1;
        if (par >= seq)
            break;
        be = (double)(1ull << e);
    }
    return be;
}

static void be_text(char *buf, size_t size, double be)
{
    if (be < 0)
        snprintf(buf, size, "-");
    else if (isnan(be))
        snprintf(buf, size, "never (up to 2^%d)", COUNT_HI);
    else if (be == (double)(1ull << COUNT_LO))
        snprintf(buf, size, "<= %.0f", be);
    else
        snprintf(buf, size, "%.0f", be);
}

static void plot_counting(const char *svg, const enum rt *list, size_t k);

static void bench_count(const char *plot)
{
    struct plan p = quick ? (struct plan){ 2, 3, 40 } : (struct plan){ 5, 5, 200 };
    static char store[COUNT_HI - COUNT_LO + 1][24];
    const char *params[COUNT_HI - COUNT_LO + 2];
    for (int e = COUNT_LO; e <= COUNT_HI; e++) {
        snprintf(store[e - COUNT_LO], sizeof store[0], "%llu", 1ull << e);
        params[e - COUNT_LO] = store[e - COUNT_LO];
    }
    params[COUNT_HI - COUNT_LO + 1] = NULL;
    heading("3. Counting to n, split over T threads (microseconds per count)");
    collect("count", fib_rts, LEN(fib_rts), p, params);

    enum rt cols[LEN(fib_rts)];
    size_t k = 0;
    for (size_t j = 0; j < LEN(fib_rts); j++)
        if (count_of(fib_rts[j], "count", store[0]))
            cols[k++] = fib_rts[j];
    printf("| n |");
    for (size_t j = 0; j < k; j++)
        printf(" %s |", rts[cols[j]].label);
    for (size_t j = 0; j < k; j++)
        if (cols[j] != MICROPOOL)
            printf(" micropool / %s |", rts[cols[j]].label);
    printf("\n|---:|");
    for (size_t j = 0; j < 2 * k - 1; j++)
        printf("---:|");
    printf("\n");
    for (int e = COUNT_LO; e <= COUNT_HI; e++) {
        const char *param = store[e - COUNT_LO];
        double mp = median(MICROPOOL, "count", param);
        char a[32];
        printf("| 2^%d |", e);
        for (size_t j = 0; j < k; j++)
            printf(" %s |", fmt(a, sizeof a, median(cols[j], "count", param) / 1e3, 2));
        for (size_t j = 0; j < k; j++)
            if (cols[j] != MICROPOOL)
                printf(" %s |", fmt(a, sizeof a, ratio(mp, median(cols[j], "count", param)), 2));
        printf("\n");
    }
    printf("\nmicropool: mp_reduce(n, grain 1, MP_SPLIT_STATIC); OpenMP: a parallel region, one "
           "share per thread; oneTBB: parallel_reduce with static_partitioner.\n\n");

    printf("| runtime | break-even n (parallel wins from here on) | micropool / runtime |\n");
    printf("|---|---:|---:|\n");
    double be_mp = break_even(MICROPOOL);
    for (size_t j = 0; j < k; j++) {
        if (cols[j] == SEQ)
            continue;
        double be = break_even(cols[j]);
        char a[48], b[32];
        be_text(a, sizeof a, be);
        double r = be > 0 && be_mp > 0 ? be_mp / be : NAN;
        printf("| %s | %s | %s |\n", rts[cols[j]].label, a, fmt(b, sizeof b, r, 2));
    }
    skipped_rows(fib_rts, LEN(fib_rts));
    printf("\n");
    for (size_t j = 0; j < k; j++) {
        enum rt id = cols[j];
        for (int e = COUNT_LO; e <= COUNT_HI; e++) {
            const char *param = store[e - COUNT_LO];
            double v = median(id, "count", param);
            result("count", id, param, "ns", v, count_of(id, "count", param),
                   ratio(median(MICROPOOL, "count", param), v));
        }
        if (id != SEQ) {
            double be = break_even(id);
            /* a runtime that never wins gets no break-even figure */
            result("count", id, "-", "break_even_n", be < 0 ? NAN : be, 1, NAN);
        }
    }
    fig_be_mp = be_mp;
    fig_be_llvm = break_even(LLVM_OMP);
    if (plot)
        plot_counting(plot, cols, k);
}

static void bench_wakeup(void)
{
    struct plan p = quick ? (struct plan){ 1, 10, 1200 } : (struct plan){ 3, 15, 3000 };
    heading("4. Wake-up: from submitting work to an idle pool until it starts");
    collect("wakeup", wake_rts, LEN(wake_rts), p, NULL);
    double mp = median(MICROPOOL, "wakeup", "-");
    printf("| runtime | idle before (ms) | us until a pool thread starts it | started on the caller's CPU | micropool / runtime |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (size_t j = 0; j < LEN(wake_rts); j++) {
        enum rt id = wake_rts[j];
        double v = median(id, "wakeup", "-");
        if (isnan(v))
            continue;
        char a[32], b[32], c[32], d[32];
        double here = median(id, "wakeup", "on_caller_cpu_pct");
        printf("| %s | %s | %s | %s%s | %s |\n", rts[id].label,
               fmt(a, sizeof a, median(id, "wakeup", "settle_ms"), 0), fmt(b, sizeof b, v / 1e3, 1),
               fmt(d, sizeof d, here, 0), isnan(here) ? "" : "%", fmt(c, sizeof c, ratio(mp, v), 2));
    }
    printf("\nThe pool idles longer than its spin window (LLVM OpenMP: its 200 ms block time), then "
           "the caller submits one job from outside. micropool: mp_submit; OpenMP: a parallel region "
           "(thread 1's start); oneTBB: task_arena::enqueue. GCC's active wait never sleeps. The "
           "floor: one thread sleeping in FUTEX_WAIT, woken by one FUTEX_WAKE, no runtime. Where the "
           "kernel puts the woken thread matters: on the caller's CPU it preempts the caller; on an "
           "idle CPU it may first have to wake that CPU (on a VM, a halted vCPU: tens of us). The "
           "median over batches of the share of samples that started on the caller's CPU.\n");
    skipped_rows(wake_rts, LEN(wake_rts));
    printf("\n");
    for (size_t j = 0; j < LEN(wake_rts); j++) {
        enum rt id = wake_rts[j];
        double v = median(id, "wakeup", "-");
        result("wakeup", id, "-", "ns", v, count_of(id, "wakeup", "-"), ratio(mp, v));
        result("wakeup", id, "-", "on_caller_cpu_pct", median(id, "wakeup", "on_caller_cpu_pct"),
               count_of(id, "wakeup", "on_caller_cpu_pct"), NAN);
    }
    fig_wake_mp = mp;
    fig_wake_gomp = median(GOMP_PASSIVE, "wakeup", "-");
}

static void bench_idle(void)
{
    struct plan p = quick ? (struct plan){ 1, 1, 0 } : (struct plan){ 3, 1, 0 };
    heading("5. Idle cost: CPU time the process burns, in % of one CPU");
    collect("idle", idle_rts, LEN(idle_rts), p, NULL);
    double mp_i = median(MICROPOOL, "idle", "idle"), mp_t = median(MICROPOOL, "idle", "1ms");
    printf("| runtime | idle pool, 1 s | one tiny job every 1 ms, 1 s | micropool / runtime (idle) | micropool / runtime (1 ms) |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (size_t j = 0; j < LEN(idle_rts); j++) {
        enum rt id = idle_rts[j];
        double i = median(id, "idle", "idle"), t = median(id, "idle", "1ms");
        if (isnan(i))
            continue;
        char a[32], b[32], c[32], d[32];
        const char *label = id == SEQ ? "no pool: the caller alone" : rts[id].label;
        printf("| %s | %s%% | %s%% | %s | %s |\n", label, fmt(a, sizeof a, i, 2),
               fmt(b, sizeof b, t, 2), fmt(c, sizeof c, ratio(mp_i, i), 2),
               fmt(d, sizeof d, ratio(mp_t, t), 2));
    }
    printf("\ngetrusage(RUSAGE_SELF) over 1 s of wall time, after the pool's spin window; the jobs "
           "are posted as in the wake-up test. The first row runs each job on the calling thread: "
           "what the test itself costs (its timer, its call), with no pool.\n");
    skipped_rows(idle_rts, LEN(idle_rts));
    printf("\n");
    for (size_t j = 0; j < LEN(idle_rts); j++) {
        enum rt id = idle_rts[j];
        double i = median(id, "idle", "idle"), t = median(id, "idle", "1ms");
        result("idle", id, "idle", "cpu_percent", i, count_of(id, "idle", "idle"), ratio(mp_i, i));
        result("idle", id, "1ms", "cpu_percent", t, count_of(id, "idle", "1ms"), ratio(mp_t, t));
    }
    fig_idle = mp_i;
    fig_tick = mp_t;
    fig_tick_floor = median(SEQ, "idle", "1ms");
}

static void bench_tasks(void)
{
    struct plan p = quick ? (struct plan){ 1, 2, 1000 } : (struct plan){ 3, 3, 3000 };
    const char *params[] = { "1000000", NULL };
    heading("6. Background tasks: 10^6 tiny tasks from one thread, then wait for all");
    collect("tasks", task_rts, LEN(task_rts), p, params);
    double mp = median(MICROPOOL, "tasks", "1000000");
    printf("| runtime | tasks per second | micropool / runtime |\n");
    printf("|---|---:|---:|\n");
    for (size_t j = 0; j < LEN(task_rts); j++) {
        enum rt id = task_rts[j];
        double v = median(id, "tasks", "1000000");
        if (isnan(v))
            continue;
        char a[32], b[32];
        printf("| %s | %s | %s |\n", rts[id].label, fmt(a, sizeof a, v, 0),
               fmt(b, sizeof b, ratio(mp, v), 2));
    }
    printf("\nmicropool: mp_submit detached, then the caller polls a counter (or: with handles, "
           "mp_task_wait on each); oneTBB: task_group::run, then wait; the condvar pool has T "
           "threads. Above 1 in the last column: micropool is faster.\n");
    skipped_rows(task_rts, LEN(task_rts));
    printf("\n");
    for (size_t j = 0; j < LEN(task_rts); j++) {
        enum rt id = task_rts[j];
        double v = median(id, "tasks", "1000000");
        result("tasks", id, "1000000", "tasks_per_s", v, count_of(id, "tasks", "1000000"),
               ratio(mp, v));
    }
    fig_tasks_mp = mp;
    fig_tasks_tbb = median(TBB, "tasks", "1000000");
}

static double fig_graph_mp = NAN, fig_graph_flow = NAN, fig_prio_p99 = NAN;

static void bench_graph(void)
{
    struct plan p = quick ? (struct plan){ 1, 3, 1500 } : (struct plan){ 3, 5, 4000 };
    const char *params[] = { "256", NULL };
    heading("12. Task graphs and priorities (ABI 1.1)");
    printf("A 2D wavefront of 256 x 256 tiny tasks (bench_tick), each after its left and upper "
           "neighbours, built and run from one thread, then waited for.\n\n");
    collect("graph", graph_rts, LEN(graph_rts), p, params);
    double mp = median(MICROPOOL, "graph", "256");
    printf("| runtime | tasks per second | micropool / runtime |\n");
    printf("|---|---:|---:|\n");
    for (size_t j = 0; j < LEN(graph_rts); j++) {
        enum rt id = graph_rts[j];
        double v = median(id, "graph", "256");
        if (isnan(v))
            continue;
        char a[32], b[32];
        printf("| %s | %s | %s |\n", id == TBB ? "oneTBB flow_graph (continue_node)" : rts[id].label,
               fmt(a, sizeof a, v, 0), fmt(b, sizeof b, ratio(mp, v), 2));
    }
    printf("\nmicropool: mp_submit_ex with the two neighbours as prerequisites; 1.0's way and "
           "task_group: a counter per cell, the task that takes it to 0 submits the cell. "
           "Above 1 in the last column: micropool is faster.\n");
    skipped_rows(graph_rts, LEN(graph_rts));
    printf("\n");
    for (size_t j = 0; j < LEN(graph_rts); j++) {
        enum rt id = graph_rts[j];
        double v = median(id, "graph", "256");
        result("graph", id, "256", "tasks_per_s", v, count_of(id, "graph", "256"), ratio(mp, v));
    }
    fig_graph_mp = mp;
    fig_graph_flow = median(TBB, "graph", "256");

    struct plan q = quick ? (struct plan){ 1, 20, 1500 } : (struct plan){ 3, 60, 4000 };
    const char *qparams[] = { "10000", NULL };
    printf("One high-priority task submitted while 10^4 low-priority tasks of %u ns each are "
           "queued: from its submit until it starts.\n\n", BENCH_PRIO_LOW_NS);
    collect("prio", prio_rts, LEN(prio_rts), q, qparams);
    printf("| runtime | n | p50 (us) | p99 (us) | max (us) |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (size_t j = 0; j < LEN(prio_rts); j++) {
        enum rt id = prio_rts[j];
        size_t n = count_of(id, "prio", "10000");
        if (!n)
            continue;
        char a[32], b[32], c[32];
        printf("| %s | %zu | %s | %s | %s |\n",
               id == TBB ? "oneTBB, arenas of priority low and high" : rts[id].label, n,
               fmt(a, sizeof a, quantile(id, "prio", "10000", 0.5) / 1e3, 1),
               fmt(b, sizeof b, quantile(id, "prio", "10000", 0.99) / 1e3, 1),
               fmt(c, sizeof c, quantile(id, "prio", "10000", 1.0) / 1e3, 1));
    }
    printf("\nmicropool: MP_PRIO_LOW tasks, then one MP_PRIO_HIGH (1.0's way: all at one level, "
           "first in first out: the high task waits for the queue). oneTBB: task_arena::enqueue "
           "into an arena of priority low, then one of priority high.\n");
    skipped_rows(prio_rts, LEN(prio_rts));
    printf("\n");
    for (size_t j = 0; j < LEN(prio_rts); j++) {
        enum rt id = prio_rts[j];
        size_t n = count_of(id, "prio", "10000");
        result("prio", id, "10000", "p50_ns", quantile(id, "prio", "10000", 0.5), n, NAN);
        result("prio", id, "10000", "p99_ns", quantile(id, "prio", "10000", 0.99), n, NAN);
    }
    fig_prio_p99 = quantile(MICROPOOL, "prio", "10000", 0.99);
}

static void bench_sort(void)
{
    struct plan p = quick ? (struct plan){ 1, 2, 800 } : (struct plan){ 3, 3, 3000 };
    const char *params[] = { "1000000", "10000000", NULL };
    heading("7. Quicksort of 10^6 and 10^7 ints");
    collect("sort", sort_rts, LEN(sort_rts), p, params);
    printf("| runtime | 10^6: ms | speed vs qsort | micropool / runtime | 10^7: ms | speed vs qsort | micropool / runtime |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t j = 0; j < LEN(sort_rts); j++) {
        enum rt id = sort_rts[j];
        int any = 0;
        for (int i = 0; params[i]; i++)
            any |= count_of(id, "sort", params[i]) > 0;
        if (!any)
            continue;
        printf("| %s%s |", rts[id].label, id == SEQ ? " (C library qsort)" : "");
        for (int i = 0; params[i]; i++) {
            double v = median(id, "sort", params[i]);
            double q = median(SEQ, "sort", params[i]), mp = median(MICROPOOL, "sort", params[i]);
            char a[32], b[32], c[32];
            printf(" %s | %s | %s |", fmt(a, sizeof a, v / 1e6, 1), fmt(b, sizeof b, ratio(q, v), 2),
                   fmt(c, sizeof c, ratio(mp, v), 2));
        }
        printf("\n");
    }
    printf("\nmicropool: quicksort with mp_join, sequential below %u items (the seeds' example); "
           "OpenMP: the same with task + taskwait; oneTBB: parallel_sort. Speed above 1: faster "
           "than qsort.\n",
           5000u);
    skipped_rows(sort_rts, LEN(sort_rts));
    printf("\n");
    median_results("sort", sort_rts, LEN(sort_rts), MICROPOOL, params);
}

static void bench_allocs(void)
{
    static const char *const calls[] = { "mp_join", "mp_join-nested", "mp_for", "mp_for-static",
                                         "mp_reduce", "mp_reduce-static", "mp_reduce-deterministic" };
    heading("8. Heap allocations per call, after warm-up");
    skip_now[ALLOCS] = rts[ALLOCS].skip;
    int rc = rts[ALLOCS].skip ? 1 : run_batch(ALLOCS, "allocs", 1, 0, NULL);
    printf("| call | allocations per call |\n|---|---:|\n");
    double worst = NAN;
    for (size_t i = 0; i < LEN(calls); i++) {
        double v = median(ALLOCS, "allocs", calls[i]);
        char a[32];
        printf("| %s | %s |\n", calls[i], fmt(a, sizeof a, v, 4));
        if (!isnan(v))
            worst = isnan(worst) || v > worst ? v : worst;
    }
    printf("\nCounted by a malloc wrapper in the measuring process; 20000 calls each (nested: "
           "a fib(12) by mp_join, 232 joins), 10000 items for the loops, an 8-byte accumulator.\n");
    if (rc == 1)
        printf("- skipped: %s\n", skip_now[ALLOCS]);
    printf("\n");
    for (size_t i = 0; i < LEN(calls); i++)
        result("allocs", ALLOCS, calls[i], "allocations_per_call", median(ALLOCS, "allocs", calls[i]),
               count_of(ALLOCS, "allocs", calls[i]), NAN);
    fig_allocs = worst;
    if (!isnan(worst) && worst > 0)
        fprintf(stderr, "micropool-bench: micropool allocated on the heap after warm-up\n");
}

/* ---------------------------------------------------------------- bursts, periods */
static const enum rt paced_rts[] = { SEQ, MICROPOOL, GOMP_DEFAULT, GOMP_ACTIVE, GOMP_PASSIVE,
                                     LLVM_OMP, LLVM_OMP_BT0, TBB };

/* A figure of a paced workload (see harness.c, 9 and 10): under PARAM the
 * runtime's calls, under PARAM/seq the sequential count's in the same
 * process, under PARAM/wall_ns, /cpu_ns and /caller_ns the time of the
 * runtime's blocks in each batch. q < 0: the sum over the batches. */
static double paced(enum rt id, const char *workload, const char *param, const char *suffix,
                    double q)
{
    char key[64];
    snprintf(key, sizeof key, "%s%s%s", param, *suffix ? "/" : "", suffix);
    return q < 0 ? total(id, workload, key) : quantile(id, workload, key, q);
}

/* The CPU time of the runtime's blocks over their wall time, all batches
 * together, in % of one CPU: of the whole process, or beyond the calling
 * thread's. (getrusage truncates each reading to microseconds, so the
 * latter can come out a hair below 0.) */
static double paced_cpu(enum rt id, const char *workload, const char *param, int beyond)
{
    double cpu = paced(id, workload, param, "cpu_ns", -1);
    if (beyond)
        cpu -= paced(id, workload, param, "caller_ns", -1);
    double pct = 100 * cpu / paced(id, workload, param, "wall_ns", -1);
    return pct < 0 ? 0 : pct;
}

/* The sequential call's q-quantile over the runtime's, in one process. */
static double paced_speedup(enum rt id, const char *workload, const char *param, double q)
{
    return ratio(paced(id, workload, param, "seq", q), paced(id, workload, param, "", q));
}

/* The paced rows that have figures, in their order. */
static size_t paced_columns(const char *workload, const char *param, enum rt *cols)
{
    size_t k = 0;
    for (size_t j = 0; j < LEN(paced_rts); j++)
        if (count_of(paced_rts[j], workload, param))
            cols[k++] = paced_rts[j];
    return k;
}

/* bursts: n = 2^e after a gap of G us */
static const unsigned burst_gaps_full[] = { 0, 5, 10, 20, 50, 100, 200, 500, 1000, 5000 };
static const unsigned burst_gaps_quick[] = { 0, 20, 200, 1000 };
static const int burst_exps_full[] = { 12, 14, 17, 20 };
static const int burst_exps_quick[] = { 14, 17 };

struct burst_grid {
    const unsigned *gaps;
    size_t n_gaps;
    const int *exps;
    size_t n_exps;
};

static struct burst_grid burst_grid(void)
{
    if (quick)
        return (struct burst_grid){ burst_gaps_quick, LEN(burst_gaps_quick), burst_exps_quick,
                                    LEN(burst_exps_quick) };
    return (struct burst_grid){ burst_gaps_full, LEN(burst_gaps_full), burst_exps_full,
                                LEN(burst_exps_full) };
}

static void burst_param(char *buf, size_t size, int e, unsigned gap)
{
    snprintf(buf, size, "%llu:%u", 1ull << e, gap);
}

typedef double (*burst_cell)(enum rt id, const char *param);

static double burst_x(enum rt id, const char *param)
{
    return paced_speedup(id, "burst", param, 0.5);
}

static double burst_beyond(enum rt id, const char *param)
{
    return paced_cpu(id, "burst", param, 1);
}

/* One row per n and gap, one column per runtime. */
static void burst_table(const struct burst_grid *g, const enum rt *cols, size_t k, burst_cell cell,
                        const char *unit)
{
    printf("| n | gap (us) | sequential call (us) |");
    for (size_t j = 0; j < k; j++)
        printf(" %s |", rts[cols[j]].label);
    printf("\n|---:|---:|---:|");
    for (size_t j = 0; j < k; j++)
        printf("---:|");
    printf("\n");
    for (size_t e = 0; e < g->n_exps; e++)
        for (size_t i = 0; i < g->n_gaps; i++) {
            char param[32], a[32];
            burst_param(param, sizeof param, g->exps[e], g->gaps[i]);
            printf("| 2^%d | %u | %s |", g->exps[e], g->gaps[i],
                   fmt(a, sizeof a, paced(SEQ, "burst", param, "seq", 0.5) / 1e3, 2));
            for (size_t j = 0; j < k; j++) {
                double v = cell(cols[j], param);
                printf(" %s%s |", fmt(a, sizeof a, v, 2), isnan(v) ? "" : unit);
            }
            printf("\n");
        }
}

/* figures the targets section reads; NAN: not measured */
static double fig_burst_x = NAN, fig_burst_p99 = NAN, fig_warm_rel = NAN, fig_warm_cpu = NAN;
static char fig_burst_x_at[32], fig_burst_p99_at[32], fig_warm_rel_at[32];
static double fig_per_x[2] = { NAN, NAN }, fig_per_p99[2] = { NAN, NAN };
static double fig_per_cpu[2] = { NAN, NAN }, fig_per_share[2] = { NAN, NAN };

/* Keeps the smallest (sign 1) or largest (sign -1) v, and where it was. */
static void keep_extreme(double *fig, char *at, size_t size, double v, int sign, const char *where)
{
    if (isnan(v))
        return;
    if (isnan(*fig) || sign * v < sign * *fig) {
        *fig = v;
        if (at)
            snprintf(at, size, "%s", where);
    }
}

static void plot_bursts(const char *svg, const struct burst_grid *g, const enum rt *cols, size_t k);

static void bench_burst(const char *plot)
{
    struct plan p = quick ? (struct plan){ 2, 120, 300 } : (struct plan){ 2, 250, 500 };
    struct burst_grid g = burst_grid();
    static char store[LEN(burst_exps_full) * LEN(burst_gaps_full)][32];
    const char *params[LEN(store) + 1];
    size_t np = 0;
    for (size_t e = 0; e < g.n_exps; e++)
        for (size_t i = 0; i < g.n_gaps; i++) {
            burst_param(store[np], sizeof store[np], g.exps[e], g.gaps[i]);
            params[np] = store[np];
            np++;
        }
    params[np] = NULL;
    heading("9. Bursts: counting to n after a gap of serial work");
    collect("burst", paced_rts, LEN(paced_rts), p, params);
    enum rt cols[LEN(paced_rts)];
    size_t k = paced_columns("burst", store[0], cols);

    printf("Speed-up over the sequential count (median call; above 1: faster):\n\n");
    burst_table(&g, cols, k, burst_x, "");
    printf("\nCPU burnt beyond the caller's own, in %% of one CPU, over the calls and their gaps:\n\n");
    burst_table(&g, cols, k, burst_beyond, "%");
    printf("\nmicropool's call times against the sequential count's, in the same process:\n\n");
    printf("| n | gap (us) | micropool p50 (us) | sequential p50 (us) | speed-up | micropool p99 (us) | sequential p99 (us) | p99 / sequential p99 |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < np; i++) {
        char a[32], b[32], c[32], d[32], e[32], f[32];
        double p50 = paced(MICROPOOL, "burst", store[i], "", 0.5);
        double s50 = paced(MICROPOOL, "burst", store[i], "seq", 0.5);
        double p99 = paced(MICROPOOL, "burst", store[i], "", 0.99);
        double s99 = paced(MICROPOOL, "burst", store[i], "seq", 0.99);
        printf("| 2^%d | %u | %s | %s | %s | %s | %s | %s |\n", g.exps[i / g.n_gaps],
               g.gaps[i % g.n_gaps], fmt(a, sizeof a, p50 / 1e3, 2), fmt(b, sizeof b, s50 / 1e3, 2),
               fmt(c, sizeof c, ratio(s50, p50), 2), fmt(d, sizeof d, p99 / 1e3, 2),
               fmt(e, sizeof e, s99 / 1e3, 2), fmt(f, sizeof f, ratio(p99, s99), 2));
    }
    printf("\nEach call follows a gap of G us in which the caller spins on the clock (serial work, "
           "not a sleep); the sequential count of n runs in the same process with the same gaps, "
           "in blocks of %u calls that alternate with the runtime's (the first call of a block is "
           "not timed: it follows the other block's calls). micropool: mp_reduce(n, grain 1, "
           "MP_SPLIT_STATIC); OpenMP: a parallel region, one share per thread; oneTBB: "
           "parallel_reduce with static_partitioner; the sequential row: the same loop in both "
           "blocks, the protocol's own noise. CPU beyond the caller: getrusage(RUSAGE_SELF) minus "
           "the calling thread's RUSAGE_THREAD over the runtime's blocks (at least %u ms of them "
           "per batch), over their wall time, all batches together.\n",
           BENCH_PACED_BLOCK, BENCH_PACED_MIN_MS);
    skipped_rows(paced_rts, LEN(paced_rts));
    printf("\n");
    for (size_t j = 0; j < k; j++) {
        enum rt id = cols[j];
        for (size_t i = 0; i < np; i++) {
            const char *param = store[i];
            size_t n = count_of(id, "burst", param);
            result("burst", id, param, "speedup", burst_x(id, param), n,
                   ratio(burst_x(MICROPOOL, param), burst_x(id, param)));
            result("burst", id, param, "p50_ns", paced(id, "burst", param, "", 0.5), n, NAN);
            result("burst", id, param, "p99_ns", paced(id, "burst", param, "", 0.99), n, NAN);
            result("burst", id, param, "seq_p50_ns", paced(id, "burst", param, "seq", 0.5), n, NAN);
            result("burst", id, param, "seq_p99_ns", paced(id, "burst", param, "seq", 0.99), n, NAN);
            result("burst", id, param, "cpu_beyond_caller_pct", burst_beyond(id, param), n, NAN);
        }
    }

    for (size_t i = 0; i < np; i++) {
        const char *param = store[i];
        char where[32];
        snprintf(where, sizeof where, "2^%d, %u us", g.exps[i / g.n_gaps], g.gaps[i % g.n_gaps]);
        keep_extreme(&fig_burst_x, fig_burst_x_at, sizeof fig_burst_x_at, burst_x(MICROPOOL, param),
                     1, where);
        keep_extreme(&fig_burst_p99, fig_burst_p99_at, sizeof fig_burst_p99_at,
                     ratio(paced(MICROPOOL, "burst", param, "", 0.99),
                           paced(MICROPOOL, "burst", param, "seq", 0.99)),
                     -1, where);
        if (g.gaps[i % g.n_gaps] > 200 || g.exps[i / g.n_gaps] < 14)
            continue;
        double best = NAN;
        for (size_t j = 0; j < k; j++)
            if (cols[j] != MICROPOOL && cols[j] != SEQ)
                keep_extreme(&best, NULL, 0, burst_x(cols[j], param), -1, NULL);
        keep_extreme(&fig_warm_rel, fig_warm_rel_at, sizeof fig_warm_rel_at,
                     ratio(burst_x(MICROPOOL, param), best), 1, where);
        keep_extreme(&fig_warm_cpu, NULL, 0, burst_beyond(MICROPOOL, param), -1, NULL);
    }
    if (plot)
        plot_bursts(plot, &g, cols, k);
}

/* periods: 1333 us and 16.7 ms, jobs of about 20 and 100 us */
static const unsigned periodic_us[] = { 1333, 16700 };
static const unsigned periodic_job_us[] = { 20, 100 };

static void bench_periodic(void)
{
    /* one plan per period: fewer periods of 16.7 ms */
    struct plan plans[LEN(periodic_us)] = { { 1, 200, 100000 }, { 1, 20, 100000 } };
    if (!quick) {
        plans[0] = (struct plan){ 2, 1000, 100000 };
        plans[1] = (struct plan){ 2, 60, 100000 };
    }
    static char store[LEN(periodic_us)][LEN(periodic_job_us)][32];
    heading("10. Periodic calls: one job every period, the caller asleep in between");
    for (size_t i = 0; i < LEN(periodic_us); i++) {
        const char *params[LEN(periodic_job_us) + 1];
        for (size_t w = 0; w < LEN(periodic_job_us); w++) {
            snprintf(store[i][w], sizeof store[i][w], "%u:%u", periodic_us[i], periodic_job_us[w]);
            params[w] = store[i][w];
        }
        params[LEN(periodic_job_us)] = NULL;
        collect("periodic", paced_rts, LEN(paced_rts), plans[i], params);
    }
    enum rt cols[LEN(paced_rts)];
    size_t k = paced_columns("periodic", store[0][0], cols);

    printf("| period | job | runtime | n | p50 (us) | p99 (us) | max (us) | sequential p50 / p99 (us) | p50 speed-up | p99 speed-up | CPU (%% of one CPU) | the sequential job's share of the period |\n");
    printf("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < LEN(periodic_us); i++)
        for (size_t w = 0; w < LEN(periodic_job_us); w++)
            for (size_t j = 0; j < k; j++) {
                const char *param = store[i][w];
                enum rt id = cols[j];
                char a[32], b[32], c[32], d[32], e[32], f[32], h[32], x[32], y[32], z[32];
                double s50 = paced(id, "periodic", param, "seq", 0.5);
                printf("| %g ms | %u us | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s%% | %s%% |\n",
                       periodic_us[i] / 1e3, periodic_job_us[w], rts[id].label,
                       fmt(a, sizeof a, paced(id, "periodic", param, "n", 0.5), 0),
                       fmt(b, sizeof b, paced(id, "periodic", param, "", 0.5) / 1e3, 1),
                       fmt(c, sizeof c, paced(id, "periodic", param, "", 0.99) / 1e3, 1),
                       fmt(d, sizeof d, paced(id, "periodic", param, "", 1) / 1e3, 1),
                       fmt(e, sizeof e, s50 / 1e3, 1),
                       fmt(f, sizeof f, paced(id, "periodic", param, "seq", 0.99) / 1e3, 1),
                       fmt(h, sizeof h, paced_speedup(id, "periodic", param, 0.5), 2),
                       fmt(x, sizeof x, paced_speedup(id, "periodic", param, 0.99), 2),
                       fmt(y, sizeof y, paced_cpu(id, "periodic", param, 0), 1),
                       fmt(z, sizeof z, 100 * s50 / (periodic_us[i] * 1e3), 1));
            }
    printf("\nThe caller sleeps until the next period starts (clock_nanosleep, TIMER_ABSTIME), "
           "then counts to n, n chosen at each runner's start so that its sequential count takes "
           "about the job's time; the sequential count runs in the same process, the same way, in "
           "blocks of %u periods that alternate with the runtime's (the first period of a block "
           "is not timed). Runtimes as in 9. CPU: the process's CPU time (every thread, "
           "getrusage(RUSAGE_SELF)) over the wall time of the runtime's blocks, all batches "
           "together, in %% of one CPU.\n",
           BENCH_PACED_BLOCK);
    skipped_rows(paced_rts, LEN(paced_rts));
    printf("\n");
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < LEN(periodic_us); i++)
            for (size_t w = 0; w < LEN(periodic_job_us); w++) {
                const char *param = store[i][w];
                enum rt id = cols[j];
                size_t n = count_of(id, "periodic", param);
                static const struct {
                    const char *metric, *suffix;
                    double q;
                } figs[] = { { "p50_ns", "", 0.5 },         { "p99_ns", "", 0.99 },
                             { "max_ns", "", 1 },           { "seq_p50_ns", "seq", 0.5 },
                             { "seq_p99_ns", "seq", 0.99 }, { "n", "n", 0.5 } };
                for (size_t f = 0; f < LEN(figs); f++)
                    result("periodic", id, param, figs[f].metric,
                           paced(id, "periodic", param, figs[f].suffix, figs[f].q), n, NAN);
                result("periodic", id, param, "cpu_pct", paced_cpu(id, "periodic", param, 0), n, NAN);
                result("periodic", id, param, "speedup_p50", paced_speedup(id, "periodic", param, 0.5),
                       n, ratio(paced_speedup(MICROPOOL, "periodic", param, 0.5),
                                paced_speedup(id, "periodic", param, 0.5)));
                result("periodic", id, param, "speedup_p99", paced_speedup(id, "periodic", param, 0.99),
                       n, ratio(paced_speedup(MICROPOOL, "periodic", param, 0.99),
                                paced_speedup(id, "periodic", param, 0.99)));
            }
    /* the targets read the 1333 us period, jobs of 20 and 100 us */
    for (size_t w = 0; w < LEN(periodic_job_us); w++) {
        const char *param = store[0][w];
        fig_per_x[w] = paced_speedup(MICROPOOL, "periodic", param, 0.5);
        fig_per_p99[w] = ratio(paced(MICROPOOL, "periodic", param, "", 0.99),
                               paced(MICROPOOL, "periodic", param, "seq", 0.99));
        fig_per_cpu[w] = paced_cpu(MICROPOOL, "periodic", param, 0);
        fig_per_share[w] = 100 * paced(MICROPOOL, "periodic", param, "seq", 0.5) / (periodic_us[0] * 1e3);
    }
}

/* ---------------------------------------------------------------- 11: FFTW */
static const enum rt fftw_rts[] = { FFTW_SEQ, FFTW_PTHREADS, FFTW_OMP, FFTW_MP };
static const char *const fftw_sizes_full[] = { "c1d:256",   "c1d:1024",   "c1d:4096",  "c1d:16384",
                                               "c1d:65536", "c1d:262144", "c1d:1048576",
                                               "r1d:256",   "r1d:4096",   "r1d:65536", "r1d:1048576",
                                               "c2d:64",    "c2d:128",    "c2d:256",   "c2d:512",
                                               "c2d:1024",  NULL };
static const char *const fftw_sizes_quick[] = { "c1d:1024", "c1d:16384", "c1d:65536", "r1d:4096",
                                                "r1d:65536", "c2d:64", "c2d:256", NULL };
static const char *const fftw_audio[] = { "audio:4096:1333", NULL };

/* figures the targets section reads */
static double fig_fftw_best = NAN, fig_fftw_one = NAN;
static char fig_fftw_best_at[48], fig_fftw_one_at[48];
static double fig_fftw_p99 = NAN, fig_fftw_p99_one = NAN, fig_fftw_cpu = NAN;

/* "c1d:1024" -> "complex 1D", "2^10" */
static void fftw_names(const char *param, const char **kind, char *size, size_t len)
{
    long n = strtol(strchr(param, ':') + 1, NULL, 10);
    *kind = !strncmp(param, "c1d", 3) ? "complex 1D" : !strncmp(param, "r1d", 3) ? "real 1D" : "complex 2D";
    if (!strncmp(param, "c2d", 3))
        snprintf(size, len, "%ld^2", n);
    else
        snprintf(size, len, "2^%d", (int)lround(log2((double)n)));
}

static double fftw_cpu(enum rt id, const char *param)
{
    char cpu[64], wall[64];
    snprintf(cpu, sizeof cpu, "%s/cpu_ns", param);
    snprintf(wall, sizeof wall, "%s/wall_ns", param);
    return 100 * total(id, "fftw", cpu) / total(id, "fftw", wall);
}

static void bench_fftw(void)
{
    struct plan p = quick ? (struct plan){ 2, 5, 150 } : (struct plan){ 3, 10, 400 };
    struct plan pa = quick ? (struct plan){ 1, 300, 100000 } : (struct plan){ 2, 1000, 100000 };
    const char *const *sizes = quick ? fftw_sizes_quick : fftw_sizes_full;
    heading("11. FFTW: its threads on micropool, on its own pthreads and OpenMP back ends, and on one thread");
    /* The wisdom of each back end, kept for this run: it plans each size
     * once (FFTW_MEASURE) and every later batch reuses the plans. */
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/micropool-bench-fftw-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        printf("skipped: cannot make a directory for FFTW's wisdom: %s\n", strerror(errno));
        return;
    }
    setenv("MP_BENCH_FFTW_WISDOM", dir, 1);
    collect("fftw", fftw_rts, LEN(fftw_rts), p, sizes);
    collect("fftw", fftw_rts, LEN(fftw_rts), pa, fftw_audio);
    unsetenv("MP_BENCH_FFTW_WISDOM");
    for (size_t j = 0; j < LEN(fftw_rts); j++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s.wisdom", dir, rts[fftw_rts[j]].backend);
        unlink(path);
    }
    rmdir(dir);
    if (rts[FFTW_SEQ].skip) {
        printf("skipped: %s\n", rts[FFTW_SEQ].skip);
        return;
    }

    printf("| transform | size | one thread (us) | FFTW's pthreads (us) | FFTW's OpenMP (us) | micropool (us) | micropool / the faster FFTW back end | micropool / one thread |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; sizes[i]; i++) {
        const char *kind;
        char size[32], a[32], b[32], c[32], d[32], e[32], g[32];
        fftw_names(sizes[i], &kind, size, sizeof size);
        double one = median(FFTW_SEQ, "fftw", sizes[i]), pt = median(FFTW_PTHREADS, "fftw", sizes[i]);
        double omp = median(FFTW_OMP, "fftw", sizes[i]), mp = median(FFTW_MP, "fftw", sizes[i]);
        double best = isnan(omp) || pt < omp ? pt : omp;
        printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", kind, size,
               fmt(a, sizeof a, one / 1e3, 2), fmt(b, sizeof b, pt / 1e3, 2),
               fmt(c, sizeof c, omp / 1e3, 2), fmt(d, sizeof d, mp / 1e3, 2),
               fmt(e, sizeof e, ratio(mp, best), 2), fmt(g, sizeof g, ratio(mp, one), 2));
        char where[48];
        snprintf(where, sizeof where, "%s %s", kind, size);
        keep_extreme(&fig_fftw_best, fig_fftw_best_at, sizeof fig_fftw_best_at, ratio(mp, best), -1, where);
        keep_extreme(&fig_fftw_one, fig_fftw_one_at, sizeof fig_fftw_one_at, ratio(mp, one), -1, where);
    }
    printf("\nMedian time of one fftw_execute of an FFTW_MEASURE plan for %u threads (one thread: "
           "for 1), out of place, forward, double precision (real 1D: real to complex). Each back "
           "end plans every size once in the run and keeps its wisdom for its later batches. "
           "micropool: fftw_threads_set_callback with micropool-fftw.h (one mp_for of grain 1 "
           "per parallel loop of FFTW); FFTW's OpenMP back end runs on libgomp with its default "
           "wait policy. Below 1 in the last two columns: micropool is faster.\n\n",
           threads);

    const char *audio = fftw_audio[0];
    char seq[64];
    snprintf(seq, sizeof seq, "%s/seq", audio);
    printf("A 4096-point real FFT every 1333 us, the caller asleep in between:\n\n");
    printf("| runtime | p50 (us) | p99 (us) | max (us) | 1-thread plan, same process: p50 / p99 (us) | p99 / 1-thread p99 | CPU (%% of one CPU) |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t j = 0; j < LEN(fftw_rts); j++) {
        enum rt id = fftw_rts[j];
        double p50 = quantile(id, "fftw", audio, 0.5);
        if (isnan(p50))
            continue;
        double p99 = quantile(id, "fftw", audio, 0.99), s99 = quantile(id, "fftw", seq, 0.99);
        char a[32], b[32], c[32], d[32], e[32], g[32], h[32];
        printf("| %s | %s | %s | %s | %s / %s | %s | %s%% |\n", rts[id].label,
               fmt(a, sizeof a, p50 / 1e3, 1), fmt(b, sizeof b, p99 / 1e3, 1),
               fmt(c, sizeof c, quantile(id, "fftw", audio, 1) / 1e3, 1),
               fmt(d, sizeof d, quantile(id, "fftw", seq, 0.5) / 1e3, 1), fmt(e, sizeof e, s99 / 1e3, 1),
               fmt(g, sizeof g, ratio(p99, s99), 2), fmt(h, sizeof h, fftw_cpu(id, audio), 1));
    }
    printf("\nEach runner alternates blocks of %u periods of its plan with blocks of a 1-thread "
           "plan of the same transform, paced the same way (the first period of a block is not "
           "timed). CPU: the process's CPU time (every thread) over the wall time of the back "
           "end's blocks, all batches together.\n",
           BENCH_PACED_BLOCK);
    skipped_rows(fftw_rts, LEN(fftw_rts));
    printf("\n");
    median_results("fftw", fftw_rts, LEN(fftw_rts), FFTW_MP, sizes);
    for (size_t j = 0; j < LEN(fftw_rts); j++) {
        enum rt id = fftw_rts[j];
        for (size_t i = 0; sizes[i]; i++) {
            char thr[64];
            snprintf(thr, sizeof thr, "%s/threaded", sizes[i]);
            result("fftw", id, sizes[i], "threaded", median(id, "fftw", thr), count_of(id, "fftw", thr), NAN);
        }
        size_t n = count_of(id, "fftw", audio);
        result("fftw", id, audio, "p50_ns", quantile(id, "fftw", audio, 0.5), n, NAN);
        result("fftw", id, audio, "p99_ns", quantile(id, "fftw", audio, 0.99), n,
               ratio(quantile(FFTW_MP, "fftw", audio, 0.99), quantile(id, "fftw", audio, 0.99)));
        result("fftw", id, audio, "seq_p99_ns", quantile(id, "fftw", seq, 0.99), n, NAN);
        result("fftw", id, audio, "cpu_pct", fftw_cpu(id, audio), n, NAN);
    }
    fig_fftw_p99 = quantile(FFTW_MP, "fftw", audio, 0.99);
    fig_fftw_p99_one = quantile(FFTW_MP, "fftw", seq, 0.99);
    fig_fftw_cpu = fftw_cpu(FFTW_MP, audio);
}

/* ---------------------------------------------------------------- 12: the suite */
/* The classic fork-join suite (suite.h), at T = 1 and T = 2 whatever
 * --threads says. A program's parameter is PROGRAM:SIZE[:ARG]. */
struct suite_row {
    const char *label, *full, *quick;
    int has_cutoff; /* the T = 1 overhead target applies */
};

static const struct suite_row suite_rows[] = {
    { "fib, no cut-off", "fib:35:0", "fib:27:0", 0 },
    { "fib, cut-off 20", "fib:35:20", "fib:30:20", 1 },
    { "nqueens, cut-off depth 4", "nqueens:13:4", "nqueens:11:4", 1 },
    { "uts, binomial, no cut-off", "uts:20000", "uts:2000", 0 },
    { "integrate, to 1e-9, no cut-off", "integrate:1000", "integrate:100", 0 },
    { "matmul, 64^2 blocks", "matmul:1024", "matmul:256", 1 },
    { "merge sort, leaves of 4096", "sort:10000000", "sort:1000000", 1 },
};
static const enum rt suite_rts[] = { SEQ, MICROPOOL, GOMP_ACTIVE, GOMP_PASSIVE, LLVM_OMP, TBB };
static const unsigned suite_threads[] = { 1, 2 };

/* figures the targets section reads */
static double fig_suite_peer = NAN, fig_suite_ovh = NAN, fig_suite_floor = NAN;
static double fig_suite_floor_t2 = NAN;
static char fig_suite_peer_at[48], fig_suite_ovh_at[48];

static const char *suite_param(const struct suite_row *r)
{
    return quick ? r->quick : r->full;
}

/* The median time of a program at T threads (the serial version: T = 1). */
static double suite_ns(enum rt id, const char *param, unsigned t)
{
    char key[48];
    snprintf(key, sizeof key, "%s/t%u", param, t);
    return median(id, "suite", key);
}

/* The best peer (not micropool, not the serial version) at T threads. */
static double suite_best_peer(const char *param, unsigned t, enum rt *who)
{
    double best = NAN;
    for (size_t j = 0; j < LEN(suite_rts); j++) {
        enum rt id = suite_rts[j];
        double v = suite_ns(id, param, t);
        if (id == SEQ || id == MICROPOOL || isnan(v))
            continue;
        if (isnan(best) || v < best) {
            best = v;
            if (who)
                *who = id;
        }
    }
    return best;
}

/* Every result of every runtime must be the serial version's, bit for bit. */
static void suite_check(const char *param)
{
    char key[48];
    snprintf(key, sizeof key, "%s/result", param);
    struct series *want = series_of(SEQ, "suite", key, 0);
    if (!want || want->n == 0)
        return;
    for (size_t j = 0; j < LEN(suite_rts); j++) {
        struct series *s = series_of(suite_rts[j], "suite", key, 0);
        for (size_t i = 0; s && i < s->n; i++)
            if (s->v[i] != want->v[0]) {
                fprintf(stderr, "micropool-bench: suite %s: %s's result %.17g is not the serial "
                                "version's %.17g\n",
                        param, rts[suite_rts[j]].id, s->v[i], want->v[0]);
                skip_now[suite_rts[j]] = "BROKEN: a wrong result (see above)";
                broken = 1;
                break;
            }
    }
}

static void bench_suite(void)
{
    struct plan p = quick ? (struct plan){ 1, 5, 200 } : (struct plan){ 3, 2, 1000 };
    const unsigned saved_threads = threads;
    const char *params[LEN(suite_rows) + 1];
    for (size_t i = 0; i < LEN(suite_rows); i++)
        params[i] = suite_param(&suite_rows[i]);
    params[LEN(suite_rows)] = NULL;
    /* the no-op join floor of fib without a cut-off: the join row's floor
     * (workload fib) at the suite's n */
    const char *fib_n = quick ? "27" : "35";
    const char *floor_params[] = { fib_n, NULL };
    heading("13. The classic fork-join suite at T = 1 and T = 2");
    static char stack_env[32];
    snprintf(stack_env, sizeof stack_env, "OMP_STACKSIZE=%uM", BENCH_SUITE_STACK_MB);
    env_extra = stack_env;

    int active[RT_COUNT] = { 0 };
    for (size_t j = 0; j < LEN(suite_rts); j++) {
        skip_now[suite_rts[j]] = rts[suite_rts[j]].skip;
        active[suite_rts[j]] = rts[suite_rts[j]].skip == NULL;
    }
    skip_now[NULLJOIN] = rts[NULLJOIN].skip;
    active[NULLJOIN] = rts[NULLJOIN].skip == NULL;
    /* Round by round, every runtime at each T, in an order that rotates:
     * the serial version and the floor run once per round, at T = 1. */
    for (unsigned round = 0; round < p.rounds; round++) {
        for (size_t ti = 0; ti < LEN(suite_threads); ti++) {
            threads = suite_threads[ti];
            for (size_t j = 0; j < LEN(suite_rts); j++) {
                enum rt id = suite_rts[(j + round + ti) % LEN(suite_rts)];
                if (!active[id] || (id == SEQ && threads != 1))
                    continue;
                if (run_batch(id, "suite", p.samples, p.budget_ms, params) != 0)
                    active[id] = 0;
            }
        }
        threads = 1;
        if (active[NULLJOIN] && run_batch(NULLJOIN, "fib", p.samples, p.budget_ms, floor_params) != 0)
            active[NULLJOIN] = 0;
    }
    threads = saved_threads;
    env_extra = NULL;
    for (size_t i = 0; i < LEN(suite_rows); i++)
        suite_check(params[i]);

    printf("| program | parameters | runtime | T = 1 (ms) | T = 2 (ms) | T = 1 overhead (T = 1 / sequential) | speed-up at T = 2 | micropool / runtime at T = 2 |\n");
    printf("|---|---|---|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < LEN(suite_rows); i++) {
        const char *param = params[i];
        double seq = suite_ns(SEQ, param, 1), mp2 = suite_ns(MICROPOOL, param, 2);
        for (size_t j = 0; j < LEN(suite_rts); j++) {
            enum rt id = suite_rts[j];
            double t1 = suite_ns(id, param, 1), t2 = id == SEQ ? NAN : suite_ns(id, param, 2);
            if (isnan(t1) && isnan(t2))
                continue;
            char a[32], b[32], c[32], d[32], e[32];
            printf("| %s | `%s` | %s | %s | %s | %s | %s | %s |\n", suite_rows[i].label, param,
                   id == SEQ ? "sequential (serial version)" : rts[id].label,
                   fmt(a, sizeof a, t1 / 1e6, 1), id == SEQ ? "-" : fmt(b, sizeof b, t2 / 1e6, 1),
                   id == SEQ ? "-" : fmt(c, sizeof c, ratio(t1, seq), 2),
                   id == SEQ ? "-" : fmt(d, sizeof d, ratio(seq, t2), 2),
                   id == SEQ ? "-" : fmt(e, sizeof e, ratio(mp2, t2), 2));
        }
    }
    double floor_ns = median(NULLJOIN, "fib", fib_n);
    printf("\nThe summary: micropool against the sequential version and the fastest peer at each "
           "T; the floor of fib without a cut-off is the join row's no-op join (one thread) at the "
           "same n.\n\n");
    printf("| program | sequential (ms) | micropool T = 1 overhead | micropool speed-up at T = 2 | fastest peer at T = 2 | its speed-up | micropool / fastest peer at T = 2 |\n");
    printf("|---|---:|---:|---:|---|---:|---:|\n");
    for (size_t i = 0; i < LEN(suite_rows); i++) {
        const char *param = params[i];
        double seq = suite_ns(SEQ, param, 1);
        double mp1 = suite_ns(MICROPOOL, param, 1), mp2 = suite_ns(MICROPOOL, param, 2);
        enum rt who = SEQ;
        double best = suite_best_peer(param, 2, &who);
        char a[32], b[32], c[32], d[32], e[32];
        printf("| %s `%s` | %s | %s | %s | %s | %s | %s |\n", suite_rows[i].label, param,
               fmt(a, sizeof a, seq / 1e6, 1), fmt(b, sizeof b, ratio(mp1, seq), 2),
               fmt(c, sizeof c, ratio(seq, mp2), 2), who == SEQ ? "-" : rts[who].label,
               fmt(d, sizeof d, ratio(seq, best), 2), fmt(e, sizeof e, ratio(mp2, best), 2));
        char where[48];
        snprintf(where, sizeof where, "%s", param);
        keep_extreme(&fig_suite_peer, fig_suite_peer_at, sizeof fig_suite_peer_at, ratio(mp2, best),
                     -1, where);
        if (suite_rows[i].has_cutoff)
            keep_extreme(&fig_suite_ovh, fig_suite_ovh_at, sizeof fig_suite_ovh_at, ratio(mp1, seq),
                         -1, where);
        if (i == 0) {
            fig_suite_floor = ratio(mp1, floor_ns);
            fig_suite_floor_t2 = ratio(mp2, floor_ns / 2);
            char f1[32], f2[32], f3[32];
            printf("| the floor: fib(%s) by the no-op join, 1 thread | - | %s ms | micropool T = 1 / floor: %s | - | - | micropool T = 2 / (floor / 2): %s |\n",
                   fib_n, fmt(f1, sizeof f1, floor_ns / 1e6, 1),
                   fmt(f2, sizeof f2, fig_suite_floor, 2), fmt(f3, sizeof f3, fig_suite_floor_t2, 2));
        }
    }
    printf("\nEach program's fork-join version is written once against a two-way join of the "
           "mp_join shape (suite.h): micropool: mp_join; OpenMP: b as a task, a on the caller, "
           "taskwait, the root in a parallel region's single thread; oneTBB: parallel_invoke in a "
           "task_arena. The sequential row is the serial version (the same algorithm and cut-offs, "
           "plain recursion, no runtime); every result is checked against it bit for bit. T "
           "counts the calling thread. uts: UTS's binomial tree with T1L's M = 5, Q = 0.200014 "
           "and seed 7, B0 root children, this bench's own splittable hash (suite_uts.c). Times: "
           "medians of all samples; below 1 in the last column: micropool is faster.\n");
    skipped_rows(suite_rts, LEN(suite_rts));
    printf("\n");
    for (size_t ti = 0; ti < LEN(suite_threads); ti++) {
        threads = suite_threads[ti];
        for (size_t i = 0; i < LEN(suite_rows); i++) {
            const char *param = params[i];
            double seq = suite_ns(SEQ, param, 1), mp = suite_ns(MICROPOOL, param, threads);
            char key[48];
            snprintf(key, sizeof key, "%s/t%u", param, threads);
            for (size_t j = 0; j < LEN(suite_rts); j++) {
                enum rt id = suite_rts[j];
                if (id == SEQ && threads != 1)
                    continue;
                double v = suite_ns(id, param, threads);
                size_t n = count_of(id, "suite", key);
                result("suite", id, param, "ns", v, n, ratio(mp, v));
                if (id != SEQ)
                    result("suite", id, param, "x_sequential", ratio(v, seq), n, NAN);
            }
        }
    }
    threads = 1;
    result("suite", NULLJOIN, fib_n, "fib_ns", floor_ns, count_of(NULLJOIN, "fib", fib_n), NAN);
    threads = saved_threads;
}

/* ---------------------------------------------------------------- targets */
static void target(const char *what, const char *figure, int met, int measured)
{
    printf("| %s | %s | %s |\n", what, measured ? figure : "-", !measured ? "not measured" : met ? "met" : "NOT met");
}

static void suite_targets(void);

static void targets(void)
{
    char f[256];
    heading("Targets");
    printf("| target | measured | |\n|---|---|---|\n");
    double every = (double)(threads - 1) / threads;
    snprintf(f, sizeof f, "%.0f ns vs %.0f ns (%.2f); %.0f%% of the parts off the caller (every thread: %.0f%%)",
             fig_fork_mp, fig_fork_llvm, fig_fork_mp / fig_fork_llvm, 100 * fig_fork_share, 100 * every);
    target("fork-join <= 0.5 x LLVM OpenMP, every thread running a part (>= 80% of its share)", f,
           fig_fork_mp <= 0.5 * fig_fork_llvm && fig_fork_share >= 0.8 * every,
           !isnan(fig_fork_mp) && !isnan(fig_fork_llvm));
    if (isnan(fig_fib_floor))
        snprintf(f, sizeof f, "%.2f x sequential", fig_fib_x);
    else
        snprintf(f, sizeof f, "%.2f x sequential (the no-op join's floor / T: %.2f)", fig_fib_x,
                 fig_fib_floor);
    target("fib(30) by joins <= 2 x sequential", f, fig_fib_x <= 2, !isnan(fig_fib_x));
    char a[48], b[48];
    be_text(a, sizeof a, fig_be_mp);
    be_text(b, sizeof b, fig_be_llvm);
    snprintf(f, sizeof f, "%s vs %s", a, b);
    int be_ok = fig_be_mp > 0 && fig_be_mp <= 16384 &&
                (isnan(fig_be_llvm) || fig_be_llvm < 0 || fig_be_mp <= fig_be_llvm);
    target("counting break-even <= LLVM OpenMP's and <= 16K", f, be_ok, !(fig_be_mp < 0));
    snprintf(f, sizeof f, "%.1f us vs %.1f us", fig_wake_mp / 1e3, fig_wake_gomp / 1e3);
    target("wake-up <= GCC OpenMP passive", f, fig_wake_mp <= fig_wake_gomp,
           !isnan(fig_wake_mp) && !isnan(fig_wake_gomp));
    snprintf(f, sizeof f, "%.2f%% idle, %.2f%% with a job every 1 ms (the test alone: %.2f%%)",
             fig_idle, fig_tick, fig_tick_floor);
    target("idle < 1% of a CPU, < 5% with a tiny job every 1 ms", f, fig_idle < 1 && fig_tick < 5,
           !isnan(fig_idle) && !isnan(fig_tick));
    snprintf(f, sizeof f, "%.3g vs %.3g tasks/s (%.2f)", fig_tasks_mp, fig_tasks_tbb,
             fig_tasks_mp / fig_tasks_tbb);
    target("background tasks >= 2 x oneTBB task_group", f, fig_tasks_mp >= 2 * fig_tasks_tbb,
           !isnan(fig_tasks_mp) && !isnan(fig_tasks_tbb));
    snprintf(f, sizeof f, "%.3g vs %.3g tasks/s (%.2f)", fig_graph_mp, fig_graph_flow,
             fig_graph_mp / fig_graph_flow);
    target("wavefront of 256 x 256 >= 2 x oneTBB flow_graph", f,
           fig_graph_mp >= 2 * fig_graph_flow, !isnan(fig_graph_mp) && !isnan(fig_graph_flow));
    snprintf(f, sizeof f, "%.1f us", fig_prio_p99 / 1e3);
    target("a high-priority task behind 10^4 low ones starts within 50 us (p99)", f,
           fig_prio_p99 < 50000, !isnan(fig_prio_p99));
    snprintf(f, sizeof f, "%g at most", fig_allocs);
    target("0 heap allocations per call", f, fig_allocs == 0, !isnan(fig_allocs));
    snprintf(f, sizeof f, "median call %.2fx sequential at worst (%s); p99 %.2fx sequential p99 at worst (%s)",
             fig_burst_x, fig_burst_x_at, fig_burst_p99, fig_burst_p99_at);
    target("never slower: micropool's median call >= 0.95x sequential at every n and gap, p99 "
           "<= 1.1x sequential p99",
           f, fig_burst_x >= 0.95 && fig_burst_p99 <= 1.1,
           !isnan(fig_burst_x) && !isnan(fig_burst_p99));
    snprintf(f, sizeof f, "speed-up %.2fx the best peer's at worst (%s); CPU beyond the caller %.1f%% at most",
             fig_warm_rel, fig_warm_rel_at, fig_warm_cpu);
    target("warm bursts: gaps <= 200 us, n >= 2^14: speed-up within 5% of the best peer, CPU "
           "beyond the caller < 25%",
           f, fig_warm_rel >= 0.95 && fig_warm_cpu < 25, !isnan(fig_warm_rel) && !isnan(fig_warm_cpu));
    snprintf(f, sizeof f,
             "p50 speed-up %.2fx (100 us), %.2fx (20 us); p99 %.2fx, %.2fx sequential p99; "
             "CPU %.1f%% vs a share of %.1f%%, %.1f%% vs %.1f%%",
             fig_per_x[1], fig_per_x[0], fig_per_p99[1], fig_per_p99[0], fig_per_cpu[1],
             fig_per_share[1], fig_per_cpu[0], fig_per_share[0]);
    int per_ok = fig_per_x[1] >= 1.5 && fig_per_x[0] >= 1.2;
    int per_measured = 1;
    for (int w = 0; w < 2; w++) {
        per_ok &= fig_per_p99[w] <= 1 && fig_per_cpu[w] <= fig_per_share[w] + 5;
        per_measured &= !isnan(fig_per_x[w]) && !isnan(fig_per_p99[w]) && !isnan(fig_per_cpu[w]) &&
                        !isnan(fig_per_share[w]);
    }
    target("periodic 1333 us: p50 speed-up >= 1.5x (100 us job), >= 1.2x (20 us job), p99 <= "
           "sequential p99, CPU <= work share + 5%",
           f, per_ok, per_measured);
    snprintf(f, sizeof f, "micropool / the faster of them: %.2f at worst (%s)", fig_fftw_best,
             fig_fftw_best_at);
    target("FFTW on micropool at least as fast as the best of FFTW's pthreads and OpenMP back ends "
           "at every size",
           f, fig_fftw_best <= 1, !isnan(fig_fftw_best));
    snprintf(f, sizeof f, "micropool / one thread: %.2f at worst (%s)", fig_fftw_one, fig_fftw_one_at);
    target("FFTW on micropool never slower than FFTW on one thread, at any size", f,
           fig_fftw_one <= 1, !isnan(fig_fftw_one));
    snprintf(f, sizeof f, "p99 %.1f us vs the 1-thread plan's %.1f us (%.2f); CPU %.1f%%",
             fig_fftw_p99 / 1e3, fig_fftw_p99_one / 1e3, fig_fftw_p99 / fig_fftw_p99_one, fig_fftw_cpu);
    target("FFTW periodic (a 4096-point real FFT every 1333 us): p99 <= the 1-thread p99, CPU < 20%",
           f, fig_fftw_p99 <= fig_fftw_p99_one && fig_fftw_cpu < 20,
           !isnan(fig_fftw_p99) && !isnan(fig_fftw_p99_one) && !isnan(fig_fftw_cpu));
    suite_targets();
}

static void suite_targets(void)
{
    char f[256];
    snprintf(f, sizeof f, "micropool / the fastest peer: %.2f at worst (%s)", fig_suite_peer,
             fig_suite_peer_at);
    target("suite: micropool at T = 2 at least as fast as the fastest peer on every program", f,
           fig_suite_peer <= 1, !isnan(fig_suite_peer));
    snprintf(f, sizeof f, "%.2f x sequential at worst (%s)", fig_suite_ovh, fig_suite_ovh_at);
    target("suite: micropool's T = 1 overhead <= 1.1 x sequential on every program with a cut-off", f,
           fig_suite_ovh <= 1.1, !isnan(fig_suite_ovh));
    snprintf(f, sizeof f, "T = 1: %.2f x the floor (T = 2: %.2f x the floor / 2)", fig_suite_floor,
             fig_suite_floor_t2);
    target("suite: fib without a cut-off within 1.25 x the no-op join floor (T = 1 against its 1 thread)",
           f, fig_suite_floor <= 1.25, !isnan(fig_suite_floor));
}

/* ---------------------------------------------------------------- plot */

/* Opens a temporary data file for gnuplot (its name into path[32]); NULL,
 * with the reason printed, when there is no gnuplot or no file. */
static FILE *plot_data(char *path)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("plot skipped: gnuplot is not installed (Debian package gnuplot-nox)\n");
        return NULL;
    }
    snprintf(path, 32, "/tmp/micropool-bench-XXXXXX");
    int fd = mkstemp(path);
    FILE *d = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!d)
        printf("plot skipped: cannot write a data file: %s\n", strerror(errno));
    return d;
}

/* Starts gnuplot on an SVG of width x height; the caller writes the rest
 * of the script and ends with plot_end. NULL (the data file removed) when
 * gnuplot does not start. */
static FILE *plot_start(const char *svg, const char *data, int width, int height)
{
    FILE *g = popen("gnuplot >/dev/null", "w");
    if (!g) {
        printf("plot skipped: cannot start gnuplot\n");
        unlink(data);
        return NULL;
    }
    fprintf(g, "set terminal svg size %d,%d dynamic enhanced font 'sans,12'\n", width, height);
    fprintf(g, "set output '%s'\n", svg);
    fprintf(g, "set datafile missing '?'\nset grid\n");
    return g;
}

static void plot_end(FILE *g, const char *data, const char *svg, const char *what)
{
    int rc = pclose(g);
    unlink(data);
    if (rc != 0)
        printf("plot: gnuplot failed (status %d)\n", rc);
    else
        printf("plot: %s written to %s\n", what, svg);
}

/* A datum of a plot's data file, '?' when missing. */
static void plot_value(FILE *d, double v)
{
    if (isnan(v))
        fprintf(d, " ?");
    else
        fprintf(d, " %.6g", v);
}

static void plot_counting(const char *svg, const enum rt *list, size_t k)
{
    char data[32];
    FILE *d = plot_data(data);
    if (!d)
        return;
    for (int e = COUNT_LO; e <= COUNT_HI; e++) {
        char param[24];
        snprintf(param, sizeof param, "%llu", 1ull << e);
        fprintf(d, "%llu", 1ull << e);
        for (size_t j = 0; j < k; j++)
            plot_value(d, median(list[j], "count", param) / (double)(1ull << e));
        fprintf(d, "\n");
    }
    fclose(d);
    FILE *g = plot_start(svg, data, 900, 600);
    if (!g)
        return;
    fprintf(g, "set title 'Counting to n on %u threads: time per count'\n", threads);
    fprintf(g, "set xlabel 'n'\nset ylabel 'ns per count (log)'\n");
    fprintf(g, "set logscale xy 2\nset format x '2^{%%L}'\nset key top right\n");
    fprintf(g, "plot ");
    for (size_t j = 0; j < k; j++)
        fprintf(g, "%s'%s' using 1:%zu with linespoints title '%s'", j ? ", " : "", data, j + 2,
                rts[list[j]].label);
    fprintf(g, "\n");
    plot_end(g, data, svg, "counting curves");
}

/* FILE.svg -> FILE-SUFFIX.svg */
static void plot_sibling(char *buf, size_t size, const char *svg, const char *suffix)
{
    size_t n = strlen(svg);
    if (n >= 4 && !strcmp(svg + n - 4, ".svg"))
        n -= 4;
    snprintf(buf, size, "%.*s-%s.svg", (int)n, svg, suffix);
}

/* The burst speed-ups against the gap, one plot per n in a multiplot. A
 * log axis has no 0: the back-to-back calls are drawn at 1 us, labelled 0. */
static void plot_bursts(const char *plot, const struct burst_grid *g, const enum rt *cols, size_t k)
{
    char svg[PATH_MAX], data[32];
    plot_sibling(svg, sizeof svg, plot, "burst");
    FILE *d = plot_data(data);
    if (!d)
        return;
    for (size_t e = 0; e < g->n_exps; e++) {
        for (size_t i = 0; i < g->n_gaps; i++) {
            char param[32];
            burst_param(param, sizeof param, g->exps[e], g->gaps[i]);
            fprintf(d, "%u", g->gaps[i] ? g->gaps[i] : 1);
            for (size_t j = 0; j < k; j++)
                plot_value(d, burst_x(cols[j], param));
            fprintf(d, "\n");
        }
        fprintf(d, "\n\n");
    }
    fclose(d);
    size_t across = g->n_exps < 2 ? 1 : 2, down = (g->n_exps + across - 1) / across;
    FILE *gp = plot_start(svg, data, 700 * (int)across, 560 * (int)down);
    if (!gp)
        return;
    fprintf(gp, "set multiplot layout %zu,%zu title 'Bursts on %u threads: speed-up over the "
                "sequential count after a gap of serial work'\n",
            down, across, threads);
    fprintf(gp, "set logscale x\nset xlabel 'gap (us)'\nset ylabel 'speed-up (median call)'\n");
    fprintf(gp, "set key below font ',9'\nset xtics (");
    for (size_t i = 0; i < g->n_gaps; i++)
        fprintf(gp, "%s'%u' %u", i ? ", " : "", g->gaps[i], g->gaps[i] ? g->gaps[i] : 1);
    fprintf(gp, ")\n");
    for (size_t e = 0; e < g->n_exps; e++) {
        fprintf(gp, "set title 'n = 2^{%d}'\nplot ", g->exps[e]);
        for (size_t j = 0; j < k; j++)
            fprintf(gp, "%s'%s' index %zu using 1:%zu with linespoints title '%s' noenhanced",
                    j ? ", " : "", data, e, j + 2, rts[cols[j]].label);
        fprintf(gp, "\n");
    }
    fprintf(gp, "unset multiplot\n");
    plot_end(gp, data, svg, "burst speed-ups");
}

/* ---------------------------------------------------------------- machine */

/* CPU seconds the whole machine spent busy so far (/proc/stat), NAN if
 * unknown. */
static double machine_busy_s(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return NAN;
    unsigned long long v[8] = { 0 };
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                     &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (got < 8)
        return NAN;
    /* user nice system [idle] [iowait] irq softirq steal */
    double busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
    long hz = sysconf(_SC_CLK_TCK);
    return busy / (double)(hz > 0 ? hz : 100);
}

static double children_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
        return NAN;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---------------------------------------------------------------- main */
static unsigned cpus_of_process(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            snprintf(buf, size, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    }
    fclose(f);
}

static int wanted(const char *only, const char *w)
{
    if (!only)
        return 1;
    size_t n = strlen(w);
    for (const char *p = only; (p = strstr(p, w)) != NULL; p += n)
        if ((p == only || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            return 1;
    return 0;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: micropool-bench [--quick] [--threads T] [--plot FILE.svg] [--only W1,W2,...]\n"
                "workloads: forkjoin fib count wakeup idle tasks sort allocs burst periodic fftw graph suite\n");
}

int main(int argc, char **argv)
{
    const char *plot = NULL, *only = NULL;
    threads = cpus_of_process();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            char *end;
            unsigned long t = strtoul(argv[++i], &end, 10);
            if (*end || t < 1 || t > 1024) {
                fprintf(stderr, "micropool-bench: --threads wants 1..1024\n");
                return 2;
            }
            threads = (unsigned)t;
        } else if (!strcmp(argv[i], "--plot") && i + 1 < argc) {
            plot = argv[++i];
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    ssize_t len = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (len <= 0) {
        perror("micropool-bench: /proc/self/exe");
        return 1;
    }
    exe_dir[len] = 0;
    char *slash = strrchr(exe_dir, '/');
    if (slash)
        *slash = 0;
    for (int i = 0; i < RT_COUNT; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", exe_dir, rts[i].exe);
        if (!rts[i].skip && access(path, X_OK) != 0) {
            static char why[RT_COUNT][PATH_MAX + 96];
            snprintf(why[i], sizeof why[i], "%s is missing: %s", rts[i].exe, strerror(errno));
            rts[i].skip = why[i];
        }
    }

    char model[128];
    cpu_model(model, sizeof model);
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    printf("# micropool benchmark%s\n\n", quick ? " (--quick)" : "");
    printf("%u threads (caller counted) on %u CPUs, %s, %s. Medians of every sample; each batch of "
           "samples runs after a warm-up in a fresh process, runtimes taking turns.\n",
           threads, cpus_of_process(), model, date);
    for (int i = 0; i < RT_COUNT; i++)
        if (rts[i].skip)
            printf("- not measured: %s: %s\n", rts[i].label, rts[i].skip);
    fflush(stdout);

    uint64_t t0 = now_ms();
    double busy0 = machine_busy_s(), ours0 = children_cpu_s();
    if (wanted(only, "forkjoin"))
        bench_forkjoin();
    if (wanted(only, "fib"))
        bench_fib();
    if (wanted(only, "count"))
        bench_count(plot);
    if (wanted(only, "wakeup"))
        bench_wakeup();
    if (wanted(only, "idle"))
        bench_idle();
    if (wanted(only, "tasks"))
        bench_tasks();
    if (wanted(only, "sort"))
        bench_sort();
    if (wanted(only, "allocs"))
        bench_allocs();
    if (wanted(only, "burst"))
        bench_burst(plot);
    if (wanted(only, "periodic"))
        bench_periodic();
    if (wanted(only, "fftw"))
        bench_fftw();
    if (wanted(only, "graph"))
        bench_graph();
    if (wanted(only, "suite"))
        bench_suite();
    if (threads >= 2)
        targets();
    double wall = (double)(now_ms() - t0) / 1e3;
    double others = (machine_busy_s() - busy0) - (children_cpu_s() - ours0);
    printf("\n%s in %.0f s.", broken ? "BROKEN: a runner failed (see above)" : "Done", wall);
    if (!isnan(others) && wall > 0) {
        double pct = 100 * (others > 0 ? others : 0) / (wall * cpus_of_process());
        printf(" Other processes used %.0f%% of the machine's CPU time meanwhile%s", pct,
               pct > 5 ? ": the figures above are noisy." : ".");
    }
    printf("\n");
    return broken || (!isnan(fig_allocs) && fig_allocs > 0) ? 1 : 0;
}
