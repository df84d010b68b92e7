#!/usr/bin/env bash
# Fuzz bench, native part: runs every libFuzzer target in native/fuzz for RUNS inputs (default
# 10 million) with ASan + UBSan, and prints one line per target: inputs executed, execs/s,
# coverage (features), and whether it ended clean. A crash, sanitizer report or invariant
# failure stops that target and leaves the input in build/fuzz/crashes/TARGET/.
#
#   bench/fuzz/native.sh [RUNS] [TARGET...]
# Bounded in time too: MAX_SECONDS per target (default 1800).
set -uo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-10000000}; shift || true
MAX=${MAX_SECONDS:-1800}
scripts/fuzz-native.sh build || exit 2
targets=("$@"); [ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(scripts/fuzz-native.sh list)
mkdir -p build/fuzz/logs
printf '%-14s %12s %10s %9s %s\n' target inputs execs/s features result
fail=0
for t in "${targets[@]}"; do
  log=build/fuzz/logs/$t.log
  scripts/fuzz-native.sh run "$t" -runs="$RUNS" -max_total_time="$MAX" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  n=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  s=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
  f=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  result=clean
  if [ $rc -ne 0 ] || grep -q 'ERROR: \|runtime error\|fuzz invariant failed' "$log"; then result="FAILED (rc $rc, see $log)"; fail=1; fi
  printf '%-14s %12s %10s %9s %s\n' "$t" "${n:-?}" "${s:-?}" "${f:-?}" "$result"
done
exit $fail
