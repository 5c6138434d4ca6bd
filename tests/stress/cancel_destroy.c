/*
 * cancel_destroy: mp_task_cancel racing mp_pool_destroy.
 *
 * The header allows a cancel on a handle from any thread, even after the
 * handle's pool was destroyed. Thread A creates a pool of one thread (no
 * worker: destroy itself runs what is queued) with spin_us = 0, submits one
 * task with a handle, hands the handle to thread B and destroys the pool
 * after a short random sleep; B cancels the handle meanwhile. Repeated
 * with fresh pools.
 *
 * B cancels after a random spin, A destroys after another, on two CPUs,
 * so that over many trials the destroy lands at every point of the
 * cancel. A cancel that touched the pool after counting its task settled
 * (reading `destroyer`, waking it) wrote into freed memory; AddressSanitizer
 * and ThreadSanitizer report it. This program also checks that every task
 * was either run or cancelled, exactly once.
 *
 * usage: mp_cancel_destroy [--seconds S] [--trials N]
 * Prints its figures and "1 passed, 0 failed"; exits non-zero on a
 * mismatch.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <micropool.h>

static mp_task *_Atomic current;    /* handed from A to B; NULL once B is done */
static atomic_int ran, stop;

static int task_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static long cancelled_ok, cancel_busy;

static void spin(uint32_t n)
{
    for (volatile uint32_t i = 0; i < n; i++)
        ;
}

static void *canceller(void *arg)
{
    (void)arg;
    uint32_t rng = 0x9e3779b9u;
    for (;;) {
        mp_task *t;
        while ((t = atomic_load(&current)) == NULL) {
            if (atomic_load_explicit(&stop, memory_order_relaxed))
                return NULL;
            sched_yield();          /* in case A shares this CPU */
        }
        spin(xorshift(&rng) % 256);
        int rc = mp_task_cancel(t);
        if (rc == MP_OK)
            cancelled_ok++;
        else if (rc == MP_EBUSY)
            cancel_busy++;
        else
            fprintf(stderr, "cancel_destroy: mp_task_cancel returned %d\n", rc);
        mp_task_release(t);
        atomic_store(&current, NULL);
    }
}

int main(int argc, char **argv)
{
    double seconds = 3;
    long max_trials = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = strtod(argv[++i], &end);
            if (*end || seconds <= 0) {
                fprintf(stderr, "cancel_destroy: --seconds takes a positive number\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--trials") && i + 1 < argc) {
            max_trials = strtol(argv[++i], &end, 10);
            if (*end || max_trials <= 0) {
                fprintf(stderr, "cancel_destroy: --trials takes a positive count\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: mp_cancel_destroy [--seconds S] [--trials N]\n");
            return 2;
        }
    }

    pthread_t b;
    if (pthread_create(&b, NULL, canceller, NULL) != 0) {
        fprintf(stderr, "cancel_destroy: pthread_create failed\n");
        return 1;
    }

    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = 1;
    cfg.spin_us = 0;
    uint32_t rng = 0x12345u;
    long trials = 0, errors = 0;
    double end = now_s() + seconds;
    while (max_trials ? trials < max_trials : now_s() < end) {
        mp_pool *p;
        int rc = mp_pool_create(&cfg, &p);
        mp_task *t;
        if (rc == MP_OK)
            rc = mp_submit(p, task_fn, NULL, &t);
        if (rc != MP_OK) {
            fprintf(stderr, "cancel_destroy: create/submit returned %d\n", rc);
            errors++;
            break;
        }
        atomic_store(&current, t);
        /* Destroy at a random moment of B's cancel. */
        spin(xorshift(&rng) % 512);
        rc = mp_pool_destroy(p);
        if (rc != MP_OK) {
            fprintf(stderr, "cancel_destroy: mp_pool_destroy returned %d\n", rc);
            errors++;
        }
        while (atomic_load(&current) != NULL)
            sched_yield();
        trials++;
    }
    atomic_store(&stop, 1);
    pthread_join(b, NULL);

    long run = atomic_load(&ran);
    /* Each task ran (destroy ran it, the cancel came too late) or was
     * cancelled, never both and never neither. */
    if (run + cancelled_ok != trials || cancel_busy != run) {
        fprintf(stderr, "cancel_destroy: MISMATCH: %ld trials, %ld ran, %ld cancelled, %ld busy\n",
                trials, run, cancelled_ok, cancel_busy);
        errors++;
    }
    printf("cancel_destroy: %ld trials, %ld tasks cancelled, %ld run by destroy\n", trials,
           cancelled_ok, run);
    printf("%ld passed, %ld failed\n", errors ? 0L : 1L, errors ? 1L : 0L);
    return errors ? 1 : 0;
}
