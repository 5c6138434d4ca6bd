#!/bin/sh
# run_fuzz.sh BINARY SEED_DIR WORK_DIR SECONDS
# Runs the libFuzzer target for SECONDS over the seed corpus; new corpus
# entries go to WORK_DIR/corpus (emptied first). Prints the executions and
# the corpus size; exits non-zero if the target crashed, hung or leaked.
set -eu
bin=$1; seeds=$2; work=$3; seconds=$4
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
status=0
"$bin" -max_total_time="$seconds" -timeout=20 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" > "$work/log" 2>&1 || status=$?
grep -E "^(INFO: seed|#[0-9]+ +(INITED|DONE))|^Done|^stat::|ERROR|SUMMARY|check failed|WARNING" "$work/log" || true
nseed=$(find "$seeds" -type f | wc -l)
nnew=$(find "$work/corpus" -type f | wc -l)
echo "fuzz_api: exit status $status; corpus: $nseed seed entries + $nnew new ones (in $work/corpus)"
if [ "$status" != 0 ]; then
  tail -n 60 "$work/log"
  echo "fuzz_api: FAIL (reproduce: $bin $work/artifacts/<file>)"
  exit 1
fi
