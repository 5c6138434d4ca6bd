/*
 * kernels.c: the work that every runtime is given, compiled into each
 * runner by that runner's compiler, so that only the runtime differs.
 */
#define _GNU_SOURCE

#include "bench.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The empty asm claims to read and change `c`, so the compiler keeps one
 * increment per iteration instead of replacing the loop by end - begin. */
uint64_t bench_count_range(uint64_t begin, uint64_t end)
{
    uint64_t c = 0;
    for (uint64_t i = begin; i < end; i++) {
        c++;
        __asm__ __volatile__("" : "+r"(c));
    }
    return c;
}

long bench_fib_seq(int n)
{
    return n < 2 ? n : bench_fib_seq(n - 1) + bench_fib_seq(n - 2);
}

uint64_t bench_fib_joins(int n)
{
    /* joins(n) = joins(n-1) + joins(n-2) + 1 with joins(0) = joins(1) = 0,
     * which is fib(n+1) - 1. */
    uint64_t a = 0, b = 1; /* fib(0), fib(1) */
    for (int i = 0; i < n; i++) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    return b - 1; /* b = fib(n+1) */
}

/* ---------------------------------------------------------------- sorting */
static void swap_int(int *a, int *b)
{
    int t = *a;
    *a = *b;
    *b = t;
}

static void insertion_sort(int *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

size_t bench_partition(int *v, size_t n)
{
    /* Move the median of the first, middle and last element to v[0]; with
     * the pivot at the low end, Hoare's scheme stops with 0 <= j < n-1. */
    size_t lo = 0, mid = n / 2, hi = n - 1, m;
    if (v[lo] < v[mid])
        m = v[mid] < v[hi] ? mid : (v[lo] < v[hi] ? hi : lo);
    else
        m = v[lo] < v[hi] ? lo : (v[mid] < v[hi] ? hi : mid);
    swap_int(&v[0], &v[m]);
    int p = v[0];
    size_t i = (size_t)-1, j = n; /* i wraps to 0 at its first step */
    for (;;) {
        do
            i++;
        while (v[i] < p);
        do
            j--;
        while (v[j] > p);
        if (i >= j)
            return j + 1;
        swap_int(&v[i], &v[j]);
    }
}

void bench_quicksort_seq(int *v, size_t n)
{
    while (n > 16) {
        size_t m = bench_partition(v, n);
        /* recurse into the smaller side, loop on the larger one */
        if (m < n - m) {
            bench_quicksort_seq(v, m);
            v += m;
            n -= m;
        } else {
            bench_quicksort_seq(v + m, n - m);
            n = m;
        }
    }
    insertion_sort(v, n);
}

void bench_fill_random(int *v, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        v[i] = (int)(uint32_t)(x >> 32);
    }
}

int bench_is_sorted(const int *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i - 1] > v[i])
            return 0;
    return 1;
}

int bench_cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* ---------------------------------------------------------------- marks */
#define MARK_SLOTS 256

struct mark_slot {
    _Alignas(64) uint64_t parts;
};

static struct mark_slot mark_slots[MARK_SLOTS];
static atomic_uint mark_next;
static _Thread_local int mark_mine = -1;

static int mark_slot_of_self(void)
{
    if (mark_mine < 0)
        mark_mine = (int)(atomic_fetch_add_explicit(&mark_next, 1, memory_order_relaxed) % MARK_SLOTS);
    return mark_mine;
}

void bench_mark_part(void)
{
    mark_slots[mark_slot_of_self()].parts++;
}

void bench_marks_reset(void)
{
    for (unsigned i = 0; i < MARK_SLOTS; i++)
        mark_slots[i].parts = 0;
}

unsigned bench_marks_threads(void)
{
    unsigned k = 0;
    for (unsigned i = 0; i < MARK_SLOTS; i++)
        k += mark_slots[i].parts != 0;
    return k;
}

uint64_t bench_marks_total(void)
{
    uint64_t t = 0;
    for (unsigned i = 0; i < MARK_SLOTS; i++)
        t += mark_slots[i].parts;
    return t;
}

uint64_t bench_marks_mine(void)
{
    return mark_slots[mark_slot_of_self()].parts;
}

/* ---------------------------------------------------------------- ticks */
static _Alignas(64) atomic_uint_fast64_t tick_count;

int bench_tick(void *unused)
{
    (void)unused;
    atomic_fetch_add_explicit(&tick_count, 1, memory_order_release);
    return 0;
}

void bench_ticks_reset(void)
{
    atomic_store_explicit(&tick_count, 0, memory_order_relaxed);
}

uint64_t bench_ticks(void)
{
    return atomic_load_explicit(&tick_count, memory_order_acquire);
}

/* ---------------------------------------------------------------- priority */
static _Atomic uint64_t prio_started;   /* the high task's start, 0: not yet */
static _Atomic uint64_t prio_lows;      /* low tasks run */

void bench_prio_reset(void)
{
    atomic_store(&prio_started, 0);
    atomic_store(&prio_lows, 0);
}

int bench_prio_high(void *unused)
{
    (void)unused;
    atomic_store_explicit(&prio_started, bench_now_ns(), memory_order_release);
    return 0;
}

int bench_prio_low(void *unused)
{
    (void)unused;
    uint64_t until = bench_now_ns() + BENCH_PRIO_LOW_NS;
    while (bench_now_ns() < until)
        ;
    atomic_fetch_add_explicit(&prio_lows, 1, memory_order_release);
    return 0;
}

double bench_prio_wait(uint64_t t0, size_t nlow)
{
    uint64_t seen = 0, since = bench_now_ns();
    for (;;) {
        uint64_t lows = atomic_load_explicit(&prio_lows, memory_order_acquire);
        uint64_t s = atomic_load_explicit(&prio_started, memory_order_acquire);
        if (s && lows == nlow)
            return (double)(s - t0);
        if (lows != seen) {
            seen = lows;
            since = bench_now_ns();
        } else if (bench_now_ns() - since > 10000000000u) {
            return -1;
        }
        bench_sleep_ns(50000);
    }
}
