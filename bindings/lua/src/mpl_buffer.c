/*
 * mpl_buffer.c: shared numeric buffers.
 *
 * A buffer is n doubles in one allocation with a reference count. Every
 * lua_State that holds it has a userdata of its own pointing at the same
 * memory (mpl_copy.c passes the pointer, with a reference, instead of
 * copying), so a pool's callbacks read and write it in place. Elements
 * are plain doubles: two threads writing the same index at once is a
 * data race, as in C; the pool's operations end with a barrier, so what
 * the callbacks wrote is seen by the caller when the operation returns.
 */
#include "mpl.h"

#include <lauxlib.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BUFFER_NAME "micropool.buffer"

struct mpl_shared {
    atomic_size_t refs;
    size_t        n;
    double        data[];
};

mpl_shared *mpl_shared_new(size_t n)
{
    if (n > (SIZE_MAX - sizeof(mpl_shared)) / sizeof(double))
        return NULL;
    mpl_shared *s = calloc(1, sizeof *s + n * sizeof(double));
    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    s->n = n;
    return s;
}

void mpl_shared_ref(mpl_shared *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void mpl_shared_unref(mpl_shared *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        free(s);
}

size_t mpl_shared_len(const mpl_shared *s)
{
    return s->n;
}

double *mpl_shared_data(mpl_shared *s)
{
    return s->data;
}

/* The userdata holds one pointer; NULL once collected. */
static mpl_shared **check_ud(lua_State *L, int idx)
{
    mpl_shared **u = luaL_checkudata(L, idx, BUFFER_NAME);
    if (!*u)
        luaL_error(L, "micropool: the buffer was collected");
    return u;
}

mpl_shared *mpl_test_buffer(lua_State *L, int idx)
{
    mpl_shared **u = luaL_testudata(L, idx, BUFFER_NAME);
    return u ? *u : NULL;
}

/* The element index at idx, 1..n, as a 0-based offset. */
static size_t check_index(lua_State *L, mpl_shared *s, int idx)
{
    int isint;
    lua_Integer i = lua_tointegerx(L, idx, &isint);
    if (!isint)
        luaL_error(L, "micropool: buffer index must be an integer, got %s",
                   lua_type(L, idx) == LUA_TNUMBER ? "a float" : luaL_typename(L, idx));
    if (i < 1 || (lua_Unsigned)i > s->n)
        luaL_error(L, "micropool: buffer index %I out of range 1..%I", (LUAI_UACINT)i,
                   (LUAI_UACINT)s->n);
    return (size_t)(i - 1);
}

static int buffer_totable(lua_State *L)
{
    mpl_shared *s = *check_ud(L, 1);
    if (s->n > INT32_MAX)
        return luaL_error(L, "micropool: the buffer is too long for a table");
    lua_createtable(L, (int)s->n, 0);
    for (size_t i = 0; i < s->n; i++) {
        lua_pushnumber(L, s->data[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static const luaL_Reg methods[] = {
    { "totable", buffer_totable },
    { NULL, NULL },
};

static int buffer_index(lua_State *L)
{
    mpl_shared *s = *check_ud(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_getmetatable(L, 1);
        lua_getfield(L, -1, "methods");
        lua_pushvalue(L, 2);
        lua_rawget(L, -2);
        return 1;
    }
    lua_pushnumber(L, s->data[check_index(L, s, 2)]);
    return 1;
}

static int buffer_newindex(lua_State *L)
{
    mpl_shared *s = *check_ud(L, 1);
    size_t i = check_index(L, s, 2);
    int isnum;
    lua_Number v = lua_tonumberx(L, 3, &isnum);
    if (!isnum)
        return luaL_error(L, "micropool: a buffer holds numbers, got %s", luaL_typename(L, 3));
    s->data[i] = v;
    return 0;
}

static int buffer_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)(*check_ud(L, 1))->n);
    return 1;
}

static int buffer_tostring(lua_State *L)
{
    mpl_shared *s = *check_ud(L, 1);
    lua_pushfstring(L, "micropool.buffer (%I numbers)", (LUAI_UACINT)s->n);
    return 1;
}

static int buffer_gc(lua_State *L)
{
    mpl_shared **u = luaL_checkudata(L, 1, BUFFER_NAME);
    if (*u) {
        mpl_shared_unref(*u);
        *u = NULL;
    }
    return 0;
}

/* Pushes a buffer userdata that points at nothing yet. */
static mpl_shared **push_ud(lua_State *L)
{
    mpl_shared **u = lua_newuserdatauv(L, sizeof *u, 0);
    *u = NULL;
    if (luaL_newmetatable(L, BUFFER_NAME)) {
        static const luaL_Reg meta[] = {
            { "__index", buffer_index },
            { "__newindex", buffer_newindex },
            { "__len", buffer_len },
            { "__tostring", buffer_tostring },
            { "__gc", buffer_gc },
            { NULL, NULL },
        };
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "methods");
    }
    lua_setmetatable(L, -2);
    return u;
}

void mpl_push_buffer(lua_State *L, mpl_shared *s)
{
    mpl_shared **u = push_ud(L);
    mpl_shared_ref(s);
    *u = s;
}

mpl_shared *mpl_push_new_buffer(lua_State *L, size_t n)
{
    /* The userdata first, then the block it owns from the start: an error
     * after this (a bad element, no memory) leaves it to the collector. */
    mpl_shared **u = push_ud(L);
    *u = mpl_shared_new(n);
    if (!*u)
        luaL_error(L, "micropool: out of memory for a buffer of %I numbers", (LUAI_UACINT)n);
    return *u;
}

int mpl_native_buffer(lua_State *L)
{
    int from_table = lua_type(L, 1) == LUA_TTABLE;
    lua_Integer n;
    if (from_table) {
        n = (lua_Integer)lua_rawlen(L, 1);
    } else {
        n = luaL_checkinteger(L, 1);
        if (n < 0)
            return luaL_error(L, "micropool: a buffer's length must not be negative");
    }
    mpl_shared *s = mpl_push_new_buffer(L, (size_t)n);
    if (from_table) {
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, 1, i);
            int isnum;
            s->data[i - 1] = lua_tonumberx(L, -1, &isnum);
            if (!isnum)
                return luaL_error(L, "micropool: buffer: element %I is a %s, not a number",
                                  (LUAI_UACINT)i, luaL_typename(L, -1));
            lua_pop(L, 1);
        }
    }
    return 1;
}
