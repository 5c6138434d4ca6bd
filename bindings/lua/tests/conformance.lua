--- The conformance cases (tests/conformance/cases.txt, and those of ABI
-- 1.1 in cases-1.1.txt) through the Lua binding.
-- Usage: lua5.4 conformance.lua path/to/cases.txt
--
-- A case whose kind this runner does not implement fails.
--
-- Functions run in the pool's own lua_States, so what they count they
-- count in globals of those states; `collect` gathers the counters back
-- with a broadcast, which reaches every state a single calling thread's
-- work can have run in (one per worker, one for the calling thread).

local dir = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path

local micropool = require "micropool"
local mptest = require "mptest"

local casefile = arg[1]
if not casefile then
  io.stderr:write("usage: lua5.4 conformance.lua cases.txt\n")
  os.exit(2)
end

-- Loaded in the caller and, as worker_init, in every state of every pool.
local SHARED = [[
function fib_seq(n)
  if n < 2 then return n end
  return fib_seq(n - 1) + fib_seq(n - 2)
end

-- fib(n) with a join at every level while n > cut.
function fib_join(n, cut)
  if n < 2 then return n end
  if n <= cut then return fib_seq(n) end
  local a, b = require("micropool").current():join({fib_join, n - 1, cut},
                                                   {fib_join, n - 2, cut})
  return a + b
end

function count(k)
  counted = (counted or 0) + (k or 1)
end
]]
assert(load(SHARED, "=shared"))()

local function new_pool(threads)
  return micropool.new{threads = threads, worker_init = SHARED}
end

-- Sums, over every state of the pool, the globals the callbacks counted
-- into (and clears them).
local function collect(pool)
  local parts = pool:broadcast(function()
    local r = {counted or 0, vsum or 0, vsq or 0}
    counted, vsum, vsq = nil, nil, nil
    return r
  end)
  local c, s, q = 0, 0, 0
  for _, r in ipairs(parts) do
    c, s, q = c + r[1], s + r[2], q + r[3]
  end
  return c, s, q
end

local function fail_in(where)
  return "failed in " .. where
end

local kinds = {}

local function visit(i)
  local k = i - 1
  counted = (counted or 0) + 1
  vsum = (vsum or 0) + k
  vsq = (vsq or 0) + k * k
end

local function cover(pool, n, grain)
  local c, s, q = collect(pool)      -- starts from zero
  pool:for_each(n, grain, visit)
  c, s, q = collect(pool)
  mptest.eq(c, n, "indices visited")
  mptest.eq(q, (n - 1) * n * (2 * n - 1) // 6, "sum of squared indices")
  return s
end

function kinds.for_cover(pool, a, b)
  return cover(pool, a, b)
end

function kinds.for_static(pool, a, b)
  return cover(pool, a, {grain = b, split = "static"})
end

local function add(x, y) return x + y end

function kinds.reduce_sum(pool, a, b)
  return pool:reduce(a, b, 0, function(acc, i) return acc + i - 1 end, add)
end

local function hash_fold(acc, i)
  acc.h = (acc.h * 31 + (i - 1)) % 1000003
  acc.len = acc.len + 1
  return acc
end

local function hash_combine(x, y)
  local p, base, e = 1, 31, y.len
  while e > 0 do
    if e & 1 == 1 then p = p * base % 1000003 end
    base = base * base % 1000003
    e = e >> 1
  end
  return {h = (x.h * p + y.h) % 1000003, len = x.len + y.len}
end

function kinds.reduce_hash(pool, a, b)
  local want = {h = 0, len = 0}
  for i = 1, a do hash_fold(want, i) end
  local got = pool:reduce(a, b, {h = 0, len = 0}, hash_fold, hash_combine)
  mptest.eq(got.len, a, "items folded")
  mptest.eq(got.h, want.h, "hash against a sequential fold")
  return got.h
end

function kinds.reduce_det(_, a, b)
  local seq = 0.0
  for i = 1, a do seq = seq + 1 / i end
  local first
  for threads = 1, 4 do
    local pool <close> = new_pool(threads)
    local r = pool:reduce(a, {grain = b, deterministic = true}, 0.0,
                          function(acc, i) return acc + 1 / i end, add)
    mptest.eq(math.type(r), "float", "result type")
    mptest.truthy(math.abs(r - seq) < 1e-9, "the sum is the harmonic number")
    local bits = string.pack("<d", r)
    if first == nil then
      first = bits
    elseif bits ~= first then
      error(string.format("%d threads: %.17g differs from the 1-thread result %.17g",
                          threads, r, string.unpack("<d", first)))
    end
  end
  return 1
end

function kinds.join_fib(pool, a, b)
  if a < 2 then return a end
  local x, y = pool:join({fib_join, a - 1, b}, {fib_join, a - 2, b})
  return x + y
end

function kinds.join_error(pool, _, _, where)
  pool:join(function() return 1 end, {function(w) error(w, 0) end, fail_in(where)})
end

function kinds.for_error(pool, a, b, where)
  pool:for_each(a, 1, function(i, bad, msg)
    if i - 1 == bad then error(msg, 0) end
  end, b, fail_in(where))
end

function kinds.reduce_error(pool, a, b, where)
  pool:reduce(a, 1, 0, function(acc, i, bad, msg)
    if i - 1 == bad then error(msg, 0) end
    return acc + i
  end, add, b, fail_in(where))
end

function kinds.broadcast_all(pool, _, _, _, threads)
  collect(pool)
  local r = pool:broadcast(function(i, n) count(); return {i, n} end)
  local c = collect(pool)
  mptest.eq(c, threads, "parts run")
  mptest.eq(#r, threads, "results")
  for k = 1, threads do
    mptest.eq(r[k][1], k - 1, "index of part " .. k)
    mptest.eq(r[k][2], threads, "count seen by part " .. k)
  end
  return #r
end

function kinds.broadcast_error(pool, _, _, where)
  pool:broadcast(function(i, n, msg)
    if i == n - 1 then error(msg, 0) end
  end, fail_in(where))
end

function kinds.nested_for(pool, a, b)
  collect(pool)
  pool:for_each(a, 1, function(_, inner)
    require("micropool").current():for_each(inner, 1, function() count() end)
  end, b)
  return (collect(pool))
end

function kinds.nested_join_for(pool, a, b)
  collect(pool)
  local _, sum = pool:join(
    {function(n)
      require("micropool").current():for_each(n, 0, function() count() end)
    end, a},
    {function(n)
      return require("micropool").current():reduce(n, 0, 0,
        function(acc, i) return acc + i - 1 end,
        function(x, y) return x + y end)
    end, b})
  return collect(pool) + sum
end

function kinds.scope_tree(pool, a, b)
  collect(pool)
  pool:scope(function(scope, n, m)
    for _ = 1, n do
      scope:spawn(function(s, k)
        count()
        for _ = 1, k do s:spawn(function() count() end) end
      end, m)
    end
  end, a, b)
  return (collect(pool))
end

function kinds.scope_error(pool, a, b, where)
  pool:scope(function(scope, n, bad, msg)
    for k = 1, n do
      scope:spawn(function(_, this, fail, text)
        if this == fail then error(text, 0) end
      end, k, bad, msg)
    end
  end, a, b, fail_in(where))
end

function kinds.submit_wait(pool, a)
  local tasks = {}
  for i = 0, a - 1 do
    tasks[#tasks + 1] = pool:submit(function(k) return k end, i)
  end
  local sum = 0
  for _, t in ipairs(tasks) do sum = sum + t:wait() end
  return sum
end

function kinds.submit_error(pool, _, _, where)
  local t = pool:submit(function(msg) error(msg, 0) end, fail_in(where))
  t:wait()
end

function kinds.submit_cancel(pool)
  collect(pool)
  local t = pool:submit(function() count() end)
  mptest.eq(t:cancel(), true, "cancel before it started")
  mptest.raises_with("cancelled", t.wait, t)
  mptest.eq(t:done(), true, "done after cancel")
  mptest.eq(t:cancel(), true, "cancel again")
  return (collect(pool))
end

function kinds.close_pending(pool, a)
  local tasks = {}
  for i = 1, a do tasks[i] = pool:submit(function() return 1 end) end
  pool:close()
  local ran = 0
  for _, t in ipairs(tasks) do
    mptest.eq(t:done(), true, "task done after close")
    ran = ran + t:wait()
  end
  return ran
end

function kinds.thread_index(pool, _, _, _, threads)
  mptest.eq(pool:thread_index(), -1, "thread index outside the pool")
  local r = pool:broadcast(function(i)
    return require("micropool").current():thread_index() == i
  end)
  local n = 0
  for k = 1, threads do
    mptest.eq(r[k], true, "thread index in part " .. (k - 1))
    n = n + 1
  end
  mptest.eq(pool:thread_index(), -1, "thread index after the call")
  return n
end

-- ------------------------------------------------------------ ABI 1.1

-- A bounded wait as a sleep: the task is one that nobody runs meanwhile
-- (a wait with a timeout never runs it on the caller).
local function results(t, seconds)
  return table.pack(t:wait(seconds))
end

local function finished(t, what)
  local r = results(t, 60)
  if r.n == 2 and r[1] == nil and r[2] == "timeout" then error(what .. ": timed out", 2) end
  return r[1]
end

local levels = {[0] = "high", "normal", "low"}

function kinds.prio_order(pool, a)
  local gate = micropool.buffer(2)          -- [1] the worker is held, [2] let it go
  local seen = micropool.buffer(a + 1)      -- [k] = the k-th task to run; [a + 1] = runs
  local held = pool:submit(function(g)
    g[1] = 1
    while g[2] == 0 do end
    return true
  end, gate)
  for _ = 1, 20000 do
    if gate[1] == 1 then break end
    held:wait(0.001)
  end
  mptest.eq(gate[1], 1.0, "the worker is held")
  local tasks = {}
  -- The worker is let go whatever happens, or closing the pool would wait
  -- for it for ever.
  local ok, err = pcall(function()
    for i = 0, a - 1 do
      tasks[#tasks + 1] = pool:submit({function(s, id, n)
        local pos = s[n + 1] + 1              -- only the worker runs these
        s[n + 1] = pos
        s[pos] = id
        return true
      end, seen, i, a}, {priority = levels[i % 3]})
    end
  end)
  gate[2] = 1
  if not ok then error(err, 0) end
  finished(held, "the task that held the worker")
  for _, t in ipairs(tasks) do finished(t, "a task") end
  local pos, good = 1, 0
  for level = 0, 2 do
    for i = level, a - 1, 3 do
      if seen[pos] == i then good = good + 1 end
      pos = pos + 1
    end
  end
  return good
end

function kinds.after_chain(pool, a)
  local seen = micropool.buffer(a + 1)
  local prev
  for i = 0, a - 1 do
    -- Each runs after the one before has finished: the counter in
    -- seen[a + 1] is never written by two at once.
    prev = pool:submit({function(s, id, n)
      local pos = s[n + 1] + 1
      s[n + 1] = pos
      s[pos] = id
    end, seen, i, a}, {after = prev and {prev} or nil})
  end
  prev:wait()
  local good = 0
  for i = 0, a - 1 do
    if seen[i + 1] == i then good = good + 1 end
  end
  return good
end

function kinds.after_diamond(pool, a)
  collect(pool)
  local done = micropool.buffer(a + 2)      -- [k] = 1 once task k ran; [a + 2] = what the last saw
  local function mark(d, k) d[k] = 1; count() end
  local root = pool:submit({mark, done, 1}, {})
  local mid = {}
  for i = 1, a do mid[i] = pool:submit({mark, done, i + 1}, {after = {root}}) end
  root = nil
  local last = pool:submit({function(d, n)
    local saw = 0
    for k = 1, n do saw = saw + d[k] end
    d[n + 1] = saw
    count()
  end, done, a + 1}, {after = mid})
  mid = nil
  last:wait()
  mptest.eq(done[a + 2], a + 1.0, "tasks done when the last one ran")
  return (collect(pool))
end

function kinds.after_cancel_on_error(pool, a, b)
  collect(pool)
  local root = pool:submit({function() error("the prerequisite fails", 0) end}, {})
  local cancelled = 0
  for i = 0, a + b - 1 do
    local flagged = i < a
    local t = pool:submit({function() count() end}, {after = {root}, cancel_on_error = flagged})
    local ok, err = pcall(t.wait, t)
    if flagged then
      if not ok and tostring(err):find("cancelled", 1, true) then cancelled = cancelled + 1
      else error("dependent " .. i .. ": not cancelled (" .. tostring(err) .. ")") end
    elseif not ok then
      error("dependent " .. i .. ": " .. tostring(err))
    end
  end
  mptest.raises_with("the prerequisite fails", root.wait, root)
  mptest.eq(cancelled, a, "flagged dependents cancelled")
  return (collect(pool))
end

function kinds.bound_worker(pool, a, _, _, threads)
  if threads < 2 then error("bound_worker needs a pool with workers (threads >= 2)", 0) end
  local tasks = {}
  for i = 0, a - 1 do
    local want = 1 + i % (threads - 1)
    tasks[#tasks + 1] = pool:submit({function(w)
      return require("micropool").current():thread_index() == w
    end, want}, {thread = want})
  end
  local good = 0
  for _, t in ipairs(tasks) do
    if t:wait() == true then good = good + 1 end
  end
  return good
end

function kinds.pinned_run(pool, a)
  collect(pool)
  local tasks = {}
  for i = 0, a - 1 do
    tasks[#tasks + 1] = pool:submit({function() count() end}, {thread = 0, priority = levels[i % 3]})
  end
  local r = results(tasks[1], 0.01)         -- 10 ms in which no worker may run them
  mptest.eq(r[2], "timeout", "a task bound to thread 0 finished on its own")
  mptest.eq((collect(pool)), 0, "tasks bound to thread 0 that ran on a worker")
  local n = pool:run_pinned(0)
  mptest.eq((collect(pool)), n, "tasks run against what run_pinned returned")
  for _, t in ipairs(tasks) do mptest.eq(t:done(), true, "done after run_pinned") end
  return n
end

function kinds.wait_for_timeout(_, _, b)
  local pool <close> = new_pool(1)         -- no worker: nobody runs the task
  local t = pool:submit(function() return 7 end)
  local r = results(t, b / 1e6)
  mptest.eq(r.n, 2, "values of a timed-out wait")
  mptest.eq(r[1], nil, "first value of a timed-out wait")
  mptest.eq(r[2], "timeout", "second value of a timed-out wait")
  mptest.eq(t:done(), false, "done after the timeout")
  return t:wait()
end

function kinds.yield_outside(_, a)
  local pool <close> = new_pool(1)
  collect(pool)
  for i = 0, a - 1 do
    pool:submit({function() count() end},
                {priority = levels[i % 3], thread = i % 2 == 1 and 0 or nil})
  end
  local yields = 0
  while pool:yield() do yields = yields + 1 end
  mptest.eq((collect(pool)), yields, "tasks run against the yields that returned true")
  return yields
end

-- ------------------------------------------------------------ the runner

local function number(field)
  if field == "-" then return nil end
  return math.tointeger(tonumber(field)) or error("bad number in cases file: " .. field)
end

local function run_case(kind, threads, a, b, expect)
  local impl = kinds[kind]
  if not impl then
    error("kind '" .. kind .. "' is not implemented by the Lua runner", 0)
  end
  local pool <close> = new_pool(threads)
  local where = expect:match("^error:(.+)$")
  if where then
    local ok, err = pcall(impl, pool, a, b, where, threads)
    if ok then error("no error was raised (expected " .. expect .. ")", 0) end
    -- A string error comes back with the callback's traceback appended.
    if type(err) == "string" then err = err:match("^(.-)\nstack traceback:") or err end
    mptest.eq(err, fail_in(where), "error raised")
  else
    local got = impl(pool, a, b, nil, threads)
    mptest.eq(got, number(expect), "result")
  end
end

local n = 0
for line in io.lines(casefile) do
  line = line:gsub("#.*", "")
  local fields = {}
  for f in line:gmatch("%S+") do fields[#fields + 1] = f end
  if #fields > 0 then
    if #fields ~= 6 then error("bad line in " .. casefile .. ": " .. line) end
    local name, kind = fields[1], fields[2]
    n = n + 1
    mptest.run(name, run_case, kind, number(fields[3]), number(fields[4]),
               number(fields[5]), fields[6])
  end
end
if n == 0 then
  print("no cases found in " .. casefile)
  mptest.failed = mptest.failed + 1
end
mptest.summary()
