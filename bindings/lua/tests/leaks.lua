--- Runs the 1.1 paths of the binding that own memory across threads, for
-- valgrind's leak check (CTest lua_leaks): tasks that the engine cancels
-- after Lua dropped them, prerequisites, tasks bound to thread 0, bounded
-- waits, named tasks, the shared pool and the trace recorder. It checks
-- little itself; valgrind fails it on a leak or a bad access.

local dir = arg[0]:match("^(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path

local micropool = require "micropool"
local mptest = require "mptest"

local function exercise(pool)
  -- Bound to thread 0, it waits for run_pinned, and so do its dependents:
  -- dropped at once, they are kept by the pool (swept as the list grows)
  -- until the engine cancels them.
  local root = pool:submit({function() error("fails", 0) end}, {thread = 0})
  for _ = 1, 100 do
    pool:submit({function() end}, {after = {root}, cancel_on_error = true})
    if _ % 10 == 0 then collectgarbage() end
  end
  local kept = pool:submit({function() end}, {after = {root}, cancel_on_error = true})
  local chain
  for i = 1, 20 do chain = pool:submit({function(k) return k end, i}, {after = chain and {chain}}) end
  local pinned = pool:submit({function() return 1 end}, {thread = 0, name = "pinned"})
  local cancelled = pool:submit({function() end}, {thread = 0, name = "pinned"})
  cancelled:cancel()
  local waiting = pool:submit({function() return 2 end}, {thread = 0, priority = "low"})
  waiting:wait(0.001)
  collectgarbage()
  mptest.eq(chain:wait(), 20, "chain")
  pool:run_pinned()
  mptest.eq(pinned:wait(0), 1, "pinned")
  mptest.raises_with("cancelled", kept.wait, kept)
  for _ = 1, 10 do pool:submit({function() end}, {after = {root}, cancel_on_error = true}) end
end

mptest.run("an owned pool with a trace", function()
  local path = os.tmpname()
  local p = micropool.new{threads = 2, trace = path}
  exercise(p)
  p:close()
  os.remove(path)
end)

mptest.run("an owned pool collected without close", function()
  local p = micropool.new{threads = 2}
  exercise(p)
  p = nil
  collectgarbage()
  collectgarbage()
end)

mptest.run("the shared pool", function()
  local s = micropool.shared()
  exercise(s)
  s:close()
  exercise(micropool.shared())
end)

mptest.run("tasks the engine cancelled, used after their pool has gone", function()
  local p = micropool.new{threads = 2}
  local root = p:submit({function() error("fails", 0) end}, {thread = 0})
  local waited = p:submit({function() end}, {after = {root}, cancel_on_error = true})
  local cancelled = p:submit({function() end}, {after = {root}, cancel_on_error = true})
  local dropped = p:submit({function() end}, {after = {root}, cancel_on_error = true})
  p:close()
  p, dropped = nil, nil
  collectgarbage()
  collectgarbage()
  mptest.raises_with("cancelled", waited.wait, waited)
  mptest.eq(cancelled:cancel(), true, "cancel")
end)

collectgarbage()
collectgarbage()
mptest.summary()
