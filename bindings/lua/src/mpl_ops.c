/*
 * mpl_ops.c: join, for_each, reduce, broadcast, scopes and tasks for Lua.
 *
 * The caller encodes the function's arguments once; every callback takes
 * the state of its thread (mpl_enter), loads the function there, decodes
 * the arguments, calls it in protected mode and encodes what has to come
 * back. A Lua error becomes the callback's result 1 and the first error
 * value of the operation is kept (encoded) to be raised again in the
 * caller once the engine returns.
 */
#include "mpl_internal.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The result a failing callback returns to the engine. */
#define CALLBACK_FAILED 1

typedef struct mpl_op {
    mpl_pool         *pool;
    _Atomic(mpl_buf *) err;        /* the first error value, encoded */
} mpl_op;

/* A function and its encoded arguments. */
typedef struct mpl_call {
    mpl_code code;
    mpl_buf  own;          /* the encoded function value, if code is one */
    mpl_buf  args;
    uint64_t args_id;      /* see mpl_push_args; 0 = run once, no cache */
} mpl_call;

static int op_failed(mpl_op *op)
{
    return atomic_load_explicit(&op->err, memory_order_acquire) != NULL;
}

static void op_set_error(mpl_op *op, mpl_buf *b)
{
    mpl_buf *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&op->err, &none, b,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        mpl_buf_free(b);
        free(b);
    }
}

/* Records a plain message as the operation's error. */
static void op_fail_text(mpl_op *op, const char *msg)
{
    mpl_buf *b = calloc(1, sizeof *b);
    if (!b)
        return;
    if (mpl_encode_string(msg, b)) {
        free(b);
        return;
    }
    op_set_error(op, b);
}

/* Records the error value at the top of L as the operation's error. */
static void op_fail_value(mpl_op *op, lua_State *L)
{
    char msg[256];
    mpl_buf *b = calloc(1, sizeof *b);
    if (!b)
        return;
    if (mpl_encode_list(L, lua_gettop(L), lua_gettop(L), "error value", b, msg, sizeof msg)) {
        mpl_buf_free(b);
        free(b);
        const char *s = lua_tostring(L, -1);
        char text[300];
        if (!s) {
            snprintf(text, sizeof text, "(error object is a %s value)", luaL_typename(L, -1));
            s = text;
        }
        op_fail_text(op, s);
        return;
    }
    op_set_error(op, b);
}

/* The message handler of callbacks: a string error gets the traceback of
 * the callback that raised it (once: an error that already carries one,
 * from a nested callback, is left as it is). */
static int add_traceback(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING) {
        const char *msg = lua_tostring(L, 1);
        if (!strstr(msg, "\nstack traceback:"))
            luaL_traceback(L, L, msg, 1);
    }
    return 1;
}

/* Runs fn(ud) in protected mode in this thread's state for op's pool.
 * Returns 0 or CALLBACK_FAILED (the error is recorded in op). */
static int run_part(mpl_op *op, lua_CFunction fn, void *ud)
{
    char err[512];
    mpl_held h;
    lua_State *L = mpl_enter(op->pool, &h, err, sizeof err);
    if (!L) {
        op_fail_text(op, err);
        return CALLBACK_FAILED;
    }
    int top = lua_gettop(L);
    int rc = 0;
    if (!lua_checkstack(L, 4)) {
        op_fail_text(op, "micropool: Lua stack overflow in a callback");
        rc = CALLBACK_FAILED;
    } else {
        lua_pushcfunction(L, add_traceback);
        lua_pushcfunction(L, fn);
        lua_pushlightuserdata(L, ud);
        if (lua_pcall(L, 1, 0, top + 1) != LUA_OK) {
            op_fail_value(op, L);
            rc = CALLBACK_FAILED;
        } else if (op_failed(op)) {
            rc = CALLBACK_FAILED;   /* stopped early: another part failed */
        }
    }
    lua_settop(L, top);
    mpl_leave(&h);
    return rc;
}

/* In protected mode: pushes the function, then its decoded arguments.
 * Returns the number of arguments; the function is at top - n. */
static int push_call(lua_State *L, const mpl_call *c)
{
    mpl_push_code(L, &c->code);
    return mpl_push_args(L, c->args.data, c->args.len, c->args_id);
}

/* In protected mode: encodes values first..top into out or raises. */
static void encode_results(lua_State *L, int first, mpl_buf *out)
{
    char msg[256];
    if (mpl_encode_list(L, first, lua_gettop(L), "result", out, msg, sizeof msg)) {
        lua_pushstring(L, msg);
        lua_error(L);
    }
}

/* ------------------------------------------------------------ caller side */

static mpl_pool *check_open(lua_State *L, mpl_pool *p)
{
    if (!p)
        mpl_error(L, "micropool: expected a pool");
    if (mpl_pool_closed(p))
        mpl_error(L, "micropool: the pool is closed");
    return p;
}

/* Raises unless the value at idx is a function's code: bytecode (a
 * string) or a function value to encode (micropool.lua passes those that
 * carry upvalues). */
static void check_code_type(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TFUNCTION)
        luaL_checktype(L, idx, LUA_TSTRING);
}

/* The code at idx (checked by check_code_type): borrowed bytecode, or a
 * function value encoded into own. Returns 0, or -1 with a message. */
static int load_code(lua_State *L, int idx, mpl_code *c, mpl_buf *own, char *msg, size_t msglen)
{
    if (lua_type(L, idx) == LUA_TFUNCTION) {
        if (mpl_encode_code(L, idx, own, msg, msglen))
            return -1;
        mpl_code_init(c, own->data, own->len);
        return 0;
    }
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    mpl_code_init(c, s, len);
    return 0;
}

/* load_code for work that outlives the call (tasks, spawned functions):
 * bytecode is copied into *copy, an encoded function stays in call->own. */
static int owned_code(lua_State *L, int idx, char **copy, mpl_call *call, char *msg, size_t msglen)
{
    if (lua_type(L, idx) == LUA_TFUNCTION)
        return load_code(L, idx, &call->code, &call->own, msg, msglen);
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    *copy = malloc(len ? len : 1);
    if (!*copy) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    memcpy(*copy, s, len);
    mpl_code_init(&call->code, *copy, len);
    return 0;
}

/* check_code_type and load_code for a single function: raises on failure
 * (own freed). */
static void check_code(lua_State *L, int idx, mpl_code *c, mpl_buf *own)
{
    char msg[400];
    check_code_type(L, idx);
    if (load_code(L, idx, c, own, msg, sizeof msg)) {
        mpl_buf_free(own);
        mpl_error(L, "micropool: %s", msg);
    }
}

/* Encodes the arguments of a call from stack slots first..last; raises on
 * failure after freeing what it made (and the call's function). */
static void encode_args(lua_State *L, int first, int last, mpl_call *call)
{
    char msg[256];
    if (mpl_encode_list(L, first, last, "argument", &call->args, msg, sizeof msg)) {
        mpl_buf_free(&call->args);
        mpl_buf_free(&call->own);
        mpl_error(L, "micropool: %s", msg);
    }
}

typedef struct decode_job {
    const mpl_buf *buf;
    int            max;
    int            count;
} decode_job;

static int decode_protected(lua_State *L)
{
    decode_job *j = lua_touserdata(L, 1);
    lua_pop(L, 1);
    j->count = mpl_decode_list(L, j->buf->data, j->buf->len, j->max);
    return j->count;
}

/* Decodes buf onto L without raising: returns the number of values pushed,
 * or -1 with an error value pushed. An empty buffer pushes one nil when
 * max == 1 (a callback that returned nothing). */
static int decode_into(lua_State *L, const mpl_buf *buf, int max)
{
    if (!buf->data) {
        if (max == 1) {
            lua_pushnil(L);
            return 1;
        }
        return 0;
    }
    decode_job j = { buf, max, 0 };
    int top = lua_gettop(L);
    lua_pushcfunction(L, decode_protected);
    lua_pushlightuserdata(L, &j);
    if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK)
        return -1;
    int n = lua_gettop(L) - top;
    if (max == 1 && n == 0) {
        lua_pushnil(L);
        n = 1;
    }
    return n;
}

/* The operation failed: raises its error value (or the engine's code).
 * Everything but op->err must already be freed. */
static int op_raise(lua_State *L, mpl_op *op, int rc)
{
    mpl_buf *e = atomic_exchange(&op->err, NULL);
    if (e) {
        decode_into(L, e, 1);
        mpl_buf_free(e);
        free(e);
        return lua_error(L);
    }
    return mpl_error(L, "micropool: %s", mp_strerror(rc));
}

/* ------------------------------------------------------------ join */

typedef struct join_side {
    mpl_op   *op;
    mpl_call  call;
    mpl_buf   result;
} join_side;

static int join_run(lua_State *L)
{
    join_side *s = lua_touserdata(L, 1);
    int base = lua_gettop(L);
    int nargs = push_call(L, &s->call);
    lua_call(L, nargs, LUA_MULTRET);
    encode_results(L, base + 1, &s->result);
    return 0;
}

static int join_cb(void *arg)
{
    join_side *s = arg;
    return run_part(s->op, join_run, s);
}

/* Encodes the arguments of a join side: nil, or t[2..#t] of a table. */
static int encode_side(lua_State *L, int idx, mpl_buf *out, char *msg, size_t msglen)
{
    if (lua_isnoneornil(L, idx))
        return mpl_encode_list(L, 1, 0, "argument", out, msg, msglen);
    return mpl_encode_table_list(L, idx, 2, "argument", out, msg, msglen);
}

int mpl_op_join(lua_State *L, mpl_pool *p, int base)
{
    check_open(L, p);
    mpl_op op = { p, NULL };
    join_side side[2];
    memset(side, 0, sizeof side);
    for (int k = 0; k < 2; k++) {
        side[k].op = &op;
        check_code_type(L, base + 2 * k);
        if (!lua_isnoneornil(L, base + 2 * k + 1))
            luaL_checktype(L, base + 2 * k + 1, LUA_TTABLE);
    }
    char msg[400];
    for (int k = 0; k < 2; k++) {
        if (load_code(L, base + 2 * k, &side[k].call.code, &side[k].call.own, msg, sizeof msg)
            || encode_side(L, base + 2 * k + 1, &side[k].call.args, msg, sizeof msg)) {
            for (int j = 0; j < 2; j++) {
                mpl_buf_free(&side[j].call.own);
                mpl_buf_free(&side[j].call.args);
            }
            return mpl_error(L, "micropool: join: %s", msg);
        }
        side[k].call.args_id = mpl_args_id();
    }

    int rc = mp_join(mpl_pool_engine(p), join_cb, &side[0], join_cb, &side[1]);

    int failed = rc != MP_OK || op_failed(&op);
    int n = 0, status = 0;
    if (!failed) {
        /* All results of each side; one that returned none gives a nil,
         * so that `local a, b = pool:join(f, g)` pairs them up. */
        for (int k = 0; k < 2 && status >= 0; k++) {
            status = decode_into(L, &side[k].result, 0);
            if (status == 0) {
                lua_pushnil(L);
                status = 1;
            }
            n += status > 0 ? status : 0;
        }
    }
    for (int k = 0; k < 2; k++) {
        mpl_buf_free(&side[k].call.own);
        mpl_buf_free(&side[k].call.args);
        mpl_buf_free(&side[k].result);
    }
    if (failed)
        return op_raise(L, &op, rc);
    if (status < 0)
        return lua_error(L);
    return n;
}

/* ------------------------------------------------------------ for_each */

typedef struct for_ctx {
    mpl_op   op;
    mpl_call call;
} for_ctx;

typedef struct for_part {
    for_ctx *ctx;
    size_t   begin, end;
} for_part;

static int for_run(lua_State *L)
{
    for_part *fp = lua_touserdata(L, 1);
    for_ctx *c = fp->ctx;
    int nargs = push_call(L, &c->call);
    int fn = lua_gettop(L) - nargs;
    luaL_checkstack(L, nargs + 2, "micropool: too many arguments");
    for (size_t i = fp->begin; i < fp->end; i++) {
        if (op_failed(&c->op))
            break;
        lua_pushvalue(L, fn);
        lua_pushinteger(L, (lua_Integer)i + 1);
        for (int k = 1; k <= nargs; k++)
            lua_pushvalue(L, fn + k);
        lua_call(L, nargs + 1, 0);
    }
    return 0;
}

static int for_body(void *arg, size_t begin, size_t end)
{
    for_ctx *c = arg;
    for_part fp = { c, begin, end };
    return run_part(&c->op, for_run, &fp);
}

static size_t check_count(lua_State *L, int idx, const char *what)
{
    lua_Integer v = luaL_checkinteger(L, idx);
    if (v < 0)
        mpl_error(L, "micropool: %s must not be negative (got %d)", what, (int)v);
    return (size_t)v;
}

int mpl_op_for(lua_State *L, mpl_pool *p, int base)
{
    check_open(L, p);
    size_t n = check_count(L, base, "n");
    size_t grain = check_count(L, base + 1, "grain");
    unsigned flags = (unsigned)luaL_checkinteger(L, base + 2);
    for_ctx c;
    memset(&c, 0, sizeof c);
    c.op.pool = p;
    check_code(L, base + 3, &c.call.code, &c.call.own);
    encode_args(L, base + 4, lua_gettop(L), &c.call);
    c.call.args_id = mpl_args_id();

    int rc = mp_for(mpl_pool_engine(p), n, grain, flags, for_body, &c);

    mpl_buf_free(&c.call.own);
    mpl_buf_free(&c.call.args);
    if (rc != MP_OK || op_failed(&c.op))
        return op_raise(L, &c.op, rc);
    return 0;
}

/* ------------------------------------------------------------ reduce */

/* Every accumulator a reduce encodes, so all are freed at the end
 * whatever the engine combined or skipped. */
typedef struct acc_node {
    struct acc_node *next;
    mpl_buf          buf;
} acc_node;

/* What the engine copies, folds into and combines: NULL = the identity. */
typedef struct acc_ref {
    acc_node *node;
} acc_ref;

typedef struct reduce_ctx {
    mpl_op              op;
    mpl_code            fold;
    mpl_code            combine;
    mpl_buf             fold_own, combine_own;
    mpl_buf             init;
    mpl_buf             args;
    uint64_t            args_id;
    _Atomic(acc_node *) nodes;
} reduce_ctx;

typedef struct reduce_part {
    reduce_ctx *ctx;
    acc_ref    *acc;
    const acc_ref *other;
    size_t      begin, end;
} reduce_part;

static void push_acc(lua_State *L, reduce_ctx *c, const acc_ref *a)
{
    const mpl_buf *b = a->node ? &a->node->buf : &c->init;
    mpl_decode_list(L, b->data, b->len, 1);
}

/* Encodes the value at the top of L into a new node of c; raises. */
static acc_node *store_acc(lua_State *L, reduce_ctx *c)
{
    acc_node *node = calloc(1, sizeof *node);
    if (!node)
        luaL_error(L, "micropool: out of memory");
    node->next = atomic_load_explicit(&c->nodes, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&c->nodes, &node->next, node,
                                                  memory_order_release,
                                                  memory_order_relaxed))
        ;
    encode_results(L, lua_gettop(L), &node->buf);
    return node;
}

static int reduce_map_run(lua_State *L)
{
    reduce_part *rp = lua_touserdata(L, 1);
    reduce_ctx *c = rp->ctx;
    mpl_push_code(L, &c->fold);
    int fn = lua_gettop(L);
    push_acc(L, c, rp->acc);
    int acc = lua_gettop(L);
    int nargs = mpl_push_args(L, c->args.data, c->args.len, c->args_id);
    luaL_checkstack(L, nargs + 3, "micropool: too many arguments");
    for (size_t i = rp->begin; i < rp->end; i++) {
        if (op_failed(&c->op))
            return 0;
        lua_pushvalue(L, fn);
        lua_pushvalue(L, acc);
        lua_pushinteger(L, (lua_Integer)i + 1);
        for (int k = 1; k <= nargs; k++)
            lua_pushvalue(L, acc + k);
        lua_call(L, nargs + 2, 1);
        lua_replace(L, acc);
    }
    lua_settop(L, acc);
    rp->acc->node = store_acc(L, c);
    return 0;
}

static int reduce_map(void *arg, size_t begin, size_t end, void *acc)
{
    reduce_ctx *c = arg;
    reduce_part rp = { c, acc, NULL, begin, end };
    return run_part(&c->op, reduce_map_run, &rp);
}

static int reduce_combine_run(lua_State *L)
{
    reduce_part *rp = lua_touserdata(L, 1);
    reduce_ctx *c = rp->ctx;
    mpl_push_code(L, &c->combine);
    push_acc(L, c, rp->acc);
    push_acc(L, c, rp->other);
    lua_call(L, 2, 1);
    rp->acc->node = store_acc(L, c);
    return 0;
}

static void reduce_combine(void *arg, void *acc, const void *other)
{
    reduce_ctx *c = arg;
    acc_ref *a = acc;
    const acc_ref *b = other;
    /* The identity needs no call: combine(init, x) is x by contract. */
    if (!b->node)
        return;
    if (!a->node) {
        a->node = b->node;
        return;
    }
    if (op_failed(&c->op))
        return;
    reduce_part rp = { c, a, b, 0, 0 };
    run_part(&c->op, reduce_combine_run, &rp);
}

int mpl_op_reduce(lua_State *L, mpl_pool *p, int base)
{
    check_open(L, p);
    size_t n = check_count(L, base, "n");
    size_t grain = check_count(L, base + 1, "grain");
    unsigned flags = (unsigned)luaL_checkinteger(L, base + 2);
    luaL_checkany(L, base + 3);
    reduce_ctx c;
    memset(&c, 0, sizeof c);
    c.op.pool = p;
    check_code_type(L, base + 4);
    check_code_type(L, base + 5);
    char msg[400];
    if (load_code(L, base + 4, &c.fold, &c.fold_own, msg, sizeof msg)
        || load_code(L, base + 5, &c.combine, &c.combine_own, msg, sizeof msg)
        || mpl_encode_list(L, base + 3, base + 3, "initial value", &c.init, msg, sizeof msg)
        || mpl_encode_list(L, base + 6, lua_gettop(L), "argument", &c.args, msg, sizeof msg)) {
        mpl_buf_free(&c.fold_own);
        mpl_buf_free(&c.combine_own);
        mpl_buf_free(&c.init);
        mpl_buf_free(&c.args);
        return mpl_error(L, "micropool: reduce: %s", msg);
    }
    c.args_id = mpl_args_id();

    acc_ref result = { NULL };
    int rc = mp_reduce(mpl_pool_engine(p), n, grain, flags, &result, sizeof result,
                       reduce_map, reduce_combine, &c);

    int failed = rc != MP_OK || op_failed(&c.op);
    int status = 0;
    if (!failed)
        status = decode_into(L, result.node ? &result.node->buf : &c.init, 1);
    acc_node *node = atomic_load(&c.nodes);
    while (node) {
        acc_node *next = node->next;
        mpl_buf_free(&node->buf);
        free(node);
        node = next;
    }
    mpl_buf_free(&c.fold_own);
    mpl_buf_free(&c.combine_own);
    mpl_buf_free(&c.init);
    mpl_buf_free(&c.args);
    if (failed)
        return op_raise(L, &c.op, rc);
    if (status < 0)
        return lua_error(L);
    return 1;
}

/* ------------------------------------------------------------ broadcast */

typedef struct bcast_ctx {
    mpl_op   op;
    mpl_call call;
    mpl_buf *results;       /* [count] */
    unsigned count;
} bcast_ctx;

typedef struct bcast_part {
    bcast_ctx *ctx;
    unsigned   index, count;
} bcast_part;

static int bcast_run(lua_State *L)
{
    bcast_part *bp = lua_touserdata(L, 1);
    bcast_ctx *c = bp->ctx;
    int base = lua_gettop(L);
    mpl_push_code(L, &c->call.code);
    lua_pushinteger(L, bp->index);
    lua_pushinteger(L, bp->count);
    int nargs = mpl_push_args(L, c->call.args.data, c->call.args.len, c->call.args_id);
    lua_call(L, nargs + 2, 1);
    if (bp->index < c->count)
        encode_results(L, base + 1, &c->results[bp->index]);
    return 0;
}

static int bcast_fn(void *arg, unsigned index, unsigned count)
{
    bcast_ctx *c = arg;
    bcast_part bp = { c, index, count };
    return run_part(&c->op, bcast_run, &bp);
}

int mpl_op_broadcast(lua_State *L, mpl_pool *p, int base)
{
    check_open(L, p);
    bcast_ctx c;
    memset(&c, 0, sizeof c);
    c.op.pool = p;
    check_code_type(L, base);
    c.count = mpl_pool_threads(p);
    lua_createtable(L, (int)c.count, 0);       /* the result list */
    int list = lua_gettop(L);
    check_code(L, base, &c.call.code, &c.call.own);
    encode_args(L, base + 1, list - 1, &c.call);
    c.call.args_id = mpl_args_id();
    c.results = calloc(c.count, sizeof *c.results);
    if (!c.results) {
        mpl_buf_free(&c.call.own);
        mpl_buf_free(&c.call.args);
        return mpl_error(L, "micropool: out of memory");
    }

    int rc = mp_broadcast(mpl_pool_engine(p), bcast_fn, &c);

    int failed = rc != MP_OK || op_failed(&c.op);
    int status = 0;
    for (unsigned i = 0; i < c.count && !failed && status >= 0; i++) {
        status = decode_into(L, &c.results[i], 1);
        if (status >= 0)
            lua_rawseti(L, list, (lua_Integer)i + 1);
    }
    for (unsigned i = 0; i < c.count; i++)
        mpl_buf_free(&c.results[i]);
    free(c.results);
    mpl_buf_free(&c.call.own);
    mpl_buf_free(&c.call.args);
    if (failed)
        return op_raise(L, &c.op, rc);
    if (status < 0)
        return lua_error(L);
    lua_settop(L, list);
    return 1;
}

/* ------------------------------------------------------------ map */

/* The results of one part of a map over a table, encoded in order. */
typedef struct map_node {
    struct map_node *next;
    size_t           begin, end;
    mpl_buf          out;
} map_node;

typedef struct map_ctx {
    mpl_op              op;
    mpl_call            call;
    size_t              n;
    const double       *in;       /* a buffer map: the input... */
    double             *out;      /* ...and the output */
    mpl_buf             items;    /* a table map: the elements, encoded */
    size_t             *offs;     /* [n + 1]: where each element starts */
    _Atomic(map_node *) nodes;    /* every part's results */
} map_ctx;

typedef struct map_part {
    map_ctx  *ctx;
    map_node *node;    /* NULL for a buffer map */
    size_t    begin, end;
} map_part;

static int map_run(lua_State *L)
{
    map_part *mp = lua_touserdata(L, 1);
    map_ctx *c = mp->ctx;
    mpl_push_code(L, &c->call.code);
    int fn = lua_gettop(L);
    luaL_checkstack(L, 4, "micropool: stack overflow");
    char msg[256];
    for (size_t i = mp->begin; i < mp->end; i++) {
        if (op_failed(&c->op))
            break;
        lua_pushvalue(L, fn);
        if (c->in)
            lua_pushnumber(L, c->in[i]);
        else
            mpl_decode_value(L, c->items.data + c->offs[i], c->offs[i + 1] - c->offs[i]);
        lua_pushinteger(L, (lua_Integer)i + 1);
        lua_call(L, 2, 1);
        if (c->out) {
            int isnum;
            lua_Number v = lua_tonumberx(L, -1, &isnum);
            if (!isnum)
                luaL_error(L, "micropool: map: f returned a %s for index %I, and a buffer "
                           "holds numbers", luaL_typename(L, -1), (LUAI_UACINT)(i + 1));
            c->out[i] = v;
        } else if (mpl_encode_value(L, -1, "the result for index", (int)(i + 1),
                                    &mp->node->out, msg, sizeof msg)) {
            lua_pushstring(L, msg);
            lua_error(L);
        }
        lua_pop(L, 1);
    }
    return 0;
}

static int map_body(void *arg, size_t begin, size_t end)
{
    map_ctx *c = arg;
    map_part mp = { c, NULL, begin, end };
    if (!c->out) {
        mp.node = calloc(1, sizeof *mp.node);
        if (!mp.node) {
            op_fail_text(&c->op, "micropool: out of memory");
            return CALLBACK_FAILED;
        }
        mp.node->begin = begin;
        mp.node->end = end;
        mp.node->next = atomic_load_explicit(&c->nodes, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(&c->nodes, &mp.node->next, mp.node,
                                                      memory_order_release,
                                                      memory_order_relaxed))
            ;
    }
    return run_part(&c->op, map_run, &mp);
}

static int node_order(const void *a, const void *b)
{
    const map_node *x = *(map_node *const *)a, *y = *(map_node *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

typedef struct map_collect_job {
    map_node **parts;
    size_t     nparts, n;
} map_collect_job;

/* In protected mode: the result table, from the parts in index order. */
static int map_collect(lua_State *L)
{
    map_collect_job *j = lua_touserdata(L, 1);
    lua_createtable(L, j->n > INT32_MAX ? INT32_MAX : (int)j->n, 0);
    for (size_t k = 0; k < j->nparts; k++) {
        const map_node *node = j->parts[k];
        size_t at = 0;
        for (size_t i = node->begin; i < node->end; i++) {
            if (at >= node->out.len)
                return luaL_error(L, "micropool: map: a part's results are missing");
            at += mpl_decode_value(L, node->out.data + at, node->out.len - at);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    }
    return 1;
}

static void map_free(map_ctx *c, map_node **parts)
{
    map_node *node = atomic_load(&c->nodes);
    while (node) {
        map_node *next = node->next;
        mpl_buf_free(&node->out);
        free(node);
        node = next;
    }
    free(parts);
    free(c->offs);
    mpl_buf_free(&c->items);
    mpl_buf_free(&c->call.own);
}

int mpl_op_map(lua_State *L, mpl_pool *p, int base)
{
    check_open(L, p);
    mpl_shared *in = mpl_test_buffer(L, base);
    if (!in)
        luaL_checktype(L, base, LUA_TTABLE);
    check_code_type(L, base + 1);
    mpl_shared *out = NULL;
    if (!lua_isnoneornil(L, base + 2)) {
        out = mpl_test_buffer(L, base + 2);
        if (!out || !in)
            return mpl_error(L, "micropool: map: the output must be a buffer, and so must the input");
        if (mpl_shared_len(out) != mpl_shared_len(in))
            return mpl_error(L, "micropool: map: the output buffer holds %d numbers, the input %d",
                             (int)mpl_shared_len(out), (int)mpl_shared_len(in));
    }
    lua_settop(L, base + 2);
    map_ctx c;
    memset(&c, 0, sizeof c);
    c.op.pool = p;
    if (in) {
        c.n = mpl_shared_len(in);
        if (!out) {
            out = mpl_push_new_buffer(L, c.n);
            lua_replace(L, base + 2);
        }
        c.in = mpl_shared_data(in);
        c.out = mpl_shared_data(out);
    } else {
        c.n = (size_t)lua_rawlen(L, base);
    }
    check_code(L, base + 1, &c.call.code, &c.call.own);
    if (!in) {
        char msg[300];
        c.offs = malloc((c.n + 1) * sizeof *c.offs);
        if (!c.offs) {
            map_free(&c, NULL);
            return mpl_error(L, "micropool: out of memory");
        }
        for (size_t i = 0; i < c.n; i++) {
            c.offs[i] = c.items.len;
            lua_rawgeti(L, base, (lua_Integer)i + 1);
            int bad = mpl_encode_value(L, -1, "element", (int)(i + 1), &c.items, msg, sizeof msg);
            lua_pop(L, 1);
            if (bad) {
                map_free(&c, NULL);
                return mpl_error(L, "micropool: map: %s", msg);
            }
        }
        c.offs[c.n] = c.items.len;
    }

    int rc = mp_for(mpl_pool_engine(p), c.n, 0, 0, map_body, &c);

    int failed = rc != MP_OK || op_failed(&c.op);
    if (in) {
        map_free(&c, NULL);
        if (failed)
            return op_raise(L, &c.op, rc);
        lua_settop(L, base + 2);
        return 1;
    }
    map_collect_job j = { NULL, 0, c.n };
    int status = LUA_OK;
    if (!failed) {
        for (map_node *node = atomic_load(&c.nodes); node; node = node->next)
            j.nparts++;
        j.parts = malloc((j.nparts ? j.nparts : 1) * sizeof *j.parts);
        if (!j.parts) {
            map_free(&c, NULL);
            return mpl_error(L, "micropool: out of memory");
        }
        size_t k = 0;
        for (map_node *node = atomic_load(&c.nodes); node; node = node->next)
            j.parts[k++] = node;
        qsort(j.parts, j.nparts, sizeof *j.parts, node_order);
        lua_pushcfunction(L, map_collect);
        lua_pushlightuserdata(L, &j);
        status = lua_pcall(L, 1, 1, 0);
    }
    map_free(&c, j.parts);
    if (failed)
        return op_raise(L, &c.op, rc);
    if (status != LUA_OK)
        return lua_error(L);
    return 1;
}

/* ------------------------------------------------------------ scopes */

/* A scope outlives its mpl_op_scope call as long as a state still holds a
 * handle to it (a Lua value may be kept anywhere); the handle then only
 * refuses to spawn. */
typedef struct spawn_item spawn_item;

typedef struct scope_ctx {
    atomic_int            refs;      /* the call + every handle */
    atomic_int            ended;
    mpl_op                op;
    mp_scope             *scope;     /* set when the body starts */
    mpl_call              body;
    _Atomic(spawn_item *) items;     /* freed when the scope ends */
} scope_ctx;

struct spawn_item {
    spawn_item *next;
    scope_ctx  *ctx;
    char       *code;
    mpl_call    call;
};

void mpl_scope_unref(void *scope)
{
    scope_ctx *c = scope;
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        free(c);
}

/* In protected mode: pushes a handle to c (micropool is loaded first, as
 * it gives the handle its methods). */
static void push_scope(lua_State *L, scope_ctx *c)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "micropool");
    lua_call(L, 1, 0);
    mpl_push_handle(L, MPL_SCOPE, c, 1);
    /* Counted once the handle holds it: nothing can collect it between. */
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

/* In protected mode: f(scope, args...). */
static void scope_call(lua_State *L, scope_ctx *c, const mpl_call *call)
{
    mpl_push_code(L, &call->code);
    push_scope(L, c);
    int nargs = mpl_decode_list(L, call->args.data, call->args.len, 0);
    lua_call(L, nargs + 1, 0);
}

static int spawn_run(lua_State *L)
{
    spawn_item *it = lua_touserdata(L, 1);
    scope_call(L, it->ctx, &it->call);
    return 0;
}

static int spawn_fn(void *arg)
{
    spawn_item *it = arg;
    return run_part(&it->ctx->op, spawn_run, it);
}

static int scope_body_run(lua_State *L)
{
    scope_ctx *c = lua_touserdata(L, 1);
    scope_call(L, c, &c->body);
    return 0;
}

static int scope_body(mp_scope *scope, void *arg)
{
    scope_ctx *c = arg;
    c->scope = scope;
    return run_part(&c->op, scope_body_run, c);
}

int mpl_scope_spawn(lua_State *L)
{
    scope_ctx *c = mpl_check_handle(L, 1, MPL_SCOPE);
    if (atomic_load(&c->ended))
        return mpl_error(L, "micropool: spawn: the scope has ended");
    check_code_type(L, 2);
    spawn_item *it = calloc(1, sizeof *it);
    if (!it)
        return mpl_error(L, "micropool: out of memory");
    it->ctx = c;
    char msg[400];
    if (owned_code(L, 2, &it->code, &it->call, msg, sizeof msg)
        || mpl_encode_list(L, 3, lua_gettop(L), "argument", &it->call.args, msg, sizeof msg)) {
        mpl_buf_free(&it->call.own);
        mpl_buf_free(&it->call.args);
        free(it->code);
        free(it);
        return mpl_error(L, "micropool: spawn: %s", msg);
    }
    /* Listed before it is spawned: the scope frees it, run or skipped. */
    it->next = atomic_load_explicit(&c->items, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&c->items, &it->next, it,
                                                  memory_order_release,
                                                  memory_order_relaxed))
        ;
    int rc = mp_scope_spawn(c->scope, spawn_fn, it);
    if (rc != MP_OK)
        return mpl_error(L, "micropool: spawn: %s", mp_strerror(rc));
    return 0;
}

int mpl_op_scope(lua_State *L, mpl_pool *p, int base)
{
    check_open(L, p);
    scope_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return mpl_error(L, "micropool: out of memory");
    atomic_init(&c->refs, 1);
    c->op.pool = p;
    if (lua_type(L, base) != LUA_TSTRING && lua_type(L, base) != LUA_TFUNCTION) {
        free(c);
        return luaL_typeerror(L, base, "string");
    }
    char msg[400];
    if (load_code(L, base, &c->body.code, &c->body.own, msg, sizeof msg)
        || mpl_encode_list(L, base + 1, lua_gettop(L), "argument", &c->body.args, msg, sizeof msg)) {
        mpl_buf_free(&c->body.own);
        mpl_buf_free(&c->body.args);
        free(c);
        return mpl_error(L, "micropool: scope: %s", msg);
    }

    int rc = mp_scope_run(mpl_pool_engine(p), scope_body, c);

    atomic_store(&c->ended, 1);
    spawn_item *it = atomic_exchange(&c->items, NULL);
    while (it) {
        spawn_item *next = it->next;
        mpl_buf_free(&it->call.own);
        mpl_buf_free(&it->call.args);
        free(it->code);
        free(it);
        it = next;
    }
    mpl_buf_free(&c->body.own);
    mpl_buf_free(&c->body.args);
    /* The error value is taken out before the last reference goes. */
    mpl_op op = { p, atomic_exchange(&c->op.err, NULL) };
    mpl_scope_unref(c);
    if (rc != MP_OK || op.err)
        return op_raise(L, &op, rc);
    return 0;
}

/* ------------------------------------------------------------ tasks */

/* A task is freed when its Lua handle is collected and its callback has
 * run or will never run (it was cancelled: by task:cancel(), or by the
 * engine because a prerequisite failed under MP_AFTER_CANCEL_ON_ERROR).
 * `settled` makes sure the callback's reference is dropped once whoever
 * finds out first. */
struct mpl_task {
    atomic_int refs;        /* the Lua handle + the pending callback */
    atomic_int settled;     /* the callback's reference was dropped */
    mpl_op     op;
    mp_task   *handle;
    char      *code;        /* owned copy: the task outlives the call */
    mpl_call   call;
    mpl_buf    result;
    int        may_cancel;  /* the engine may cancel it (cancel on error) */
    int        shared;      /* of a shared pool, which counts it pending */
    mpl_task  *next_orphan;
    mpl_task  *next_watched;
};

static void task_unref(mpl_task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    mpl_buf *e = atomic_load(&t->op.err);
    if (e) {
        mpl_buf_free(e);
        free(e);
    }
    mpl_buf_free(&t->call.own);
    mpl_buf_free(&t->call.args);
    mpl_buf_free(&t->result);
    free(t->code);
    free(t);
}

/* Drops the reference of the callback, which has run or never will. */
static void task_settle(mpl_task *t)
{
    if (atomic_exchange_explicit(&t->settled, 1, memory_order_acq_rel) == 0) {
        /* The last use of a shared pool, whose close waits for it. An
         * owned pool may be gone by now (its tasks all ran or were
         * cancelled when it closed): it is not touched. */
        if (t->shared)
            atomic_fetch_sub_explicit(&t->op.pool->pending, 1, memory_order_release);
        task_unref(t);
    }
}

static int task_fn(void *arg);

/* A list of tasks to check is swept when it has doubled since the last
 * sweep, so that a sweep's cost is spread over the insertions. */
static int list_grew(size_t n, size_t kept)
{
    return n >= 2 * kept + 32;
}

/* Queues t with opts (NULL: mp_submit); MP_OK or the engine's code. */
static int task_queue(mpl_pool *p, mpl_task *t, const mp_task_opts *opts)
{
    if (!p->shared)
        return opts ? mp_submit_ex(p->engine, task_fn, t, opts, &t->handle)
                    : mp_submit(p->engine, task_fn, t, &t->handle);
    t->shared = 1;
    atomic_fetch_add_explicit(&p->pending, 1, memory_order_relaxed);
    int rc = opts ? mp_submit_ex(p->engine, task_fn, t, opts, &t->handle)
                  : mp_submit(p->engine, task_fn, t, &t->handle);
    if (rc != MP_OK) {
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    } else if (t->may_cancel) {
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
        pthread_mutex_lock(&p->lock);
        t->next_watched = p->watched;
        p->watched = t;
        int sweep = list_grew(++p->nwatched, p->watched_kept);
        pthread_mutex_unlock(&p->lock);
        if (sweep)
            mpl_watched_sweep(p);
    }
    return rc;
}

void mpl_watched_sweep(mpl_pool *p)
{
    pthread_mutex_lock(&p->lock);
    mpl_task **at = &p->watched;
    while (*at) {
        mpl_task *t = *at;
        int rc = atomic_load(&t->settled) ? MP_OK : mp_task_wait_for(t->handle, 0);
        if (rc == MP_ETIMEDOUT) {
            at = &t->next_watched;
            continue;
        }
        if (rc == MP_ECANCELED)
            task_settle(t);
        *at = t->next_watched;
        p->nwatched--;
        task_unref(t);
    }
    p->watched_kept = p->nwatched;
    pthread_mutex_unlock(&p->lock);
}

static int task_run(lua_State *L)
{
    mpl_task *t = lua_touserdata(L, 1);
    int base = lua_gettop(L);
    int nargs = push_call(L, &t->call);
    lua_call(L, nargs, LUA_MULTRET);
    encode_results(L, base + 1, &t->result);
    return 0;
}

static int task_fn(void *arg)
{
    mpl_task *t = arg;
    int rc = run_part(&t->op, task_run, t);
    task_settle(t);
    return rc;
}

static void task_discard(mpl_task *t)
{
    mpl_buf_free(&t->call.own);
    mpl_buf_free(&t->call.args);
    free(t->code);
    free(t);
}

/* base: code, args... ; a task not yet queued, or raises. */
static mpl_task *task_new(lua_State *L, mpl_pool *p, int base)
{
    check_open(L, p);
    check_code_type(L, base);
    mpl_task *t = calloc(1, sizeof *t);
    if (!t) {
        mpl_error(L, "micropool: out of memory");
        return NULL;
    }
    t->op.pool = p;
    atomic_init(&t->refs, 2);
    char msg[400];
    if (owned_code(L, base, &t->code, &t->call, msg, sizeof msg)
        || mpl_encode_list(L, base + 1, lua_gettop(L), "argument", &t->call.args, msg, sizeof msg)) {
        task_discard(t);
        mpl_error(L, "micropool: submit: %s", msg);
        return NULL;
    }
    return t;
}

mpl_task *mpl_op_submit(lua_State *L, mpl_pool *p, int base)
{
    mpl_task *t = task_new(L, p, base);
    int rc = task_queue(p, t, NULL);
    if (rc != MP_OK) {
        task_discard(t);
        mpl_error(L, "micropool: submit: %s", mp_strerror(rc));
        return NULL;
    }
    return t;
}

mpl_task *mpl_op_submit_ex(lua_State *L, mpl_pool *p, int base)
{
    check_open(L, p);
    int priority = (int)luaL_checkinteger(L, base);
    lua_Integer thread = luaL_checkinteger(L, base + 1);
    unsigned flags = (unsigned)luaL_checkinteger(L, base + 2);
    const char *name = luaL_optstring(L, base + 3, NULL);
    int after = base + 4;
    size_t nafter = 0;
    if (!lua_isnoneornil(L, after)) {
        luaL_checktype(L, after, LUA_TTABLE);
        nafter = (size_t)lua_rawlen(L, after);
    }
    if (thread < -1 || thread >= (lua_Integer)mpl_pool_threads(p))
        mpl_error(L, "micropool: submit: thread %d is not a thread of this pool of %u",
                  (int)thread, mpl_pool_threads(p));
    /* Everything that can raise before anything is allocated. */
    for (size_t i = 0; i < nafter; i++) {
        lua_rawgeti(L, after, (lua_Integer)i + 1);
        mpl_task *dep = mpl_check_handle(L, lua_gettop(L), MPL_TASK);
        if (dep->op.pool != p)
            mpl_error(L, "micropool: submit: after[%d] is a task of another pool", (int)i + 1);
        lua_pop(L, 1);
    }
    mpl_task *t = task_new(L, p, base + 5);
    mp_task *few[16];
    mp_task **pre = nafter <= 16 ? few : malloc(nafter * sizeof *pre);
    if (name)
        name = mpl_pool_intern(p, name);
    if (!pre || (lua_type(L, base + 3) == LUA_TSTRING && !name)) {
        if (pre != few)
            free(pre);
        task_discard(t);
        mpl_error(L, "micropool: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < nafter; i++) {
        lua_rawgeti(L, after, (lua_Integer)i + 1);
        pre[i] = ((mpl_task *)mpl_check_handle(L, lua_gettop(L), MPL_TASK))->handle;
        lua_pop(L, 1);
    }
    mp_task_opts opts;
    mp_task_opts_init(&opts);
    opts.priority = priority;
    opts.thread = thread < 0 ? MP_ANY_THREAD : (unsigned)thread;
    opts.after = pre;
    opts.nafter = nafter;
    opts.flags = flags;
    opts.name = name;
    t->may_cancel = (flags & MP_AFTER_CANCEL_ON_ERROR) != 0;
    int rc = task_queue(p, t, &opts);
    if (pre != few)
        free(pre);
    if (rc != MP_OK) {
        task_discard(t);
        mpl_error(L, "micropool: submit: %s", mp_strerror(rc));
        return NULL;
    }
    return t;
}

/* The task's results or error, for a wait that returned rc. */
static int task_outcome(lua_State *L, mpl_task *t, int rc)
{
    if (rc == MP_ECANCELED) {
        task_settle(t);
        return mpl_error(L, "micropool: the task was cancelled");
    }
    mpl_buf *e = atomic_load(&t->op.err);
    if (e) {
        decode_into(L, e, 1);
        return lua_error(L);
    }
    if (rc != MP_OK)
        return mpl_error(L, "micropool: wait: %s", mp_strerror(rc));
    int n = decode_into(L, &t->result, 0);
    if (n < 0)
        return lua_error(L);
    return n;
}

int mpl_task_wait(lua_State *L, mpl_task *t)
{
    return task_outcome(L, t, mp_task_wait(t->handle));
}

int mpl_task_wait_for(lua_State *L, mpl_task *t, uint64_t timeout_ns)
{
    int rc = mp_task_wait_for(t->handle, timeout_ns);
    if (rc == MP_ETIMEDOUT) {
        lua_pushnil(L);
        lua_pushliteral(L, "timeout");
        return 2;
    }
    return task_outcome(L, t, rc);
}

int mpl_task_done(mpl_task *t)
{
    return mp_task_done(t->handle) == 1;
}

int mpl_task_cancel(mpl_task *t)
{
    if (mp_task_cancel(t->handle) != MP_OK)
        return 0;
    task_settle(t);   /* it will never run */
    return 1;
}

/* Releases the handle and the reference of the Lua handle; settles a
 * task that was cancelled. 0 if the task may still run or be cancelled
 * (nothing done). */
static int task_finish(mpl_task *t)
{
    if (t->may_cancel && !atomic_load(&t->settled)) {
        int rc = mp_task_wait_for(t->handle, 0);
        if (rc == MP_ETIMEDOUT)
            return 0;
        if (rc == MP_ECANCELED)
            task_settle(t);
    }
    mp_task_release(t->handle);
    task_unref(t);
    return 1;
}

void mpl_orphans_sweep(mpl_pool *p, int all)
{
    pthread_mutex_lock(&p->lock);
    mpl_task **at = &p->orphans;
    while (*at) {
        mpl_task *t = *at, *next = t->next_orphan;
        if (task_finish(t)) {
            *at = next;
            p->norphans--;
        } else if (all) {
            /* Not expected: the engine has run or cancelled every task. */
            *at = next;
            p->norphans--;
            mp_task_release(t->handle);
            task_unref(t);
        } else {
            at = &t->next_orphan;
        }
    }
    p->orphans_kept = p->norphans;
    pthread_mutex_unlock(&p->lock);
}

void mpl_task_free(mpl_task *t)
{
    if (!t || task_finish(t))
        return;
    /* Lua dropped a task that waits for its prerequisites and that the
     * engine may yet cancel instead of running: only a wait on the handle
     * can tell, so the pool keeps it until it has settled (swept here and
     * when the pool closes). */
    mpl_pool *p = t->op.pool;
    pthread_mutex_lock(&p->lock);
    t->next_orphan = p->orphans;
    p->orphans = t;
    int sweep = list_grew(++p->norphans, p->orphans_kept);
    pthread_mutex_unlock(&p->lock);
    if (sweep)
        mpl_orphans_sweep(p, 0);
}
