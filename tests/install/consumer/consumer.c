/* A program that uses an installed micropool: a parallel sum on a pool of
 * two threads, checked against the closed form, and the library's version
 * checked against the header's. Exit status 0 only if both hold. */
#include <micropool.h>

#include <stdio.h>
#include <string.h>

static int sum_range(void *arg, size_t begin, size_t end, void *acc)
{
    unsigned long long *sum = acc;
    (void)arg;
    for (size_t i = begin; i < end; i++)
        *sum += i;
    return 0;
}

static void add(void *arg, void *acc, const void *other)
{
    (void)arg;
    *(unsigned long long *)acc += *(const unsigned long long *)other;
}

int main(void)
{
    char header_version[32];
    snprintf(header_version, sizeof header_version, "%d.%d.%d", MICROPOOL_VERSION_MAJOR,
             MICROPOOL_VERSION_MINOR, MICROPOOL_VERSION_PATCH);
    if (strcmp(mp_version(), header_version) != 0) {
        fprintf(stderr, "library %s, header %s\n", mp_version(), header_version);
        return 1;
    }

    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = 2;
    mp_pool *pool;
    int rc = mp_pool_create(&cfg, &pool);
    if (rc != MP_OK) {
        fprintf(stderr, "mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    const size_t n = 1000000;
    unsigned long long sum = 0;
    rc = mp_reduce(pool, n, 1000, MP_SPLIT_DYNAMIC, &sum, sizeof sum, sum_range, add, NULL);
    unsigned threads = mp_pool_threads(pool);
    int destroyed = mp_pool_destroy(pool);
    unsigned long long want = (unsigned long long)n * (n - 1) / 2;
    if (rc != MP_OK || destroyed != MP_OK || sum != want || threads != 2) {
        fprintf(stderr, "mp_reduce: %s, destroy: %s, sum %llu (want %llu), threads %u\n",
                mp_strerror(rc), mp_strerror(destroyed), sum, want, threads);
        return 1;
    }
    printf("micropool %s: sum of 0..%zu on %u threads = %llu\n", mp_version(), n - 1,
           threads, sum);
    return 0;
}
