/*
 * check.c: FFTW on micropool gives the transforms of FFTW on one thread.
 *
 * usage: fftw-check [--threads T]     (default: 2 and 4 threads)
 *
 * For every size, a plan made with FFTW's threads on a micropool pool
 * (micropool-fftw.h) and a plan made for one thread transform the same
 * input; the check prints the largest difference between the two outputs
 * relative to the largest magnitude of the 1-thread output, and fails when
 * it is 1e-10 or more. Transforms: complex 1D of 2^8 .. 2^20 points
 * (forward and backward), real 1D of 2^8 .. 2^20 (real to complex, and
 * back), complex 2D of 64^2 .. 1024^2. The plans are FFTW_ESTIMATE ones,
 * which FFTW makes at once and always threads; the check also counts the
 * jobs FFTW handed to the pool, and fails if some transform family never
 * used it (the adapter would then be untested).
 *
 * Exit status: 0 when every transform matched, 1 otherwise.
 */
#include <micropool-fftw.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 1e-10

/* The pool's callback, counted: how many loops and jobs FFTW handed over. */
static unsigned long long loops, jobs;

static void counted_loop(void *(*work)(char *), char *jobdata, size_t elsize, int njobs, void *data)
{
    loops++;
    jobs += (unsigned long long)(njobs > 0 ? njobs : 0);
    mp_fftw_parallel_loop(work, jobdata, elsize, njobs, data);
}

static uint64_t rng = 0x853c49e6748fea9bu;

static double uniform(void) /* in [-1, 1) */
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (double)(rng >> 11) / 4503599627370496.0 - 1.0;
}

static void fill(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = uniform();
}

/* max |a - b| / max |b| over n doubles (0 when b is all zeros and a = b) */
static double rel_error(const double *a, const double *b, size_t n)
{
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]), m = fabs(b[i]);
        if (d > diff || isnan(d))
            diff = isnan(d) ? INFINITY : d;
        if (m > scale)
            scale = m;
    }
    return scale > 0 ? diff / scale : diff;
}

enum kind { C1D_FWD, C1D_BWD, R2C, C2R, C2D };
static const char *const kind_name[] = { "complex 1D forward", "complex 1D backward",
                                         "real 1D, real to complex", "real 1D, complex to real",
                                         "complex 2D forward" };

/* A plan of `kind` and size n (n x n in 2D) from `in` to `out`, for the
 * thread count that fftw_plan_with_nthreads last set. */
static fftw_plan make_plan(enum kind kind, int n, double *in, double *out)
{
    switch (kind) {
    case C1D_FWD:
    case C1D_BWD:
        return fftw_plan_dft_1d(n, (fftw_complex *)in, (fftw_complex *)out,
                                kind == C1D_FWD ? FFTW_FORWARD : FFTW_BACKWARD, FFTW_ESTIMATE);
    case R2C:
        return fftw_plan_dft_r2c_1d(n, in, (fftw_complex *)out, FFTW_ESTIMATE);
    case C2R:
        return fftw_plan_dft_c2r_1d(n, (fftw_complex *)in, out, FFTW_ESTIMATE);
    case C2D:
        return fftw_plan_dft_2d(n, n, (fftw_complex *)in, (fftw_complex *)out, FFTW_FORWARD,
                                FFTW_ESTIMATE);
    }
    return NULL;
}

/* doubles in the input and in the output of a transform */
static void extents(enum kind kind, int n, size_t *in_len, size_t *out_len)
{
    size_t half = 2 * ((size_t)n / 2 + 1); /* n/2+1 complex values */
    switch (kind) {
    case C1D_FWD:
    case C1D_BWD:
        *in_len = *out_len = 2 * (size_t)n;
        break;
    case R2C:
        *in_len = (size_t)n;
        *out_len = half;
        break;
    case C2R:
        *in_len = half;
        *out_len = (size_t)n;
        break;
    case C2D:
        *in_len = *out_len = 2 * (size_t)n * (size_t)n;
        break;
    }
}

static int failures;
static double worst; /* the largest error of all */

/* One transform on `threads` threads against one thread; returns whether
 * the pool ran any of its jobs. */
static int check_one(enum kind kind, int n, unsigned threads)
{
    size_t in_len, out_len;
    extents(kind, n, &in_len, &out_len);
    double *input = fftw_malloc(in_len * sizeof(double));
    double *in = fftw_malloc(in_len * sizeof(double));
    double *out1 = fftw_malloc(out_len * sizeof(double));
    double *outp = fftw_malloc(out_len * sizeof(double));
    if (!input || !in || !out1 || !outp) {
        fprintf(stderr, "fftw-check: out of memory\n");
        exit(1);
    }
    fftw_plan_with_nthreads(1);
    fftw_plan one = make_plan(kind, n, in, out1);
    fftw_plan_with_nthreads((int)threads);
    fftw_plan par = make_plan(kind, n, in, outp);
    if (!one || !par) {
        fprintf(stderr, "fftw-check: FFTW made no plan for %s, n = %d\n", kind_name[kind], n);
        exit(1);
    }
    fill(input, in_len);
    if (kind == C2R) { /* the input of a real signal's spectrum: real ends */
        input[1] = 0;
        if (n % 2 == 0)
            input[in_len - 1] = 0;
    }
    /* complex-to-real plans overwrite their input: a fresh copy each time */
    memcpy(in, input, in_len * sizeof(double));
    fftw_execute(one);
    memcpy(in, input, in_len * sizeof(double));
    unsigned long long jobs0 = jobs, loops0 = loops;
    fftw_execute(par);
    double err = rel_error(outp, out1, out_len);
    int ok = err < LIMIT;
    if (!(err <= worst))
        worst = err;
    failures += !ok;
    char size[32];
    if (kind == C2D)
        snprintf(size, sizeof size, "%d^2", n);
    else
        snprintf(size, sizeof size, "2^%d", (int)lround(log2((double)n)));
    printf("| %s | %s | %u | %llu | %llu | %.3g | %s |\n", kind_name[kind], size, threads,
           loops - loops0, jobs - jobs0, err, ok ? "ok" : "FAIL");
    fftw_destroy_plan(one);
    fftw_destroy_plan(par);
    fftw_free(input);
    fftw_free(in);
    fftw_free(out1);
    fftw_free(outp);
    return jobs != jobs0;
}

int main(int argc, char **argv)
{
    unsigned counts[2] = { 2, 4 }, n_counts = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            counts[0] = (unsigned)strtoul(argv[++i], NULL, 10);
            n_counts = 1;
            if (counts[0] < 2 || counts[0] > 256) {
                fprintf(stderr, "fftw-check: --threads wants 2..256\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: fftw-check [--threads T]\n");
            return 2;
        }
    }
    if (!fftw_init_threads()) {
        fprintf(stderr, "fftw-check: fftw_init_threads failed\n");
        return 1;
    }
    int unused_family = 0;
    printf("FFTW %s on micropool %s against FFTW on one thread (limit: %g, relative to the largest "
           "output magnitude)\n\n",
           fftw_version, mp_version(), LIMIT);
    printf("| transform | size | threads | loops on the pool | jobs | max relative error | |\n");
    printf("|---|---:|---:|---:|---:|---:|---|\n");
    for (unsigned c = 0; c < n_counts; c++) {
        mp_config cfg;
        mp_config_init(&cfg);
        cfg.threads = counts[c];
        mp_pool *pool;
        int rc = mp_pool_create(&cfg, &pool);
        if (rc != MP_OK) {
            fprintf(stderr, "fftw-check: mp_pool_create: %s\n", mp_strerror(rc));
            return 1;
        }
        fftw_threads_set_callback(counted_loop, pool);
        for (enum kind kind = C1D_FWD; kind <= C2D; kind++) {
            int used = 0;
            int lo = kind == C2D ? 64 : 256, hi = kind == C2D ? 1024 : 1 << 20;
            int step = kind == R2C || kind == C2R ? 2 : 1;
            for (int n = lo; n <= hi; n <<= step) {
                used |= check_one(kind, n, counts[c]);
            }
            if (!used) {
                printf("| %s | - | %u | 0 | 0 | - | FAIL: no job ran on the pool |\n",
                       kind_name[kind], counts[c]);
                unused_family = 1;
            }
        }
        fftw_threads_set_callback(NULL, NULL);
        mp_pool_destroy(pool);
    }
    printf("\n%s: the largest relative error is %.3g; %d transform(s) off by %g or more%s\n",
           failures || unused_family ? "FAIL" : "ok", worst, failures, LIMIT,
           unused_family ? ", and a family never ran on the pool" : "");
    fftw_cleanup_threads();
    return failures || unused_family ? 1 : 0;
}
