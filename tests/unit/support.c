#include "support.h"

#include <criterion/hooks.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every test runs in a process of its own, forked by Criterion's runner;
 * LeakSanitizer checks each of them at exit. The runner process itself runs
 * no micropool code, and Criterion 2.4.1 sometimes leaks 48 bytes of its
 * own bookkeeping there, which would fail the whole binary: once all tests
 * are done, the runner's own leak check is turned off. */
static volatile int runner_done;

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    runner_done = 1;
}

int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return runner_done;
}

mp_pool *mpt_pool(unsigned threads)
{
    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = threads;
    mp_pool *pool = NULL;
    int rc = mp_pool_create(&cfg, &pool);
    cr_assert(rc == MP_OK && pool != NULL, "mp_pool_create(threads=%u) = %d (%s)",
              threads, rc, mp_strerror(rc));
    return pool;
}

void mpt_destroy(mp_pool *pool)
{
    int rc = mp_pool_destroy(pool);
    cr_assert(rc == MP_OK, "mp_pool_destroy = %d (%s)", rc, mp_strerror(rc));
}

unsigned mpt_cpus(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    return (unsigned)CPU_COUNT(&set);
}

int mpt_thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int mpt_wait_at_least(atomic_int *flag, int value, double seconds)
{
    double end = now_s() + seconds;
    while (atomic_load(flag) < value) {
        if (now_s() > end)
            return 0;
        sched_yield();
    }
    return 1;
}

void mpt_spin_us(unsigned us)
{
    double end = now_s() + (double)us * 1e-6;
    while (now_s() < end)
        ;
}

void mpt_ranges_init(mpt_ranges *rs, size_t cap)
{
    rs->r = calloc(cap, sizeof *rs->r);
    cr_assert(rs->r != NULL, "out of memory");
    rs->cap = cap;
    atomic_init(&rs->count, 0);
}

void mpt_ranges_free(mpt_ranges *rs)
{
    free(rs->r);
    rs->r = NULL;
}

void mpt_ranges_add(mpt_ranges *rs, size_t begin, size_t end)
{
    size_t i = atomic_fetch_add(&rs->count, 1);
    if (i < rs->cap) {
        rs->r[i].begin = begin;
        rs->r[i].end = end;
    }
}

static int range_cmp(const void *pa, const void *pb)
{
    const mpt_range *a = pa, *b = pb;
    return (a->begin > b->begin) - (a->begin < b->begin);
}

const char *mpt_ranges_check(mpt_ranges *rs, size_t n)
{
    size_t count = atomic_load(&rs->count);
    if (count > rs->cap)
        return "more ranges than the record can hold";
    qsort(rs->r, count, sizeof *rs->r, range_cmp);
    size_t next = 0;
    for (size_t i = 0; i < count; i++) {
        if (rs->r[i].begin >= rs->r[i].end)
            return "an empty or reversed range";
        if (rs->r[i].begin < next)
            return "overlapping ranges";
        if (rs->r[i].begin > next)
            return "a gap between ranges";
        next = rs->r[i].end;
    }
    if (next != n)
        return "the ranges do not end at n";
    return NULL;
}
