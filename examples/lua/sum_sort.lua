-- A parallel sum and a parallel quicksort with micropool from Lua 5.4.
--
--   LUA_PATH=...  LUA_CPATH=...  lua5.4 sum_sort.lua
--
-- Every thread of the pool runs Lua in its own lua_State: functions are
-- shipped as code, their arguments and results are copied. What the
-- functions share (here, the quicksort) is loaded into every state by
-- worker_init.

local micropool = require "micropool"

-- Loaded into each of the pool's states (and, below, into this one).
local QUICKSORT = [[
-- Sorts a list of numbers: partitions it, then sorts both sides at once
-- on the pool; short lists are sorted sequentially.
function quicksort(list, cutoff)
  if #list <= cutoff then
    table.sort(list)
    return list
  end
  local pivot = list[#list // 2 + 1]
  local less, same, more = {}, {}, {}
  for _, v in ipairs(list) do
    if v < pivot then less[#less + 1] = v
    elseif v > pivot then more[#more + 1] = v
    else same[#same + 1] = v end
  end
  local pool = require("micropool").current()
  less, more = pool:join({quicksort, less, cutoff}, {quicksort, more, cutoff})
  table.move(same, 1, #same, #less + 1, less)
  table.move(more, 1, #more, #less + 1, less)
  return less
end
]]

local pool <close> = micropool.new{threads = 2, worker_init = QUICKSORT}
print(string.format("%s, %d threads", micropool._VERSION, pool:threads()))

-- A parallel sum: a reduce over the indices, the list is an argument.
local numbers = {}
for i = 1, 1000000 do numbers[i] = (i * 7919) % 1000 end

local sum = pool:reduce(#numbers, 0, 0,
  function(acc, i, list) return acc + list[i] end,
  function(a, b) return a + b end,
  numbers)

local expected = 0
for _, v in ipairs(numbers) do expected = expected + v end
print(string.format("sum of %d numbers: %d (%s)", #numbers, sum,
                    sum == expected and "matches the sequential sum" or "WRONG"))

-- A parallel quicksort: the top call runs as a task on the pool, where
-- micropool.current() is the pool for the recursive joins.
local list = {}
local seed = 12345
for i = 1, 200000 do
  seed = (seed * 1103515245 + 12345) % 2147483648
  list[i] = seed % 100000
end
local sorted = pool:submit(function(l, cutoff) return quicksort(l, cutoff) end, list, 5000):wait()
table.sort(list)
local same = #sorted == #list
for i = 1, #list do
  if sorted[i] ~= list[i] then same = false break end
end
print(string.format("quicksort of %d numbers: %s", #list,
                    same and "sorted, same as table.sort" or "WRONG"))

-- An error in a callback comes back as a Lua error.
local ok, err = pcall(pool.join, pool,
  function() return 1 end,
  function() error("something went wrong on the pool", 0) end)
print("an error on the pool comes back: " .. tostring(err))

if sum ~= expected or not same or ok then os.exit(1) end
