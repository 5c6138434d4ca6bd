/*
 * mpl_copy.c: moving values between two lua_States as bytes.
 *
 * What crosses is listed in mpl.h (mpl_encode_list). Tables are read raw
 * (no metamethods), and a table reached twice is copied twice. The
 * encoder never raises a Lua error, so it can run in a worker state
 * between protected calls and in the caller while it owns malloc'd memory.
 *
 * Format: a list is a varint count followed by that many values. A value
 * is a tag byte and its payload:
 *   NIL FALSE TRUE
 *   INT   8 bytes (host order: both ends are the same process)
 *   FLT   8 bytes
 *   STR   varint length, bytes
 *   TABLE varint n, n values (t[1..n]), then key/value pairs, then END
 *   CLASS varint length, name, then the TABLE it is the metatable of
 *   FUNC  8-byte length, bytecode, varint nups, then per upvalue a value
 *         or UPJOIN varint f, varint u (the same upvalue as upvalue u of
 *         the f-th function of this value, counted from 0)
 *   FREF  varint f: the f-th function of this value again
 *   CFUNC STR module, STR name: package.loaded[module][name]
 *   GLOBALS: the receiving state's global table
 *   BUFFER  a pointer to an mpl_shared (the bytes hold a reference)
 */
#include "mpl.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_NIL, T_FALSE, T_TRUE, T_INT, T_FLT, T_STR, T_TABLE, T_END,
       T_CLASS, T_FUNC, T_UPJOIN, T_FREF, T_CFUNC, T_GLOBALS, T_BUFFER };

/* Tables nested deeper than this are refused: a cyclic table would
 * otherwise never end. */
#define MPL_DEPTH_MAX 100

/* Registry key: {[name] = metatable, [metatable] = name}. */
static const char class_key;

void mpl_buf_free(mpl_buf *b)
{
    for (size_t i = 0; i < b->nheld; i++)
        mpl_shared_unref(b->held[i]);
    free(b->held);
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int buf_reserve(mpl_buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2)
            return -1;
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

static int buf_put(mpl_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n))
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static int buf_byte(mpl_buf *b, unsigned char c)
{
    return buf_put(b, &c, 1);
}

static int buf_varint(mpl_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        tmp[n++] = (unsigned char)(c | (v ? 0x80 : 0));
    } while (v);
    return buf_put(b, tmp, n);
}

static int buf_lstr(mpl_buf *b, const char *s, size_t len)
{
    return buf_varint(b, len) || buf_put(b, s, len);
}

/* Keeps a reference to s for as long as b's bytes live. */
static int buf_hold(mpl_buf *b, mpl_shared *s)
{
    if (b->nheld == b->capheld) {
        size_t cap = b->capheld ? 2 * b->capheld : 4;
        mpl_shared **h = realloc(b->held, cap * sizeof *h);
        if (!h)
            return -1;
        b->held = h;
        b->capheld = cap;
    }
    mpl_shared_ref(s);
    b->held[b->nheld++] = s;
    return 0;
}

/* An upvalue already encoded: the id lua_upvalueid gives, and where. */
typedef struct enc_up {
    void    *id;
    uint64_t fn, n;
} enc_up;

typedef struct enc {
    lua_State  *L;
    mpl_buf    *out;
    char       *err;
    size_t      errlen;
    const char *what;
    int         argno;   /* position in the list, for messages */
    char        path[160];  /* the upvalues being encoded, for messages */
    const void **fns;    /* functions encoded so far in this value */
    size_t      nfns, capfns;
    enc_up     *ups;
    size_t      nups, capups;
} enc;

static void enc_reset(enc *e)
{
    free(e->fns);
    free(e->ups);
    e->fns = NULL;
    e->ups = NULL;
    e->nfns = e->capfns = e->nups = e->capups = 0;
}

static int enc_fail(enc *e, const char *msg)
{
    char where[200] = "";
    if (e->path[0])
        snprintf(where, sizeof where, "upvalue %s: ", e->path);
    if (e->argno > 0)
        snprintf(e->err, e->errlen, "cannot copy %s #%d: %s%s", e->what, e->argno, where, msg);
    else
        snprintf(e->err, e->errlen, "cannot copy %s: %s%s", e->what, where, msg);
    return -1;
}

static int enc_oom(enc *e)
{
    return enc_fail(e, "out of memory");
}

static int enc_value(enc *e, int idx, int depth);

/* Writes T_CLASS and the name when the table at idx has a registered
 * metatable. */
static int enc_class(enc *e, int idx)
{
    lua_State *L = e->L;
    if (!lua_getmetatable(L, idx))
        return 0;
    int rc = 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &class_key) == LUA_TTABLE) {
        lua_pushvalue(L, -2);
        if (lua_rawget(L, -2) == LUA_TSTRING) {
            size_t len;
            const char *name = lua_tolstring(L, -1, &len);
            if (buf_byte(e->out, T_CLASS) || buf_lstr(e->out, name, len))
                rc = enc_oom(e);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return rc;
}

static int enc_table(enc *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (depth >= MPL_DEPTH_MAX)
        return enc_fail(e, "tables nested more than 100 deep (is the table cyclic?)");
    if (!lua_checkstack(L, 4))
        return enc_fail(e, "Lua stack overflow");
    idx = lua_absindex(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    int globals = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    if (globals)
        return buf_byte(e->out, T_GLOBALS) ? enc_oom(e) : 0;
    if (enc_class(e, idx))
        return -1;
    lua_Unsigned n = lua_rawlen(L, idx);
    if (buf_byte(e->out, T_TABLE) || buf_varint(e->out, n))
        return enc_oom(e);
    for (lua_Unsigned i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        int rc = enc_value(e, -1, depth + 1);
        lua_pop(L, 1);
        if (rc)
            return rc;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_isinteger(L, -2)) {
            lua_Integer k = lua_tointeger(L, -2);
            if (k >= 1 && (lua_Unsigned)k <= n) {
                lua_pop(L, 1);
                continue;
            }
        }
        if (enc_value(e, -2, depth + 1) || enc_value(e, -1, depth + 1)) {
            lua_pop(L, 2);
            return -1;
        }
        lua_pop(L, 1);
    }
    if (buf_byte(e->out, T_END))
        return enc_oom(e);
    return 0;
}

/* A C function travels by name: the first module in package.loaded that
 * has it as a field with a string key. */
static int enc_cfunction(enc *e, int idx)
{
    lua_State *L = e->L;
    if (!lua_checkstack(L, 6))
        return enc_fail(e, "Lua stack overflow");
    idx = lua_absindex(L, idx);
    int top = lua_gettop(L);
    int found = 0;
    if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE) {
        lua_pushnil(L);
        while (!found && lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE) {
                lua_pushnil(L);
                while (lua_next(L, -2)) {
                    if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, idx)) {
                        size_t mlen, klen;
                        const char *mod = lua_tolstring(L, -4, &mlen);
                        const char *key = lua_tolstring(L, -2, &klen);
                        if (buf_byte(e->out, T_CFUNC) || buf_byte(e->out, T_STR)
                            || buf_lstr(e->out, mod, mlen) || buf_byte(e->out, T_STR)
                            || buf_lstr(e->out, key, klen)) {
                            lua_settop(L, top);
                            return enc_oom(e);
                        }
                        found = 1;
                        lua_pop(L, 2);
                        break;
                    }
                    lua_pop(L, 1);
                }
            }
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
    if (!found)
        return enc_fail(e, "a C function that is not a field of a loaded module cannot cross "
                        "between Lua states (C functions travel by name, as "
                        "package.loaded[module][name]): call it through its module or a "
                        "global, or define it with worker_init");
    return 0;
}

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    return buf_put(ud, p, n) ? 1 : 0;
}

/* Appends "'name'" to the path of upvalues; returns the old length. */
static size_t path_push(enc *e, const char *name)
{
    size_t len = strlen(e->path);
    snprintf(e->path + len, sizeof e->path - len, "%s'%s'", len ? " -> " : "",
             name && *name ? name : "?");
    return len;
}

static int enc_function(enc *e, int idx, int depth)
{
    lua_State *L = e->L;
    mpl_buf *b = e->out;
    idx = lua_absindex(L, idx);
    const void *self = lua_topointer(L, idx);
    for (size_t k = 0; k < e->nfns; k++)
        if (e->fns[k] == self)
            return buf_byte(b, T_FREF) || buf_varint(b, k) ? enc_oom(e) : 0;
    if (lua_iscfunction(L, idx))
        return enc_cfunction(e, idx);
    if (depth >= MPL_DEPTH_MAX)
        return enc_fail(e, "functions and tables nested more than 100 deep");
    if (!lua_checkstack(L, 3))
        return enc_fail(e, "Lua stack overflow");
    if (e->nfns == e->capfns) {
        size_t cap = e->capfns ? 2 * e->capfns : 8;
        const void **f = realloc(e->fns, cap * sizeof *f);
        if (!f)
            return enc_oom(e);
        e->fns = f;
        e->capfns = cap;
    }
    uint64_t me = e->nfns;
    e->fns[e->nfns++] = self;

    uint64_t size = 0;
    if (buf_byte(b, T_FUNC) || buf_put(b, &size, sizeof size))
        return enc_oom(e);
    size_t at = b->len;
    lua_pushvalue(L, idx);
    int rc = lua_dump(L, dump_writer, b, 0);
    lua_pop(L, 1);
    if (rc)
        return enc_oom(e);
    size = b->len - at;
    memcpy(b->data + at - sizeof size, &size, sizeof size);

    int nups = 0;
    while (lua_getupvalue(L, idx, nups + 1)) {
        lua_pop(L, 1);
        nups++;
    }
    if (buf_varint(b, (uint64_t)nups))
        return enc_oom(e);
    for (int i = 1; i <= nups; i++) {
        void *id = lua_upvalueid(L, idx, i);
        size_t k = 0;
        while (k < e->nups && e->ups[k].id != id)
            k++;
        if (k < e->nups) {
            if (buf_byte(b, T_UPJOIN) || buf_varint(b, e->ups[k].fn) || buf_varint(b, e->ups[k].n))
                return enc_oom(e);
            continue;
        }
        if (e->nups == e->capups) {
            size_t cap = e->capups ? 2 * e->capups : 8;
            enc_up *u = realloc(e->ups, cap * sizeof *u);
            if (!u)
                return enc_oom(e);
            e->ups = u;
            e->capups = cap;
        }
        e->ups[e->nups++] = (enc_up){ id, me, (uint64_t)i };
        const char *name = lua_getupvalue(L, idx, i);
        size_t mark = path_push(e, name);
        rc = enc_value(e, -1, depth + 1);
        lua_pop(L, 1);
        if (rc)
            return rc;
        e->path[mark] = '\0';
    }
    return 0;
}

static int enc_cannot(enc *e, int type)
{
    char msg[300];
    const char *hint = type == LUA_TTHREAD
        ? "; a coroutine lives in one state: create it inside the function"
        : "; create it inside the function, or in worker_init";
    snprintf(msg, sizeof msg, "a %s value cannot cross between Lua states (only nil, "
             "booleans, numbers, strings, tables, functions and micropool buffers)%s",
             lua_typename(e->L, type), hint);
    return enc_fail(e, msg);
}

static int enc_value(enc *e, int idx, int depth)
{
    lua_State *L = e->L;
    mpl_buf *b = e->out;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return buf_byte(b, T_NIL) ? enc_oom(e) : 0;
    case LUA_TBOOLEAN:
        return buf_byte(b, lua_toboolean(L, idx) ? T_TRUE : T_FALSE) ? enc_oom(e) : 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            lua_Integer v = lua_tointeger(L, idx);
            if (buf_byte(b, T_INT) || buf_put(b, &v, sizeof v))
                return enc_oom(e);
        } else {
            lua_Number v = lua_tonumber(L, idx);
            if (buf_byte(b, T_FLT) || buf_put(b, &v, sizeof v))
                return enc_oom(e);
        }
        return 0;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (buf_byte(b, T_STR) || buf_lstr(b, s, len))
            return enc_oom(e);
        return 0;
    }
    case LUA_TTABLE:
        return enc_table(e, idx, depth);
    case LUA_TFUNCTION:
        return enc_function(e, idx, depth);
    case LUA_TUSERDATA: {
        mpl_shared *s = mpl_test_buffer(L, idx);
        if (s) {
            if (buf_byte(b, T_BUFFER) || buf_put(b, &s, sizeof s) || buf_hold(b, s))
                return enc_oom(e);
            return 0;
        }
        return enc_cannot(e, LUA_TUSERDATA);
    }
    default:
        return enc_cannot(e, lua_type(L, idx));
    }
}

/* One top-level value: functions are numbered per value. */
static int enc_top(enc *e, int idx)
{
    int rc = enc_value(e, idx, 0);
    enc_reset(e);
    return rc;
}

int mpl_encode_value(lua_State *L, int idx, const char *what, int argno,
                     mpl_buf *out, char *err, size_t errlen)
{
    enc e = { L, out, err, errlen, what, argno, "", NULL, 0, 0, NULL, 0, 0 };
    return enc_top(&e, idx);
}

int mpl_encode_code(lua_State *L, int idx, mpl_buf *out, char *err, size_t errlen)
{
    enc e = { L, out, err, errlen, "the function", 0, "", NULL, 0, 0, NULL, 0, 0 };
    if (buf_put(out, MPL_VALUE_MAGIC, MPL_VALUE_MAGIC_LEN))
        return enc_oom(&e);
    return enc_top(&e, idx);
}

int mpl_encode_list(lua_State *L, int first, int last, const char *what,
                    mpl_buf *out, char *err, size_t errlen)
{
    enc e = { L, out, err, errlen, what, 0, "", NULL, 0, 0, NULL, 0, 0 };
    int count = last >= first ? last - first + 1 : 0;
    if (buf_varint(out, (uint64_t)count))
        return enc_oom(&e);
    for (int i = 0; i < count; i++) {
        e.argno = i + 1;
        if (enc_top(&e, first + i))
            return -1;
    }
    return 0;
}

int mpl_encode_table_list(lua_State *L, int t, int from, const char *what,
                          mpl_buf *out, char *err, size_t errlen)
{
    enc e = { L, out, err, errlen, what, 0, "", NULL, 0, 0, NULL, 0, 0 };
    t = lua_absindex(L, t);
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    lua_Integer count = n >= from ? n - from + 1 : 0;
    if (!lua_checkstack(L, 2))
        return enc_fail(&e, "Lua stack overflow");
    if (buf_varint(out, (uint64_t)count))
        return enc_oom(&e);
    for (lua_Integer i = 0; i < count; i++) {
        e.argno = (int)(i + 1);
        lua_rawgeti(L, t, from + i);
        int rc = enc_top(&e, -1);
        lua_pop(L, 1);
        if (rc)
            return -1;
    }
    return 0;
}

int mpl_encode_string(const char *s, mpl_buf *out)
{
    size_t len = strlen(s);
    if (buf_varint(out, 1) || buf_byte(out, T_STR) || buf_lstr(out, s, len)) {
        mpl_buf_free(out);
        return -1;
    }
    return 0;
}

int mpl_native_register_class(lua_State *L)
{
    luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &class_key) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &class_key);
    }
    lua_pushvalue(L, 1);
    lua_rawget(L, 3);
    if (!lua_isnil(L, -1) && !lua_rawequal(L, -1, 2))
        return luaL_error(L, "micropool: register_class: '%s' is already the name of another "
                          "metatable", lua_tostring(L, 1));
    lua_pop(L, 1);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawset(L, 3);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 1);
    lua_rawset(L, 3);
    return 0;
}

/* ------------------------------------------------------------ decoding */

typedef struct dec {
    lua_State  *L;
    const unsigned char *p, *end;
    int         fns;     /* stack slot of the functions decoded, 0 = none yet */
    int         base;    /* the top when decoding started */
    lua_Integer nfns;
} dec;

static void dec_corrupt(dec *d)
{
    luaL_error(d->L, "micropool: corrupt value encoding");
}

static uint64_t dec_varint(dec *d)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (d->p >= d->end)
            break;
        unsigned char c = *d->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    dec_corrupt(d);
    return 0;
}

static void dec_raw(dec *d, void *out, size_t n)
{
    if ((size_t)(d->end - d->p) < n)
        dec_corrupt(d);
    memcpy(out, d->p, n);
    d->p += n;
}

static const char *dec_lstr(dec *d, size_t *len)
{
    uint64_t n = dec_varint(d);
    if ((uint64_t)(d->end - d->p) < n)
        dec_corrupt(d);
    const char *s = (const char *)d->p;
    d->p += n;
    *len = (size_t)n;
    return s;
}

/* Pushes the f-th function decoded so far. */
static void dec_fn(dec *d, uint64_t f)
{
    if (!d->fns || f >= (uint64_t)d->nfns)
        dec_corrupt(d);
    lua_rawgeti(d->L, d->fns, (lua_Integer)f + 1);
}

static int dec_value(dec *d);

static void dec_function(dec *d)
{
    lua_State *L = d->L;
    uint64_t size;
    dec_raw(d, &size, sizeof size);
    if ((uint64_t)(d->end - d->p) < size)
        dec_corrupt(d);
    if (luaL_loadbufferx(L, (const char *)d->p, (size_t)size, "=micropool", "b") != LUA_OK)
        lua_error(L);
    d->p += size;
    int fn = lua_gettop(L);
    if (!d->fns) {
        /* The list of functions goes under everything this decode pushed. */
        lua_newtable(L);
        lua_insert(L, d->base + 1);
        d->fns = d->base + 1;
        fn++;
    }
    lua_pushvalue(L, fn);
    lua_rawseti(L, d->fns, ++d->nfns);
    uint64_t me = (uint64_t)d->nfns - 1;
    uint64_t nups = dec_varint(d);
    for (uint64_t i = 1; i <= nups; i++) {
        if (d->p < d->end && *d->p == T_UPJOIN) {
            d->p++;
            uint64_t f = dec_varint(d), u = dec_varint(d);
            if (f > me)
                dec_corrupt(d);
            dec_fn(d, f);
            if (u == 0 || !lua_getupvalue(L, -1, (int)u) || !lua_getupvalue(L, fn, (int)i))
                dec_corrupt(d);
            lua_pop(L, 2);
            lua_upvaluejoin(L, fn, (int)i, -1, (int)u);
            lua_pop(L, 1);
            continue;
        }
        if (dec_value(d))
            dec_corrupt(d);
        if (!lua_setupvalue(L, fn, (int)i))
            dec_corrupt(d);
    }
}

static void dec_cfunction(dec *d)
{
    lua_State *L = d->L;
    size_t mlen, klen;
    if (d->p >= d->end || *d->p++ != T_STR)
        dec_corrupt(d);
    const char *mod = dec_lstr(d, &mlen);
    if (d->p >= d->end || *d->p++ != T_STR)
        dec_corrupt(d);
    const char *key = dec_lstr(d, &klen);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushlstring(L, mod, mlen);
    if (lua_rawget(L, -2) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_getglobal(L, "require");
        lua_pushlstring(L, mod, mlen);
        lua_call(L, 1, 1);
    }
    lua_pushlstring(L, key, klen);
    if (lua_type(L, -2) != LUA_TTABLE || lua_rawget(L, -2) != LUA_TFUNCTION)
        luaL_error(L, "micropool: module '%s' has no function '%s' in this lua_State",
                   lua_pushlstring(L, mod, mlen), lua_pushlstring(L, key, klen));
    lua_replace(L, -3);
    lua_pop(L, 1);
}

/* Pushes one value; returns 0, or 1 for the END marker (nothing pushed). */
static int dec_value(dec *d)
{
    lua_State *L = d->L;
    if (d->p >= d->end)
        dec_corrupt(d);
    luaL_checkstack(L, 6, "micropool: values nested too deep");
    switch (*d->p++) {
    case T_NIL:   lua_pushnil(L); return 0;
    case T_FALSE: lua_pushboolean(L, 0); return 0;
    case T_TRUE:  lua_pushboolean(L, 1); return 0;
    case T_INT: {
        lua_Integer v;
        dec_raw(d, &v, sizeof v);
        lua_pushinteger(L, v);
        return 0;
    }
    case T_FLT: {
        lua_Number v;
        dec_raw(d, &v, sizeof v);
        lua_pushnumber(L, v);
        return 0;
    }
    case T_STR: {
        size_t n;
        const char *s = dec_lstr(d, &n);
        lua_pushlstring(L, s, n);
        return 0;
    }
    case T_TABLE: {
        uint64_t n = dec_varint(d);
        if (n > (uint64_t)(d->end - d->p))   /* every value takes a byte */
            dec_corrupt(d);
        lua_createtable(L, n > INT32_MAX ? INT32_MAX : (int)n, 0);
        for (uint64_t i = 1; i <= n; i++) {
            if (dec_value(d))
                dec_corrupt(d);
            lua_rawseti(L, -2, (lua_Integer)i);
        }
        for (;;) {
            if (dec_value(d))
                break;
            if (dec_value(d))
                dec_corrupt(d);
            if (lua_isnil(L, -2)) {
                lua_pop(L, 2);
                continue;
            }
            lua_rawset(L, -3);
        }
        return 0;
    }
    case T_CLASS: {
        size_t n;
        const char *name = dec_lstr(d, &n);
        if (d->p >= d->end || *d->p != T_TABLE)
            dec_corrupt(d);
        dec_value(d);
        /* A name this state did not register leaves the table plain. */
        if (lua_rawgetp(L, LUA_REGISTRYINDEX, &class_key) == LUA_TTABLE) {
            lua_pushlstring(L, name, n);
            if (lua_rawget(L, -2) == LUA_TTABLE) {
                lua_setmetatable(L, -3);
                lua_pop(L, 1);
                return 0;
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        return 0;
    }
    case T_FUNC:
        dec_function(d);
        return 0;
    case T_FREF:
        dec_fn(d, dec_varint(d));
        return 0;
    case T_CFUNC:
        dec_cfunction(d);
        return 0;
    case T_GLOBALS:
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        return 0;
    case T_BUFFER: {
        mpl_shared *s;
        dec_raw(d, &s, sizeof s);
        mpl_push_buffer(L, s);
        return 0;
    }
    case T_END:
        return 1;
    default:
        dec_corrupt(d);
        return 0;
    }
}

/* Drops the list of functions a decode made, if any. */
static void dec_done(dec *d)
{
    if (d->fns)
        lua_remove(d->L, d->fns);
}

size_t mpl_decode_value(lua_State *L, const char *data, size_t len)
{
    dec d = { L, (const unsigned char *)data, (const unsigned char *)data + len, 0,
              lua_gettop(L), 0 };
    if (dec_value(&d))
        dec_corrupt(&d);
    dec_done(&d);
    return (size_t)(d.p - (const unsigned char *)data);
}

int mpl_decode_list(lua_State *L, const char *data, size_t len, int max)
{
    dec d = { L, (const unsigned char *)data, (const unsigned char *)data + len, 0,
              lua_gettop(L), 0 };
    uint64_t count = dec_varint(&d);
    if (count > (uint64_t)len)
        dec_corrupt(&d);
    int pushed = 0;
    for (uint64_t i = 0; i < count; i++) {
        /* Functions are numbered per value, as the encoder does. */
        dec_done(&d);
        d.fns = 0;
        d.nfns = 0;
        d.base = lua_gettop(L);
        if (dec_value(&d))
            dec_corrupt(&d);
        if (max > 0 && pushed >= max)
            lua_pop(L, 1);
        else
            pushed++;
    }
    dec_done(&d);
    return pushed;
}

/* ------------------------------------------------------------ code */

/* A cheap 64-bit hash of the bytecode, 8 bytes at a time: it only selects
 * a cache slot, the bytes are compared before a cached function is used. */
void mpl_code_init(mpl_code *c, const char *code, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, code + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    for (; i < len; i++)
        h = (h ^ (unsigned char)code[i]) * 0x100000001b3u;
    c->code = code;
    c->len = len;
    c->hash = h;
}
