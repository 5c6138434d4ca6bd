/*
 * mpl_pool.c: a micropool pool and the lua_States its callbacks run in.
 */
#include "mpl_internal.h"

#include <lauxlib.h>
#include <lualib.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Registry keys (their addresses) in every state a pool owns. */
static const char pool_key;    /* light userdata: the owning mpl_pool */
static const char code_key;    /* table: hash -> {bytecode, function} */
static const char args_key;    /* table: the last large argument list,
                                  {id = , n = , values...} */

/* Functions a state keeps loaded before its cache is dropped and rebuilt. */
#define MPL_CODE_CACHE_MAX 512

/* The callbacks this thread is running, innermost first. */
static _Thread_local mpl_held *held_top;

/* The first Lua function up the stack that is not micropool.lua's (the
 * user's code), or 1. */
static int user_level(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "S", &ar))
            continue;
        size_t n = strlen(ar.short_src);
        if (*ar.what == 'C' || (n >= 13 && strcmp(ar.short_src + n - 13, "micropool.lua") == 0))
            continue;
        return level;
    }
    return 1;
}

int mpl_error(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    luaL_where(L, user_level(L));
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

/* ------------------------------------------------------------ states */

static int state_setup(lua_State *L)
{
    mpl_pool *p = lua_touserdata(L, 1);
    luaL_openlibs(L);

    lua_getglobal(L, "package");
    lua_pushstring(L, p->path);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, p->cpath);
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);

    lua_pushlightuserdata(L, p);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &pool_key);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &code_key);

    switch (p->init_kind) {
    case MPL_INIT_CHUNK:
        if (luaL_loadbufferx(L, p->init, p->init_len, "=worker_init", "bt") != LUA_OK)
            return lua_error(L);
        lua_call(L, 0, 0);
        break;
    case MPL_INIT_MODULE:
        lua_getglobal(L, "require");
        lua_pushlstring(L, p->init, p->init_len);
        lua_call(L, 1, 0);
        break;
    default:
        break;
    }
    return 0;
}

static void error_text(lua_State *L, int idx, char *err, size_t errlen)
{
    const char *msg = lua_tostring(L, idx);
    if (msg)
        snprintf(err, errlen, "%s", msg);
    else
        snprintf(err, errlen, "(error object is a %s value)", luaL_typename(L, idx));
}

static lua_State *state_new(mpl_pool *p, char *err, size_t errlen)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        snprintf(err, errlen, "micropool: out of memory for a new lua_State");
        return NULL;
    }
    /* While worker_init runs, this thread is marked as setting up a state
     * of p: work that init would run on p itself is refused (it would need
     * a state, whose setup would run init again, without end). */
    mpl_held setup = { held_top, p, NULL, NULL };
    held_top = &setup;
    lua_pushcfunction(L, state_setup);
    lua_pushlightuserdata(L, p);
    int status = lua_pcall(L, 1, 0, 0);
    held_top = setup.up;
    if (status != LUA_OK) {
        char msg[400];
        error_text(L, -1, msg, sizeof msg);
        snprintf(err, errlen, "micropool: worker_init failed: %s", msg);
        lua_close(L);
        return NULL;
    }
    return L;
}

static mpl_state *state0_new(mpl_pool *p, char *err, size_t errlen)
{
    mpl_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "micropool: out of memory");
        return NULL;
    }
    s->L = state_new(p, err, errlen);
    if (!s->L) {
        free(s);
        return NULL;
    }
    pthread_mutex_lock(&p->lock);
    s->next_all = p->all0;
    p->all0 = s;
    pthread_mutex_unlock(&p->lock);
    return s;
}

lua_State *mpl_enter(mpl_pool *p, mpl_held *h, char *err, size_t errlen)
{
    lua_State *L = NULL;
    h->from_free = NULL;
    for (mpl_held *it = held_top; it; it = it->up) {
        if (it->pool == p) {
            if (!it->L) {
                snprintf(err, errlen, "micropool: worker_init cannot run work on its own pool");
                return NULL;
            }
            L = it->L;
            break;
        }
    }
    if (!L) {
        int idx = mp_pool_thread_index(p->engine);
        if (idx >= 1) {
            /* Only worker idx ever runs with this index. */
            L = p->workers[idx];
            if (!L) {
                L = state_new(p, err, errlen);
                if (!L)
                    return NULL;
                p->workers[idx] = L;
            }
        } else {
            pthread_mutex_lock(&p->lock);
            mpl_state *s = p->free0;
            if (s)
                p->free0 = s->next_free;
            pthread_mutex_unlock(&p->lock);
            if (!s) {
                s = state0_new(p, err, errlen);
                if (!s)
                    return NULL;
            }
            h->from_free = s;
            L = s->L;
        }
    }
    h->pool = p;
    h->L = L;
    h->up = held_top;
    held_top = h;
    return L;
}

void mpl_leave(mpl_held *h)
{
    held_top = h->up;
    mpl_state *s = h->from_free;
    if (s) {
        mpl_pool *p = h->pool;
        pthread_mutex_lock(&p->lock);
        s->next_free = p->free0;
        p->free0 = s;
        pthread_mutex_unlock(&p->lock);
    }
}

/* ------------------------------------------------------------ code */

void mpl_push_code(lua_State *L, const mpl_code *c)
{
    luaL_checkstack(L, 5, "micropool: stack overflow");
    if (c->len >= MPL_VALUE_MAGIC_LEN
        && memcmp(c->code, MPL_VALUE_MAGIC, MPL_VALUE_MAGIC_LEN) == 0) {
        /* A function with its upvalues: a new closure every time, so
         * that no call sees what another one wrote to its copies. */
        mpl_decode_value(L, c->code + MPL_VALUE_MAGIC_LEN, c->len - MPL_VALUE_MAGIC_LEN);
        return;
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &code_key);
    int cache = lua_gettop(L);
    lua_Integer key = (lua_Integer)c->hash;
    if (lua_rawgeti(L, cache, key) == LUA_TTABLE) {
        size_t len;
        lua_rawgeti(L, -1, 1);
        const char *have = lua_tolstring(L, -1, &len);
        if (have && len == c->len && memcmp(have, c->code, len) == 0) {
            lua_rawgeti(L, -2, 2);
            lua_replace(L, cache);
            lua_settop(L, cache);
            return;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    if (luaL_loadbufferx(L, c->code, c->len, "=micropool", "b") != LUA_OK)
        lua_error(L);
    int fn = lua_gettop(L);

    lua_getfield(L, cache, "n");
    lua_Integer n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (n >= MPL_CODE_CACHE_MAX) {
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &code_key);
        lua_replace(L, cache);
        n = 0;
    }
    lua_createtable(L, 2, 0);
    lua_pushlstring(L, c->code, c->len);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, fn);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, cache, key);
    lua_pushinteger(L, n + 1);
    lua_setfield(L, cache, "n");

    lua_replace(L, cache);
    lua_settop(L, cache);
}

/* ------------------------------------------------------------ arguments */

/* Smaller encoded lists are decoded every time: cheaper than a lookup. */
#define MPL_ARGS_CACHE_MIN 4096

static atomic_uint_fast64_t next_args_id = 1;

uint64_t mpl_args_id(void)
{
    return atomic_fetch_add_explicit(&next_args_id, 1, memory_order_relaxed);
}

int mpl_push_args(lua_State *L, const char *data, size_t len, uint64_t id)
{
    if (id == 0 || len < MPL_ARGS_CACHE_MIN)
        return mpl_decode_list(L, data, len, 0);
    luaL_checkstack(L, 4, "micropool: stack overflow");
    int t = lua_gettop(L) + 1;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &args_key) == LUA_TTABLE) {
        lua_getfield(L, t, "id");
        if ((uint64_t)lua_tointeger(L, -1) == id) {
            lua_getfield(L, t, "n");
            int n = (int)lua_tointeger(L, -1);
            lua_settop(L, t);
            luaL_checkstack(L, n + 1, "micropool: too many arguments");
            for (int i = 1; i <= n; i++)
                lua_rawgeti(L, t, i);
            lua_remove(L, t);
            return n;
        }
    }
    lua_settop(L, t - 1);
    int base = lua_gettop(L);
    int n = mpl_decode_list(L, data, len, 0);
    lua_createtable(L, n, 2);
    for (int i = 1; i <= n; i++) {
        lua_pushvalue(L, base + i);
        lua_rawseti(L, -2, i);
    }
    lua_pushinteger(L, (lua_Integer)id);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "n");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &args_key);
    return n;
}

/* ------------------------------------------------------------ pools */

static void on_worker_stop(void *arg, unsigned index)
{
    mpl_pool *p = arg;
    /* Close a worker's state on its own thread, after its last work. */
    if (p->workers[index]) {
        lua_close(p->workers[index]);
        p->workers[index] = NULL;
    }
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

const char *mpl_pool_intern(mpl_pool *p, const char *name)
{
    const char *found = NULL;
    pthread_mutex_lock(&p->lock);
    for (mpl_name *it = p->names; it && !found; it = it->next)
        if (strcmp(it->text, name) == 0)
            found = it->text;
    if (!found) {
        size_t n = strlen(name) + 1;
        mpl_name *it = malloc(sizeof *it + n);
        if (it) {
            memcpy(it->text, name, n);
            it->next = p->names;
            p->names = it;
            found = it->text;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return found;
}

static void pool_release(mpl_pool *p)
{
    mpl_trace_free(p->trace);
    while (p->names) {
        mpl_name *next = p->names->next;
        free(p->names);
        p->names = next;
    }
    free(p->workers);
    free(p->init);
    free(p->path);
    free(p->cpath);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void close_states(mpl_pool *p)
{
    for (unsigned i = 1; i < MP_THREADS_MAX; i++) {
        if (p->workers[i]) {
            lua_close(p->workers[i]);
            p->workers[i] = NULL;
        }
    }
    mpl_state *s = p->all0;
    while (s) {
        mpl_state *next = s->next_all;
        lua_close(s->L);
        free(s);
        s = next;
    }
    p->all0 = p->free0 = NULL;
}

/* A pool record without an engine, or NULL (nothing allocated). */
static mpl_pool *pool_alloc(int init_kind, const char *init, size_t init_len,
                            const char *path, const char *cpath)
{
    mpl_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    p->init_kind = init_kind;
    /* Slots for the most threads a pool may have: the resolved count of
     * threads = 0 is only known once the pool exists, and hooks may run
     * before mp_pool_create returns. */
    p->workers = calloc(MP_THREADS_MAX, sizeof *p->workers);
    p->init = dup_bytes(init ? init : "", init ? init_len : 0);
    p->init_len = init ? init_len : 0;
    p->path = dup_bytes(path ? path : "", path ? strlen(path) : 0);
    p->cpath = dup_bytes(cpath ? cpath : "", cpath ? strlen(cpath) : 0);
    if (!p->workers || !p->init || !p->path || !p->cpath) {
        pool_release(p);
        return NULL;
    }
    return p;
}

/* One calling-thread state now: it runs worker_init, so a broken one is
 * reported by the constructor rather than by the first callback. Raises
 * after freeing p. */
static void pool_first_state(lua_State *L, mpl_pool *p)
{
    char err[512];
    mpl_state *s = state0_new(p, err, sizeof err);
    if (!s) {
        mp_pool_destroy(p->engine);
        close_states(p);
        pool_release(p);
        lua_pushstring(L, err);
        lua_error(L);
    }
    p->free0 = s;
}

mpl_pool *mpl_pool_new(lua_State *L, unsigned threads, unsigned spin_us,
                       int pin, const char *name, int init_kind,
                       const char *init, size_t init_len,
                       const char *path, const char *cpath,
                       size_t stack_size, const char *trace)
{
    if (init_kind < MPL_INIT_NONE || init_kind > MPL_INIT_MODULE)
        mpl_error(L, "micropool: unknown worker_init kind %d", init_kind);
    mpl_pool *p = pool_alloc(init_kind, init, init_len, path, cpath);
    if (!p)
        mpl_error(L, "micropool: out of memory");

    mp_config cfg;
    mp_config_init(&cfg);
    cfg.threads = threads;
    cfg.spin_us = spin_us;
    cfg.pin = pin;
    cfg.name = name;
    cfg.on_thread_stop = on_worker_stop;
    cfg.hook_arg = p;
    cfg.stack_size = stack_size;
    if (trace) {
        char err[400];
        p->trace = mpl_trace_new(trace, err, sizeof err);
        if (!p->trace) {
            pool_release(p);
            mpl_error(L, "micropool: trace: %s", err);
        }
        cfg.trace = mpl_trace_hooks(p->trace);
    }
    int rc = mp_pool_create(&cfg, &p->engine);
    if (rc != MP_OK) {
        pool_release(p);
        mpl_error(L, "micropool: cannot create the pool: %s", mp_strerror(rc));
    }
    p->threads = mp_pool_threads(p->engine);
    pool_first_state(L, p);
    return p;
}

mpl_pool *mpl_pool_shared(lua_State *L, const char *path, const char *cpath)
{
    mpl_pool *p = pool_alloc(MPL_INIT_NONE, NULL, 0, path, cpath);
    if (!p)
        mpl_error(L, "micropool: out of memory");
    int rc = mp_pool_shared(&p->engine);
    if (rc != MP_OK) {
        pool_release(p);
        mpl_error(L, "micropool: cannot have the shared pool: %s", mp_strerror(rc));
    }
    p->shared = 1;
    p->threads = mp_pool_threads(p->engine);
    pool_first_state(L, p);
    return p;
}

static int held_here(const mpl_pool *p)
{
    for (mpl_held *it = held_top; it; it = it->up)
        if (it->pool == p)
            return 1;
    return 0;
}

/* Returns 0, or an MP_E* code (nothing was done). */
static int pool_close(mpl_pool *p)
{
    if (p->closed)
        return MP_OK;
    if (held_here(p) || mp_pool_thread_index(p->engine) >= 0)
        return MP_EDEADLK;
    if (p->shared) {
        /* The engine goes on for its other users: what this pool's states
         * still have to run is run or waited for here, before they close
         * (no worker calls on_worker_stop for them). */
        atomic_store(&p->closing, 1);
        while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
            int ran = mp_pool_run_pinned(p->engine, 0) > 0;
            ran |= mp_yield(p->engine) == 1;
            mpl_watched_sweep(p);
            if (!ran) {
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
            }
        }
        mpl_watched_sweep(p);
    }
    int rc = mp_pool_destroy(p->engine);
    if (rc != MP_OK)
        return rc;
    p->closed = 1;
    p->engine = NULL;
    close_states(p);
    mpl_orphans_sweep(p, 1);
    return MP_OK;
}

void mpl_pool_close(lua_State *L, mpl_pool *p)
{
    int rc = pool_close(p);
    if (rc == MP_EDEADLK)
        mpl_error(L, "micropool: cannot close a pool from inside one of its own callbacks");
    if (rc != MP_OK)
        mpl_error(L, "micropool: close: %s", mp_strerror(rc));
    char err[400];
    if (p->trace && mpl_trace_write(p->trace, err, sizeof err))
        mpl_error(L, "micropool: trace: %s", err);
}

void mpl_pool_free(mpl_pool *p)
{
    if (!p)
        return;
    if (pool_close(p) != MP_OK) {
        /* Collected inside one of its own callbacks: nothing can be freed
         * safely; the threads keep running until the process ends. */
        return;
    }
    char err[400];
    if (p->trace)
        mpl_trace_write(p->trace, err, sizeof err);   /* collected: no one to tell */
    pool_release(p);
}

int mpl_pool_closed(const mpl_pool *p)
{
    return p->closed || atomic_load_explicit(&((mpl_pool *)p)->closing, memory_order_relaxed);
}

unsigned mpl_pool_threads(const mpl_pool *p)
{
    return p->threads;
}

int mpl_pool_thread_index(const mpl_pool *p)
{
    return p->closed ? -1 : mp_pool_thread_index(p->engine);
}

mp_pool *mpl_pool_engine(const mpl_pool *p)
{
    return p->engine;
}

mpl_pool *mpl_pool_of_state(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &pool_key);
    mpl_pool *p = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return p;
}
