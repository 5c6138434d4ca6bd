/*
 * suite_uts.c: Unbalanced Tree Search, the binomial tree (Olivier et al.,
 * "UTS: An Unbalanced Tree Search Benchmark", LCPC 2006): count the nodes
 * of a tree that exists only as a rule. The root has B0 children; every
 * other node has M children with probability Q, else none. Whether a node
 * has children, and its children's identities, come from a splittable hash
 * of the node's own identity, so the tree is the same however it is
 * walked and by however many threads.
 *
 * The published T1L tree is binomial with B0 = 2000, M = 5, Q = 0.200014
 * (Q M a hair above 1: the subtrees are near-critical, their sizes
 * heavy-tailed) and seed 7, with SHA-1 as the hash. Here the hash is this
 * file's own (uts_child below, not SHA-1), so the tree is another one; M,
 * Q and the seed are T1L's, and B0 (the size parameter) scales it: the
 * first k children of the root are the same subtrees for every B0 >= k.
 *
 * No cut-off: as in UTS, every node's children are forked (a tree of
 * two-way joins over the child indices), each child hashed by the task
 * that visits it.
 */
#include "suite.h"

#include <stdlib.h>

#define UTS_M 5
#define UTS_Q 0.200014
#define UTS_SEED 7u

/* A node is 128 bits of hash. */
struct uts_node {
    uint64_t h[2];
};

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* Child i of p: the parent's two words and the index mixed over four
 * rounds of add, splitmix64's finalizer and rotate-xor. */
static struct uts_node uts_child(const struct uts_node *p, uint64_t i)
{
    uint64_t a = p->h[0] ^ ((i + 1) * 0x9e3779b97f4a7c15u), b = p->h[1];
    for (int r = 0; r < 4; r++) {
        a = suite_mix64(a + b);
        b = rotl64(b, 29) ^ a;
    }
    struct uts_node c = { { a, b } };
    return c;
}

static struct uts_node uts_root(void)
{
    struct uts_node r = { { suite_mix64(UTS_SEED), suite_mix64(~(uint64_t)UTS_SEED) } };
    return r;
}

/* How many children a non-root node has: M with probability Q. */
static int uts_children(const struct uts_node *n)
{
    double u = (double)(n->h[1] >> 11) * 0x1p-53;
    return u < UTS_Q ? UTS_M : 0;
}

struct uts_state {
    long b0;
    uint64_t nodes;
};

static uint64_t uts_serial_node(const struct uts_node *n)
{
    uint64_t count = 1;
    int k = uts_children(n);
    for (int i = 0; i < k; i++) {
        struct uts_node c = uts_child(n, (uint64_t)i);
        count += uts_serial_node(&c);
    }
    return count;
}

static void uts_serial(void *state)
{
    struct uts_state *s = state;
    struct uts_node r = uts_root();
    uint64_t count = 1;
    for (long i = 0; i < s->b0; i++) {
        struct uts_node c = uts_child(&r, (uint64_t)i);
        count += uts_serial_node(&c);
    }
    s->nodes = count;
}

/* Children [lo, hi) of the node *parent: the subtrees' node counts. */
struct uts_frame {
    const struct uts_node *parent;
    long lo, hi;
    uint64_t count;
};

static int uts_task(void *arg)
{
    struct uts_frame *f = arg;
    if (f->hi - f->lo > 1) {
        long mid = f->lo + (f->hi - f->lo) / 2;
        struct uts_frame x = { f->parent, f->lo, mid, 0 }, y = { f->parent, mid, f->hi, 0 };
        int rc = suite_join(uts_task, &x, uts_task, &y);
        f->count = x.count + y.count;
        return rc;
    }
    struct uts_node c = uts_child(f->parent, (uint64_t)f->lo);
    f->count = 1;
    int k = uts_children(&c);
    if (k == 0)
        return 0;
    struct uts_frame kids = { &c, 0, k, 0 };
    int rc = uts_task(&kids);
    f->count += kids.count;
    return rc;
}

static int uts_parallel(void *state)
{
    struct uts_state *s = state;
    struct uts_node r = uts_root();
    struct uts_frame f = { &r, 0, s->b0, 0 };
    int rc = s->b0 > 0 ? uts_task(&f) : 0;
    s->nodes = 1 + f.count;
    return rc;
}

static void *uts_create(long b0, long unused)
{
    (void)unused;
    struct uts_state *s = calloc(1, sizeof *s);
    if (s)
        s->b0 = b0;
    return s;
}

static double uts_result(void *state)
{
    return (double)((struct uts_state *)state)->nodes;
}

const suite_program suite_uts = {
    "uts", uts_create, NULL, uts_serial, uts_parallel, uts_result, free,
};
