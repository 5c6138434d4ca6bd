/*
 * mpl.h: the C layer under the Lua binding (internal to the binding).
 *
 * A lua_State runs on one thread at a time, so Lua code runs in parallel by
 * giving every pool thread a lua_State of its own. A pool owns:
 *  - one state per worker (index 1..N-1), created lazily on that worker and
 *    only ever used by it (nested calls re-enter it on the same thread);
 *  - a free list of states for calling threads (index 0). A calling thread
 *    takes one for the outermost callback it runs and gives it back at the
 *    end; callbacks nested inside re-enter the one it holds.
 *
 * Functions travel as bytecode (string.dump), arguments and results as
 * bytes (mpl_encode/mpl_decode), so no Lua object is ever shared between
 * two states.
 */
#ifndef MPL_H
#define MPL_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include <micropool.h>

typedef struct mpl_pool mpl_pool;
typedef struct mpl_task mpl_task;

/* Raises a formatted error in L at the position of the Lua code that
 * called the micropool.lua function that called us (the user's line). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int mpl_error(lua_State *L, const char *fmt, ...);

/* ------------------------------------------------------------ values */

typedef struct mpl_shared mpl_shared;

/* A growable byte buffer (malloc'd). An encoded shared buffer holds a
 * reference to it (in `held`) until the bytes are freed. */
typedef struct mpl_buf {
    char         *data;
    size_t        len;
    size_t        cap;
    mpl_shared  **held;
    size_t        nheld;
    size_t        capheld;
} mpl_buf;

/* Frees the bytes and drops the references they hold. */
void mpl_buf_free(mpl_buf *b);

/* Appends the values at stack slots first..last of L as one list.
 * Never raises a Lua error (it may run in a state that must not longjmp):
 * returns 0, or -1 with a message in err (values that cannot cross between
 * states, tables nested too deep, out of memory). `what` names the values
 * in messages ("argument", "result").
 *
 * What crosses: nil, booleans, numbers, strings; tables (raw, with their
 * metatable only if it is registered by name, mpl_native_register_class);
 * Lua functions as bytecode with copies of their upvalues (a function
 * reached twice, also through its own upvalues, is decoded once, and
 * upvalues shared between functions stay shared); C functions that are
 * package.loaded[module][name], by name; the global table, as the
 * receiving state's; shared buffers (mpl_buffer.c), by reference. */
int mpl_encode_list(lua_State *L, int first, int last, const char *what,
                    mpl_buf *out, char *err, size_t errlen);

/* The same for t[from..#t] of the table at index t. */
int mpl_encode_table_list(lua_State *L, int t, int from, const char *what,
                          mpl_buf *out, char *err, size_t errlen);

/* Encodes a list of one string, without a lua_State. Returns 0 or -1
 * (out of memory; nothing allocated). */
int mpl_encode_string(const char *s, mpl_buf *out);

/* Pushes the values of an encoded list onto L and returns how many; raises
 * a Lua error on exhaustion (call it in protected mode in a worker state).
 * `max` > 0 pushes at most that many (the rest are skipped). */
int mpl_decode_list(lua_State *L, const char *data, size_t len, int max);

/* One value at idx, without the list's count, appended to out (the same
 * rules and messages; argno > 0 numbers it in messages). */
int mpl_encode_value(lua_State *L, int idx, const char *what, int argno,
                     mpl_buf *out, char *err, size_t errlen);

/* Pushes the value that mpl_encode_value wrote at data; returns the
 * number of bytes it took. Raises on failure. */
size_t mpl_decode_value(lua_State *L, const char *data, size_t len);

/* register_class(name, metatable): tables with this metatable cross
 * between states that registered the same name (lua_CFunction). */
int mpl_native_register_class(lua_State *L);

/* ------------------------------------------------------------ buffers
 * A shared buffer: n doubles in one allocation, reference counted, that
 * every state holding it reads and writes in place (mpl_buffer.c). */

struct mpl_shared;
mpl_shared *mpl_shared_new(size_t n);          /* zeroed; one reference */
void        mpl_shared_ref(mpl_shared *s);
void        mpl_shared_unref(mpl_shared *s);
size_t      mpl_shared_len(const mpl_shared *s);
double     *mpl_shared_data(mpl_shared *s);

/* Pushes a buffer userdata that takes a new reference to s. Raises. */
void        mpl_push_buffer(lua_State *L, mpl_shared *s);
/* Pushes a new zeroed buffer of n numbers, or raises (no memory). */
mpl_shared *mpl_push_new_buffer(lua_State *L, size_t n);
/* The buffer at idx, or NULL (never raises). */
mpl_shared *mpl_test_buffer(lua_State *L, int idx);

/* buffer(n | table) -> a new buffer (lua_CFunction). */
int mpl_native_buffer(lua_State *L);

/* ------------------------------------------------------------ code */

/* A function shipped as bytecode (string.dump), or as an encoded
 * function value (MPL_VALUE_MAGIC, then mpl_encode_value's bytes) when it
 * has upvalues to carry or is a module's C function. `code` is borrowed. */
#define MPL_VALUE_MAGIC "\x1bMPL"
#define MPL_VALUE_MAGIC_LEN 4

typedef struct mpl_code {
    const char *code;
    size_t      len;
    uint64_t    hash;
} mpl_code;

void mpl_code_init(mpl_code *c, const char *code, size_t len);

/* Appends the function at idx as MPL_VALUE_MAGIC and its encoded value
 * (as mpl_encode_value; messages call it "the function"). */
int mpl_encode_code(lua_State *L, int idx, mpl_buf *out, char *err, size_t errlen);

/* ------------------------------------------------------------ pools */

/* The smallest worker stack micropool.new accepts. The engine's own
 * minimum (PTHREAD_STACK_MIN) does not hold what Lua does on a worker: a
 * state nests up to about 200 C calls (LUAI_MAXCCALLS), and a callback
 * nested in a join takes over a KiB of C stack per level; 256 KiB
 * overflowed at that depth, 320 KiB did not. */
#define MPL_STACK_MIN (512 * 1024)

enum mpl_init_kind { MPL_INIT_NONE = 0, MPL_INIT_CHUNK = 1, MPL_INIT_MODULE = 2 };

/* Creates a pool whose states run `init` once (a chunk of source or
 * bytecode, or a module name to require) and search modules along
 * path/cpath. Raises a Lua error in L on failure (and then owns nothing).
 * worker_init is run once right away in a calling-thread state, so a
 * broken one is reported here. stack_size: each worker's stack (0 = the
 * system's); trace: NULL, or the file that gets a Chrome trace-event
 * record of the pool's work when it closes. */
mpl_pool *mpl_pool_new(lua_State *L, unsigned threads, unsigned spin_us,
                       int pin, const char *name, int init_kind,
                       const char *init, size_t init_len,
                       const char *path, const char *cpath,
                       size_t stack_size, const char *trace);

/* A pool over the process-wide pool (mp_pool_shared), with no
 * worker_init; raises on failure. Closing it waits for the tasks it
 * submitted (helping to run them), closes its states and drops the
 * reference. */
mpl_pool *mpl_pool_shared(lua_State *L, const char *path, const char *cpath);

/* Runs pending tasks, stops the workers, closes every state. Raises an
 * error if called from a callback running on this pool. A closed pool
 * stays valid for mpl_pool_closed/mpl_pool_free. */
void mpl_pool_close(lua_State *L, mpl_pool *p);

/* mpl_pool_close (errors ignored) and free. */
void mpl_pool_free(mpl_pool *p);

int      mpl_pool_closed(const mpl_pool *p);
unsigned mpl_pool_threads(const mpl_pool *p);
int      mpl_pool_thread_index(const mpl_pool *p);
mp_pool *mpl_pool_engine(const mpl_pool *p);

/* A copy of name that lives as long as the pool (one per distinct name),
 * or NULL when out of memory. Never raises. */
const char *mpl_pool_intern(mpl_pool *p, const char *name);

/* The pool that owns state L, or NULL for a state that is not a pool's. */
mpl_pool *mpl_pool_of_state(lua_State *L);

/* ------------------------------------------------------------ operations
 * Each reads its Lua arguments from L starting at stack slot `base` (the
 * slot after the pool), pushes its results and returns their count, as a
 * lua_CFunction would. A callback's error is raised again in L. */

/* base: codeA, argsA (nil or {f, ...}), codeB, argsB.
 * Returns all results of A (one nil if it returned none), then all of B
 * (one nil if none). */
int mpl_op_join(lua_State *L, mpl_pool *p, int base);

/* base: n, grain, flags, code, args... ; calls f(i, args...) for
 * i = 1..n. Returns nothing. */
int mpl_op_for(lua_State *L, mpl_pool *p, int base);

/* base: n, grain, flags, init, foldcode, combinecode, args...
 * acc = fold(acc, i, args...) over each part, combine(a, b) between
 * parts. Returns the accumulator. */
int mpl_op_reduce(lua_State *L, mpl_pool *p, int base);

/* base: code, args... ; f(index, count, args...) once per thread.
 * Returns a list: [index + 1] = first result of that part. */
int mpl_op_broadcast(lua_State *L, mpl_pool *p, int base);

/* base: input (a table or a buffer), code, out (nil or a buffer);
 * f(v, i) for every element. A table gives a new table of the first
 * results; a buffer gives a buffer (out, or a new one) of numbers. */
int mpl_op_map(lua_State *L, mpl_pool *p, int base);

/* base: code, args... ; queues f(args...) and returns the task. */
mpl_task *mpl_op_submit(lua_State *L, mpl_pool *p, int base);

/* base: priority, thread (-1 = any), flags, name (nil or a string),
 * after (nil or a list of task handles of this pool), code, args... ;
 * queues f(args...) with mp_submit_ex and returns the task. */
mpl_task *mpl_op_submit_ex(lua_State *L, mpl_pool *p, int base);

/* base: code, args... ; runs body(scope, args...) on the calling thread;
 * scope:spawn(f, ...) (mpl_scope_spawn) adds f(scope, ...) to the scope,
 * which ends when the body and every spawned function have finished. */
int mpl_op_scope(lua_State *L, mpl_pool *p, int base);

/* spawn(scope, code, args...): a lua_CFunction. */
int mpl_scope_spawn(lua_State *L);

/* ------------------------------------------------------------ handles
 * Lua holds a pool, a task or a scope as a full userdata of one kind
 * (mpl_handle.c): the pointer, and a metatable per kind whose __gc frees
 * an owned pool (mpl_pool_free) or task (mpl_task_free), or drops the
 * scope's reference. */

typedef enum mpl_kind { MPL_POOL, MPL_TASK, MPL_SCOPE } mpl_kind;

/* Pushes a handle of kind k to ptr; an `owned` one releases ptr when it
 * is collected. May raise (out of memory) before it takes ptr. */
void mpl_push_handle(lua_State *L, mpl_kind k, void *ptr, int owned);

/* The pointer of the handle of kind k at idx; raises "micropool: bad
 * argument #idx (pool expected, got ...)" for anything else. */
void *mpl_check_handle(lua_State *L, int idx, mpl_kind k);

/* lua_CFunction: returns the scope handles' metatable, for micropool.lua
 * to give the handles their methods. */
int mpl_scope_metatable(lua_State *L);

/* ------------------------------------------------------------ tasks */

/* Waits; pushes the task's results or raises its error (or a
 * cancellation error). */
int  mpl_task_wait(lua_State *L, mpl_task *t);
/* As mpl_task_wait, for at most timeout_ns; on timeout pushes nil and
 * "timeout" (2 values). */
int  mpl_task_wait_for(lua_State *L, mpl_task *t, uint64_t timeout_ns);
int  mpl_task_done(mpl_task *t);
/* 1 if the task will never run, 0 if it started or finished. */
int  mpl_task_cancel(mpl_task *t);
void mpl_task_free(mpl_task *t);

#endif /* MPL_H */
