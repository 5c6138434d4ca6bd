/*
 * mpl_handle.c: the userdata through which Lua holds a pool, a task or a
 * scope.
 *
 * All three are made the same way: a full userdata holding the pointer,
 * with a metatable of this file's per kind, whose __gc releases what the
 * handle owns. The other way, SWIG objects for all three, would not be
 * smaller: a scope handle is made by the C layer inside a callback and is
 * itself the object Lua code calls scope:spawn on, so it needs a metatable
 * micropool.lua can give methods, which a SWIG object's is not; pools and
 * tasks need nothing of SWIG's class machinery (micropool.lua wraps them
 * in tables), only a finalizer. One kind of handle keeps one check and one
 * finalizer, and SWIG wraps plain functions only (micropool.i's typemaps).
 */
#include "mpl_internal.h"

#include <lauxlib.h>

typedef struct mpl_handle {
    void    *ptr;      /* NULL once collected (a finalizer may still see it) */
    mpl_kind kind;
    int      owned;
} mpl_handle;

/* The metatables' registry names: a scope's is the one Lua code sees (as
 * __name, e.g. in tostring); pools and tasks are wrapped in tables by
 * micropool.lua. */
static const char *const kind_name[] = {
    [MPL_POOL] = "micropool_core.pool",
    [MPL_TASK] = "micropool_core.task",
    [MPL_SCOPE] = "micropool.scope",
};
static const char *const kind_what[] = {
    [MPL_POOL] = "pool",
    [MPL_TASK] = "task",
    [MPL_SCOPE] = "scope",
};

static int handle_gc(lua_State *L)
{
    mpl_handle *h = lua_touserdata(L, 1);
    void *ptr = h->ptr;
    h->ptr = NULL;
    if (!ptr || !h->owned)
        return 0;
    switch (h->kind) {
    case MPL_POOL:
        mpl_pool_free(ptr);
        break;
    case MPL_TASK:
        mpl_task_free(ptr);
        break;
    case MPL_SCOPE:
        mpl_scope_unref(ptr);
        break;
    }
    return 0;
}

/* Pushes the metatable of kind k, made on first use in each state. */
static void push_metatable(lua_State *L, mpl_kind k)
{
    if (luaL_newmetatable(L, kind_name[k])) {
        lua_pushcfunction(L, handle_gc);
        lua_setfield(L, -2, "__gc");
    }
}

void mpl_push_handle(lua_State *L, mpl_kind k, void *ptr, int owned)
{
    mpl_handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->ptr = NULL;
    h->kind = k;
    h->owned = owned;
    push_metatable(L, k);
    lua_setmetatable(L, -2);
    h->ptr = ptr;
}

void *mpl_check_handle(lua_State *L, int idx, mpl_kind k)
{
    mpl_handle *h = luaL_testudata(L, idx, kind_name[k]);
    if (!h || !h->ptr) {
        luaL_error(L, "micropool: bad argument #%d (%s expected, got %s)", idx,
                   kind_what[k], h ? "a collected one" : luaL_typename(L, idx));
        return NULL;
    }
    return h->ptr;
}

int mpl_scope_metatable(lua_State *L)
{
    push_metatable(L, MPL_SCOPE);
    return 1;
}
