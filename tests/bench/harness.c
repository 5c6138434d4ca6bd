/*
 * harness.c: the main() of every runner. It runs one batch of one workload
 * on one backend and prints what it measured, one line per item:
 *
 *   sample PARAM VALUE     one measurement (its unit depends on the workload)
 *   info PARAM KEY VALUE   something else worth reporting
 *   skip REASON...         the backend cannot run this here
 *
 * usage: RUNNER BACKEND WORKLOAD THREADS SAMPLES BUDGET_MS [PARAM...]
 *
 * A PARAM is a number, or for burst and periodic a pair A:B (see 9, 10).
 *
 * It stops taking samples of a parameter once BUDGET_MS have passed (after
 * at least one). A wrong result (a count, a sum, an unsorted array) is a
 * broken run: a message on stderr and exit status 1; so is a batch that
 * hangs (SIGALRM after 180 s). Timing is never judged here.
 */
#define _GNU_SOURCE

#include "bench.h"
#include "suite.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

size_t bench_stack_size;

static const bench_backend *be;
static unsigned threads;
static unsigned max_samples;
static uint64_t budget_ns;

static void fail(const char *what)
{
    fprintf(stderr, "%s: %s\n", be ? be->name : "runner", what);
    exit(1);
}

/* stdout is a pipe to the driver, so fully buffered: the lines go out in
 * one write at the end, and the driver does not wake up between samples. */
static void sample(const char *param, double value)
{
    printf("sample %s %.6g\n", param, value);
}

static int more_samples(unsigned taken, uint64_t since)
{
    if (taken == 0)
        return 1;
    return taken < max_samples && bench_now_ns() - since < budget_ns;
}

/* How many back-to-back calls of `one_ns` each make a sample of target_ns. */
static uint64_t reps_for(double one_ns, double target_ns)
{
    double r = one_ns > 0 ? target_ns / one_ns : 1e6;
    if (r < 1)
        r = 1;
    if (r > 1e6)
        r = 1e6;
    return (uint64_t)r;
}

/* ---------------------------------------------------------------- 1 */
static void run_forkjoin(void)
{
    for (int i = 0; i < 100; i++)
        if (be->empty_reduce(threads) != threads)
            fail("empty reduction: wrong sum");
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < 100; i++)
        be->empty_reduce(threads);
    uint64_t reps = reps_for((double)(bench_now_ns() - t0) / 100, 2e6);

    bench_marks_reset();
    uint64_t since = bench_now_ns(), calls = 0;
    for (unsigned s = 0; more_samples(s, since); s++) {
        uint64_t bad = 0;
        t0 = bench_now_ns();
        for (uint64_t r = 0; r < reps; r++)
            bad += be->empty_reduce(threads) != threads;
        uint64_t t1 = bench_now_ns();
        if (bad)
            fail("empty reduction: wrong sum");
        calls += reps;
        sample("-", (double)(t1 - t0) / (double)reps);
    }
    uint64_t total = bench_marks_total();
    if (total != calls * threads)
        fail("empty reduction: parts missing");
    printf("info - threads_used %u\n", bench_marks_threads());
    printf("info - helper_share %.4f\n", 1.0 - (double)bench_marks_mine() / (double)total);
}

/* ---------------------------------------------------------------- 2 */
static void run_fib(int n)
{
    long want = bench_fib_seq(n);
    char param[16];
    snprintf(param, sizeof param, "%d", n);
    for (int i = 0; i < 3; i++)
        if (be->fib(n < 20 ? n : 20) != bench_fib_seq(n < 20 ? n : 20))
            fail("fib: wrong result");
    uint64_t since = bench_now_ns();
    for (unsigned s = 0; more_samples(s, since); s++) {
        uint64_t t0 = bench_now_ns();
        long r = be->fib(n);
        uint64_t t1 = bench_now_ns();
        if (r != want)
            fail("fib: wrong result");
        sample(param, (double)(t1 - t0));
    }
    printf("info %s joins %llu\n", param, (unsigned long long)bench_fib_joins(n));
}

/* ---------------------------------------------------------------- 3 */
static void run_count(uint64_t n)
{
    char param[24];
    snprintf(param, sizeof param, "%llu", (unsigned long long)n);
    for (int i = 0; i < 3; i++)
        if (be->count(n) != n)
            fail("count: wrong result");
    uint64_t t0 = bench_now_ns();
    if (be->count(n) != n)
        fail("count: wrong result");
    uint64_t reps = reps_for((double)(bench_now_ns() - t0), 1e6);
    uint64_t since = bench_now_ns();
    for (unsigned s = 0; more_samples(s, since); s++) {
        uint64_t bad = 0;
        t0 = bench_now_ns();
        for (uint64_t r = 0; r < reps; r++)
            bad += be->count(n) != n;
        uint64_t t1 = bench_now_ns();
        if (bad)
            fail("count: wrong result");
        sample(param, (double)(t1 - t0) / (double)reps);
    }
}

/* ---------------------------------------------------------------- 4 */
struct wake_record {
    _Alignas(64) _Atomic uint32_t done;     /* a futex word */
    uint64_t started;
    int cpu;                        /* where the job started */
};

static int wake_job(void *arg)
{
    struct wake_record *w = arg;
    w->started = bench_now_ns();
    w->cpu = sched_getcpu();
    atomic_store_explicit(&w->done, 1, memory_order_release);
    syscall(SYS_futex, (uint32_t *)&w->done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    return 0;
}

/* The caller waits for the job asleep in the kernel, as an OpenMP caller
 * does in the barrier that ends its parallel region: a caller that kept
 * its CPU busy would make the woken thread preempt it or wait for another
 * CPU, and the figure would measure the harness's polling, not the
 * runtime's wake-up. (The job's clock reading comes before its wake of the
 * caller, so that wake is not part of the figure.) */
static void wait_done(_Atomic uint32_t *done)
{
    uint64_t t0 = bench_now_ns();
    while (!atomic_load_explicit(done, memory_order_acquire)) {
        if (bench_now_ns() - t0 > 10000000000u)
            fail("a posted job did not run within 10 s");
        struct timespec slice = {0, 100000000};
        syscall(SYS_futex, (uint32_t *)done, FUTEX_WAIT_PRIVATE, 0, &slice, NULL, 0);
    }
}

static void run_wakeup(void)
{
    static struct wake_record w;
    for (int i = 0; i < 3; i++) { /* threads started, paths warm */
        atomic_store(&w.done, 0);
        be->post(wake_job, &w);
        wait_done(&w.done);
    }
    printf("info - settle_ms %u\n", be->settle_ms);
    /* How often the job started on the CPU the caller posted it from: a
     * thread woken there preempts the caller, one woken on another CPU
     * that idles may first have to wake that CPU, which costs more on
     * some machines (a halted vCPU). The kernel decides. */
    unsigned taken = 0, on_caller_cpu = 0;
    uint64_t since = bench_now_ns();
    for (unsigned s = 0; more_samples(s, since); s++) {
        atomic_store(&w.done, 0);
        bench_sleep_ns((uint64_t)be->settle_ms * 1000000u);
        int cpu = sched_getcpu();
        uint64_t t0 = bench_now_ns();
        be->post(wake_job, &w);
        wait_done(&w.done);
        sample("-", (double)(w.started - t0));
        taken++;
        on_caller_cpu += w.cpu == cpu;
    }
    printf("info - on_caller_cpu_pct %.1f\n", 100.0 * on_caller_cpu / taken);
}

/* ---------------------------------------------------------------- 5 */
/* CPU time of the process (RUSAGE_SELF) or of the calling thread
 * (RUSAGE_THREAD) so far. */
static uint64_t cpu_ns(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static void sleep_until(uint64_t deadline)
{
    struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static void run_idle(void)
{
    static struct wake_record w;
    const uint64_t second = 1000000000u;
    atomic_store(&w.done, 0);
    be->post(wake_job, &w);
    wait_done(&w.done);
    bench_sleep_ns((uint64_t)be->settle_ms * 1000000u);

    /* an idle pool, after its spin window */
    uint64_t c0 = cpu_ns(RUSAGE_SELF), t0 = bench_now_ns();
    sleep_until(t0 + second);
    uint64_t c1 = cpu_ns(RUSAGE_SELF), t1 = bench_now_ns();
    sample("idle", 100.0 * (double)(c1 - c0) / (double)(t1 - t0));

    /* one tiny job every millisecond */
    bench_ticks_reset();
    unsigned posted = 0;
    c0 = cpu_ns(RUSAGE_SELF);
    t0 = bench_now_ns();
    for (uint64_t k = 0; k < 1000; k++) {
        sleep_until(t0 + k * 1000000u);
        be->post(bench_tick, NULL);
        posted++;
    }
    sleep_until(t0 + second);
    c1 = cpu_ns(RUSAGE_SELF);
    t1 = bench_now_ns();
    sample("1ms", 100.0 * (double)(c1 - c0) / (double)(t1 - t0));
    uint64_t wait0 = bench_now_ns();
    while (bench_ticks() != posted) {
        if (bench_now_ns() - wait0 > 10 * second)
            fail("idle: posted jobs did not all run within 10 s");
        bench_sleep_ns(100000);
    }
}

/* ---------------------------------------------------------------- 6 */
static void run_tasks(size_t n)
{
    char param[24];
    snprintf(param, sizeof param, "%zu", n);
    bench_ticks_reset();
    if (be->tasks(n / 10) != 0 || bench_ticks() != n / 10)
        fail("tasks: not all tasks ran");
    uint64_t since = bench_now_ns();
    for (unsigned s = 0; more_samples(s, since); s++) {
        bench_ticks_reset();
        uint64_t t0 = bench_now_ns();
        int rc = be->tasks(n);
        uint64_t t1 = bench_now_ns();
        if (rc != 0 || bench_ticks() != n)
            fail("tasks: not all tasks ran");
        sample(param, (double)n * 1e9 / (double)(t1 - t0));
    }
}

/* ---------------------------------------------------------------- 12 */
/* The wavefront of n x n tasks: tasks per second, building included. */
static void run_graph(unsigned n)
{
    char param[24];
    snprintf(param, sizeof param, "%u", n);
    uint64_t cells = (uint64_t)n * n;
    bench_ticks_reset();
    if (be->wavefront(n) != 0 || bench_ticks() != cells)
        fail("graph: not every cell ran");
    uint64_t since = bench_now_ns();
    for (unsigned s = 0; more_samples(s, since); s++) {
        bench_ticks_reset();
        uint64_t t0 = bench_now_ns();
        int rc = be->wavefront(n);
        uint64_t t1 = bench_now_ns();
        if (rc != 0 || bench_ticks() != cells)
            fail("graph: not every cell ran");
        sample(param, (double)cells * 1e9 / (double)(t1 - t0));
    }
}

/* One high-priority task behind nlow queued low ones: each sample is one
 * latency (the driver takes the quantiles). */
static void run_prio(size_t nlow)
{
    char param[24];
    snprintf(param, sizeof param, "%zu", nlow);
    if (be->prio_latency(nlow / 10) < 0)
        fail("prio: the tasks did not all run");
    uint64_t since = bench_now_ns();
    for (unsigned s = 0; more_samples(s, since); s++) {
        double v = be->prio_latency(nlow);
        if (v < 0)
            fail("prio: the tasks did not all run");
        sample(param, v);
    }
}

/* ---------------------------------------------------------------- 7 */
static uint64_t sum_ints(const int *v, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += (uint64_t)(int64_t)v[i];
    return s;
}

static void run_sort(size_t n)
{
    char param[24];
    snprintf(param, sizeof param, "%zu", n);
    int *base = malloc(n * sizeof *base), *work = malloc(n * sizeof *work);
    if (!base || !work)
        fail("sort: out of memory");
    bench_fill_random(base, n, 0x9e3779b97f4a7c15u ^ n);
    uint64_t want = sum_ints(base, n);
    size_t warm = n < 100000 ? n : 100000;
    memcpy(work, base, warm * sizeof *work);
    be->sort(work, warm);
    if (!bench_is_sorted(work, warm))
        fail("sort: not sorted");
    uint64_t since = bench_now_ns();
    for (unsigned s = 0; more_samples(s, since); s++) {
        memcpy(work, base, n * sizeof *work);
        uint64_t t0 = bench_now_ns();
        be->sort(work, n);
        uint64_t t1 = bench_now_ns();
        if (!bench_is_sorted(work, n) || sum_ints(work, n) != want)
            fail("sort: wrong result");
        sample(param, (double)(t1 - t0));
    }
    free(base);
    free(work);
}

static uint64_t parse_u64(const char *s);
static void parse_pair(const char *s, uint64_t *a, uint64_t *b);

/* ---------------------------------------------------------------- suite */
/* The answers known in advance, as a check beside the driver's (which
 * compares every runtime's results with the serial version's). */
static double suite_known(const char *name, long size)
{
    static const double queens[] = { 1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712,
                                     365596, 2279184 };
    if (!strcmp(name, "fib")) {
        uint64_t a = 0, b = 1;
        for (long i = 0; i < size; i++) {
            uint64_t t = a + b;
            a = b;
            b = t;
        }
        return (double)a;
    }
    if (!strcmp(name, "nqueens") && size >= 0 && size < (long)(sizeof queens / sizeof queens[0]))
        return queens[size];
    return NAN;
}

/* PROGRAM:SIZE[:ARG], one program of the suite: its time per run under
 * PARAM/tT, its result under PARAM/result. */
static void run_suite(const char *param)
{
    char name[32];
    size_t len = strcspn(param, ":");
    if (len == 0 || len >= sizeof name || param[len] != ':') {
        fprintf(stderr, "runner: not PROGRAM:SIZE[:ARG]: %s\n", param);
        exit(2);
    }
    memcpy(name, param, len);
    name[len] = 0;
    const char *rest = param + len + 1;
    uint64_t size, arg = 0;
    if (strchr(rest, ':'))
        parse_pair(rest, &size, &arg);
    else
        size = parse_u64(rest);
    const suite_program *pg = NULL;
    for (const suite_program *const *q = suite_programs; *q; q++)
        if (!strcmp((*q)->name, name))
            pg = *q;
    if (!pg) {
        fprintf(stderr, "runner: no program %s in the suite\n", name);
        exit(2);
    }
    void *st = pg->create((long)size, (long)arg);
    if (!st)
        fail("suite: cannot make the program's input (out of memory, or a bad size)");
    char key[64];
    snprintf(key, sizeof key, "%s/t%u", param, be->suite_serial ? 1u : threads);
    double got = NAN, known = suite_known(name, (long)size);
    uint64_t since = bench_now_ns();
    for (unsigned s = 0; more_samples(s, since); s++) {
        if (pg->prepare)
            pg->prepare(st);
        uint64_t t0 = bench_now_ns();
        int rc = 0;
        if (be->suite_serial)
            pg->serial(st);
        else
            rc = be->suite_root(pg->parallel, st);
        uint64_t t1 = bench_now_ns();
        if (rc != 0)
            fail("suite: a join failed");
        double r = pg->result(st);
        if ((s > 0 && r != got) || (!isnan(known) && r != known)) {
            fprintf(stderr, "%s: suite %s: wrong result %.17g (%s %.17g)\n", be->name, param, r,
                    s > 0 ? "the batch's first run gave" : "the answer is", s > 0 ? got : known);
            exit(1);
        }
        got = r;
        sample(key, (double)(t1 - t0));
    }
    printf("info - %s/result %.17g\n", param, got);
    pg->destroy(st);
}

/* ---------------------------------------------------------------- parameters */
/* Parses a decimal number that ends at `stop` (or at the end). */
static uint64_t parse_u64_to(const char *s, char stop)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != stop || end == s) {
        fprintf(stderr, "runner: not a number: %s\n", s);
        exit(2);
    }
    return v;
}

static uint64_t parse_u64(const char *s)
{
    return parse_u64_to(s, 0);
}

static void parse_pair(const char *s, uint64_t *a, uint64_t *b)
{
    const char *colon = strchr(s, ':');
    if (!colon) {
        fprintf(stderr, "runner: not A:B: %s\n", s);
        exit(2);
    }
    *a = parse_u64_to(s, ':');
    *b = parse_u64(colon + 1);
}

/* ---------------------------------------------------------------- 9, 10 */

/* Bursts and periods: a count of n, called after the caller did something
 * else, timed call by call, in blocks that alternate with blocks of the
 * sequential count of n paced the same way in the same process. */

/* How the caller spends the time before a call. A burst's gap is serial
 * work: the caller spins on the clock for gap_ns after the last call
 * returned. A period's caller sleeps until the next period starts
 * (clock_nanosleep, TIMER_ABSTIME), as an audio callback or a game frame
 * does; a period missed by an overrun is skipped. */
struct pace {
    uint64_t gap_ns;    /* a burst */
    uint64_t period_ns; /* a period; 0 for a burst */
    uint64_t next;      /* when the next call starts */
};

static void pace_wait(const struct pace *p)
{
    if (p->period_ns)
        sleep_until(p->next);
    else
        while (bench_now_ns() < p->next) {
        }
}

static void pace_done(struct pace *p, uint64_t call_end)
{
    if (!p->period_ns) {
        p->next = call_end + p->gap_ns;
        return;
    }
    while (p->next <= call_end)
        p->next += p->period_ns;
}

typedef uint64_t (*count_fn)(uint64_t n);

static uint64_t count_seq(uint64_t n)
{
    return bench_count_range(0, n);
}

/* CPU time over the timed part of blocks: the whole process's and the
 * calling thread's, and the wall time they were taken over. */
struct stretch {
    uint64_t wall, all, caller;
};

/* One block: a call that brings the runtime into the state this pace
 * leaves it in (the other block's calls left it idle for longer), then
 * `calls` timed calls; each call's ns goes out under `param`. */
static void paced_block(count_fn call, uint64_t n, struct pace *p, unsigned calls,
                        const char *param, struct stretch *st)
{
    double ns[BENCH_PACED_BLOCK];
    pace_wait(p);
    if (call(n) != n)
        fail("count: wrong result");
    uint64_t w0 = bench_now_ns(), a0 = cpu_ns(RUSAGE_SELF), c0 = cpu_ns(RUSAGE_THREAD);
    pace_done(p, w0);
    uint64_t bad = 0;
    for (unsigned i = 0; i < calls; i++) {
        pace_wait(p);
        uint64_t t0 = bench_now_ns();
        bad += call(n) != n;
        uint64_t t1 = bench_now_ns();
        pace_done(p, t1);
        ns[i] = (double)(t1 - t0);
    }
    uint64_t a1 = cpu_ns(RUSAGE_SELF), c1 = cpu_ns(RUSAGE_THREAD), w1 = bench_now_ns();
    if (bad)
        fail("count: wrong result");
    st->wall += w1 - w0;
    st->all += a1 - a0;
    st->caller += c1 - c0;
    for (unsigned i = 0; i < calls; i++)
        sample(param, ns[i]);
}

/* Blocks of the backend's count and of the sequential count in turn, until
 * the batch has its samples of each and BENCH_PACED_MIN_MS of the
 * backend's blocks (the budget permitting). Prints the call times under
 * PARAM and PARAM/seq, and over the backend's blocks, their wall time
 * (PARAM/wall_ns), the CPU time of the whole process (PARAM/cpu_ns) and of
 * the calling thread (PARAM/caller_ns); the driver adds them up over the
 * batches. */
static void run_paced(uint64_t n, struct pace p, const char *param)
{
    char seq_param[48];
    snprintf(seq_param, sizeof seq_param, "%s/seq", param);
    struct stretch par = { 0, 0, 0 }, seq = { 0, 0, 0 };
    p.next = bench_now_ns();
    uint64_t since = bench_now_ns();
    for (unsigned taken = 0;
         more_samples(taken, since) || (par.wall < BENCH_PACED_MIN_MS * 1000000ull &&
                                        bench_now_ns() - since < budget_ns);) {
        unsigned calls = BENCH_PACED_BLOCK;
        if (taken < max_samples && max_samples - taken < calls)
            calls = max_samples - taken;
        paced_block(be->count, n, &p, calls, param, &par);
        paced_block(count_seq, n, &p, calls, seq_param, &seq);
        taken += calls;
    }
    printf("sample %s/wall_ns %llu\n", param, (unsigned long long)par.wall);
    printf("sample %s/cpu_ns %llu\n", param, (unsigned long long)par.all);
    printf("sample %s/caller_ns %llu\n", param, (unsigned long long)par.caller);
}

/* 9: N:G, a count of n after a gap of G us of serial work. */
static void run_burst(const char *param)
{
    uint64_t n, gap_us;
    parse_pair(param, &n, &gap_us);
    struct pace p = { gap_us * 1000u, 0, 0 };
    run_paced(n, p, param);
}

/* 10: P:W, one call every P us of a job that takes the sequential count
 * about W us. */
static void run_periodic(const char *param, double ns_per_count)
{
    uint64_t period_us, work_us;
    parse_pair(param, &period_us, &work_us);
    uint64_t n = (uint64_t)((double)work_us * 1000.0 / ns_per_count);
    if (n < 1)
        n = 1;
    printf("sample %s/n %llu\n", param, (unsigned long long)n);
    struct pace p = { 0, period_us * 1000u, 0 };
    run_paced(n, p, param);
}

/* The time of one increment of the sequential count on this process's
 * CPU, measured once at start-up, before the pool starts (its spinning
 * threads would change it): the fastest of 256 counts of 2^16 (5 ms), the CPU's
 * speed when nothing else holds it. */
static double count_calibrate(void)
{
    double best = 0;
    for (int i = 0; i < 256; i++) {
        uint64_t t0 = bench_now_ns();
        if (bench_count_range(0, 1u << 16) != 1u << 16)
            fail("count: wrong result");
        double t = (double)(bench_now_ns() - t0) / (double)(1u << 16);
        if (i == 0 || t < best)
            best = t;
    }
    return best;
}

/* ---------------------------------------------------------------- main */
static int offers(const char *workload)
{
    if (!strcmp(workload, "forkjoin"))
        return be->empty_reduce != NULL;
    if (!strcmp(workload, "fib"))
        return be->fib != NULL;
    if (!strcmp(workload, "count") || !strcmp(workload, "burst") || !strcmp(workload, "periodic"))
        return be->count != NULL;
    if (!strcmp(workload, "wakeup") || !strcmp(workload, "idle"))
        return be->post != NULL;
    if (!strcmp(workload, "tasks"))
        return be->tasks != NULL;
    if (!strcmp(workload, "sort"))
        return be->sort != NULL;
    if (!strcmp(workload, "graph"))
        return be->wavefront != NULL;
    if (!strcmp(workload, "prio"))
        return be->prio_latency != NULL;
    if (!strcmp(workload, "suite"))
        return be->suite_root != NULL;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: %s BACKEND WORKLOAD THREADS SAMPLES BUDGET_MS [PARAM...]\n", argv[0]);
        return 2;
    }
    for (const bench_backend *const *b = bench_backends; *b; b++)
        if (!strcmp((*b)->name, argv[1]))
            be = *b;
    if (!be) {
        fprintf(stderr, "%s: no backend %s here\n", argv[0], argv[1]);
        return 2;
    }
    const char *workload = argv[2];
    threads = (unsigned)parse_u64(argv[3]);
    max_samples = (unsigned)parse_u64(argv[4]);
    budget_ns = parse_u64(argv[5]) * 1000000u;
    int has = offers(workload);
    if (has < 0) {
        fprintf(stderr, "%s: no workload %s\n", argv[0], workload);
        return 2;
    }
    if (!has) {
        printf("skip %s has no %s\n", be->name, workload);
        return 0;
    }
    if (threads < 2 && strcmp(be->name, "seq") &&
        (!strcmp(workload, "wakeup") || !strcmp(workload, "idle") ||
         !strcmp(workload, "graph") || !strcmp(workload, "prio"))) {
        printf("skip a hand-off needs 2 threads at least\n");
        return 0;
    }
    double ns_per_count = !strcmp(workload, "periodic") ? count_calibrate() : 0;
    if (!strcmp(workload, "suite")) {
        /* the main thread's stack grows on demand up to its limit */
        bench_stack_size = (size_t)BENCH_SUITE_STACK_MB << 20;
        struct rlimit rl;
        if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur < bench_stack_size) {
            rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= bench_stack_size
                              ? bench_stack_size
                              : rl.rlim_max;
            if (setrlimit(RLIMIT_STACK, &rl) != 0)
                fail("suite: cannot raise the stack limit (RLIMIT_STACK)");
        }
    }
    /* A hung runtime ends the batch (the driver reports the signal) */
    alarm(180);
    const char *why = be->start(threads);
    if (why) {
        printf("skip %s\n", why);
        return 0;
    }

    /* A new process's threads may share one CPU for its first few
     * milliseconds, until the kernel spreads them: keep the pool busy with
     * fork-joins for 50 ms before anything is measured. */
    if (be->empty_reduce && strcmp(workload, "wakeup") && strcmp(workload, "idle")) {
        uint64_t t0 = bench_now_ns();
        while (bench_now_ns() - t0 < 50000000u)
            if (be->empty_reduce(threads) != threads)
                fail("empty reduction: wrong sum");
    }

    if (!strcmp(workload, "forkjoin"))
        run_forkjoin();
    else if (!strcmp(workload, "wakeup"))
        run_wakeup();
    else if (!strcmp(workload, "idle"))
        run_idle();
    for (int i = 6; i < argc; i++) {
        if (!strcmp(workload, "burst")) {
            run_burst(argv[i]);
            continue;
        }
        if (!strcmp(workload, "periodic")) {
            run_periodic(argv[i], ns_per_count);
            continue;
        }
        if (!strcmp(workload, "suite")) {
            run_suite(argv[i]);
            continue;
        }
        uint64_t p = parse_u64(argv[i]);
        if (!strcmp(workload, "fib"))
            run_fib((int)p);
        else if (!strcmp(workload, "count"))
            run_count(p);
        else if (!strcmp(workload, "tasks"))
            run_tasks((size_t)p);
        else if (!strcmp(workload, "sort"))
            run_sort((size_t)p);
        else if (!strcmp(workload, "graph"))
            run_graph((unsigned)p);
        else if (!strcmp(workload, "prio"))
            run_prio((size_t)p);
    }
    be->stop();
    fflush(stdout);
    return 0;
}
