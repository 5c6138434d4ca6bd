/* measure.h: what the C examples share to time their runs and to say how
 * quiet the machine was meanwhile. */
#ifndef MP_EXAMPLES_MEASURE_H
#define MP_EXAMPLES_MEASURE_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/* The median of v[0..count) (sorts v); count > 0. */
double median_ns(uint64_t *v, size_t count);

/* Reads a --threads value (0..MP_THREADS_MAX); prints why and returns -1
 * when it is not one. */
int parse_threads(const char *prog, const char *s, unsigned *out);

/* xorshift64*: with a fixed seed, every run uses the same numbers. */
uint64_t next_random(uint64_t *state);

/* How busy other processes kept the machine while this program measured:
 * the CPU time of the whole machine (from /proc/stat) minus this
 * process's own, over the CPU time that was there. Their load makes times
 * noisy. */
typedef struct machine_probe {
    int                ok;
    unsigned long long busy, total;   /* clock ticks, all CPUs */
    double             self;          /* seconds of this process's CPU time */
} machine_probe;

void machine_probe_read(machine_probe *p);
/* Prints one "machine: ..." line about the time since *start. */
void machine_probe_report(const machine_probe *start);

#endif
