--- Measures the Lua binding: the cost of one callback through the pool,
-- the speed-up of CPU-bound Lua code on 2 threads, and a map over 10^6
-- numbers (in a table, and in a shared buffer) against a sequential loop. Not a test: it prints
-- figures (medians of several rounds) and asserts nothing about time.
--
--   LUA_PATH=<build>/bindings/lua/lua/?.lua LUA_CPATH=<build>/bindings/lua/lua/?.so \
--     lua5.4 bindings/lua/bench/bench.lua [rounds]

local micropool = require "micropool"

local rounds = tonumber(arg[1]) or 7
-- Wall time: os.clock is CPU time, which counts every thread.
local now = require("micropool_core").clock

local function median(xs)
  table.sort(xs)
  return xs[(#xs + 1) // 2]
end

-- Median and best wall time of fn() over the rounds, in seconds. On a
-- busy machine the best round is the one least disturbed.
local function measure(fn)
  local xs = {}
  fn()                        -- warm up: states, caches
  for r = 1, rounds do
    local t0 = now()
    fn()
    xs[r] = now() - t0
  end
  local med = median(xs)
  return med, xs[1]
end

local function empty() end

-- The CPU-bound function, global in the caller and in every pool state.
local SPIN = [[
function spin(n)
  local x = 0
  for i = 1, n do x = (x + i * i) % 1000003 end
  return x
end
]]
load(SPIN)()

local pool1 = micropool.new{threads = 1, worker_init = SPIN}
local pool2 = micropool.new{threads = 2, worker_init = SPIN}

print(string.format("%s; median of %d rounds; wall time", micropool._VERSION, rounds))

-- --------------------------------------------------------------- overhead
local N = 20000
local function per_call(label, calls, fn)
  local t = measure(fn)
  print(string.format("  %-52s %8.0f ns", label, t / calls * 1e9))
end

print("overhead per call:")
per_call("plain Lua call, same state (baseline)", N * 10, function()
  for _ = 1, N * 10 do empty() end
end)
per_call("pool:join(f, g), empty, 1 thread (per join)", N, function()
  for _ = 1, N do pool1:join(empty, empty) end
end)
per_call("pool:join(f, g), empty, 2 threads (per join)", N, function()
  for _ = 1, N do pool2:join(empty, empty) end
end)
per_call("pool:broadcast(f), empty, 2 threads (per call)", N, function()
  for _ = 1, N do pool2:broadcast(empty) end
end)
per_call("pool:submit(f):wait(), empty, 2 threads (per task)", N, function()
  for _ = 1, N do pool2:submit(empty):wait() end
end)
per_call("pool:for_each(n, 1000, f), empty f, 2 threads (per index)", N * 50, function()
  pool2:for_each(N * 50, 1000, empty)
end)

-- --------------------------------------------------------------- speed-up
local WORK = 20000000

print("CPU-bound Lua: spin(" .. WORK .. ") twice")
local seq, seq_best = measure(function() spin(WORK); spin(WORK) end)
local cpu0, wall0 = os.clock(), now()
pool2:join({spin, WORK}, {spin, WORK})
local cpu_ratio = (os.clock() - cpu0) / (now() - wall0)
local par1, par1_best = measure(function() pool1:join({spin, WORK}, {spin, WORK}) end)
local par2, par2_best = measure(function() pool2:join({spin, WORK}, {spin, WORK}) end)
print(string.format("  %-36s %7.3f s (best %.3f)", "sequential, in the caller's state", seq, seq_best))
print(string.format("  %-36s %7.3f s (best %.3f)", "pool:join on 1 thread", par1, par1_best))
print(string.format("  %-36s %7.3f s (best %.3f)", "pool:join on 2 threads", par2, par2_best))
print(string.format("  speed-up on 2 threads: %.2fx against sequential, %.2fx against 1 thread"
                    .. " (best rounds: %.2fx, %.2fx); CPU time / wall time %.2f",
                    seq / par2, par1 / par2, seq_best / par2_best, par1_best / par2_best, cpu_ratio))

local function fold(acc, i) return (acc + spin(200) + i) % 1000003 end
local function combine(a, b) return (a + b) % 1000003 end
local M = 100000
local r1, r1_best = measure(function() pool1:reduce(M, 0, 0, fold, combine) end)
local r2, r2_best = measure(function() pool2:reduce(M, 0, 0, fold, combine) end)
print(string.format("pool:reduce over %d items, spin(200) each: 1 thread %.3f s, 2 threads %.3f s,"
                    .. " speed-up %.2fx (best rounds: %.2fx)", M, r1, r2, r1 / r2, r1_best / r2_best))

-- --------------------------------------------------------------- map
-- f(v) on 10^6 numbers: a short numeric function, as a map callback
-- usually is (a few math calls, about 0.1 us in plain Lua).
local MAPN = 1000000
local sin, cos, sqrt = math.sin, math.cos, math.sqrt
local function f(v) return sin(v) * cos(v) + sqrt(v) end
local list = {}
for i = 1, MAPN do list[i] = i * 0.001 end
local buf = micropool.buffer(list)
local out = micropool.buffer(MAPN)

print(string.format("map of f(v) = sin(v) * cos(v) + sqrt(v) over %d numbers", MAPN))
-- The sequential loop writes into a table made beforehand, which is its
-- fastest form: a new table would also pay for growing it.
local r = {}
for i = 1, MAPN do r[i] = 0 end
local mseq, mseq_best = measure(function()
  for i = 1, MAPN do r[i] = f(list[i]) end
end)
local mtab, mtab_best = measure(function() pool2:map(list, f) end)
local mbuf1, mbuf1_best = measure(function() pool1:map(buf, f, out) end)
local mbuf2, mbuf2_best = measure(function() pool2:map(buf, f, out) end)
local mnew2 = measure(function() pool2:map(buf, f) end)
print(string.format("  %-44s %7.3f s (best %.3f)", "sequential Lua loop, table to table", mseq, mseq_best))
print(string.format("  %-44s %7.3f s (best %.3f)", "pool:map(table, f), 2 threads", mtab, mtab_best))
print(string.format("  %-44s %7.3f s (best %.3f)", "pool:map(buffer, f, out), 1 thread", mbuf1, mbuf1_best))
print(string.format("  %-44s %7.3f s (best %.3f)", "pool:map(buffer, f, out), 2 threads", mbuf2, mbuf2_best))
print(string.format("  %-44s %7.3f s", "pool:map(buffer, f) (new buffer), 2 threads", mnew2))
print(string.format("  speed-up on 2 threads against the sequential loop: buffer %.2fx"
                    .. " (best rounds %.2fx), table %.2fx", mseq / mbuf2, mseq_best / mbuf2_best,
                    mseq / mtab))

pool1:close()
pool2:close()
