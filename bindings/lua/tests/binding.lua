--- Tests of what is particular to the Lua binding: shipping functions,
-- copying values, errors, argument checks, worker_init, tasks and scopes,
-- map and buffers.

local dir = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path

local micropool = require "micropool"
local core = require "micropool_core"
local mptest = require "mptest"
local run, eq, truthy = mptest.run, mptest.eq, mptest.truthy
local raises, raises_with = mptest.raises, mptest.raises_with

local pool = micropool.new{threads = 2}

-- A string error without the traceback a callback's error carries.
local function message(err)
  return type(err) == "string" and (err:match("^(.-)\nstack traceback:") or err) or err
end

-- ------------------------------------------------------------ shipping

run("captured locals travel with the function, in every operation", function()
  local secret, list, sqrt = 42, {1, 2, 3}, math.sqrt
  local function helper(x) return x + #list end
  local function f() return helper(secret) + sqrt(16) end       -- 42 + 3 + 4
  local function add(a, b) return a + b + (secret - 42) end
  eq(f(), 49.0, "in the caller")
  eq(select(2, pool:join(f, f)), 49.0, "join")
  eq(pool:join({f}, function() end), 49.0, "join, table form")
  eq(pool:reduce(4, 1, 0, function(acc, i) return acc + f() + i end, add), 206.0, "reduce")
  eq(pool:broadcast(f)[2], 49.0, "broadcast")
  eq(pool:submit(f):wait(), 49.0, "submit")
  local got = pool:submit(function()
    local seen
    require("micropool").current():scope(function(s)
      s:spawn(function() seen = f() end)
    end)
    return seen
  end):wait()
  eq(got, nil, "a spawned function's write to the body's upvalue stays in its copy")
  local out = micropool.buffer(2)
  pool:scope(function(s) s:spawn(function() out[1] = f() end) end)
  eq(out[1], 49.0, "scope and spawn, through a buffer")
  pool:for_each(2, 1, function(i) out[i] = f() + i end)
  eq(out[2], 51.0, "for_each")
  eq(pool:map({1, 2}, function(v) return f() + v end)[2], 51.0, "map")
end)

run("recursive and mutually recursive local functions travel", function()
  local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
  local is_even, is_odd
  function is_even(n) if n == 0 then return true end return is_odd(n - 1) end
  function is_odd(n) if n == 0 then return false end return is_even(n - 1) end
  local a, b = pool:join({fib, 20}, {is_odd, 7})
  eq(a, 6765, "fib")
  eq(b, true, "is_odd")
end)

run("upvalues shared between functions stay shared in the copy", function()
  local count = 0
  local function bump() count = count + 1 end
  local function get() return count end
  eq(pool:submit(function() bump(); bump(); return get() end):wait(), 2, "shared in the worker")
  eq(count, 0, "the caller's local is untouched")
end)

run("a copied upvalue is a copy: writes stay in the callback's state", function()
  local counter = 0
  pool:for_each(100, 1, function() counter = counter + 1 end)
  eq(counter, 0, "the caller's counter")
  local t = {n = 1}
  local n = pool:submit(function() t.n = t.n + 1; return t.n end):wait()
  eq(n, 2, "the copy was written")
  eq(t.n, 1, "the caller's table")
end)

run("C functions of loaded modules travel by name", function()
  eq(pool:submit(math.abs, -3):wait(), 3, "a module's C function as the callback")
  local fmt, concat = string.format, table.concat
  eq(pool:submit(function() return fmt("%03d", 7) .. concat({"a", "b"}) end):wait(),
     "007ab", "as upvalues")
  eq(pool:submit(function(g) return g(-2) end, math.abs):wait(), 2, "as an argument")
end)

run("functions are values like the others: arguments, results, table fields", function()
  local k = 10
  local inc = function(v) return v + k end
  eq(pool:submit(function(g, x) return g(x) end, inc, 1):wait(), 11, "argument")
  local back = pool:submit(function(step) return function(v) return v * step end end, 3):wait()
  eq(back(5), 15, "a function made by the callback, called in the caller")
  local ops = pool:submit(function(t) return t.double(t.x) end, {x = 4, double = function(v) return 2 * v end}):wait()
  eq(ops, 8, "a function in a table")
end)

run("a global that worker_init defined and the chunk shadows with a local", function()
  local p <close> = micropool.new{threads = 2, worker_init = "function work(x) return x + 1 end"}
  local function work(x) return x + 2 end      -- the local is what the callback sees
  eq(p:submit(function() return work(1) end):wait(), 3, "the local's copy")
  eq(p:submit(function() return _G.work(1) end):wait(), 2, "the worker's global")
end)

run("what cannot travel is refused, naming the upvalue and what to do", function()
  local out = io.stdout
  local co = coroutine.create(print)
  local iter = string.gmatch("a", "a")
  local function f() return out end
  for _, call in ipairs{
    function() pool:join(f, f) end,
    function() pool:join({f}, function() end) end,
    function() pool:for_each(1, 0, f) end,
    function() pool:reduce(1, 0, 0, f, function() end) end,
    function() pool:reduce(1, 0, 0, function() end, f) end,
    function() pool:broadcast(f) end,
    function() pool:submit(f) end,
    function() pool:scope(f) end,
    function() pool:scope(function(s) s:spawn(f) end) end,
    function() pool:map({1}, f) end,
  } do
    local err = raises_with("'out': a userdata value cannot cross", call)
    truthy(err:find("create it inside the function, or in worker_init", 1, true), err)
  end
  raises_with("upvalue 'co': a thread value cannot cross", pool.submit, pool, function() return co end)
  raises_with("a coroutine lives in one state", pool.submit, pool, function() return co end)
  local err = raises_with("upvalue 'iter': a C function that is not a field of a loaded module",
                          pool.submit, pool, function() return iter() end)
  truthy(err:find("call it through its module", 1, true), err)
  local function g() return out end
  raises_with("upvalue 'g' -> 'out': a userdata", pool.submit, pool, function() return g() end)
  raises_with("worker_init: the function captures the upvalue 'out'",
              function() micropool.new{worker_init = f} end)
end)

run("the refusal points at the caller's line", function()
  local x = io.stdout
  local err = raises(function() pool:join(function() return x end, print) end)
  truthy(err:find("^[^:]*binding.lua:%d+: micropool: join: cannot copy the function"), "position in " .. err)
  err = raises(function() pool:submit(function() return x end) end)
  truthy(err:find("^[^:]*binding.lua:%d+: micropool: submit:"), "position in " .. err)
end)

run("globals are allowed and resolve in the worker's state", function()
  shipped_global = "caller"
  local a, b = pool:join(function() return shipped_global end, function() return type(print) end)
  eq(a, nil, "the caller's global is not copied")
  eq(b, "function", "the worker has the standard library")
end)

run("a function with a custom _ENV gets a copy of it", function()
  local f = load("return x", "=chunk", "t", {x = 1})
  eq(pool:broadcast(f)[2], 1, "the environment's field")
end)

run("functions defined inside a callback can be shipped from there", function()
  local r = pool:join(function()
    local inner = require("micropool").current()
    local x, y = inner:join(function() return 20 end, {function(v) return v end, 22})
    return x + y
  end, function() end)
  eq(r, 42, "nested join result")
end)

-- ------------------------------------------------------------ copying

run("arguments and results keep their types and values", function()
  local values = {
    nil, true, false, 0, -7, math.maxinteger, math.mininteger, 0.5, -0.0,
    1e308, math.huge, "", "with\0zero", string.rep("x", 100000),
  }
  local n = 14
  local t = pool:submit(function(...) return ... end, table.unpack(values, 1, n))
  local back = table.pack(t:wait())
  eq(back.n, n, "number of results")
  for i = 1, n do
    eq(back[i], values[i], "value " .. i)
  end
  eq(1 / back[9], -math.huge, "negative zero keeps its sign")
  local nan = pool:submit(function() return 0 / 0 end):wait()
  truthy(nan ~= nan, "NaN comes back as NaN")
end)

run("tables are deep-copied, keys of every kind", function()
  local src = {1, 2, 3, name = "x", [1.5] = "f", [true] = "b",
               nested = {deep = {deeper = {"y"}}}, [{k = 1}] = "table key"}
  local got = pool:submit(function(t)
    t.added = true
    return t
  end, src):wait()
  eq(src.added, nil, "the caller's table is not modified")
  eq(got[3], 3, "array part")
  eq(#got, 3, "length")
  eq(got.name, "x", "string key")
  eq(got[1.5], "f", "float key")
  eq(got[true], "b", "boolean key")
  eq(got.nested.deep.deeper[1], "y", "nested tables")
  eq(got.added, true, "the worker's change comes back")
  local tk
  for k, v in pairs(got) do if type(k) == "table" then tk = k; eq(v, "table key", "value") end end
  truthy(tk and tk.k == 1, "table used as a key")
end)

run("a nil in the argument list is kept", function()
  local n, a, b = pool:submit(function(...) return select("#", ...), ... end, nil, 2):wait()
  eq(n, 2, "argument count")
  eq(a, nil, "first")
  eq(b, 2, "second")
end)

run("metatables are not copied", function()
  local obj = setmetatable({}, {__index = function() return "meta" end})
  eq(pool:submit(function(t) return t.anything end, obj):wait(), nil, "no metatable")
end)

run("values that cannot be copied are refused with a clear error", function()
  raises_with("cannot copy argument #2: a C function that is not a field of a loaded module",
              function() pool:submit(function() end, 1, string.gmatch("", "")) end)
  raises_with("a userdata value cannot cross",
              function() pool:for_each(1, 0, function() end, {io.stdout}) end)
  raises_with("a thread value cannot cross",
              function() pool:broadcast(function() end, coroutine.create(print)) end)
  local cyclic = {}
  cyclic.self = cyclic
  raises_with("cyclic", function() pool:submit(function() end, cyclic) end)
  raises_with("initial value", function() pool:reduce(1, 0, io.stdout, function() end, function() end) end)
  local err = raises(function() pool:join({function() end, io.stdout}, function() end) end)
  truthy(err:find("^[^:]*binding.lua:%d+: micropool: join: cannot copy argument #1"), err)
end)

run("large arguments stay right across consecutive and nested operations", function()
  local a, b = {}, {}
  for i = 1, 5000 do a[i] = i; b[i] = 2 * i end
  local function fold(acc, i, t) return acc + t[i] end
  local function add(x, y) return x + y end
  for _ = 1, 3 do
    eq(pool:reduce(5000, 100, 0, fold, add, a), 12502500, "sum of a")
    eq(pool:reduce(5000, 100, 0, fold, add, b), 25005000, "sum of b")
  end
  -- The inner reduce, with other large arguments, runs between the outer
  -- reduce's parts in the same states.
  local r = pool:reduce(4, 1, 0, function(acc, i, t, u)
    local inner = require("micropool").current():reduce(#u, 100, 0,
      function(s, k, v) return s + v[k] end, function(x, y) return x + y end, u)
    return acc + t[i] + inner
  end, add, a, b)
  eq(r, 1 + 2 + 3 + 4 + 4 * 25005000, "nested")
end)

run("results that cannot be copied raise in the caller", function()
  raises_with("cannot copy result #1: a userdata value",
              function() pool:join(function() return io.stdout end, function() end) end)
  raises_with("cannot copy result #2: a thread value",
              function() pool:submit(function() return 1, coroutine.create(print) end):wait() end)
end)

-- ------------------------------------------------------------ errors

run("error() in a callback is raised again with its message", function()
  local err = raises(pool.join, pool, function() return 1 end, function() error("boom") end)
  truthy(message(err):match("binding.lua:%d+: boom$"), "message with position: " .. err)
  eq(message(raises(pool.for_each, pool, 10, 1, function(i) if i == 7 then error("seven", 0) end end)),
     "seven", "for_each")
  eq(message(raises(pool.broadcast, pool, function(i) if i == 1 then error("one", 0) end end)),
     "one", "broadcast")
end)

run("a string error carries the callback's traceback", function()
  local function deeper() error("from deeper") end
  local line = debug.getinfo(deeper, "S").linedefined
  for _, call in ipairs{
    function() pool:join(function() deeper() end, function() end) end,
    function() pool:for_each(4, 1, function(i) if i == 3 then deeper() end end) end,
    function() pool:submit(function() deeper() end):wait() end,
    function() pool:map({1, 2}, function() deeper() end) end,
  } do
    local err = raises(call)
    truthy(err:find("from deeper\nstack traceback:\n", 1, false), err)
    truthy(err:find("binding.lua:" .. line .. ": in upvalue 'deeper'", 1, true), err)
  end
  -- A nested callback's traceback is not repeated by the outer ones.
  local err = raises(pool.join, pool, function()
    require("micropool").current():join(function() error("inner", 0) end, function() end)
  end, function() end)
  eq(select(2, err:gsub("stack traceback:", "")), 1, "tracebacks in " .. err)
end)

run("error tables keep a metatable registered by name", function()
  local class = [[
    TestError = require("micropool").register_class("test.Error", {
      __tostring = function(e) return "TestError: " .. e.msg end,
    })
  ]]
  load(class)()
  local p <close> = micropool.new{threads = 2, worker_init = class}
  for _, call in ipairs{
    function() p:join(function() error(setmetatable({msg = "bad"}, TestError)) end, function() end) end,
    function() p:submit(function() error(setmetatable({msg = "bad"}, TestError)) end):wait() end,
    function() p:for_each(3, 1, function() error(setmetatable({msg = "bad"}, TestError)) end) end,
  } do
    local err = raises(call)
    truthy(getmetatable(err) == TestError, "the caller's registered metatable")
    eq(tostring(err), "TestError: bad", "tostring")
  end
  eq(p:submit(function(e) return getmetatable(e) == TestError and e.msg end,
              setmetatable({msg = "arg"}, TestError)):wait(), "arg", "an argument keeps it too")
  raises_with("already the name of another metatable",
              micropool.register_class, "test.Error", {})
end)

run("error values that are tables come back as tables", function()
  local err = raises(pool.join, pool, function() error({code = 42, why = "x"}) end, function() end)
  eq(type(err), "table", "error type")
  eq(err.code, 42, "field")
end)

run("an error object that cannot be copied is described", function()
  local err = raises(pool.join, pool, function() error(io.stdout) end, function() end)
  eq(err, "(error object is a userdata value)", "description")
end)

run("errors propagate out of nested calls", function()
  local err = raises(pool.join, pool, function()
    require("micropool").current():for_each(100, 1, function(i)
      if i == 50 then error("deep", 0) end
    end)
  end, function() end)
  eq(message(err), "deep", "nested error")
end)

run("an error stops the parts not yet started", function()
  local small = micropool.new{threads = 1}
  raises(small.for_each, small, 1000, 1, function(i)
    ran = (ran or 0) + 1
    if i == 10 then error("stop") end
  end)
  local count = small:broadcast(function() return ran end)[1]
  truthy(count < 1000, "ran " .. count .. " of 1000 parts")
  small:close()
end)

run("a failing reduce combine is reported", function()
  local err = raises(pool.reduce, pool, 1000, 1, 0,
                     function(acc, i) return acc + i end,
                     function() error("combine failed", 0) end)
  eq(message(err), "combine failed", "combine error")
end)

run("the pool stays usable after errors", function()
  for _ = 1, 20 do
    raises(pool.join, pool, function() error("x") end, function() error("y") end)
  end
  eq(pool:reduce(100, 1, 0, function(a, i) return a + i end, function(a, b) return a + b end),
     5050, "reduce after errors")
end)

-- ------------------------------------------------------------ argument checks

run("bad arguments raise clear errors", function()
  local f = function() end
  raises_with("bad argument #1 to 'for_each' (integer n expected, got string)",
              function() pool:for_each("x", 0, f) end)
  raises_with("n must not be negative", function() pool:for_each(-1, 0, f) end)
  raises_with("bad argument #2 to 'for_each' (integer grain expected, got boolean)",
              function() pool:for_each(1, true, f) end)
  raises_with("bad argument #3 to 'for_each' (function expected, got nil)",
              function() pool:for_each(1, 0) end)
  raises_with("split must be \"dynamic\" or \"static\"",
              function() pool:for_each(1, {split = "zigzag"}, f) end)
  raises_with("unknown option 'deterministic'",
              function() pool:for_each(1, {deterministic = true}, f) end)
  raises_with("bad argument #2 to 'join' (function or {function, args...} expected, got number)",
              function() pool:join(f, 5) end)
  raises_with("got an empty table", function() pool:join(f, {}) end)
  raises_with("bad argument #5 to 'reduce' (function expected, got nil)",
              function() pool:reduce(1, 0, 0, f) end)
  raises_with("bad self to 'join' (pool expected, got nil; call it as pool:join(...))",
              function() pool.join(nil, f, f) end)
  raises_with("bad self to 'wait'", function() micropool.Task.wait({}) end)
  raises_with("bad argument #1 to 'new' (threads must be an integer",
              function() micropool.new{threads = -1} end)
  raises_with("threads must be an integer", function() micropool.new{threads = 1.5} end)
  raises_with("threads must be an integer", function() micropool.new{threads = 5000} end)
  raises_with("unknown option 'thread'", function() micropool.new{thread = 2} end)
  raises_with("table of options expected, got number", function() micropool.new(4) end)
  raises_with("pin must be a boolean", function() micropool.new{pin = 1} end)
  raises_with("worker_init: function, code or module name expected",
              function() micropool.new{worker_init = 5} end)
end)

run("the C module checks its arguments too", function()
  local p = pool._p
  raises_with("pool expected, got no value", core.join)
  raises_with("pool expected, got number", core.for_each, 5)
  raises(core.for_each, p, "x")
  raises(core.for_each, p, 1, 0, 0, nil)
  raises(core.reduce, p, 1, 0, 0)
  raises(core.broadcast, p, {})
  raises_with("task expected", core.wait, p)
  raises(core.pool_threads, "x")
  raises(core.pool_new)
  raises_with("text chunk", core.wait, core.submit(p, "return 1"))
  raises_with("text chunk", core.for_each, p, 1, 0, 0, "not bytecode")
  raises(core.for_each, p, 1, 0, 99, string.dump(function() end))
  raises(core.scope_spawn, {}, "x")
end)

run("a closed pool refuses work", function()
  local p = micropool.new{threads = 2}
  p:close()
  p:close()   -- closing twice is fine
  eq(p:closed(), true, "closed")
  raises_with("the pool is closed", function() p:join(function() end, function() end) end)
  raises_with("the pool is closed", function() p:submit(function() end) end)
  raises_with("the pool is closed", function() p:threads() end)
  raises_with("the pool is closed", function() p:stats() end)
  eq(tostring(p), "micropool.pool (closed)", "tostring")
end)

run("a pool cannot be closed from its own callback", function()
  local err = raises(pool.join, pool, function()
    require("micropool").current():close()
  end, function() end)
  truthy(tostring(err):find("from inside one of its own callbacks", 1, true), err)
end)

-- ------------------------------------------------------------ worker_init

run("worker_init code runs once in every state", function()
  local p <close> = micropool.new{threads = 3, worker_init = "inits = (inits or 0) + 1; tag = 'code'"}
  for _ = 1, 3 do p:for_each(100, 1, function() end) end
  local r = p:broadcast(function() return {inits, tag} end)
  eq(#r, 3, "parts")
  for i = 1, 3 do
    eq(r[i][1], 1, "init count in state " .. i)
    eq(r[i][2], "code", "init's global in state " .. i)
  end
end)

run("worker_init can be a module name", function()
  local p <close> = micropool.new{threads = 2, worker_init = "init_module"}
  local r = p:broadcast(function() return init_module_loaded end)
  eq(r[1], "yes", "state 0")
  eq(r[2], "yes", "state 1")
end)

run("worker_init can be a function", function()
  local p <close> = micropool.new{threads = 2, worker_init = function() greeting = "hi" end}
  eq(p:submit(function() return greeting end):wait(), "hi", "init's global")
end)

run("a broken worker_init is reported by new", function()
  raises_with("worker_init", function() micropool.new{worker_init = "this is not lua"} end)
  raises_with("worker_init failed: worker_init:1: init fails",
              function() micropool.new{worker_init = "error('init fails')"} end)
  raises_with("module 'no_such_module_here' not found",
              function() micropool.new{worker_init = "no_such_module_here"} end)
  raises_with("worker_init cannot run work on its own pool", function()
    micropool.new{worker_init = "require('micropool').current():join(function() end, function() end)"}
  end)
end)

-- ------------------------------------------------------------ pools, tasks, scopes

run("current() is nil outside and the pool inside", function()
  eq(micropool.current(), nil, "outside")
  local n, idx = pool:join(function()
    local p = require("micropool").current()
    return p:threads()
  end, function() end)
  eq(n, 2, "threads seen inside")
  eq(pool:threads(), 2, "threads")
  eq(idx, nil, "second side returns nothing")
end)

run("join returns all results of each function, as task:wait() does", function()
  local r = table.pack(pool:join(function() return 1, 2 end, function() return 3, nil, 5 end))
  eq(r.n, 5, "count")
  for i, v in ipairs{1, 2, 3} do eq(r[i], v, "result " .. i) end
  eq(r[5], 5, "after a nil")
  local n, b = select("#", pool:join(function() end, function() return "b" end)),
               select(2, pool:join(function() end, function() return "b" end))
  eq(n, 2, "a function that returns nothing gives one nil")
  eq(b, "b", "so the second result is g's")
  eq(select("#", pool:join({function(...) return ... end, 1, 2, 3}, function() end)), 4, "varargs")
end)

run("tasks: results, done, cancel after finishing", function()
  local t = pool:submit(function(a, b) return a + b, a * b end, 6, 7)
  local s, p = t:wait()
  eq(s, 13, "sum")
  eq(p, 42, "product")
  eq(t:done(), true, "done")
  eq(t:cancel(), false, "cancel after it ran")
  eq(select(2, t:wait()), 42, "waiting again")
end)

run("a dropped task still runs", function()
  local file = os.tmpname()
  local p = micropool.new{threads = 2}
  p:submit(function(path)
    local f = assert(io.open(path, "w"))
    f:write("ran")
    f:close()
  end, file)
  collectgarbage()
  collectgarbage()
  p:close()
  local f = assert(io.open(file))
  eq(f:read("a"), "ran", "the task's side effect")
  f:close()
  os.remove(file)
end)

run("a scope handle kept after its scope refuses to spawn", function()
  -- One thread: the body and the task below run in the same state.
  local p <close> = micropool.new{threads = 1}
  p:scope(function(s) kept_scope = s end)
  local msg = p:submit(function()
    local ok, e = pcall(kept_scope.spawn, kept_scope, function() end)
    return ok and "spawned" or e
  end):wait()
  truthy(msg:find("the scope has ended", 1, true), msg)
end)

run("deep nesting works, and too deep is an error, not a crash", function()
  local shared = [[
    function nest(d)
      if d == 0 then return 0 end
      return require("micropool").current():join({nest, d - 1}, function() end) + 1
    end
  ]]
  load(shared)()
  local p <close> = micropool.new{threads = 2, worker_init = shared}
  eq(p:join({nest, 50}, function() end), 50, "50 levels")
  raises_with("C stack overflow", p.join, p, {nest, 300}, function() end)
  eq(p:join({nest, 10}, function() end), 10, "usable afterwards")
end)

run("pools may be created inside callbacks", function()
  local r = pool:join(function()
    local mp = require("micropool")
    local inner = mp.new{threads = 2}
    local v = inner:reduce(10, 1, 0, function(a, i) return a + i end, function(a, b) return a + b end)
    inner:close()
    return v
  end, function() end)
  eq(r, 55, "inner pool's reduce")
end)

run("stats count jobs", function()
  local before = pool:stats()
  -- The counters may lag behind by a few events: run many.
  for _ = 1, 100 do pool:join(function() end, function() end) end
  local after = pool:stats()
  for _, k in ipairs{"jobs", "steals", "sleeps", "wakeups", "tasks_run"} do
    eq(math.type(after[k]), "integer", k)
  end
  truthy(after.jobs > before.jobs, "jobs grew")
end)

run("a to-be-closed pool closes at the end of its scope", function()
  local p
  do
    local q <close> = micropool.new{threads = 2}
    p = q
    eq(q:closed(), false, "open inside")
  end
  eq(p:closed(), true, "closed after")
end)

run("many concurrent callbacks copy tables correctly", function()
  local r = pool:reduce(2000, 1, {}, function(acc, i)
    acc[#acc + 1] = i
    return acc
  end, function(a, b)
    for _, v in ipairs(b) do a[#a + 1] = v end
    return a
  end)
  eq(#r, 2000, "items")
  for i = 1, 2000 do
    if r[i] ~= i then error("item " .. i .. " is " .. tostring(r[i])) end
  end
end)

run("every kind of operation nested, with failures, on pools of 1 to 4 threads", function()
  local shared = [[
    function work(depth, fail)
      local p = require("micropool").current()
      if depth == 0 then
        if fail and math.random() < 0.05 then error("random failure", 0) end
        return 1
      end
      local a, b = p:join({work, depth - 1, fail}, {work, depth - 1, fail})
      local s = p:reduce(20, 1, 0, function(acc, i) return acc + i end,
                         function(x, y) return x + y end)
      assert(s == 210, "reduce in a nested call")
      assert(p:submit(function(x) return x * 2 end, depth):wait() == depth * 2)
      p:scope(function(sc) for _ = 1, 3 do sc:spawn(function() end) end end)
      return a + b
    end
  ]]
  load(shared)()
  for round = 1, 8 do
    local p <close> = micropool.new{threads = 1 + round % 4, worker_init = shared}
    eq(p:submit(work, 5, false):wait(), 32, "tree of joins")
    local ok, err = pcall(function() return p:submit(work, 5, true):wait() end)
    truthy(ok or message(err) == "random failure", tostring(err))
    local r = p:broadcast(function() return work(2, false) end)
    for i = 1, #r do eq(r[i], 4, "broadcast part " .. i) end
  end
end)

-- ------------------------------------------------------------ map and buffers

run("map over a table returns a new table of f(v, i)", function()
  local src = {}
  for i = 1, 10000 do src[i] = i end
  local got = pool:map(src, function(v, i) return v * i end)
  eq(#got, 10000, "length")
  for i = 1, 10000 do
    if got[i] ~= i * i then error("element " .. i .. " is " .. tostring(got[i])) end
  end
  eq(src[3], 3, "the input is untouched")
  local mixed = pool:map({"a", {x = 1}, 3}, function(v) return type(v) == "table" and v.x or v end)
  eq(mixed[1], "a", "string")
  eq(mixed[2], 1, "table")
  local holes = pool:map({1, 2, 3}, function(v) if v ~= 2 then return v end end)
  eq(holes[2], nil, "a nil result leaves a hole")
  eq(holes[3], 3, "after the hole")
  eq(next(pool:map({}, function() end)), nil, "empty")
  local err = raises(pool.map, pool, {1, 2, 3}, function(v) if v == 2 then error("two", 0) end end)
  eq(message(err), "two", "an error in f")
  raises_with("cannot copy the result for index #2",
              pool.map, pool, {1, 2}, function(v) return v == 2 and io.stdout or v end)
  raises_with("bad argument #1 to 'map' (table or buffer expected, got number)", pool.map, pool, 5, print)
  raises_with("bad argument #2 to 'map' (function expected, got nil)", pool.map, pool, {})
end)

run("buffers: creation, indexing, length, conversion", function()
  local b = micropool.buffer(3)
  eq(#b, 3, "length")
  eq(b[1], 0.0, "zeroed")
  b[2] = 7
  eq(b[2], 7.0, "a buffer holds floats")
  eq(tostring(b), "micropool.buffer (3 numbers)", "tostring")
  local from = micropool.buffer({1.5, 2, 3})
  eq(from:totable()[1], 1.5, "from a list, back to a table")
  raises_with("index 4 out of range 1..3", function() return b[4] end)
  raises_with("index 0 out of range", function() b[0] = 1 end)
  raises_with("index must be an integer, got a float", function() return b[1.5] end)
  raises_with("a buffer holds numbers, got string", function() b[1] = "x" end)
  raises_with("element 2 is a string, not a number", micropool.buffer, {1, "x"})
  raises_with("bad argument #1 to 'buffer' (length or list of numbers expected", micropool.buffer, "n")
end)

run("a buffer is shared, not copied, by every state", function()
  local n = 100000
  local b = micropool.buffer(n)
  pool:for_each(n, 0, function(i) b[i] = i * 2 end)     -- an upvalue
  eq(b[n], 2.0 * n, "written by the pool, seen by the caller")
  pool:for_each(n, 0, function(i, buf) buf[i] = buf[i] + 1 end, b)    -- an argument
  eq(b[1], 3.0, "as an argument")
  local back = pool:submit(function(buf) buf[1] = -1; return buf end, b):wait()
  eq(b[1], -1.0, "a task's write")
  back[2] = -2
  eq(b[2], -2.0, "a buffer that comes back is the same buffer")
end)

run("map over a buffer: a new buffer, or into one given, in place too", function()
  local n = 100000
  local b = micropool.buffer(n)
  for i = 1, n do b[i] = i end
  local sq = pool:map(b, function(v, i) return v * i end)
  eq(#sq, n, "length")
  eq(sq[n], 1.0 * n * n, "last")
  eq(b[n], 1.0 * n, "input untouched")
  local same = pool:map(b, function(v) return -v end, b)
  truthy(rawequal(same, b), "returns the output buffer")
  eq(b[5], -5.0, "in place")
  raises_with("holds 2 numbers, the input " .. n, pool.map, pool, b, print, micropool.buffer(2))
  raises_with("an output buffer goes with an input buffer", pool.map, pool, {1}, print, b)
  local err = raises(pool.map, pool, b, function() return "x" end)
  truthy(message(err):find("f returned a string for index %d+, and a buffer holds numbers"), err)
end)

run("a buffer outlives the caller's reference while a task holds it", function()
  local p <close> = micropool.new{threads = 2}
  local t
  do
    local b = micropool.buffer(1000)
    t = p:submit(function()
      local s = 0
      for i = 1, #b do b[i] = i; s = s + b[i] end
      return s
    end)
  end
  collectgarbage()
  collectgarbage()
  eq(t:wait(), 500500.0, "sum")
end)

-- ------------------------------------------------------------ 1.1: tasks

run("submit with options: arguments in the table, results and errors as before", function()
  local t = pool:submit({function(a, b) return a + b, a * b end, 6, 7}, {priority = "high"})
  local s, m = t:wait()
  eq(s, 13, "sum")
  eq(m, 42, "product")
  eq(pool:submit({function() return "no options" end}):wait(), "no options", "opts may be nil")
  local k = 10
  local function add(x) return x + k end
  eq(pool:submit({function(x) return add(x) end, 5}, {priority = "low"}):wait(), 15,
     "a function with upvalues")
  eq(pool:submit({math.abs, -4}, {name = "abs"}):wait(), 4, "a module's C function")
  eq(pool:submit({function(x) return x end, {k = "v"}}, {name = "physics"}):wait().k, "v",
     "a table argument is an argument")
  local e = pool:submit({function() error("in a task with options") end}, {priority = "low"})
  raises_with("in a task with options", e.wait, e)
  -- The 1.0 form still passes a table as an argument, not as options.
  eq(pool:submit(function(o) return o.priority end, {priority = "bogus"}):wait(), "bogus",
     "1.0 form")
end)

run("submit options are checked, naming the option and the value", function()
  local f = function() end
  raises_with("bad argument #2 to 'submit' (unknown option 'prio')",
              pool.submit, pool, {f}, {prio = "high"})
  raises_with("priority must be \"high\", \"normal\" or \"low\", got \"urgent\"",
              pool.submit, pool, {f}, {priority = "urgent"})
  raises_with("got 1", pool.submit, pool, {f}, {priority = 1})
  raises_with("thread must be an integer from 0 to 1, got 2", pool.submit, pool, {f}, {thread = 2})
  raises_with("got -1", pool.submit, pool, {f}, {thread = -1})
  raises_with("got 0.5", pool.submit, pool, {f}, {thread = 0.5})
  raises_with("name must be a string, got number", pool.submit, pool, {f}, {name = 3})
  raises_with("cancel_on_error must be a boolean", pool.submit, pool, {f}, {cancel_on_error = 1})
  raises_with("table of options expected, got string", pool.submit, pool, {f}, "high")
  raises_with("no more arguments expected after the options", pool.submit, pool, {f}, {}, 1)
  raises_with("{function, args...} expected, got an empty table", pool.submit, pool, {}, {})
  local t = pool:submit(f)
  raises_with("after must be a list of tasks, got a task", pool.submit, pool, {f}, {after = t})
  raises_with("after[2] must be a task, got string", pool.submit, pool, {f}, {after = {t, "x"}})
  raises_with("after must be a list of tasks, got a key k", pool.submit, pool, {f},
              {after = {k = t}})
  local other <close> = micropool.new{threads = 1}
  local theirs = other:submit(f)
  local err = raises_with("after[1] is a task of another pool",
                          function() pool:submit({f}, {after = {theirs}}) end)
  truthy(err:find("^[^:]*binding.lua:%d+:"), "position in " .. err)
  theirs:wait()
  t:wait()
end)

run("after: a task starts once its prerequisites have finished", function()
  local b = micropool.buffer(3)
  local slow = pool:submit({function(buf)
    local x = 0
    for i = 1, 2000000 do x = x + i end
    buf[1] = 1
    return x
  end, b})
  local quick = pool:submit({function(buf) buf[2] = 1 end, b})
  local last = pool:submit({function(buf) buf[3] = buf[1] + buf[2]; return buf[3] end, b},
                           {after = {slow, quick}})
  slow, quick = nil, nil
  collectgarbage()                  -- the prerequisites' handles may go
  eq(last:wait(), 2.0, "both had run when the dependent started")
end)

run("cancel_on_error: a failed prerequisite cancels, down a chain", function()
  local root = pool:submit({function() error("root fails", 0) end})
  local a = pool:submit({function() return "a ran" end}, {after = {root}, cancel_on_error = true})
  local b = pool:submit({function() return "b ran" end}, {after = {a}, cancel_on_error = true})
  local c = pool:submit({function() return "c ran" end}, {after = {a}})
  raises_with("cancelled", a.wait, a)
  raises_with("cancelled", b.wait, b)
  eq(c:wait(), "c ran", "without the flag the dependent runs")
  eq(b:done(), true, "done")
  eq(b:cancel(), true, "a cancelled task says it will not run")
  -- A cancelled prerequisite also cancels.
  local gate = pool:submit({function() end}, {thread = 0})
  eq(gate:cancel(), true, "cancel a task nobody ran")
  local d = pool:submit({function() return 1 end}, {after = {gate}, cancel_on_error = true})
  raises_with("cancelled", d.wait, d)
  eq(pool:run_pinned(), 0, "the cancelled pinned task is not counted")
  -- Dropped without a wait: the engine's cancellation frees them (no leak
  -- shows as a crash or as memory under valgrind).
  for _ = 1, 100 do
    pool:submit({function() end}, {after = {root}, cancel_on_error = true})
  end
  collectgarbage()
  collectgarbage()
end)

run("wait(timeout) returns nil, \"timeout\", and leaves the task as it was", function()
  local p <close> = micropool.new{threads = 1}   -- no worker: nobody runs it
  local t = p:submit(function() return "late", 2 end)
  local r = table.pack(t:wait(0))
  eq(r.n, 2, "values")
  eq(r[1], nil, "nil")
  eq(r[2], "timeout", "timeout")
  r = table.pack(t:wait(0.02))
  eq(r[2], "timeout", "a bounded wait does not run the task")
  eq(t:done(), false, "not done")
  local a, b = t:wait()
  eq(a, "late", "a plain wait runs it")
  eq(b, 2, "all results")
  a, b = t:wait(0)
  eq(a, "late", "a finished task gives its results at once")
  local e = p:submit(function() error("soft?", 0) end)
  e:wait(0)
  raises_with("soft?", e.wait, e)
  raises_with("soft?", e.wait, e, 1)
  local ok = pool:submit(function() return "done" end)
  eq(ok:wait(30), "done", "a wait with a long timeout returns the results")
  eq(ok:wait(math.huge), "done", "math.huge: no limit")
  raises_with("bad argument #1 to 'wait' (timeout must be a non-negative number, got -1)",
              t.wait, t, -1)
  raises_with("timeout must be a non-negative number, got ", t.wait, t, 0 / 0)
  raises_with("bad argument #1 to 'wait' (timeout in seconds expected, got string)",
              t.wait, t, "1")
  local c = p:submit(function() end)
  c:cancel()
  raises_with("cancelled", c.wait, c, 0)
end)

run("thread = i runs on worker i only", function()
  local p <close> = micropool.new{threads = 3}
  local tasks = {}
  for i = 1, 60 do
    local want = 1 + i % 2
    tasks[i] = p:submit({function(w)
      return require("micropool").current():thread_index(), w
    end, want}, {thread = want})
  end
  for i, t in ipairs(tasks) do
    local got, want = t:wait()
    eq(got, want, "thread index of task " .. i)
  end
end)

run("thread = 0: run_pinned runs them on the caller; the fd is readable meanwhile", function()
  local p <close> = micropool.new{threads = 2}
  local fd = p:pinned_fd()
  eq(math.type(fd), "integer", "fd")
  eq(p:pinned_fd(), fd, "the same fd on every call")
  local function readable()
    local f = io.open("/proc/self/fdinfo/" .. fd)
    if not f then return nil end
    local text = f:read("a")
    f:close()
    local n = text:match("eventfd%-count:%s*(%x+)")
    return n and tonumber(n, 16) ~= 0
  end
  local order = micropool.buffer(4)
  local t = {}
  for i, prio in ipairs{"low", "normal", "high"} do
    t[i] = p:submit({function(b, k)
      b[4] = b[4] + 1
      b[b[4]] = k
      return require("micropool").current():thread_index()
    end, order, i}, {thread = 0, priority = prio})
  end
  eq(select(2, t[1]:wait(0.01)), "timeout", "no worker runs them")
  local state = readable()
  if state == nil then
    print("       (no eventfd-count in /proc/self/fdinfo: the fd's readiness is not checked)")
  else
    eq(state, true, "readable while pinned tasks are queued")
  end
  eq(p:run_pinned(), 3, "ran")
  eq(order:totable()[1], 3.0, "highest level first")
  eq(order[3], 1.0, "lowest last")
  for i = 1, 3 do eq(t[i]:wait(0), 0, "ran on thread 0, the caller") end
  if state ~= nil then eq(readable(), false, "not readable once they ran") end
  eq(p:run_pinned(0.001), 0, "none left")
  -- max_seconds: until none is left or the time has passed.
  for _ = 1, 5 do p:submit({function() end}, {thread = 0}) end
  eq(p:run_pinned(10), 5, "all queued ran well within the time")
  local inside = p:submit({function()
    return pcall(function() return require("micropool").current():run_pinned() end)
  end}, {thread = 1})
  local ok, err = inside:wait()
  eq(ok, false, "run_pinned on a worker")
  truthy(tostring(err):find("a worker of the pool cannot run the tasks bound to thread 0"), err)
  raises_with("max_seconds must be a non-negative number", p.run_pinned, p, -1)
  raises_with("max_seconds in seconds expected, got string", p.run_pinned, p, "1")
  -- A plain wait on a task bound to thread 0 runs it on the waiting caller.
  eq(p:submit({function() return "waited" end}, {thread = 0}):wait(), "waited", "wait runs it")
  local left = p:submit({function() return "at close" end}, {thread = 0})
  p:close()
  eq(left:wait(0), "at close", "close runs the tasks still bound to thread 0")
  raises_with("the pool is closed", p.run_pinned, p)
  raises_with("the pool is closed", p.pinned_fd, p)
  raises_with("the pool is closed", p.yield, p)
end)

run("yield runs one piece of pending work and says whether it did", function()
  local p <close> = micropool.new{threads = 1}
  eq(p:yield(), false, "nothing pending")
  local t = p:submit(function() return "yielded" end)
  eq(p:yield(), true, "ran one")
  eq(t:done(), true, "the task ran")
  eq(p:yield(), false, "nothing left")
  eq(t:wait(), "yielded", "its result")
end)

-- ------------------------------------------------------------ 1.1: shared

run("micropool.shared(): one pool object, the process's workers", function()
  local s = micropool.shared()
  truthy(rawequal(s, micropool.shared()), "the same object on every call")
  local a, b = s:join(function() return 1 end, function() return 2 end)
  eq(a + b, 3, "join on it")
  eq(s:map({1, 2, 3}, function(v) return v * 10 end)[3], 30, "map on it")
  eq(s:submit(function() return require("micropool").current():thread_index() >= 0 end):wait(),
     true, "current() inside is the shared pool")
end)

run("closing the shared pool waits for its tasks, and shared() takes it again", function()
  local s = micropool.shared()
  local b = micropool.buffer(2)
  local t = s:submit(function(buf)
    local x = 0
    for i = 1, 3000000 do x = x + i end
    buf[1] = 1
  end, b)
  local pinned = s:submit({function(buf) buf[2] = 1 end, b}, {thread = 0})
  local root = s:submit({function() error("fails", 0) end})
  local never = s:submit({function() end}, {after = {root}, cancel_on_error = true})
  s:close()
  eq(s:closed(), true, "closed")
  eq(t:done(), true, "its task finished before close returned")
  eq(b[1], 1.0, "what the task wrote")
  eq(b[2], 1.0, "close ran the task bound to thread 0")
  raises_with("cancelled", never.wait, never)
  raises_with("the pool is closed", s.join, s, print, print)
  local again = micropool.shared()
  truthy(not rawequal(again, s), "a new object")
  eq(again:submit(function() return "again" end):wait(), "again", "it works")
end)

run("MICROPOOL_THREADS sizes the shared pool; other values are ignored", function()
  local lua = arg[-1]
  local function threads(env)
    local cmd = string.format("%s %s -e %q", env, lua,
                              'io.write(require("micropool").shared():threads())')
    local f = assert(io.popen(cmd))
    local out = f:read("a")
    f:close()
    return tonumber(out)
  end
  eq(threads("MICROPOOL_THREADS=3"), 3, "MICROPOOL_THREADS=3")
  eq(threads("MICROPOOL_THREADS=1"), 1, "MICROPOOL_THREADS=1")
  local default = threads("MICROPOOL_THREADS=")
  truthy(default and default >= 1, "a default")
  eq(threads("MICROPOOL_THREADS=lots"), default, "a value that is not a number is ignored")
end)

-- ------------------------------------------------------------ 1.1: new

run("stack_size sets the workers' stacks", function()
  -- A size no other mapping has, above glibc's default (it reuses a cached
  -- stack of a thread that ended when that one is large enough).
  local size = 9 * 1024 * 1024 + 7 * 4096
  local function stacks()
    local n = 0
    for line in io.lines("/proc/self/maps") do
      local a, b = line:match("^(%x+)-(%x+)")
      if tonumber(b, 16) - tonumber(a, 16) == size then n = n + 1 end
    end
    return n
  end
  local before = stacks()
  local p <close> = micropool.new{threads = 3, stack_size = size}
  eq(p:broadcast(function(i) return i end)[3], 2, "the workers run")
  eq(stacks() - before, 2, "mappings of that size, one per worker")
  -- The smallest accepted size still holds Lua's deepest nesting.
  local shared = [[
    function nest(d)
      if d == 0 then return 0 end
      return require("micropool").current():join({nest, d - 1}, function() end) + 1
    end
  ]]
  local small <close> = micropool.new{threads = 2, stack_size = core.STACK_MIN, worker_init = shared}
  local t = small:submit({function()
    local ok, err = pcall(nest, 300)
    return ok, tostring(err):match("C stack overflow"), nest(50)
  end}, {thread = 1})
  local ok, err, depth = t:wait()
  eq(ok, false, "too deep")
  eq(err, "C stack overflow", "an error, not a crash")
  eq(depth, 50, "deep nesting on the worker")
  raises_with("stack_size must be 0 or an integer of at least " .. math.tointeger(core.STACK_MIN)
              .. " bytes, got 16384", micropool.new, {stack_size = 16384})
  raises_with("got 1.5", micropool.new, {stack_size = 1.5})
  raises_with("got big", micropool.new, {stack_size = "big"})
end)

run("trace writes a Chrome trace-event file when the pool closes", function()
  local path = os.tmpname()
  local p = micropool.new{threads = 2, trace = path}
  p:for_each(1000, 10, function() end)
  p:join(function() end, function() end)
  p:broadcast(function() end)               -- every thread runs a part
  p:submit({function() return 1 end}, {name = "physics \"step\""}):wait()
  p:submit({function() return 1 end}, {name = "audio"}):wait()
  eq(io.open(path):read("a"), "", "nothing written before close")
  p:close()
  local text = io.open(path):read("a")
  os.remove(path)
  truthy(text:find('^{"traceEvents":%['), "a trace-event file")
  truthy(text:find('"ph":"B"[^\n]*"cat":"task","name":"physics \\"step\\""'), "the named task, escaped")
  truthy(text:find('"ph":"E"[^\n]*"name":"audio"'), "its end")
  truthy(text:find('"cat":"part"'), "for_each's parts")
  truthy(text:find('"cat":"broadcast"[^\n]*"thread_index":1}'), "the worker's broadcast part")
  truthy(text:find('"name":"thread_name","args":{"name":"worker 1"}'), "the worker's name")
  local depth = {}
  for ph, tid in text:gmatch('"ph":"([BE])","pid":1,"tid":(%d+)') do
    depth[tid] = (depth[tid] or 0) + (ph == "B" and 1 or -1)
    truthy(depth[tid] >= 0, "an end without a begin")
  end
  for tid, d in pairs(depth) do eq(d, 0, "spans left open on thread " .. tid) end
  truthy(next(depth), "events")
  raises_with("trace: cannot open /nonexistent/x.json", micropool.new,
              {trace = "/nonexistent/x.json"})
  raises_with("trace must be a file name, got boolean", micropool.new, {trace = true})
end)

pool:close()
mptest.summary()
