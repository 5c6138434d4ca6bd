--- mptest: the few helpers the Lua binding's test scripts share.
-- Each test is a function; a failing check raises, the test is counted as
-- failed with the message, and `summary` prints "N passed, N failed" and
-- exits non-zero if anything failed.

local mptest = { passed = 0, failed = 0 }

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

--- Runs fn(...) as the test `name` and prints its outcome.
function mptest.run(name, fn, ...)
  local ok, err = xpcall(fn, debug.traceback, ...)
  if ok then
    mptest.passed = mptest.passed + 1
    print("ok     " .. name)
  else
    mptest.failed = mptest.failed + 1
    print("FAIL   " .. name .. ": " .. tostring(err))
  end
  return ok
end

--- Fails unless got == want (same type, same value).
function mptest.eq(got, want, what)
  if math.type(got) ~= math.type(want) or type(got) ~= type(want) or got ~= want then
    error(string.format("%s: got %s (%s), want %s (%s)", what or "value", show(got),
                        math.type(got) or type(got), show(want), math.type(want) or type(want)), 2)
  end
end

function mptest.truthy(v, what)
  if not v then error((what or "condition") .. " does not hold", 2) end
end

--- Calls fn(...), which must raise; returns the error value.
function mptest.raises(fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("no error was raised", 2) end
  return err
end

--- Calls fn(...), which must raise an error whose text contains `plain`.
function mptest.raises_with(plain, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("no error was raised (expected one containing " .. show(plain) .. ")", 2) end
  if type(err) ~= "string" or not err:find(plain, 1, true) then
    error("error " .. show(err) .. " does not contain " .. show(plain), 2)
  end
  return err
end

--- Prints the closing line and exits: 0 when nothing failed.
function mptest.summary()
  print(string.format("%d passed, %d failed", mptest.passed, mptest.failed))
  os.exit(mptest.failed == 0 and mptest.passed > 0 and 0 or 1)
end

return mptest
