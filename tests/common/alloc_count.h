/*
 * The malloc counter: linking alloc_count.c into a program replaces
 * malloc and its relatives for the whole process (the dynamic linker
 * binds libmicropool's calls to them too). Each one counts, while
 * counting is on, then hands over to glibc's allocator (__libc_malloc and
 * friends). Not with sanitizers, which bring their own allocator.
 */
#ifndef MPT_ALLOC_COUNT_H
#define MPT_ALLOC_COUNT_H

/* Zeroes the count and starts counting. */
void mpt_alloc_count_start(void);
/* Stops counting; returns the allocations made since the start. */
long mpt_alloc_count_stop(void);
/* 0 when the counter sees an allocation made inside a shared library
 * (libc's strdup), else -1: a count of 0 proves nothing otherwise. */
int mpt_alloc_count_probe(void);

#endif
