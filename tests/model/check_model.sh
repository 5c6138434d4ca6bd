#!/bin/sh
# Checks tests/model/park.pml with spin, exhaustively.
#
#   check_model.sh MODEL holds  [-DNAME...]  the model must pass: no
#                                            assertion, no invalid end state,
#                                            no non-progress cycle
#   check_model.sh MODEL bites  -DBUG_...    the broken variant must fail
#
# Needs spin and a C compiler (CC, default cc). Prints the states explored.
set -eu
model=$1; expect=$2; shift 2
cc=${CC:-cc}
command -v spin >/dev/null 2>&1 || { echo "check_model: spin not found (Debian package spin)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/model.pml"
cd "$work"

# run_pan NAME CFLAGS PANFLAGS: prints pan's verdict, returns pan's error count
run_pan() {
  name=$1; cflags=$2; panflags=$3; shift 3
  spin "$@" -a model.pml >/dev/null 2>spin.err || { cat spin.err; echo "check_model: spin -a failed"; exit 1; }
  # shellcheck disable=SC2086
  "$cc" -O2 $cflags -o pan pan.c
  # shellcheck disable=SC2086
  ./pan $panflags > pan.out 2>&1 || true
  if grep -q "max search depth too small" pan.out; then
    echo "check_model: $name: search depth too small, the search was not exhaustive"; exit 1
  fi
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | head -n 1)
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | head -n 1)
  [ -n "$errors" ] || { cat pan.out; echo "check_model: $name: no verdict from pan"; exit 1; }
  echo "$name: errors $errors, states stored $states"
  [ "$errors" = 0 ] || grep -E "assertion violated|invalid end state|non-progress|acceptance cycle" pan.out | head -n 3
  return 0
}

defs="$*"
if [ "$expect" = holds ]; then
  # shellcheck disable=SC2086
  set -- $defs
  run_pan "safety (assertions, end states) $defs" "-DSAFETY -DCOLLAPSE" "-m200000" "$@"
  [ "$errors" = 0 ] || { echo "check_model: FAIL: the model violates a property"; exit 1; }
  # Non-progress cycles, on a smaller instance (one published job): the
  # search space of the cycle check is several times larger.
  case "$defs" in
    *-DJOBS=*) npdefs=$defs ;;
    *) npdefs="$defs -DJOBS=1" ;;
  esac
  # shellcheck disable=SC2086
  set -- $npdefs
  run_pan "non-progress cycles $npdefs" "-DNP -DCOLLAPSE" "-l -m200000" "$@"
  [ "$errors" = 0 ] || { echo "check_model: FAIL: a cycle without progress"; exit 1; }
  echo "check_model: the protocol holds"
elif [ "$expect" = bites ]; then
  # shellcheck disable=SC2086
  set -- $defs
  run_pan "broken variant $defs" "-DSAFETY -DCOLLAPSE" "-m200000" "$@"
  [ "$errors" != 0 ] || { echo "check_model: FAIL: the broken variant $defs passed: the check does not bite"; exit 1; }
  echo "check_model: the broken variant is rejected, as it must be"
else
  echo "usage: check_model.sh MODEL holds|bites [-DNAME...]" >&2; exit 2
fi
