/*
 * libFuzzer target: the input is decoded into a sequence of API calls on a
 * small pool, and every result is checked exactly. A wrong result aborts
 * (libFuzzer reports it as a crash, with the input that caused it).
 *
 * Each operation starts with one byte: its code (byte % OPS), then the
 * bytes it needs (missing bytes read as 0). Calls go to a pool of 3
 * threads that lives across inputs, or to a pool the input creates itself
 * from decoded configuration bytes (some of them invalid on purpose).
 *
 * What is checked:
 *  - mp_join: both halves run once; the result is the failing half's
 *    value (either one when both fail);
 *  - mp_for: every item at most once, all of them when nothing fails; the
 *    result is the one failing item's value;
 *  - mp_reduce: parts are combined left to right over adjacent ranges (the
 *    combine checks adjacency), the count and sum are exact, for 8- to
 *    200-byte accumulators, aligned like max_align_t; with
 *    MP_DETERMINISTIC the partition depends on (n, grain) only;
 *  - mp_broadcast: each index once, count = threads;
 *  - scopes: every accepted spawn (also from inside tasks) runs once;
 *  - background tasks: submit, wait, cancel, done and release in decoded
 *    order; a task runs exactly once unless its cancel succeeded, then
 *    never, and wait returns MP_ECANCELED;
 *  - bad arguments (NULLs, unknown flags, bad configs, short stats sizes)
 *    are MP_EINVAL and nothing runs.
 */
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <micropool.h>

#include "check.h" /* a failed check aborts: libFuzzer reports the input */

struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned u8(struct input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static unsigned u16(struct input *in)
{
    unsigned lo = u8(in);
    return lo | u8(in) << 8;
}

/* A callback result: 0 most of the time, else a positive value. */
static int result_of(unsigned b)
{
    return (b & 7) == 7 ? (int)(b >> 3) + 1 : 0;
}

static mp_pool *shared_pool;

/* ------------------------------------------------------------ join */

struct half {
    atomic_int runs;
    int value;
};

static int half_fn(void *arg)
{
    struct half *h = arg;
    atomic_fetch_add(&h->runs, 1);
    return h->value;
}

struct tree {
    mp_pool *pool;
    int depth;
    atomic_long *leaves;
};

static int tree_fn(void *arg)
{
    struct tree *t = arg;
    if (t->depth == 0) {
        atomic_fetch_add(t->leaves, 1);
        return 0;
    }
    struct tree a = {t->pool, t->depth - 1, t->leaves}, b = a;
    return mp_join(t->pool, tree_fn, &a, tree_fn, &b);
}

static void op_join(mp_pool *pool, struct input *in)
{
    struct half a = {0, result_of(u8(in))}, b = {0, result_of(u8(in))};
    int rc = mp_join(pool, half_fn, &a, half_fn, &b);
    MPT_CHECK(atomic_load(&a.runs) == 1);
    MPT_CHECK(atomic_load(&b.runs) <= 1);
    if (a.value == 0)
        MPT_CHECK(atomic_load(&b.runs) == 1);
    if (a.value == 0 && b.value == 0)
        MPT_CHECK(rc == 0);
    else if (b.value == 0 || atomic_load(&b.runs) == 0)
        MPT_CHECK(rc == a.value);
    else if (a.value == 0)
        MPT_CHECK(rc == b.value);
    else
        MPT_CHECK(rc == a.value || rc == b.value);

    atomic_long leaves = 0;
    struct tree t = {pool, (int)(u8(in) % 11), &leaves};
    MPT_CHECK(tree_fn(&t) == 0);
    MPT_CHECK(atomic_load(&leaves) == 1L << t.depth);
}

/* ------------------------------------------------------------ loops */

#define MAX_N 5000u
static atomic_uchar hits[MAX_N];

struct loop_arg {
    size_t n;
    size_t fail_at; /* an item index, or n for none */
    int fail_value;
    atomic_int bad;
};

static int loop_body(void *arg, size_t b, size_t e)
{
    struct loop_arg *la = arg;
    if (!(b < e && e <= la->n))
        atomic_store(&la->bad, 1);
    int rc = 0;
    for (size_t i = b; i < e && i < la->n; i++) {
        atomic_fetch_add(&hits[i], 1);
        if (i == la->fail_at)
            rc = la->fail_value;
    }
    return rc;
}

static unsigned flags_of(unsigned b)
{
    return b & (MP_SPLIT_STATIC | MP_DETERMINISTIC);
}

static void op_for(mp_pool *pool, struct input *in)
{
    size_t n = u16(in) % MAX_N;
    size_t grain = u8(in);
    unsigned fb = u8(in);
    struct loop_arg la = {.n = n, .fail_at = n, .fail_value = 0};
    if ((fb & 0x30) == 0x30 && n > 0) {
        la.fail_at = u16(in) % n;
        la.fail_value = (int)(fb >> 6) + 1;
    }
    memset(hits, 0, n);
    if (fb & 0x08) { /* an unknown flag bit: refused before anything runs */
        MPT_CHECK(mp_for(pool, n, grain, 4u << (fb & 7), loop_body, &la) == MP_EINVAL);
        for (size_t i = 0; i < n; i++)
            MPT_CHECK(atomic_load(&hits[i]) == 0);
        return;
    }
    int rc = mp_for(pool, n, grain, flags_of(fb), loop_body, &la);
    MPT_CHECK(!atomic_load(&la.bad));
    MPT_CHECK(rc == la.fail_value);
    for (size_t i = 0; i < n; i++) {
        unsigned h = atomic_load(&hits[i]);
        MPT_CHECK(h <= 1);
        if (la.fail_value == 0 || i == la.fail_at)
            MPT_CHECK(h == 1);
    }
}

/* A reduction whose combine checks that it merges adjacent ranges left to
 * right. The accumulator is `size` bytes; the fields sit at its start and
 * the rest is a pattern that must survive. */
struct acc_head {
    uint64_t first, end, count, sum;
    uint32_t touched;
    uint32_t pattern_ok;
};

struct red_arg {
    size_t acc_size;
    atomic_int bad;
    size_t fail_at;
    int fail_value;
};

static void fill_pattern(unsigned char *acc, size_t size)
{
    for (size_t i = sizeof(struct acc_head); i < size; i++)
        acc[i] = (unsigned char)(i * 7 + 1);
}

static int pattern_ok(const unsigned char *acc, size_t size)
{
    for (size_t i = sizeof(struct acc_head); i < size; i++)
        if (acc[i] != (unsigned char)(i * 7 + 1))
            return 0;
    return 1;
}

static int red_map(void *arg, size_t b, size_t e, void *accp)
{
    struct red_arg *ra = arg;
    struct acc_head *h = accp;
    if (((uintptr_t)accp & (alignof(max_align_t) - 1)) != 0 || b >= e)
        atomic_store(&ra->bad, 1);
    if (!pattern_ok(accp, ra->acc_size))
        atomic_store(&ra->bad, 1);
    /* The identity: untouched. Then this part's range. */
    if (h->touched)
        atomic_store(&ra->bad, 1);
    h->touched = 1;
    h->first = b;
    h->end = e;
    for (size_t i = b; i < e; i++) {
        h->count++;
        h->sum += i;
    }
    return (b <= ra->fail_at && ra->fail_at < e) ? ra->fail_value : 0;
}

static void red_combine(void *arg, void *accp, const void *otherp)
{
    struct red_arg *ra = arg;
    struct acc_head *a = accp;
    const struct acc_head *o = otherp;
    if (!a->touched || !o->touched || a->end != o->first)
        atomic_store(&ra->bad, 1);
    a->end = o->end;
    a->count += o->count;
    a->sum += o->sum;
}

static void op_reduce(mp_pool *pool, struct input *in)
{
    static const size_t sizes[] = {sizeof(struct acc_head), 64, 72, 200};
    size_t n = u16(in) % MAX_N;
    size_t grain = u8(in);
    unsigned fb = u8(in);
    size_t acc_size = sizes[(fb >> 2) & 3];
    alignas(max_align_t) unsigned char acc[256];
    memset(acc, 0, sizeof acc);
    fill_pattern(acc, acc_size);
    struct red_arg ra = {.acc_size = acc_size, .fail_at = MAX_N, .fail_value = 0};
    if ((fb & 0x30) == 0x30 && n > 0) {
        ra.fail_at = u16(in) % n;
        ra.fail_value = (int)(fb >> 6) + 1;
    }
    int rc = mp_reduce(pool, n, grain, flags_of(fb), acc, acc_size, red_map, red_combine, &ra);
    MPT_CHECK(!atomic_load(&ra.bad));
    MPT_CHECK(rc == ra.fail_value);
    if (rc)
        return;
    struct acc_head *h = (struct acc_head *)acc;
    if (n == 0) {
        MPT_CHECK(!h->touched); /* left as it was */
    } else {
        MPT_CHECK(h->first == 0 && h->end == n);
        MPT_CHECK(h->count == n && h->sum == (uint64_t)n * (n - 1) / 2);
    }
    MPT_CHECK(pattern_ok(acc, acc_size));
}

/* ------------------------------------------------------------ broadcast */

#define MAX_THREADS 4
struct bc_arg {
    atomic_int seen[MAX_THREADS];
    unsigned fail_index;
    int fail_value;
    atomic_int bad;
};

static int bc_fn(void *arg, unsigned i, unsigned count)
{
    struct bc_arg *ba = arg;
    if (i >= count || count > MAX_THREADS)
        atomic_store(&ba->bad, 1);
    else
        atomic_fetch_add(&ba->seen[i], 1);
    return i == ba->fail_index ? ba->fail_value : 0;
}

static void op_broadcast(mp_pool *pool, struct input *in)
{
    unsigned b = u8(in);
    unsigned n = mp_pool_threads(pool);
    struct bc_arg ba = {.fail_index = MAX_THREADS, .fail_value = 0};
    if ((b & 3) == 3) {
        ba.fail_index = (b >> 2) % n;
        ba.fail_value = (int)(b >> 4) + 1;
    }
    int rc = mp_broadcast(pool, bc_fn, &ba);
    MPT_CHECK(!atomic_load(&ba.bad));
    MPT_CHECK(rc == ba.fail_value);
    if (rc == 0)
        for (unsigned i = 0; i < n; i++)
            MPT_CHECK(atomic_load(&ba.seen[i]) == 1);
    else
        for (unsigned i = 0; i < n; i++)
            MPT_CHECK(atomic_load(&ba.seen[i]) <= 1);
}

/* ------------------------------------------------------------ scopes */

struct scope_arg {
    mp_pool *pool;
    mp_scope *scope;
    unsigned spawns;    /* by the body */
    unsigned children;  /* by each task */
    atomic_long accepted, ran;
    int fail_value;     /* returned by the last task spawned by the body */
};

static int scope_task(void *arg)
{
    struct scope_arg *sa = arg;
    atomic_fetch_add(&sa->ran, 1);
    return 0;
}

static int scope_parent(void *arg)
{
    struct scope_arg *sa = arg;
    atomic_fetch_add(&sa->ran, 1);
    for (unsigned i = 0; i < sa->children; i++)
        if (mp_scope_spawn(sa->scope, scope_task, sa) == MP_OK)
            atomic_fetch_add(&sa->accepted, 1);
    return 0;
}

static int scope_failing(void *arg)
{
    struct scope_arg *sa = arg;
    atomic_fetch_add(&sa->ran, 1);
    return sa->fail_value;
}

static int scope_body(mp_scope *s, void *arg)
{
    struct scope_arg *sa = arg;
    sa->scope = s;
    for (unsigned i = 0; i < sa->spawns; i++) {
        mp_fn fn = (sa->fail_value && i + 1 == sa->spawns) ? scope_failing : scope_parent;
        if (mp_scope_spawn(s, fn, sa) == MP_OK)
            atomic_fetch_add(&sa->accepted, 1);
    }
    return 0;
}

static void op_scope(mp_pool *pool, struct input *in)
{
    unsigned b = u8(in);
    struct scope_arg sa = {.pool = pool, .spawns = b % 17, .children = (b >> 4) % 5};
    if ((u8(in) & 7) == 7 && sa.spawns > 0)
        sa.fail_value = 9;
    int rc = mp_scope_run(pool, scope_body, &sa);
    MPT_CHECK(atomic_load(&sa.ran) <= atomic_load(&sa.accepted));
    if (sa.fail_value == 0) {
        MPT_CHECK(rc == 0);
        MPT_CHECK(atomic_load(&sa.ran) == atomic_load(&sa.accepted));
        MPT_CHECK(atomic_load(&sa.accepted) == (long)(sa.spawns * (1 + sa.children)));
    } else {
        /* The failing task may have been skipped only if another task
         * failed first; here only it fails, and tasks not yet started
         * after it are skipped. */
        MPT_CHECK(rc == 9);
    }
    MPT_CHECK(mp_scope_spawn(NULL, scope_task, &sa) == MP_EINVAL);
}

/* ------------------------------------------------------------ tasks */

#define MAX_TASKS 8
struct task_slot {
    mp_task *t;
    atomic_int runs;
    int value;
    int cancelled; /* a cancel returned MP_OK */
    int waited;
    int orphan;    /* released without waiting: it still runs */
};

static int task_fn(void *arg)
{
    struct task_slot *s = arg;
    atomic_fetch_add(&s->runs, 1);
    return s->value;
}

static atomic_int detached_runs;

static int detached_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&detached_runs, 1);
    return 1;
}

static void settle_slot(struct task_slot *s)
{
    int rc = mp_task_wait(s->t);
    if (s->cancelled) {
        MPT_CHECK(rc == MP_ECANCELED);
        MPT_CHECK(atomic_load(&s->runs) == 0);
    } else {
        MPT_CHECK(rc == s->value);
        MPT_CHECK(atomic_load(&s->runs) == 1);
    }
    MPT_CHECK(mp_task_done(s->t) == 1);
    mp_task_release(s->t);
    s->t = NULL;
}

static void op_tasks(mp_pool *pool, struct input *in, struct task_slot *slots)
{
    unsigned b = u8(in);
    struct task_slot *s = &slots[(b >> 3) % MAX_TASKS];
    switch (b & 7) {
    case 0:
    case 1: /* submit */
        if (s->orphan)
            break; /* its task may still run: the slot stays as it is */
        if (s->t)
            settle_slot(s);
        memset(s, 0, sizeof *s);
        s->value = result_of(u8(in));
        MPT_CHECK(mp_submit(pool, task_fn, s, &s->t) == MP_OK);
        break;
    case 2: /* wait (again) */
        if (s->t) {
            int rc = mp_task_wait(s->t);
            MPT_CHECK(rc == (s->cancelled ? MP_ECANCELED : s->value));
            MPT_CHECK(atomic_load(&s->runs) == (s->cancelled ? 0 : 1));
            s->waited = 1;
        }
        break;
    case 3: /* cancel */
        if (s->t) {
            int rc = mp_task_cancel(s->t);
            if (rc == MP_OK)
                s->cancelled = 1;
            else
                MPT_CHECK(rc == MP_EBUSY && !s->cancelled);
            if (s->waited && !s->cancelled)
                MPT_CHECK(rc == MP_EBUSY);
        }
        break;
    case 4: /* done */
        if (s->t) {
            int d = mp_task_done(s->t);
            MPT_CHECK(d == 0 || d == 1);
            if (s->waited || s->cancelled)
                MPT_CHECK(d == 1);
        }
        break;
    case 5: /* release without waiting: the task still runs */
        if (s->t) {
            mp_task_release(s->t);
            s->t = NULL;
            s->orphan = 1;
        }
        break;
    case 6: /* detached */
        MPT_CHECK(mp_submit(pool, detached_fn, NULL, NULL) == MP_OK);
        break;
    default: /* bad arguments */
        MPT_CHECK(mp_submit(pool, NULL, NULL, NULL) == MP_EINVAL);
        MPT_CHECK(mp_submit(NULL, task_fn, s, NULL) == MP_EINVAL);
        MPT_CHECK(mp_task_wait(NULL) == MP_EINVAL);
        MPT_CHECK(mp_task_cancel(NULL) == MP_EINVAL);
        MPT_CHECK(mp_task_done(NULL) == MP_EINVAL);
        mp_task_release(NULL);
        break;
    }
}

/* ------------------------------------------------------------ misc */

static void op_misc(mp_pool *pool, struct input *in)
{
    unsigned b = u8(in);
    switch (b & 3) {
    case 0: { /* statistics with a decoded size */
        unsigned char buf[sizeof(mp_stats) + 32];
        memset(buf, 0xA5, sizeof buf);
        size_t size = u8(in) % sizeof buf;
        memcpy(buf, &size, sizeof size);
        int rc = mp_pool_stats(pool, (mp_stats *)(void *)buf);
        if (size < offsetof(mp_stats, jobs) + sizeof(uint64_t)) {
            MPT_CHECK(rc == MP_EINVAL);
            for (size_t i = sizeof size; i < sizeof buf; i++)
                MPT_CHECK(buf[i] == 0xA5);
        } else {
            MPT_CHECK(rc == MP_OK);
            for (size_t i = size > sizeof(mp_stats) ? size : sizeof(mp_stats); i < sizeof buf;
                 i++)
                MPT_CHECK(buf[i] == 0xA5);
            size_t known = size < sizeof(mp_stats) ? size : sizeof(mp_stats);
            for (size_t i = known; i < sizeof buf; i++)
                MPT_CHECK(buf[i] == 0xA5);
        }
        break;
    }
    case 1: { /* mp_strerror of any code */
        int code = (int)(u16(in) | (uint32_t)u16(in) << 16);
        const char *s = mp_strerror(code);
        MPT_CHECK(s != NULL && s[0] != '\0');
        break;
    }
    case 2: /* NULL handles and callbacks */
        MPT_CHECK(mp_join(NULL, half_fn, NULL, half_fn, NULL) == MP_EINVAL);
        MPT_CHECK(mp_join(pool, NULL, NULL, half_fn, NULL) == MP_EINVAL);
        MPT_CHECK(mp_for(pool, 10, 1, 0, NULL, NULL) == MP_EINVAL);
        MPT_CHECK(mp_reduce(pool, 10, 1, 0, NULL, 8, red_map, red_combine, NULL) == MP_EINVAL);
        MPT_CHECK(mp_broadcast(pool, NULL, NULL) == MP_EINVAL);
        MPT_CHECK(mp_scope_run(pool, NULL, NULL) == MP_EINVAL);
        MPT_CHECK(mp_pool_threads(NULL) == 0);
        MPT_CHECK(mp_pool_thread_index(NULL) == -1);
        break;
    default:
        MPT_CHECK(mp_pool_thread_index(pool) == -1); /* not inside a call */
        MPT_CHECK(mp_pool_threads(pool) >= 1);
        break;
    }
}

static void run_ops(mp_pool *pool, struct input *in, int depth, struct task_slot *slots);

/* After run_ops: every released task ran once unless it was cancelled.
 * `wait`: the pool still runs (its workers will get to them). */
static void check_orphans(struct task_slot *slots, int wait)
{
    for (int i = 0; i < MAX_TASKS; i++) {
        struct task_slot *s = &slots[i];
        if (!s->orphan)
            continue;
        int want = s->cancelled ? 0 : 1;
        while (wait && atomic_load(&s->runs) != want)
            ; /* a hang is reported by libFuzzer's -timeout */
        MPT_CHECK(atomic_load(&s->runs) == want);
    }
}

/* A pool made from decoded configuration bytes, used, destroyed. */
static void op_pool(struct input *in, int depth)
{
    unsigned char raw[sizeof(mp_config) + 16];
    memset(raw, 0, sizeof raw);
    mp_config *cfg = (mp_config *)(void *)raw;
    mp_config_init(cfg);
    unsigned b = u8(in);
    cfg->threads = 1 + (b & 3);
    cfg->spin_us = (b >> 2) & 7;
    cfg->pin = (b >> 5) & 1;
    cfg->name = (b & 0x40) ? "fuzz-pool-with-a-long-name" : NULL;
    int expect = MP_OK;
    switch (u8(in) & 7) {
    case 1:
        cfg->threads = MP_THREADS_MAX + 1 + u8(in);
        expect = MP_EINVAL;
        break;
    case 2:
        cfg->pin = 2 + (int)u8(in);
        expect = MP_EINVAL;
        break;
    case 3: /* a newer caller: larger size, zero tail */
        cfg->size = sizeof(mp_config) + 1 + u8(in) % 16;
        break;
    case 4: /* ... with a non-zero byte in the tail */
        cfg->size = sizeof(mp_config) + 16;
        raw[sizeof(mp_config) + u8(in) % 16] = 1;
        expect = MP_EINVAL;
        break;
    case 5: /* an older caller: up to threads only */
        cfg->size = offsetof(mp_config, threads) + sizeof(unsigned);
        break;
    case 6: /* too small to hold threads */
        cfg->size = u8(in) % (offsetof(mp_config, threads) + sizeof(unsigned));
        expect = MP_EINVAL;
        break;
    default:
        break;
    }
    mp_pool *pool = (mp_pool *)(void *)raw;
    int rc = mp_pool_create(cfg, &pool);
    MPT_CHECK(rc == expect);
    if (rc != MP_OK) {
        MPT_CHECK(pool == (mp_pool *)(void *)raw); /* *out untouched */
        return;
    }
    struct task_slot slots[MAX_TASKS];
    memset(slots, 0, sizeof slots);
    run_ops(pool, in, depth + 1, slots);
    MPT_CHECK(mp_pool_destroy(pool) == MP_OK); /* runs what is still queued */
    check_orphans(slots, 0);
}

/* ------------------------------------------------------------ driver */

enum { OP_JOIN, OP_FOR, OP_REDUCE, OP_BROADCAST, OP_SCOPE, OP_TASKS, OP_MISC, OP_POOL,
       OP_END, OPS };

static void run_ops(mp_pool *pool, struct input *in, int depth, struct task_slot *slots)
{
    int ops = 0;
    while (in->n > 0 && ops++ < 64) {
        unsigned op = u8(in) % OPS;
        switch (op) {
        case OP_JOIN: op_join(pool, in); break;
        case OP_FOR: op_for(pool, in); break;
        case OP_REDUCE: op_reduce(pool, in); break;
        case OP_BROADCAST: op_broadcast(pool, in); break;
        case OP_SCOPE: op_scope(pool, in); break;
        case OP_TASKS: op_tasks(pool, in, slots); break;
        case OP_MISC: op_misc(pool, in); break;
        case OP_POOL:
            if (depth == 0)
                op_pool(in, depth);
            break;
        default: /* OP_END: back to the outer pool */
            if (depth > 0)
                goto done;
            break;
        }
    }
done:
    for (int i = 0; i < MAX_TASKS; i++)
        if (slots[i].t)
            settle_slot(&slots[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!shared_pool) {
        mpt_checks_init("fuzz_api", 1);
        mp_config cfg;
        mp_config_init(&cfg);
        cfg.threads = 3;
        cfg.spin_us = 2;
        cfg.name = "fuzz";
        MPT_CHECK(mp_pool_create(&cfg, &shared_pool) == MP_OK);
    }
    struct input in = {data, size};
    struct task_slot slots[MAX_TASKS];
    memset(slots, 0, sizeof slots);
    run_ops(shared_pool, &in, 0, slots);
    check_orphans(slots, 1);
    return 0;
}
