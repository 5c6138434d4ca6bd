#!/bin/sh
# expect.sh pass|fail PATTERN SCRIPT ARGS...
#
# Runs a check script on a library with a known property and asserts its
# verdict: "fail" wants exit status 1 (a reported difference, not a tool
# error), "pass" wants 0; either way the output must match PATTERN (an
# extended regular expression), so the check is seen to name the change.
set -u
want=${1:?usage: expect.sh pass|fail PATTERN SCRIPT ARGS...}
pattern=${2:?usage: expect.sh pass|fail PATTERN SCRIPT ARGS...}
shift 2
out=$(sh "$@" 2>&1)
rc=$?
printf '%s\n' "$out"
# 77: the check could not compare (it printed why, e.g. no debug
# information in this build): a skip, not a verdict.
[ $rc -eq 77 ] && { echo "SKIPPED: the check could not run here (see above)"; exit 77; }
case "$want" in
  pass) [ $rc -eq 0 ] || { echo "EXPECTED: the check accepts this library; it exited $rc"; exit 1; } ;;
  fail) [ $rc -eq 1 ] || { echo "EXPECTED: the check reports this library (exit 1); it exited $rc"; exit 1; } ;;
  *) echo "usage: expect.sh pass|fail PATTERN SCRIPT ARGS..."; exit 2 ;;
esac
if ! printf '%s\n' "$out" | grep -Eq "$pattern"; then
  echo "EXPECTED: output matching /$pattern/"; exit 1
fi
echo "as expected: $want, naming /$pattern/"
