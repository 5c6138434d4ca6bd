/*
 * suite.c: the classic suite's programs, by name, and what they share.
 */
#include "suite.h"

/* splitmix64's output function (Steele, Lea and Flood, "Fast splittable
 * pseudorandom number generators", 2014) of x + its increment. */
uint64_t suite_mix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

const suite_program *const suite_programs[] = {
    &suite_fib, &suite_nqueens, &suite_uts, &suite_integrate, &suite_matmul, &suite_msort, NULL,
};
