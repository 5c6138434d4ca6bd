/*
 * mpl_copy.c: moving values between two lua_States as bytes.
 *
 * Only nil, booleans, numbers, strings and tables of these cross. Tables
 * are read raw (no metamethods, metatables are not copied), and a table
 * reached twice is copied twice. The encoder never raises a Lua error, so
 * it can run in a worker state between protected calls and in the caller
 * while it owns malloc'd memory.
 *
 * Format: a list is a varint count followed by that many values. A value
 * is a tag byte and its payload:
 *   NIL FALSE TRUE
 *   INT   8 bytes (host order: both ends are the same process)
 *   FLT   8 bytes
 *   STR   varint length, bytes
 *   TABLE varint n, n values (t[1..n]), then key/value pairs, then END
 */
#include "mpl.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_NIL, T_FALSE, T_TRUE, T_INT, T_FLT, T_STR, T_TABLE, T_END };

/* Tables nested deeper than this are refused: a cyclic table would
 * otherwise never end. */
#define MPL_DEPTH_MAX 100

void mpl_buf_free(mpl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
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

typedef struct enc {
    lua_State  *L;
    mpl_buf    *out;
    char       *err;
    size_t      errlen;
    const char *what;
    int         argno;   /* position in the list, for messages */
} enc;

static int enc_fail(enc *e, const char *msg)
{
    if (e->argno > 0)
        snprintf(e->err, e->errlen, "cannot copy %s #%d: %s", e->what, e->argno, msg);
    else
        snprintf(e->err, e->errlen, "cannot copy %s: %s", e->what, msg);
    return -1;
}

static int enc_oom(enc *e)
{
    return enc_fail(e, "out of memory");
}

static int enc_value(enc *e, int idx, int depth);

static int enc_table(enc *e, int idx, int depth)
{
    lua_State *L = e->L;
    if (depth >= MPL_DEPTH_MAX)
        return enc_fail(e, "tables nested more than 100 deep (is the table cyclic?)");
    if (!lua_checkstack(L, 4))
        return enc_fail(e, "Lua stack overflow");
    idx = lua_absindex(L, idx);
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
        if (buf_byte(b, T_STR) || buf_varint(b, len) || buf_put(b, s, len))
            return enc_oom(e);
        return 0;
    }
    case LUA_TTABLE:
        return enc_table(e, idx, depth);
    default:
    {
        char msg[200];
        snprintf(msg, sizeof msg, "a %s value cannot cross between Lua states "
                 "(only nil, booleans, numbers, strings and tables of these)",
                 lua_typename(L, lua_type(L, idx)));
        return enc_fail(e, msg);
    }
    }
}

int mpl_encode_list(lua_State *L, int first, int last, const char *what,
                    mpl_buf *out, char *err, size_t errlen)
{
    enc e = { L, out, err, errlen, what, 0 };
    int count = last >= first ? last - first + 1 : 0;
    if (buf_varint(out, (uint64_t)count))
        return enc_oom(&e);
    for (int i = 0; i < count; i++) {
        e.argno = i + 1;
        if (enc_value(&e, first + i, 0))
            return -1;
    }
    return 0;
}

int mpl_encode_table_list(lua_State *L, int t, int from, const char *what,
                          mpl_buf *out, char *err, size_t errlen)
{
    enc e = { L, out, err, errlen, what, 0 };
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
        int rc = enc_value(&e, -1, 0);
        lua_pop(L, 1);
        if (rc)
            return -1;
    }
    return 0;
}

int mpl_encode_string(const char *s, mpl_buf *out)
{
    size_t len = strlen(s);
    if (buf_varint(out, 1) || buf_byte(out, T_STR) || buf_varint(out, len)
        || buf_put(out, s, len)) {
        mpl_buf_free(out);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ decoding */

typedef struct dec {
    lua_State  *L;
    const unsigned char *p, *end;
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

/* Pushes one value; returns 0, or 1 for the END marker (nothing pushed). */
static int dec_value(dec *d)
{
    lua_State *L = d->L;
    if (d->p >= d->end)
        dec_corrupt(d);
    luaL_checkstack(L, 3, "micropool: values nested too deep");
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
        uint64_t n = dec_varint(d);
        if ((uint64_t)(d->end - d->p) < n)
            dec_corrupt(d);
        lua_pushlstring(L, (const char *)d->p, (size_t)n);
        d->p += n;
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
    case T_END:
        return 1;
    default:
        dec_corrupt(d);
        return 0;
    }
}

int mpl_decode_list(lua_State *L, const char *data, size_t len, int max)
{
    dec d = { L, (const unsigned char *)data, (const unsigned char *)data + len };
    uint64_t count = dec_varint(&d);
    if (count > (uint64_t)len)
        dec_corrupt(&d);
    int pushed = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (dec_value(&d))
            dec_corrupt(&d);
        if (max > 0 && pushed >= max)
            lua_pop(L, 1);
        else
            pushed++;
    }
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
