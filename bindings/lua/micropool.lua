--- micropool: a work-stealing thread pool for Lua 5.4.
--
--   local micropool = require "micropool"
--   local pool <close> = micropool.new{threads = 4}
--   local a, b = pool:join(f, g)
--
-- A lua_State runs on one thread at a time, so every thread of a pool runs
-- Lua code in a lua_State of its own. What crosses between states:
--
--  * functions travel as code (string.dump). Their upvalues are copied
--    with them: values as arguments are, Lua functions recursively with
--    their own upvalues, C functions by their name in package.loaded, and
--    the global table is the receiving state's. A copy is a copy: what a
--    callback writes to it stays in that callback.
--  * arguments and results are copied the same way: nil, booleans,
--    numbers, strings, functions and tables of these (read raw, with their
--    metatable only when it is registered with register_class), and
--    micropool buffers by reference.
--  * an error() in a callback is raised again in the caller, same value;
--    a string error gets the callback's traceback appended.
--
-- Indices handed to for_each and reduce run from 1 to n. Thread indices
-- are the pool's: 0 for the calling thread, 1..threads-1 for the workers.

local core = require "micropool_core"

local debug, error, getmetatable, load, math, package, pairs, select, setmetatable,
      string, table, tostring, type, _G =
      debug, error, getmetatable, load, math, package, pairs, select, setmetatable,
      string, table, tostring, type, _G

local micropool = {
  version = core.version(),
  _VERSION = "micropool " .. core.version(),
}

local Pool = {}
Pool.__index = Pool
Pool.__name = "micropool.pool"

local Task = {}
Task.__index = Task
Task.__name = "micropool.task"

-- Pool, task and scope handles are userdata of the C side, each kind with
-- a metatable of its own. Pools and tasks are wrapped in tables below;
-- scope handles are the scopes, and their metatable gets Scope's methods.
local Scope = {}
local scope_mt = core.scope_metatable()
scope_mt.__index = Scope

-- ------------------------------------------------------------ checks

local here = debug.getinfo(1, "S").source

-- Raises msg at the first caller outside this file: the user's line.
local function raise(msg)
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if info == nil or info.source ~= here then break end
    level = level + 1
  end
  error(msg, level)
end

local function argerror(n, fname, msg)
  raise(string.format("bad argument #%d to '%s' (%s)", n, fname, msg))
end

local function typeerror(n, fname, expected, got)
  argerror(n, fname, expected .. " expected, got " .. type(got))
end

local function check_self(self, cls, fname)
  if getmetatable(self) ~= cls then
    local what = cls == Pool and "pool" or cls == Task and "task" or "scope"
    raise(string.format("bad self to '%s' (%s expected, got %s; call it as %s:%s(...))",
                        fname, what, type(self), what, fname))
  end
end

local function check_count(v, n, fname, what)
  local i = math.tointeger(v)
  if i == nil then typeerror(n, fname, "integer " .. what, v) end
  if i < 0 then argerror(n, fname, what .. " must not be negative") end
  return i
end

-- Bytecode of functions already checked and dumped, by function.
local dumped = setmetatable({}, {__mode = "k"})

-- The upvalue that is not the global _ENV, if any.
local function captured(f)
  local nups = debug.getinfo(f, "u").nups
  for i = 1, nups do
    local name, value = debug.getupvalue(f, i)
    if name ~= "_ENV" or value ~= _G then return name == "" and "?" or name end
  end
end

-- What the C side gets for f: its bytecode when the code is all it needs
-- (cached), or f itself, which is encoded with its upvalues at every call
-- (their values may have changed) and rebuilt in the other state.
local function check_function(f, n, fname)
  local code = dumped[f]
  if code then return code end
  if type(f) ~= "function" then typeerror(n, fname, "function", f) end
  if debug.getinfo(f, "S").what == "C" or captured(f) then
    code = f
  else
    code = string.dump(f)
  end
  dumped[f] = code
  return code
end

-- A join side: a function, or {function, args...}.
local function check_side(v, n, fname)
  if type(v) == "table" then
    if v[1] == nil then argerror(n, fname, "{function, args...} expected, got an empty table") end
    return check_function(v[1], n, fname), v
  end
  if type(v) ~= "function" then typeerror(n, fname, "function or {function, args...}", v) end
  return check_function(v, n, fname), nil
end

local split_flags = { dynamic = core.SPLIT_DYNAMIC, static = core.SPLIT_STATIC }

-- grain: an integer (0 = let the pool choose), or a table
-- {grain = g, split = "dynamic" | "static", deterministic = bool}.
local function check_grain(g, n, fname, with_det)
  if g == nil then return 0, 0 end
  if type(g) ~= "table" then return check_count(g, n, fname, "grain"), 0 end
  local grain, flags = 0, 0
  for k, v in pairs(g) do
    if k == "grain" then
      grain = math.tointeger(v)
      if grain == nil or grain < 0 then argerror(n, fname, "grain must be a non-negative integer") end
    elseif k == "split" then
      local f = split_flags[v]
      if f == nil then argerror(n, fname, "split must be \"dynamic\" or \"static\", got " .. tostring(v)) end
      flags = flags | f
    elseif k == "deterministic" and with_det then
      if type(v) ~= "boolean" then argerror(n, fname, "deterministic must be a boolean") end
      if v then flags = flags | core.DETERMINISTIC end
    else
      argerror(n, fname, "unknown option '" .. tostring(k) .. "'")
    end
  end
  return grain, flags
end

-- ------------------------------------------------------------ pools

local function wrap_pool(p)
  return setmetatable({ _p = p }, Pool)
end

local function init_of(init)
  if init == nil then return core.INIT_NONE, "" end
  if type(init) == "function" then
    local code = check_function(init, 1, "new")
    if type(code) ~= "string" then
      raise("bad argument #1 to 'new' (worker_init: the function captures the upvalue '"
            .. (captured(init) or "?") .. "', and worker_init runs before anything can be "
            .. "copied to a state: make it a global, pass code or a module name instead)")
    end
    return core.INIT_CHUNK, code
  end
  if type(init) ~= "string" then
    raise("bad argument #1 to 'new' (worker_init: function, code or module name expected, got "
          .. type(init) .. ")")
  end
  if init:match("^[%a_][%w_]*$") or init:match("^[%a_][%w_]*[%.%-][%w_%.%-]*$") then
    return core.INIT_MODULE, init
  end
  local ok, err = load(init, "=worker_init", "t")
  if not ok then raise("bad argument #1 to 'new' (worker_init: " .. err .. ")") end
  return core.INIT_CHUNK, init
end

local new_options = { threads = true, spin_us = true, pin = true, name = true, worker_init = true,
                      stack_size = true, trace = true }

--- Creates a pool. Options (all optional):
--   threads      threads in all, the calling thread counted (0 = one per CPU)
--   spin_us      how long an idle thread spins before it sleeps
--   pin          true to pin worker i to CPU i
--   name         worker thread name prefix
--   worker_init  a function, a chunk of code or a module name, run once in
--                every lua_State of the pool before its first callback
--   stack_size   (since 1.1) each worker's stack in bytes, 0 = the system's
--   trace        (since 1.1) a file name: a Chrome trace-event record of
--                the pool's work is written there when the pool closes
function micropool.new(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    raise("bad argument #1 to 'new' (table of options expected, got " .. type(opts) .. ")")
  end
  for k in pairs(opts) do
    if not new_options[k] then
      raise("bad argument #1 to 'new' (unknown option '" .. tostring(k) .. "')")
    end
  end
  local threads = opts.threads == nil and 0 or math.tointeger(opts.threads)
  if threads == nil or threads < 0 or threads > core.THREADS_MAX then
    raise("bad argument #1 to 'new' (threads must be an integer from 0 to "
          .. math.tointeger(core.THREADS_MAX) .. ")")
  end
  local spin = opts.spin_us == nil and core.SPIN_US_DEFAULT or math.tointeger(opts.spin_us)
  if spin == nil or spin < 0 or spin > 0xffffffff then
    raise("bad argument #1 to 'new' (spin_us must be a non-negative integer)")
  end
  if opts.pin ~= nil and type(opts.pin) ~= "boolean" then
    raise("bad argument #1 to 'new' (pin must be a boolean)")
  end
  if opts.name ~= nil and type(opts.name) ~= "string" then
    raise("bad argument #1 to 'new' (name must be a string)")
  end
  local stack = opts.stack_size == nil and 0 or math.tointeger(opts.stack_size)
  if stack == nil or (stack ~= 0 and stack < core.STACK_MIN) then
    raise("bad argument #1 to 'new' (stack_size must be 0 or an integer of at least "
          .. math.tointeger(core.STACK_MIN) .. " bytes, got " .. tostring(opts.stack_size) .. ")")
  end
  if opts.trace ~= nil and type(opts.trace) ~= "string" then
    raise("bad argument #1 to 'new' (trace must be a file name, got " .. type(opts.trace) .. ")")
  end
  local kind, init = init_of(opts.worker_init)
  local p = core.pool_new(threads, spin, opts.pin and 1 or 0, opts.name, kind, init,
                          package.path, package.cpath, stack, opts.trace)
  return wrap_pool(p)
end

local shared

--- Since 1.1. The process-wide pool (mp_pool_shared): one set of workers
-- for every library of the process that uses it, and for every caller of
-- micropool.shared() in this lua_State (they get the same pool object).
-- Its size is the CPU count, or MICROPOOL_THREADS from the environment.
-- pool:close() waits for the tasks submitted through it (and helps run
-- them), then lets it go; the next micropool.shared() takes it again.
function micropool.shared()
  if shared == nil or core.pool_closed(shared._p) ~= 0 then
    shared = wrap_pool(core.pool_shared(package.path, package.cpath))
  end
  return shared
end

local current

--- The pool whose callback is running in this lua_State (inside a
-- callback or worker_init), or nil in a state that no pool owns.
function micropool.current()
  if current == nil then
    local p = core.current()
    if p == nil then return nil end
    current = wrap_pool(p)
  end
  return current
end

--- Threads in the pool, the calling thread counted. Raises on a closed
-- pool, as the other methods that need the threads do.
function Pool:threads()
  check_self(self, Pool, "threads")
  if core.pool_closed(self._p) ~= 0 then raise("micropool: the pool is closed") end
  return math.tointeger(core.pool_threads(self._p))
end

--- This thread's index in the pool while it runs pool work (0 = a calling
-- thread, 1..threads-1 = the workers), -1 outside.
function Pool:thread_index()
  check_self(self, Pool, "thread_index")
  return math.tointeger(core.pool_thread_index(self._p))
end

--- Runs f and g, potentially in parallel, and returns all of f's results,
-- then all of g's; a function that returns nothing gives one nil, so
-- `local a, b = pool:join(f, g)` pairs single results. f and g are
-- functions or {function, args...}.
function Pool:join(f, g)
  check_self(self, Pool, "join")
  local fcode, fargs = check_side(f, 1, "join")
  local gcode, gargs = check_side(g, 2, "join")
  return core.join(self._p, fcode, fargs, gcode, gargs)
end

--- Calls f(i, ...) for every i in 1..n, in parallel. grain: the smallest
-- run of indices worth handing to another thread (0 = automatic), or a
-- table {grain = g, split = "static"}.
function Pool:for_each(n, grain, f, ...)
  check_self(self, Pool, "for_each")
  n = check_count(n, 1, "for_each", "n")
  local g, flags = check_grain(grain, 2, "for_each", false)
  local code = check_function(f, 3, "for_each")
  return core.for_each(self._p, n, g, flags, code, ...)
end

--- A parallel fold over 1..n: each part starts from a copy of init and
-- folds acc = fold(acc, i, ...); parts are merged left to right with
-- combine(a, b), which must be associative, with init as its identity.
-- grain as for for_each, and the table form also takes
-- deterministic = true: results bitwise equal whatever the thread count.
function Pool:reduce(n, grain, init, fold, combine, ...)
  check_self(self, Pool, "reduce")
  n = check_count(n, 1, "reduce", "n")
  local g, flags = check_grain(grain, 2, "reduce", true)
  local fcode = check_function(fold, 4, "reduce")
  local ccode = check_function(combine, 5, "reduce")
  return core.reduce(self._p, n, g, flags, init, fcode, ccode, ...)
end

--- Calls f(v, i) for every element v = t[i] of t, in parallel, and returns
-- the results: a new table of f's first results for a table (its elements
-- are copied to the states that need them), or for a buffer, a buffer of
-- numbers: `out` when given (a buffer of the same length, t itself to map
-- in place), or a new one. Nothing of a buffer is copied.
function Pool:map(t, f, out)
  check_self(self, Pool, "map")
  local tt = type(t)
  if tt ~= "table" and not (tt == "userdata" and tostring(t):find("^micropool.buffer")) then
    typeerror(1, "map", "table or buffer", t)
  end
  local code = check_function(f, 2, "map")
  if out ~= nil and (tt == "table" or type(out) ~= "userdata") then
    argerror(3, "map", "an output buffer goes with an input buffer")
  end
  return core.map(self._p, t, code, out)
end

--- Calls f(index, count, ...) once on every thread of the pool (index
-- 0..count-1) and returns a list whose [index + 1] is that part's first
-- result.
function Pool:broadcast(f, ...)
  check_self(self, Pool, "broadcast")
  local code = check_function(f, 1, "broadcast")
  return core.broadcast(self._p, code, ...)
end

--- Runs body(scope, ...) on the calling thread; body, and every function
-- spawned, may spawn more with scope:spawn(f, ...), which runs
-- f(scope, ...) on any thread of the pool. Returns when all have finished.
function Pool:scope(body, ...)
  check_self(self, Pool, "scope")
  local code = check_function(body, 1, "scope")
  return core.scope(self._p, code, ...)
end

--- Adds f(scope, ...) to the scope.
function Scope:spawn(f, ...)
  check_self(self, scope_mt, "spawn")
  local code = check_function(f, 1, "spawn")
  core.scope_spawn(self, code, ...)
end

local priorities = { high = core.PRIO_HIGH, normal = core.PRIO_NORMAL, low = core.PRIO_LOW }

local submit_options = { priority = true, after = true, thread = true, name = true,
                         cancel_on_error = true }

-- pool:submit({f, args...}, opts): the options checked, then mp_submit_ex.
local function submit_ex(pool, side, opts, nextra)
  local code = check_side(side, 1, "submit")
  if nextra > 0 then
    argerror(3, "submit", "no more arguments expected after the options: the arguments of "
             .. "the task go in its table, {function, args...}")
  end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then typeerror(2, "submit", "table of options", opts) end
  for k in pairs(opts) do
    if not submit_options[k] then argerror(2, "submit", "unknown option '" .. tostring(k) .. "'") end
  end
  local prio = core.PRIO_NORMAL
  if opts.priority ~= nil then
    prio = priorities[opts.priority]
    if prio == nil then
      argerror(2, "submit", "priority must be \"high\", \"normal\" or \"low\", got "
               .. (type(opts.priority) == "string" and string.format("%q", opts.priority)
                   or tostring(opts.priority)))
    end
  end
  local thread = -1
  if opts.thread ~= nil then
    if core.pool_closed(pool._p) ~= 0 then raise("micropool: the pool is closed") end
    local n = math.tointeger(core.pool_threads(pool._p))
    thread = math.tointeger(opts.thread)
    if thread == nil or thread < 0 or thread >= n then
      argerror(2, "submit", string.format("thread must be an integer from 0 to %d, got %s",
                                          n - 1, tostring(opts.thread)))
    end
  end
  local name = opts.name
  if name ~= nil and type(name) ~= "string" then
    argerror(2, "submit", "name must be a string, got " .. type(name))
  end
  local flags = 0
  if opts.cancel_on_error ~= nil then
    if type(opts.cancel_on_error) ~= "boolean" then
      argerror(2, "submit", "cancel_on_error must be a boolean, got " .. type(opts.cancel_on_error))
    end
    if opts.cancel_on_error then flags = core.AFTER_CANCEL_ON_ERROR end
  end
  local after
  if opts.after ~= nil then
    if type(opts.after) ~= "table" or getmetatable(opts.after) == Task then
      argerror(2, "submit", "after must be a list of tasks, got "
               .. (getmetatable(opts.after) == Task and "a task (put it in a list: {task})"
                   or type(opts.after)))
    end
    after = {}
    for i, t in pairs(opts.after) do
      if math.type(i) ~= "integer" or i < 1 or i > #opts.after then
        argerror(2, "submit", "after must be a list of tasks, got a key " .. tostring(i))
      end
      if getmetatable(t) ~= Task then
        argerror(2, "submit", string.format("after[%d] must be a task, got %s", i, type(t)))
      end
      after[i] = t._t
    end
  end
  return setmetatable({ _t = core.submit_ex(pool._p, prio, thread, flags, name, after, code,
                                            table.unpack(side, 2, #side)) }, Task)
end

--- Queues f(...) as a background task and returns the task. Since 1.1,
-- pool:submit({f, args...}, opts) takes options: priority = "high" |
-- "normal" | "low", after = {tasks...} (prerequisites), cancel_on_error,
-- thread = i (the one thread that may run it; 0 = outside the pool, see
-- run_pinned), name (for tracing).
function Pool:submit(f, ...)
  check_self(self, Pool, "submit")
  if type(f) == "table" then return submit_ex(self, f, (...), select("#", ...) - 1) end
  local code = check_function(f, 1, "submit")
  return setmetatable({ _t = core.submit(self._p, code, ...) }, Task)
end

local function check_seconds(v, n, fname, what)
  if type(v) ~= "number" then typeerror(n, fname, what .. " in seconds", v) end
  if not (v >= 0) then argerror(n, fname, what .. " must be a non-negative number, got " .. tostring(v)) end
  return v
end

--- Since 1.1. Runs the tasks bound to thread 0 (submit's thread = 0) on
-- this thread, until none is left or max_seconds have passed (nil: only
-- those queued now); returns how many ran. Never sleeps.
function Pool:run_pinned(max_seconds)
  check_self(self, Pool, "run_pinned")
  local s = max_seconds == nil and 0 or check_seconds(max_seconds, 1, "run_pinned", "max_seconds")
  return core.run_pinned(self._p, s)
end

--- Since 1.1. A file descriptor that polls readable while tasks bound to
-- thread 0 are queued, for an event loop; owned by the pool (never read
-- or close it).
function Pool:pinned_fd()
  check_self(self, Pool, "pinned_fd")
  return core.pinned_fd(self._p)
end

--- Since 1.1. Runs at most one piece of pending work this thread may run;
-- true if it ran one. Never waits.
function Pool:yield()
  check_self(self, Pool, "yield")
  return core.yield(self._p)
end

--- Counters since creation: jobs, steals, sleeps, wakeups, tasks_run.
function Pool:stats()
  check_self(self, Pool, "stats")
  return core.stats(self._p)
end

--- Runs the tasks still queued, stops the threads and closes their
-- lua_States. Closing twice does nothing.
function Pool:close()
  check_self(self, Pool, "close")
  core.pool_close(self._p)
end

function Pool:closed()
  check_self(self, Pool, "closed")
  return core.pool_closed(self._p) ~= 0
end

Pool.__close = Pool.close

function Pool:__tostring()
  if core.pool_closed(self._p) ~= 0 then return "micropool.pool (closed)" end
  return string.format("micropool.pool (%d threads)", math.tointeger(core.pool_threads(self._p)))
end

-- ------------------------------------------------------------ tasks

--- Waits for the task and returns its results, or raises its error (or
-- an error if it was cancelled). Since 1.1, with a timeout in seconds:
-- nil, "timeout" if the task has not finished by then (0: just look); a
-- wait with a timeout never runs the task on this thread.
function Task:wait(timeout)
  check_self(self, Task, "wait")
  if timeout == nil then return core.wait(self._t) end
  return core.wait_for(self._t, check_seconds(timeout, 1, "wait", "timeout"))
end

--- true once the task has finished or was cancelled. Never blocks.
function Task:done()
  check_self(self, Task, "done")
  return core.task_done(self._t) ~= 0
end

--- Makes sure the task never runs: true if it will not (now or already
-- cancelled), false if it has started or finished.
function Task:cancel()
  check_self(self, Task, "cancel")
  return core.task_cancel(self._t) ~= 0
end

function Task:__tostring()
  return "micropool.task (" .. (core.task_done(self._t) ~= 0 and "done" or "pending") .. ")"
end

-- ------------------------------------------------------------ values

--- A shared numeric buffer: n zeros, or the numbers of a list. One block of
-- doubles that every state it is passed to (as an argument or an upvalue)
-- reads and writes in place: buf[i], buf[i] = x, #buf, buf:totable().
function micropool.buffer(n_or_list)
  local t = type(n_or_list)
  if t ~= "table" and math.tointeger(n_or_list) == nil then
    typeerror(1, "buffer", "length or list of numbers", n_or_list)
  end
  return core.buffer(n_or_list)
end

--- Registers mt under name in this lua_State: a table whose metatable is mt
-- keeps it when it is copied to a state that registered the same name (an
-- error object, a result, an argument). Register in worker_init for the
-- pool's states, and in the caller.
function micropool.register_class(name, mt)
  if type(name) ~= "string" then typeerror(1, "register_class", "string", name) end
  if type(mt) ~= "table" then typeerror(2, "register_class", "table", mt) end
  core.register_class(name, mt)
  return mt
end

micropool.Pool, micropool.Task, micropool.Scope = Pool, Task, Scope

return micropool
