/*
 * hybrid.c: micropool inside MPI, one pool per rank.
 *
 * The same shape as MPI + OpenMP codes: the job is split over the ranks
 * (processes, possibly on several machines), and each rank splits its share
 * over the threads of its own micropool. Three workloads:
 *
 *   count   the seeds' counting: count to n, one item at a time, in
 *           parallel; the answer is n.
 *   sumsq   generate an array of m pseudo-random 32-bit values (each rank
 *           its own slice, written by its pool's threads so the memory is
 *           first touched where it is used), then the sum of their squares,
 *           exactly, as a 128-bit integer.
 *   steps   an iterative solver's rhythm: many times, a small parallel
 *           reduction followed by an MPI_Allreduce of its result.
 *
 * Each rank's partial result is combined across ranks with MPI_Allreduce.
 * MPI is initialised with MPI_THREAD_FUNNELED: only the thread that called
 * MPI_Init_thread makes MPI calls. That thread is also the pool's calling
 * thread, so it does its share of the pool's work between MPI calls (index
 * 0 of every broadcast, parts of every loop) instead of sleeping; the pool
 * callbacks themselves never touch MPI.
 *
 * Modes:
 *   (default)  one run with every rank and --threads threads per rank
 *   --check    several ranks x threads layouts, every result compared
 *              exactly with an independent sequential computation (and
 *              with --expect-count / --expect-sumsq / --expect-steps when
 *              given)
 *   --table    the same total work as 1 rank x 1 thread, 1 rank x C
 *              threads, ..., C ranks x 1 thread (C = the cores), plus the
 *              oversubscribed "every rank takes every core" layout, with
 *              wall times
 *
 * Run it with mpirun, e.g.
 *   mpirun -np 2 --bind-to none ./mp_mpi_hybrid --table
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, getopt_long */

#include <mpi.h>
#include <micropool.h>

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Small integer helpers
 * ------------------------------------------------------------------------ */

/* An unsigned 128-bit integer in two 64-bit halves: portable C11, and the
 * layout of the MPI datatype "2 x MPI_UINT64_T" used to reduce it. */
typedef struct u128 {
    uint64_t lo;
    uint64_t hi;
} u128;

static void u128_add(u128 *acc, const u128 *x)
{
    uint64_t lo = acc->lo + x->lo;
    acc->hi += x->hi + (lo < x->lo);
    acc->lo = lo;
}

static int u128_equal(const u128 *a, const u128 *b)
{
    return a->lo == b->lo && a->hi == b->hi;
}

/* Decimal text of x into buf (at least 40 bytes). */
static const char *u128_format(const u128 *x, char *buf, size_t size)
{
    /* Four 32-bit limbs, most significant first; divide by 10 repeatedly. */
    uint32_t limb[4] = {(uint32_t)(x->hi >> 32), (uint32_t)x->hi,
                        (uint32_t)(x->lo >> 32), (uint32_t)x->lo};
    char digits[40];
    size_t n = 0;
    do {
        uint64_t rem = 0;
        for (int i = 0; i < 4; i++) {
            uint64_t cur = (rem << 32) | limb[i];
            limb[i] = (uint32_t)(cur / 10);
            rem = cur % 10;
        }
        digits[n++] = (char)('0' + rem);
    } while (limb[0] | limb[1] | limb[2] | limb[3]);
    if (n + 1 > size)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = digits[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

/* Parses a decimal 128-bit integer; returns 0 on success. */
static int u128_parse(const char *s, u128 *out)
{
    u128 v = {0, 0};
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        /* v = v * 10 + digit, refusing overflow. */
        uint64_t d = (uint64_t)(*s - '0');
        uint64_t lo_hi = (v.lo >> 32) * 10, lo_lo = (v.lo & 0xffffffffu) * 10 + d;
        uint64_t mid = lo_hi + (lo_lo >> 32);
        if (v.hi > (UINT64_MAX - (mid >> 32)) / 10)
            return -1;
        v.hi = v.hi * 10 + (mid >> 32);
        v.lo = (mid << 32) | (lo_lo & 0xffffffffu);
    }
    *out = v;
    return 0;
}

/* [lo, hi) of part i when [0, n) is cut into `parts` contiguous blocks
 * whose sizes differ by at most one. */
static void block_share(uint64_t n, uint64_t parts, uint64_t i, uint64_t *lo, uint64_t *hi)
{
    uint64_t base = n / parts, rem = n % parts;
    *lo = i * base + (i < rem ? i : rem);
    *hi = *lo + base + (i < rem ? 1 : 0);
}

/* The generated array: value g of the whole (global) array is the top half
 * of splitmix64 at position g. Any rank can produce any slice on its own. */
static uint32_t generated_value(uint64_t seed, uint64_t g)
{
    uint64_t z = seed + (g + 1) * UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    return (uint32_t)(z >> 32);
}

/* ------------------------------------------------------------------------
 * Process-wide state
 * ------------------------------------------------------------------------ */

static int world_rank, world_size;
static pthread_t mpi_thread;     /* the thread that called MPI_Init_thread */
static MPI_Datatype mpi_u128;    /* two MPI_UINT64_T: lo, hi */
static MPI_Op mpi_u128_sum;

static void u128_sum_op(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    const u128 *src = in;
    u128 *dst = inout;
    for (int i = 0; i < *len; i++)
        u128_add(&dst[i], &src[i]);
}

static void die_mp(const char *what, int rc)
{
    fprintf(stderr, "rank %d: %s failed: %s\n", world_rank, what, mp_strerror(rc));
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static void die(const char *what)
{
    fprintf(stderr, "rank %d: %s\n", world_rank, what);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* A barrier over the whole job that does not burn the CPU while it waits:
 * ranks left out of a layout sleep here while the others are measured, so
 * they do not steal cycles from them (a plain MPI_Barrier busy-polls). */
static void idle_barrier(void)
{
    MPI_Request req;
    int done = 0;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    for (;;) {
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done)
            break;
        struct timespec nap = {0, 1000 * 1000}; /* 1 ms */
        nanosleep(&nap, NULL);
    }
}

/* CPU time (user + system) of this process so far, all its threads. */
static double process_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* CPUs this process may run on (its affinity mask, set by mpirun's
 * binding). */
static unsigned affinity_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? (unsigned)n : 1;
}

/* ------------------------------------------------------------------------
 * The rank's work, on its pool
 * ------------------------------------------------------------------------ */

/* Counting: one part per pool thread via mp_broadcast, so index 0 (the
 * share of the calling thread, which is the MPI thread) is guaranteed to
 * run on the calling thread. */
typedef struct count_slot {
    uint64_t count;
    int on_mpi_thread;
    int ran;
    char pad[64 - sizeof(uint64_t) - 2 * sizeof(int)]; /* no false sharing */
} count_slot;

typedef struct count_job {
    uint64_t begin, end;   /* this rank's items */
    count_slot *slots;     /* one per pool thread */
} count_job;

static int count_part(void *arg, unsigned index, unsigned count)
{
    count_job *job = arg;
    uint64_t lo, hi;
    block_share(job->end - job->begin, count, index, &lo, &hi);
    uint64_t c = 0;
    for (uint64_t i = lo; i < hi; i++) {
        c++;
#if defined(__GNUC__)
        /* The seeds' black_box: keep the compiler from replacing the loop
         * by its closed form. */
        __asm__ volatile("" : "+r"(c));
#endif
    }
    job->slots[index].count = c;
    job->slots[index].on_mpi_thread = pthread_equal(pthread_self(), mpi_thread) != 0;
    job->slots[index].ran = 1;
    return 0;
}

/* Generating and squaring: ordinary data-parallel loops, balanced by
 * stealing. */
typedef struct array_job {
    uint32_t *values;
    uint64_t first;        /* global index of values[0] */
    uint64_t seed;
} array_job;

static int generate_range(void *arg, size_t begin, size_t end)
{
    const array_job *job = arg;
    for (size_t i = begin; i < end; i++)
        job->values[i] = generated_value(job->seed, job->first + i);
    return 0;
}

static int square_range(void *arg, size_t begin, size_t end, void *acc)
{
    const array_job *job = arg;
    u128 sum = *(const u128 *)acc;
    for (size_t i = begin; i < end; i++) {
        uint64_t v = job->values[i];
        uint64_t sq = v * v;
        sum.lo += sq;
        sum.hi += sum.lo < sq;
    }
    *(u128 *)acc = sum;
    return 0;
}

static void square_combine(void *arg, void *acc, const void *other)
{
    (void)arg;
    u128_add(acc, other);
}

/* What one layout computed and how long it took. */
typedef struct result {
    uint64_t count;          /* across all ranks */
    u128 sumsq;              /* across all ranks */
    uint64_t my_items;       /* this rank's counting items */
    uint64_t mpi_thread_items; /* of those, counted by the MPI thread */
    int placement_ok;        /* part 0 on the MPI thread, no other part */
    u128 step_sumsq;         /* the steps' result (the same every step) */
    int steps_consistent;    /* every step gave the same result */
    double t_count, t_generate, t_square, t_allreduce, t_total;
    double t_step, t_step_mpi; /* per step: in all, in MPI_Allreduce */
    double cpu;              /* CPU seconds used by the layout's ranks */
} result;

typedef struct params {
    uint64_t count_n;        /* items to count, in all */
    uint64_t array_m;        /* array length, in all */
    uint64_t seed;           /* of the array; seed + 1 for the steps' */
    uint64_t steps;          /* small reductions, each then MPI_Allreduce */
    uint64_t window;         /* values of the steps' array, in all */
    unsigned spin_us;
    int pin;
} params;

/* Runs the workloads once on this rank's pool. `comm` holds the ranks of
 * the layout; `values` has room for this rank's slice of the array, and
 * `window` holds its slice of the steps' small array. */
static void run_once(mp_pool *pool, MPI_Comm comm, const params *p, uint32_t *values,
                     const array_job *window, size_t window_len, result *r)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    unsigned threads = mp_pool_threads(pool);

    count_slot slots[64];
    count_slot *slot_buf = slots;
    if (threads > sizeof slots / sizeof slots[0]) {
        slot_buf = calloc(threads, sizeof *slot_buf);
        if (!slot_buf)
            die("out of memory");
    }
    memset(slot_buf, 0, threads * sizeof *slot_buf);

    MPI_Barrier(comm);
    double cpu0 = process_cpu_seconds();
    double t0 = MPI_Wtime();

    /* Counting. */
    count_job cj;
    block_share(p->count_n, (uint64_t)size, (uint64_t)rank, &cj.begin, &cj.end);
    cj.slots = slot_buf;
    int rc = mp_broadcast(pool, count_part, &cj);
    if (rc != MP_OK)
        die_mp("mp_broadcast", rc);
    uint64_t local_count = 0;
    r->placement_ok = 1;
    for (unsigned i = 0; i < threads; i++) {
        local_count += slot_buf[i].count;
        if (!slot_buf[i].ran || slot_buf[i].on_mpi_thread != (i == 0))
            r->placement_ok = 0;
    }
    r->my_items = cj.end - cj.begin;
    r->mpi_thread_items = slot_buf[0].count;
    double t1 = MPI_Wtime();
    MPI_Allreduce(&local_count, &r->count, 1, MPI_UINT64_T, MPI_SUM, comm);
    double t2 = MPI_Wtime();

    /* Generating this rank's slice of the array. */
    uint64_t lo, hi;
    block_share(p->array_m, (uint64_t)size, (uint64_t)rank, &lo, &hi);
    array_job aj = {values, lo, p->seed};
    size_t len = (size_t)(hi - lo);
    rc = mp_for(pool, len, 16384, MP_SPLIT_DYNAMIC, generate_range, &aj);
    if (rc != MP_OK)
        die_mp("mp_for", rc);
    double t3 = MPI_Wtime();

    /* The sum of squares, exact. */
    u128 local_sum = {0, 0};
    rc = mp_reduce(pool, len, 16384, MP_SPLIT_DYNAMIC, &local_sum, sizeof local_sum,
                   square_range, square_combine, &aj);
    if (rc != MP_OK)
        die_mp("mp_reduce", rc);
    double t4 = MPI_Wtime();
    MPI_Allreduce(&local_sum, &r->sumsq, 1, mpi_u128, mpi_u128_sum, comm);
    double t5 = MPI_Wtime();

    /* Steps: what an iterative solver does, a small parallel reduction and
     * a global MPI_Allreduce, many times. Here the fixed costs show: the
     * pool's hand-off to its workers and back, and MPI's latency. While
     * the MPI thread is in MPI_Allreduce the workers idle: they spin for
     * spin_us, then sleep, and the next step must wake them. */
    double t_mpi = 0;
    r->steps_consistent = 1;
    for (uint64_t s = 0; s < p->steps; s++) {
        u128 part = {0, 0}, all;
        rc = mp_reduce(pool, window_len, 0, MP_SPLIT_DYNAMIC, &part, sizeof part,
                       square_range, square_combine, (void *)window);
        if (rc != MP_OK)
            die_mp("mp_reduce", rc);
        double ta = MPI_Wtime();
        MPI_Allreduce(&part, &all, 1, mpi_u128, mpi_u128_sum, comm);
        t_mpi += MPI_Wtime() - ta;
        if (s == 0)
            r->step_sumsq = all;
        else if (!u128_equal(&all, &r->step_sumsq))
            r->steps_consistent = 0;
    }
    double t6 = MPI_Wtime();

    r->t_count = t1 - t0;
    r->t_generate = t3 - t2;
    r->t_square = t4 - t3;
    r->t_allreduce = (t2 - t1) + (t5 - t4);
    r->t_step = p->steps ? (t6 - t5) / (double)p->steps : 0;
    r->t_step_mpi = p->steps ? t_mpi / (double)p->steps : 0;
    r->t_total = t6 - t0;
    r->cpu = process_cpu_seconds() - cpu0;

    if (slot_buf != slots)
        free(slot_buf);
}

/* One layout: the first `ranks` ranks of the job take part, each with a
 * pool of `threads` threads; the others wait asleep. Every rank of the job
 * must call this. Returns 1 on the ranks that took part (r is filled in),
 * 0 on the others. With repeat > 1 the fastest run is kept. */
static int run_layout(int ranks, unsigned threads, const params *p, int repeat, result *r)
{
    MPI_Comm comm;
    int active = world_rank < ranks;
    MPI_Comm_split(MPI_COMM_WORLD, active ? 0 : MPI_UNDEFINED, world_rank, &comm);
    if (active) {
        mp_config cfg;
        mp_config_init(&cfg);
        cfg.threads = threads;
        cfg.spin_us = p->spin_us;
        cfg.pin = p->pin;
        cfg.name = "mp-rank";
        mp_pool *pool;
        int rc = mp_pool_create(&cfg, &pool);
        if (rc != MP_OK)
            die_mp("mp_pool_create", rc);

        uint64_t lo, hi;
        block_share(p->array_m, (uint64_t)ranks, (uint64_t)world_rank, &lo, &hi);
        uint32_t *values = malloc((size_t)(hi - lo) * sizeof *values + 1);
        block_share(p->window, (uint64_t)ranks, (uint64_t)world_rank, &lo, &hi);
        size_t window_len = (size_t)(hi - lo);
        uint32_t *window_values = malloc(window_len * sizeof *window_values + 1);
        if (!values || !window_values)
            die("out of memory for the arrays");
        array_job window = {window_values, lo, p->seed + 1};
        rc = mp_for(pool, window_len, 1024, MP_SPLIT_DYNAMIC, generate_range, &window);
        if (rc != MP_OK)
            die_mp("mp_for", rc);

        for (int k = 0; k < repeat; k++) {
            result one;
            run_once(pool, comm, p, values, &window, window_len, &one);
            /* The layout's wall time is that of its slowest rank. */
            double slowest, cpu;
            MPI_Allreduce(&one.t_total, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm);
            MPI_Allreduce(&one.cpu, &cpu, 1, MPI_DOUBLE, MPI_SUM, comm);
            one.t_total = slowest;
            one.cpu = cpu;
            if (k == 0 || one.t_total < r->t_total)
                *r = one;
        }
        free(values);
        free(window_values);
        rc = mp_pool_destroy(pool);
        if (rc != MP_OK)
            die_mp("mp_pool_destroy", rc);
        MPI_Comm_free(&comm);
    }
    idle_barrier();
    return active;
}

/* ------------------------------------------------------------------------
 * Modes
 * ------------------------------------------------------------------------ */

static u128 sequential_sumsq(uint64_t seed, uint64_t m)
{
    u128 sum = {0, 0};
    for (uint64_t g = 0; g < m; g++) {
        uint64_t v = generated_value(seed, g);
        u128 sq = {v * v, 0};
        u128_add(&sum, &sq);
    }
    return sum;
}

typedef struct layout {
    int ranks;
    unsigned threads;
    unsigned spin_us;
} layout;

typedef struct expectations {
    int have_count, have_sumsq, have_steps;
    uint64_t count;
    u128 sumsq, steps;
} expectations;

static int check_mode(const params *p, const expectations *e)
{
    /* The oracle: a plain loop, no pool, no MPI. */
    u128 ref = sequential_sumsq(p->seed, p->array_m);
    u128 ref_steps = sequential_sumsq(p->seed + 1, p->window);
    char buf[48], buf2[48], buf3[48], buf4[48];
    int failed = 0;

    if (world_rank == 0) {
        printf("check: count to %" PRIu64 ", sum of squares of %" PRIu64
               " generated values (seed %" PRIu64 "), %" PRIu64 " steps over %" PRIu64
               " values, %d ranks\n",
               p->count_n, p->array_m, p->seed, p->steps, p->window, world_size);
        if (e->have_count && e->count != p->count_n) {
            printf("FAIL expected count %" PRIu64 " is not n = %" PRIu64 "\n", e->count,
                   p->count_n);
            failed = 1;
        }
        if (e->have_sumsq && !u128_equal(&e->sumsq, &ref)) {
            printf("FAIL the sequential sum of squares %s differs from the expected %s\n",
                   u128_format(&ref, buf, sizeof buf), u128_format(&e->sumsq, buf2, sizeof buf2));
            failed = 1;
        }
        if (e->have_steps && !u128_equal(&e->steps, &ref_steps)) {
            printf("FAIL the sequential steps' sum of squares %s differs from the expected %s\n",
                   u128_format(&ref_steps, buf, sizeof buf),
                   u128_format(&e->steps, buf2, sizeof buf2));
            failed = 1;
        }
    }

    /* 1 rank and every rank, x 1, 2 and 3 threads; once more with
     * spin_us = 0, so that every step's workers sleep and are woken. */
    layout list[8];
    int n = 0;
    for (int ri = 0; ri < (world_size > 1 ? 2 : 1); ri++)
        for (unsigned t = 1; t <= 3; t++)
            list[n++] = (layout){ri == 0 ? 1 : world_size, t, p->spin_us};
    list[n++] = (layout){world_size, 2, 0};

    for (int li = 0; li < n; li++) {
        int ranks = list[li].ranks;
        unsigned threads = list[li].threads;
        params q = *p;
        q.spin_us = list[li].spin_us;
        result r;
        memset(&r, 0, sizeof r);
        int active = run_layout(ranks, threads, &q, 1, &r);
        /* Every rank that took part checks its own view, because each
         * received the Allreduce result. */
        int bad = 0;
        if (active) {
            if (r.count != p->count_n)
                bad |= 1;
            if (!u128_equal(&r.sumsq, &ref))
                bad |= 2;
            if (!r.placement_ok)
                bad |= 4;
            uint64_t lo, hi;
            block_share(r.my_items, threads, 0, &lo, &hi);
            if (r.mpi_thread_items != hi - lo)
                bad |= 8;
            if (p->steps > 0 &&
                (!r.steps_consistent || !u128_equal(&r.step_sumsq, &ref_steps)))
                bad |= 16;
            if (bad)
                fprintf(stdout,
                        "FAIL rank %d in %d x %u: count %" PRIu64 " (want %" PRIu64
                        "), sum of squares %s (want %s), steps %s (want %s%s), "
                        "placement %s, MPI thread counted %" PRIu64 " of its share %"
                        PRIu64 "\n",
                        world_rank, ranks, threads, r.count, p->count_n,
                        u128_format(&r.sumsq, buf, sizeof buf),
                        u128_format(&ref, buf2, sizeof buf2),
                        u128_format(&r.step_sumsq, buf3, sizeof buf3),
                        u128_format(&ref_steps, buf4, sizeof buf4),
                        r.steps_consistent ? "" : " in every step",
                        r.placement_ok ? "ok" : "WRONG", r.mpi_thread_items, hi - lo);
        }
        int any_bad;
        MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_BOR, MPI_COMM_WORLD);
        if (any_bad)
            failed = 1;
        if (world_rank == 0)
            printf("%s %d x %u, spin_us %u: count %" PRIu64 ", sum of squares %s, steps %s;"
                   " the MPI thread counted %" PRIu64 " of rank 0's %" PRIu64
                   " items itself\n",
                   any_bad ? "FAIL" : "ok  ", ranks, threads, q.spin_us, r.count,
                   u128_format(&r.sumsq, buf, sizeof buf),
                   u128_format(&r.step_sumsq, buf3, sizeof buf3), r.mpi_thread_items,
                   r.my_items);
        fflush(stdout);
    }
    int any_failed;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (world_rank == 0)
        printf("check: %s\n", any_failed ? "FAILED" : "all results exact");
    return any_failed ? 1 : 0;
}

static int table_mode(const params *p, unsigned cores, int repeat)
{
    layout list[64];
    int n = 0;
    list[n++] = (layout){1, 1, p->spin_us};
    for (int r = 1; r <= world_size && n < 60; r++)
        if (cores % (unsigned)r == 0 && !(r == 1 && cores == 1))
            list[n++] = (layout){r, cores / (unsigned)r, p->spin_us};
    if (world_size > 1 && cores > 1) {
        /* The classic mistake: every rank sizes its pool to the whole
         * machine (threads = 0 on a node where ranks are not bound). */
        list[n++] = (layout){world_size, cores, p->spin_us};
        if (p->spin_us != 0)
            list[n++] = (layout){world_size, cores, 0};
    }

    unsigned my_cpus = affinity_cpus();
    unsigned min_cpus;
    MPI_Allreduce(&my_cpus, &min_cpus, 1, MPI_UNSIGNED, MPI_MIN, MPI_COMM_WORLD);
    if (world_rank == 0) {
        printf("same total work in every row: count to %" PRIu64 ", generate %" PRIu64
               " values and sum their squares, then %" PRIu64 " steps of a reduction over %"
               PRIu64 " values + MPI_Allreduce; %d ranks launched, %u cores, best of %d\n",
               p->count_n, p->array_m, p->steps, p->window, world_size, cores, repeat);
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        if (online > 0 && min_cpus < cores && min_cpus < (unsigned)online)
            printf("note: some rank may run on only %u CPU(s) (mpirun's binding); pools "
                   "larger than that share cores: launch with --bind-to none or "
                   "--map-by ...:PE=<threads>\n",
                   min_cpus);
        printf("%-15s %7s %8s %7s %7s %9s %7s %7s %8s %8s %7s\n", "ranks x threads",
               "spin_us", "count s", "gen s", "sumsq s", "allred. s", "step us", "mpi us",
               "total s", "speed-up", "cpu s");
        fflush(stdout);
    }

    double base = 0;
    int failed = 0;
    u128 ref = {0, 0}, ref_steps = {0, 0};
    for (int i = 0; i < n; i++) {
        params q = *p;
        q.spin_us = list[i].spin_us;
        result r;
        memset(&r, 0, sizeof r);
        run_layout(list[i].ranks, list[i].threads, &q, repeat, &r);
        if (world_rank == 0) {
            /* The rows must agree with each other (rank 0 is in all). */
            if (i == 0)
                ref = r.sumsq;
            if (i == 0)
                ref_steps = r.step_sumsq;
            int wrong = r.count != p->count_n || !u128_equal(&r.sumsq, &ref) ||
                        !r.steps_consistent || !u128_equal(&r.step_sumsq, &ref_steps);
            failed |= wrong;
            if (i == 0)
                base = r.t_total;
            char name[32];
            snprintf(name, sizeof name, "%d x %u%s", list[i].ranks, list[i].threads,
                     (unsigned)list[i].ranks * list[i].threads > cores ? " (over)" : "");
            printf("%-15s %7u %8.4f %7.4f %7.4f %9.4f %7.1f %7.1f %8.4f %7.2fx %7.3f%s\n",
                   name, list[i].spin_us, r.t_count, r.t_generate, r.t_square,
                   r.t_allreduce, r.t_step * 1e6, r.t_step_mpi * 1e6, r.t_total,
                   base / r.t_total, r.cpu, wrong ? "  WRONG RESULT" : "");
            fflush(stdout);
        }
    }
    if (world_rank == 0) {
        char buf[48];
        char buf2[48];
        printf("every row: count %" PRIu64 ", sum of squares %s, steps %s%s\n", p->count_n,
               u128_format(&ref, buf, sizeof buf), u128_format(&ref_steps, buf2, sizeof buf2),
               failed ? " -- but some row differed" : "");
    }
    MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return failed;
}

static int run_mode(const params *p, unsigned threads)
{
    result r;
    memset(&r, 0, sizeof r);
    run_layout(world_size, threads, p, 1, &r);
    if (world_rank == 0) {
        char buf[48];
        printf("%d x %u (ranks x threads): count %" PRIu64 ", sum of squares %s\n", world_size,
               threads, r.count, u128_format(&r.sumsq, buf, sizeof buf));
        printf("steps: %" PRIu64 " x (reduce over %" PRIu64 " values + MPI_Allreduce): %s\n",
               p->steps, p->window, u128_format(&r.step_sumsq, buf, sizeof buf));
        printf("time: count %.4f s, generate %.4f s, sum of squares %.4f s, in "
               "MPI_Allreduce %.4f s, steps %.1f us each (%.1f us in MPI), total %.4f s\n",
               r.t_count, r.t_generate, r.t_square, r.t_allreduce, r.t_step * 1e6,
               r.t_step_mpi * 1e6, r.t_total);
    }
    return 0;
}

static void usage(FILE *out)
{
    fputs("usage: mpirun [mpirun options] mp_mpi_hybrid [--check | --table] [options]\n"
          "  --check             run several layouts and compare every result exactly\n"
          "  --table             time the same work over ranks x threads layouts\n"
          "  -n, --count N       items to count, in all\n"
          "  -m, --array M       generated values to square and sum, in all\n"
          "  --seed S            seed of the generated values (default 1)\n"
          "  --steps S           small reductions, each followed by MPI_Allreduce\n"
          "  -w, --window W      values of the steps' array, in all\n"
          "  -t, --threads T     pool threads per rank (default: CPUs per rank)\n"
          "  --cores C           cores of the job, for --table (default: this node's)\n"
          "  --spin-us U         mp_config.spin_us (default MP_SPIN_US_DEFAULT)\n"
          "  --pin               mp_config.pin = 1\n"
          "  --repeat K          --table: best of K runs (default 3)\n"
          "  --short             --table: small sizes, one run per row\n"
          "  --expect-count C    --check: the count that must come out\n"
          "  --expect-sumsq S    --check: the sum of squares that must come out\n"
          "  --expect-steps S    --check: the steps' sum of squares that must come out\n",
          out);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s == '\0' || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    int provided;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "MPI_Init_thread failed\n");
        return 1;
    }
    mpi_thread = pthread_self();
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    if (provided < MPI_THREAD_FUNNELED) {
        if (world_rank == 0)
            fprintf(stderr, "this MPI library provides thread level %d, below "
                            "MPI_THREAD_FUNNELED: a rank may not run threads at all\n",
                    provided);
        MPI_Finalize();
        return 1;
    }
    MPI_Type_contiguous(2, MPI_UINT64_T, &mpi_u128);
    MPI_Type_commit(&mpi_u128);
    MPI_Op_create(u128_sum_op, 1, &mpi_u128_sum);

    enum { OPT_SEED = 256, OPT_CORES, OPT_SPIN, OPT_PIN, OPT_REPEAT, OPT_SHORT,
           OPT_EXPECT_COUNT, OPT_EXPECT_SUMSQ, OPT_CHECK, OPT_TABLE, OPT_HELP, OPT_STEPS, OPT_EXPECT_STEPS };
    static const struct option options[] = {
        {"check", no_argument, NULL, OPT_CHECK},
        {"table", no_argument, NULL, OPT_TABLE},
        {"count", required_argument, NULL, 'n'},
        {"array", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"window", required_argument, NULL, 'w'},
        {"threads", required_argument, NULL, 't'},
        {"cores", required_argument, NULL, OPT_CORES},
        {"spin-us", required_argument, NULL, OPT_SPIN},
        {"pin", no_argument, NULL, OPT_PIN},
        {"repeat", required_argument, NULL, OPT_REPEAT},
        {"short", no_argument, NULL, OPT_SHORT},
        {"expect-count", required_argument, NULL, OPT_EXPECT_COUNT},
        {"expect-sumsq", required_argument, NULL, OPT_EXPECT_SUMSQ},
        {"expect-steps", required_argument, NULL, OPT_EXPECT_STEPS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };

    params p = {0, 0, 1, 0, 0, MP_SPIN_US_DEFAULT, 0};
    expectations e = {0, 0, 0, 0, {0, 0}, {0, 0}};
    int mode_check = 0, mode_table = 0, short_sizes = 0, have_steps = 0;
    uint64_t threads = 0, cores = 0, repeat = 0, v;
    int bad = 0, opt;
    opterr = world_rank == 0;
    while ((opt = getopt_long(argc, argv, "n:m:t:w:", options, NULL)) != -1) {
        switch (opt) {
        case OPT_CHECK: mode_check = 1; break;
        case OPT_TABLE: mode_table = 1; break;
        case 'n': bad |= parse_u64(optarg, &p.count_n); break;
        case 'm': bad |= parse_u64(optarg, &p.array_m); break;
        case OPT_SEED: bad |= parse_u64(optarg, &p.seed); break;
        case OPT_STEPS: bad |= parse_u64(optarg, &p.steps); have_steps = 1; break;
        case 'w': bad |= parse_u64(optarg, &p.window) || p.window == 0; break;
        case 't': bad |= parse_u64(optarg, &threads) || threads == 0 || threads > MP_THREADS_MAX; break;
        case OPT_CORES: bad |= parse_u64(optarg, &cores) || cores == 0 || cores > MP_THREADS_MAX; break;
        case OPT_SPIN: bad |= parse_u64(optarg, &v) || v > 10000000; p.spin_us = (unsigned)v; break;
        case OPT_PIN: p.pin = 1; break;
        case OPT_REPEAT: bad |= parse_u64(optarg, &repeat) || repeat == 0 || repeat > 1000; break;
        case OPT_SHORT: short_sizes = 1; break;
        case OPT_EXPECT_COUNT: bad |= parse_u64(optarg, &e.count); e.have_count = 1; break;
        case OPT_EXPECT_SUMSQ: bad |= u128_parse(optarg, &e.sumsq) != 0; e.have_sumsq = 1; break;
        case OPT_EXPECT_STEPS: bad |= u128_parse(optarg, &e.steps) != 0; e.have_steps = 1; break;
        case OPT_HELP:
            if (world_rank == 0)
                usage(stdout);
            MPI_Finalize();
            return 0;
        default: bad = 1; break;
        }
    }
    if (bad || optind != argc || (mode_check && mode_table)) {
        if (world_rank == 0)
            usage(stderr);
        MPI_Finalize();
        return 2;
    }

    /* Sizes: long enough to time in the table; uneven (primes) in the
     * check, so that no split comes out round. */
    if (p.count_n == 0)
        p.count_n = mode_check ? 10000019 : short_sizes ? (1u << 26) : (UINT64_C(1) << 30);
    if (p.array_m == 0)
        p.array_m = mode_check ? 3000017 : short_sizes ? (1u << 22) : (1u << 26);
    if (!have_steps)
        p.steps = mode_check ? 50 : short_sizes ? 200 : 2000;
    if (p.window == 0)
        p.window = mode_check ? 100003 : 65536;
    if (repeat == 0)
        repeat = short_sizes ? 1 : 3;

    /* Cores of the job: those of this node, times the nodes. */
    if (cores == 0) {
        MPI_Comm node;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
        int node_rank, node_size;
        MPI_Comm_rank(node, &node_rank);
        MPI_Comm_size(node, &node_size);
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned node_cpus = online > 0 ? (unsigned)online : 1;
        if (threads == 0) {
            /* Default pool size: this node's CPUs shared by its ranks. */
            unsigned t = node_cpus / (unsigned)node_size;
            threads = t > 0 ? t : 1;
        }
        unsigned leader_cpus = node_rank == 0 ? node_cpus : 0, total;
        MPI_Allreduce(&leader_cpus, &total, 1, MPI_UNSIGNED, MPI_SUM, MPI_COMM_WORLD);
        cores = total;
        MPI_Comm_free(&node);
    }
    if (threads == 0)
        threads = cores / (uint64_t)world_size > 0 ? cores / (uint64_t)world_size : 1;

    int status;
    if (mode_check)
        status = check_mode(&p, &e);
    else if (mode_table)
        status = table_mode(&p, (unsigned)cores, (int)repeat);
    else
        status = run_mode(&p, (unsigned)threads);

    MPI_Op_free(&mpi_u128_sum);
    MPI_Type_free(&mpi_u128);
    MPI_Finalize();
    return status;
}
