# Sourced by tests/cases/*.sh: TAP-style helpers and common paths.
# Environment from tests/run.sh: LANTERN (binary), LANTERN_TOP, LANTERN_BUILD, LANTERN_FIXTURES.
set -u
: "${LANTERN_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${LANTERN_BUILD:=$LANTERN_TOP/build}"
: "${LANTERN:=$LANTERN_BUILD/lantern}"
: "${LANTERN_FIXTURES:=$LANTERN_TOP/tests/fixtures}"
TEST_FAILED=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; TEST_FAILED=1; }
# check NAME CMD...: passes when CMD exits 0.
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n"; fi; }
# check_eq NAME GOT WANT
check_eq() {
  if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got:  $2"; echo "#   want: $3"; fi
}
# check_exit NAME WANT_STATUS CMD...: passes when CMD exits with WANT_STATUS.
check_exit() {
  local n=$1 want=$2 rc; shift 2
  "$@" >/dev/null 2>&1; rc=$?
  if [ "$rc" -eq "$want" ]; then ok "$n"; else not_ok "$n (exit $rc, want $want)"; fi
}
# need_files FILE...: fails the test ("needs FILE") and stops unless every FILE is a regular file.
need_files() { local f; for f; do [ -f "$f" ] || { not_ok "needs $f"; finish; }; done; }
# need_tools TOOL...: fails the test ("needs TOOL") and stops unless every TOOL is a command.
need_tools() { local t; for t; do command -v "$t" >/dev/null || { not_ok "needs $t"; finish; }; done; }
# A scratch directory removed at exit.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lantern-test.XXXXXX")
# Caches (lantern predict's digest cache among them) stay inside the test, never in the caller's home.
export XDG_CACHE_HOME=$TEST_TMP/xdg-cache
if [ -n "${LANTERN_KEEP_TMP:-}" ]; then echo "# keeping $TEST_TMP"; else trap 'rm -rf "$TEST_TMP"' EXIT; fi
finish() { exit "$TEST_FAILED"; }
