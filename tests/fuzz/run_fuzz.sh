#!/bin/sh
# run_fuzz.sh BINARY SEED_DIR WORK_DIR SECONDS [RUNS]
# Runs the libFuzzer target for SECONDS over the seed corpus (0: no time
# limit), or until it has run RUNS inputs when RUNS is given (libFuzzer's
# -runs; whichever comes first); new corpus entries go to WORK_DIR/corpus
# (emptied first), libFuzzer's output to WORK_DIR/log. Prints the
# executions and the corpus size; exits non-zero if the target crashed,
# hung or leaked, 2 on bad arguments.
set -eu
usage() {
  echo "usage: run_fuzz.sh BINARY SEED_DIR WORK_DIR SECONDS [RUNS]" >&2
  [ -n "${1:-}" ] && echo "run_fuzz.sh: $1" >&2
  exit 2
}
[ $# -eq 4 ] || [ $# -eq 5 ] || usage
bin=$1; seeds=$2; work=$3; seconds=$4; runs=${5:-}
case "$seconds" in
  ''|*[!0-9]*) usage "SECONDS must be a whole number (0 for no limit), not '$seconds'" ;;
esac
if [ $# -eq 5 ]; then
  case "$runs" in
    ''|*[!0-9]*|0*) usage "RUNS must be a whole number >= 1, not '$runs'" ;;
  esac
elif [ "$seconds" -eq 0 ]; then
  usage "SECONDS 0 (no time limit) needs RUNS"
fi
[ -x "$bin" ] || usage "no fuzz target at '$bin'"
[ -d "$seeds" ] || usage "no seed corpus at '$seeds'"
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
status=0
"$bin" -max_total_time="$seconds" ${runs:+-runs="$runs"} -timeout=20 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" > "$work/log" 2>&1 || status=$?
grep -E "^(INFO: seed|#[0-9]+ +(INITED|DONE))|^Done|^stat::|ERROR|SUMMARY|check failed|WARNING" "$work/log" || true
nseed=$(find "$seeds" -type f | wc -l)
nnew=$(find "$work/corpus" -type f | wc -l)
echo "fuzz_api: exit status $status; corpus: $nseed seed entries + $nnew new ones (in $work/corpus)"
if [ "$status" = 0 ] && [ -n "$runs" ] && [ "$seconds" -eq 0 ]; then
  # No time limit: libFuzzer must have run them all.
  done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  if [ -z "$done_runs" ] || [ "$done_runs" -lt "$runs" ]; then
    echo "fuzz_api: ran ${done_runs:-no} inputs of the $runs asked for"
    status=1
  fi
fi
if [ "$status" != 0 ]; then
  tail -n 60 "$work/log"
  echo "fuzz_api: FAIL (reproduce: $bin $work/artifacts/<file>)"
  exit 1
fi
