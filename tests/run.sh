#!/bin/bash
# Runs Lantern's test suite against one build directory and prints "N passed, N failed".
#
#   tests/run.sh [--build DIR] [--no-lab] [--counts FILE] [PATTERN...]
#
# Tests are: every unit test executable built from tests/unit/ and every script tests/cases/*.sh.
# Each prints TAP-style lines "ok - name" / "not ok - name"; a script that exits non-zero without printing
# a "not ok" line counts as one failure. Scripts named lab-*.sh boot QEMU; --no-lab leaves them out
# (the sanitizer pass does), except those with a line "# no-lab: runs without its boots": they run with
# LANTERN_NO_BOOT=1 and check everything but the boots. PATTERN limits the run to tests whose name contains it.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
lab=1
counts=""
patterns=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --no-lab) lab=0; shift ;;
    --counts) counts=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) patterns+=("$1"); shift ;;
  esac
done

export LANTERN_TOP=$top
export LANTERN_BUILD=$build
export LANTERN=$build/lantern
export LANTERN_FIXTURES=$top/tests/fixtures
export LANTERN_LAB_CACHE=${LANTERN_LAB_CACHE:-$top/.cache/lab}
# UBSan: make undefined behaviour fatal and loud; ASan: leaks are failures too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}

passed=0
failed=0
failures=()
logdir=$build/test-logs
mkdir -p "$logdir"

wanted() {
  [ ${#patterns[@]} -eq 0 ] && return 0
  local p
  for p in "${patterns[@]}"; do [[ "$1" == *"$p"* ]] && return 0; done
  return 1
}

run_one() {
  local name=$1; shift
  local log=$logdir/${name//\//_}.log start end rc ok notok
  start=$(date +%s)
  "$@" >"$log" 2>&1 </dev/null
  rc=$?
  end=$(date +%s)
  ok=$(grep -c '^ok ' "$log")
  notok=$(grep -c '^not ok ' "$log")
  if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
    notok=1
    echo "not ok - $name exited with status $rc" >>"$log"
  fi
  [ "$rc" -eq 0 ] && [ "$ok" -eq 0 ] && [ "$notok" -eq 0 ] && ok=1
  passed=$((passed + ok))
  failed=$((failed + notok))
  printf '%-40s %4d ok %3d failed  %4ss\n' "$name" "$ok" "$notok" "$((end - start))"
  if [ "$notok" -gt 0 ]; then
    failures+=("$name")
    grep '^not ok ' "$log" | head -20 | sed 's/^/    /'
    echo "    --- last lines of $log:"
    tail -15 "$log" | sed 's/^/    | /'
  fi
}

for t in "$build"/tests/test-*; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  name=unit/$(basename "$t")
  wanted "$name" || continue
  run_one "$name" "$t"
done

for t in "$top"/tests/cases/*.sh; do
  [ -f "$t" ] || continue
  base=$(basename "$t" .sh)
  wanted "$base" || continue
  if [ "$lab" -eq 0 ] && [[ "$base" == lab-* ]]; then
    grep -qx '# no-lab: runs without its boots' "$t" || continue
    LANTERN_NO_BOOT=1 run_one "cases/$base" bash "$t"
    continue
  fi
  run_one "cases/$base" bash "$t"
done

if [ -n "$counts" ]; then
  echo "$passed $failed" >"$counts"
fi
if [ ${#failures[@]} -gt 0 ]; then echo "failing: ${failures[*]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
