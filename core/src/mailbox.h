/* mailbox.h: MP_SPLIT_STATIC loops, one part addressed to each worker
 * (mailbox.c). See docs/design.md, "Static loops". */
#ifndef MP_MAILBOX_H
#define MP_MAILBOX_H

#include "internal.h"

struct mp_loop;

#define MP_MB_INLINE 16u
#define MP_MB_EMPTY 0u              /* nothing, or taken back by the poster */
#define MP_MB_POSTED 1u             /* waiting for the worker */
#define MP_MB_TAKEN 2u              /* the worker runs it */

/* A worker's mailbox: one part of a loop addressed to it. The first line
 * is written by the poster and read by the worker, the second goes back.
 * A part whose identity and accumulator fit in MP_MB_INLINE bytes travels
 * in these two lines alone. */
typedef struct mp_mailbox {
    alignas(MP_CACHELINE) _Atomic uint64_t word; /* gen << 2 | MP_MB_* */
    union {
        mp_range_fn body;
        mp_map_fn map;
    } fn;
    void *arg;
    size_t begin, end;
    size_t acc_size;                /* 0: mp_for */
    bool judge;                     /* the poster wants to know where it ran */
    alignas(16) unsigned char ident[16];

    alignas(MP_CACHELINE) _Atomic uint32_t pending; /* 1 until a taken part ran */
    int result;
    int cpu;                        /* where the taken part ran, if judged */
    mp_ctx *owner;                  /* the poster, woken when pending drops */
    alignas(16) unsigned char acc[16];
    void *accp;                     /* larger accumulators: where to fold */
    const void *identp;             /* and the identity */
} mp_mailbox;

/* A worker's source of work: runs the part posted to its mailbox, if
 * any; and the sleep check (a seq_cst load). */
MP_HIDDEN bool mp__mailbox_run_one(mp_ctx *self);
MP_HIDDEN bool mp__mailbox_visible(mp_ctx *self);
/* Runs every part of L, addressing parts 1.. to other workers'
 * mailboxes. The caller holds the pool's loop slot (loop.c), so there is
 * one poster at a time. */
MP_HIDDEN void mp__mailbox_run_loop(mp_pool *pool, mp_ctx *ctx, struct mp_loop *L);

#endif
