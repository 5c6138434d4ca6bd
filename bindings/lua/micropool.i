/*
 * micropool.i: the SWIG interface of micropool_core, the C half of the Lua
 * module (micropool.lua is the other half and the one to require).
 *
 * Plain functions of the C layer (src/mpl.h) are wrapped by SWIG. The
 * operations take Lua functions (as bytecode) and any number of Lua
 * values, which a generated wrapper cannot express, so they are natives
 * (lua_CFunction) that convert the pool handle and hand the stack to the
 * C layer.
 */
%module micropool_core

%{
#include <time.h>

#include "mpl.h"
%}

/* A Lua string with its length (bytecode may hold zero bytes). */
%typemap(in, checkfn="lua_isstring") (const char *bytes, size_t len) {
    $1 = (char *)lua_tolstring(L, $input, &$2);
}

/* ------------------------------------------------------------ handles
 * Pools and tasks are the C layer's handles (src/mpl_handle.c), as scopes
 * are, not SWIG objects: these typemaps convert them. */

%typemap(in, checkfn="lua_isuserdata") mpl_pool *, const mpl_pool *
    "$1 = mpl_check_handle(L, $input, MPL_POOL);"
%typemap(in, checkfn="lua_isuserdata") mpl_task *
    "$1 = mpl_check_handle(L, $input, MPL_TASK);"
%typemap(out) mpl_pool *
    "mpl_push_handle(L, MPL_POOL, $1, 1); SWIG_arg++;"

/* ------------------------------------------------------------ functions */

%rename(version) mp_version;
const char *mp_version(void);

%rename(pool_new) mpl_pool_new;
mpl_pool *mpl_pool_new(lua_State *L, unsigned threads, unsigned spin_us,
                       int pin, const char *name, int init_kind,
                       const char *bytes, size_t len,
                       const char *path, const char *cpath,
                       size_t stack_size, const char *trace);

%rename(pool_shared) mpl_pool_shared;
mpl_pool *mpl_pool_shared(lua_State *L, const char *path, const char *cpath);

%rename(pool_close) mpl_pool_close;
void mpl_pool_close(lua_State *L, mpl_pool *p);
%rename(pool_closed) mpl_pool_closed;
int mpl_pool_closed(const mpl_pool *p);
%rename(pool_threads) mpl_pool_threads;
unsigned mpl_pool_threads(const mpl_pool *p);
%rename(pool_thread_index) mpl_pool_thread_index;
int mpl_pool_thread_index(const mpl_pool *p);

%rename(task_done) mpl_task_done;
int mpl_task_done(mpl_task *t);
%rename(task_cancel) mpl_task_cancel;
int mpl_task_cancel(mpl_task *t);

/* ------------------------------------------------------------ constants */

%constant int SPLIT_DYNAMIC = MP_SPLIT_DYNAMIC;
%constant int SPLIT_STATIC = MP_SPLIT_STATIC;
%constant int DETERMINISTIC = MP_DETERMINISTIC;
%constant int THREADS_MAX = MP_THREADS_MAX;
%constant int SPIN_US_DEFAULT = MP_SPIN_US_DEFAULT;
%constant int PRIO_HIGH = MP_PRIO_HIGH;
%constant int PRIO_NORMAL = MP_PRIO_NORMAL;
%constant int PRIO_LOW = MP_PRIO_LOW;
%constant int AFTER_CANCEL_ON_ERROR = MP_AFTER_CANCEL_ON_ERROR;
%constant int STACK_MIN = MPL_STACK_MIN;
%constant int INIT_NONE = MPL_INIT_NONE;
%constant int INIT_CHUNK = MPL_INIT_CHUNK;
%constant int INIT_MODULE = MPL_INIT_MODULE;

/* ------------------------------------------------------------ natives */

%native(join) int mpl_native_join(lua_State *L);
%native(for_each) int mpl_native_for_each(lua_State *L);
%native(reduce) int mpl_native_reduce(lua_State *L);
%native(broadcast) int mpl_native_broadcast(lua_State *L);
%native(submit) int mpl_native_submit(lua_State *L);
%native(wait) int mpl_native_wait(lua_State *L);
%native(submit_ex) int mpl_native_submit_ex(lua_State *L);
%native(wait_for) int mpl_native_wait_for(lua_State *L);
%native(run_pinned) int mpl_native_run_pinned(lua_State *L);
%native(pinned_fd) int mpl_native_pinned_fd(lua_State *L);
%native(yield) int mpl_native_yield(lua_State *L);
%native(current) int mpl_native_current(lua_State *L);
%native(stats) int mpl_native_stats(lua_State *L);
%native(scope) int mpl_native_scope(lua_State *L);
%native(clock) int mpl_native_clock(lua_State *L);
%native(scope_spawn) int mpl_scope_spawn(lua_State *L);
%native(map) int mpl_native_map(lua_State *L);
%native(buffer) int mpl_native_buffer(lua_State *L);
%native(register_class) int mpl_native_register_class(lua_State *L);
%native(scope_metatable) int mpl_scope_metatable(lua_State *L);

%wrapper %{
/* join(pool, codeA, argsA, codeB, argsB) -> a, b */
int mpl_native_join(lua_State *L)
{
    return mpl_op_join(L, mpl_check_handle(L, 1, MPL_POOL), 2);
}

/* map(pool, table | buffer, code, out) -> table | buffer */
int mpl_native_map(lua_State *L)
{
    return mpl_op_map(L, mpl_check_handle(L, 1, MPL_POOL), 2);
}

/* for_each(pool, n, grain, flags, code, ...) */
int mpl_native_for_each(lua_State *L)
{
    return mpl_op_for(L, mpl_check_handle(L, 1, MPL_POOL), 2);
}

/* reduce(pool, n, grain, flags, init, fold, combine, ...) -> acc */
int mpl_native_reduce(lua_State *L)
{
    return mpl_op_reduce(L, mpl_check_handle(L, 1, MPL_POOL), 2);
}

/* broadcast(pool, code, ...) -> {results} */
int mpl_native_broadcast(lua_State *L)
{
    return mpl_op_broadcast(L, mpl_check_handle(L, 1, MPL_POOL), 2);
}

/* clock() -> seconds of CLOCK_MONOTONIC, for benchmarks (os.clock is
 * the process's CPU time, which grows faster than wall time when several
 * threads run). */
int mpl_native_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

/* scope(pool, code, ...) */
int mpl_native_scope(lua_State *L)
{
    return mpl_op_scope(L, mpl_check_handle(L, 1, MPL_POOL), 2);
}

/* submit(pool, code, ...) -> task */
int mpl_native_submit(lua_State *L)
{
    mpl_task *t = mpl_op_submit(L, mpl_check_handle(L, 1, MPL_POOL), 2);
    mpl_push_handle(L, MPL_TASK, t, 1);
    return 1;
}

/* submit_ex(pool, priority, thread, flags, name, after, code, ...) -> task */
int mpl_native_submit_ex(lua_State *L)
{
    mpl_task *t = mpl_op_submit_ex(L, mpl_check_handle(L, 1, MPL_POOL), 2);
    mpl_push_handle(L, MPL_TASK, t, 1);
    return 1;
}

/* Nanoseconds of a number of seconds (>= 0, checked by micropool.lua);
 * beyond what 64 bits hold, no limit. */
static uint64_t seconds_ns(lua_State *L, int idx)
{
    lua_Number s = luaL_checknumber(L, idx);
    if (!(s >= 0))
        luaL_argerror(L, idx, "seconds must be a non-negative number");
    if (s >= 1.8e10)
        return UINT64_MAX;
    return (uint64_t)(s * 1e9);
}

/* wait_for(task, seconds) -> the task's results, or nil, "timeout" */
int mpl_native_wait_for(lua_State *L)
{
    mpl_task *t = mpl_check_handle(L, 1, MPL_TASK);
    uint64_t ns = seconds_ns(L, 2);
    lua_settop(L, 2);
    return mpl_task_wait_for(L, t, ns);
}

static mp_pool *open_engine(lua_State *L, int idx)
{
    mpl_pool *p = mpl_check_handle(L, idx, MPL_POOL);
    if (mpl_pool_closed(p))
        luaL_error(L, "micropool: the pool is closed");
    return mpl_pool_engine(p);
}

/* run_pinned(pool, seconds) -> how many tasks ran */
int mpl_native_run_pinned(lua_State *L)
{
    mp_pool *pool = open_engine(L, 1);
    uint64_t ns = seconds_ns(L, 2);
    int rc = mp_pool_run_pinned(pool, ns);
    if (rc == MP_EINVAL)
        return mpl_error(L, "micropool: run_pinned: a worker of the pool cannot run the tasks "
                            "bound to thread 0 (call it from a thread outside the pool)");
    if (rc < 0)
        return mpl_error(L, "micropool: run_pinned: %s", mp_strerror(rc));
    lua_pushinteger(L, rc);
    return 1;
}

/* pinned_fd(pool) -> a file descriptor */
int mpl_native_pinned_fd(lua_State *L)
{
    int fd = mp_pool_pinned_fd(open_engine(L, 1));
    if (fd < 0)
        return mpl_error(L, "micropool: pinned_fd: %s", mp_strerror(fd));
    lua_pushinteger(L, fd);
    return 1;
}

/* yield(pool) -> true if it ran a piece of work */
int mpl_native_yield(lua_State *L)
{
    int rc = mp_yield(open_engine(L, 1));
    if (rc < 0)
        return mpl_error(L, "micropool: yield: %s", mp_strerror(rc));
    lua_pushboolean(L, rc == 1);
    return 1;
}

/* wait(task) -> the task's results */
int mpl_native_wait(lua_State *L)
{
    mpl_task *t = mpl_check_handle(L, 1, MPL_TASK);
    lua_settop(L, 1);
    return mpl_task_wait(L, t);
}

/* current() -> the pool that owns this state (not owned), or nil */
int mpl_native_current(lua_State *L)
{
    mpl_pool *p = mpl_pool_of_state(L);
    if (!p || mpl_pool_closed(p))
        lua_pushnil(L);
    else
        mpl_push_handle(L, MPL_POOL, p, 0);
    return 1;
}

/* stats(pool) -> {jobs=, steals=, sleeps=, wakeups=, tasks_run=} */
int mpl_native_stats(lua_State *L)
{
    mpl_pool *p = mpl_check_handle(L, 1, MPL_POOL);
    if (mpl_pool_closed(p))
        return luaL_error(L, "micropool: the pool is closed");
    mp_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    int rc = mp_pool_stats(mpl_pool_engine(p), &st);
    if (rc != MP_OK)
        return luaL_error(L, "micropool: stats: %s", mp_strerror(rc));
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)st.jobs);
    lua_setfield(L, -2, "jobs");
    lua_pushinteger(L, (lua_Integer)st.steals);
    lua_setfield(L, -2, "steals");
    lua_pushinteger(L, (lua_Integer)st.sleeps);
    lua_setfield(L, -2, "sleeps");
    lua_pushinteger(L, (lua_Integer)st.wakeups);
    lua_setfield(L, -2, "wakeups");
    lua_pushinteger(L, (lua_Integer)st.tasks_run);
    lua_setfield(L, -2, "tasks_run");
    return 1;
}
%}
