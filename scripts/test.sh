#!/bin/bash
# The whole test suite, as CI runs it on a fresh Debian 12 machine:
#   1. install the Debian packages (scripts/install-deps.sh);
#   2. build and run every test (unit, swtpm, QEMU boots) in build/;
#   3. build with -Db_sanitize=address,undefined in build-asan/ and run the suite there (no QEMU boots);
#   4. build the libFuzzer targets with clang in build-fuzz/ and run each for a bounded time.
# Ends with one line "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
FUZZ_SECONDS=${FUZZ_SECONDS:-30}

bash scripts/install-deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }

total_pass=0
total_fail=0
add_counts() {
  local p f
  if [ -f "$1" ]; then read -r p f <"$1"; else p=0; f=1; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}
build_dir() { # DIR MESON-ARGS...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
  fi
  meson compile -C "$dir" >"$dir.compile.log" 2>&1 || { tail -50 "$dir.compile.log"; return 1; }
}

echo "== build/ (all tests)"
if build_dir build; then
  tests/run.sh --build build --counts build/.counts
  add_counts build/.counts
else
  echo "not ok - build failed"; total_fail=$((total_fail + 1))
fi

echo "== build-asan/ (address + undefined sanitizers)"
if build_dir build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
  tests/run.sh --build build-asan --no-lab --counts build-asan/.counts
  add_counts build-asan/.counts
else
  echo "not ok - sanitizer build failed"; total_fail=$((total_fail + 1))
fi

echo "== build-fuzz/ (libFuzzer, ${FUZZ_SECONDS}s per target)"
if CC=clang-14 build_dir build-fuzz -Dfuzz=true -Dstub=disabled; then
  for f in build-fuzz/tests/fuzz-*; do
    [ -x "$f" ] && [ -f "$f" ] || continue
    name=$(basename "$f")
    corpus=$(mktemp -d)
    seeds=tests/fuzz/corpus/${name#fuzz-}
    if "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -max_len=1048576 "$corpus" \
        $( [ -d "$seeds" ] && echo "$seeds" ) >"build-fuzz/$name.log" 2>&1; then
      echo "ok - $name ran ${FUZZ_SECONDS}s without a crash"; total_pass=$((total_pass + 1))
    else
      echo "not ok - $name found a crash:"; tail -40 "build-fuzz/$name.log"; total_fail=$((total_fail + 1))
    fi
    rm -rf "$corpus"
  done
else
  echo "not ok - fuzz build failed"; total_fail=$((total_fail + 1))
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
