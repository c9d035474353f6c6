# Sourced by tests that need the fleet verifier: starts lanternd listening on loopback only and stops it by the
# pid in its pid file.
#
#   . "$LANTERN_TOP/tests/lanternd.sh"
#   lanternd_start DIR TOKEN_FILE [ARG...]  # DIR/lanternd.db, DIR/lanternd.pid, DIR/lanternd.log; ARGs go to
#                                           # lanternd; sets LANTERND_PORT and LANTERND_URL=http://127.0.0.1:P
#   ...
#   lanternd_stop DIR                       # optional: every lanternd started here is stopped at exit anyway
#
# The port is picked at random and retried when busy, so tests can run in parallel. The binary is
# $LANTERN_BUILD/lanternd unless LANTERND names another.

. "$(dirname "${BASH_SOURCE[0]}")/at-exit.sh"

LANTERND_DIRS=()

# Starts lanternd with its database, pid file and log in DIR and waits until it has written its pid file (it
# does so once it listens). Returns 1 when it could not start on any of 20 ports.
lanternd_start() {
  local dir=$1 token=$2 bin=${LANTERND:-$LANTERN_BUILD/lanternd} try port
  shift 2
  [ -x "$bin" ] || { echo "lanternd_start: $bin is not built" >&2; return 1; }
  at_exit lanternd_stop_all
  for try in $(seq 1 20); do
    port=$((30000 + RANDOM % 30000))
    ss -Htln "( sport = :$port )" 2>/dev/null | grep -q . && continue
    rm -f "$dir/lanternd.pid"
    "$bin" --listen "127.0.0.1:$port" --db "$dir/lanternd.db" --pid-file "$dir/lanternd.pid" \
      --admin-token-file "$token" "$@" >>"$dir/lanternd.log" 2>&1 &
    for _ in $(seq 1 50); do
      if [ -s "$dir/lanternd.pid" ]; then
        LANTERND_DIRS+=("$dir")
        LANTERND_PORT=$port
        LANTERND_URL=http://127.0.0.1:$port
        return 0
      fi
      kill -0 $! 2>/dev/null || break
      sleep 0.1
    done
  done
  return 1
}

# Stops the lanternd whose pid is in DIR/lanternd.pid (only when that process was started with this pid file)
# and waits until it has exited (SIGKILL after 5 s). lanternd removes its pid file itself.
lanternd_stop() {
  local dir=$1 pid
  [ -s "$dir/lanternd.pid" ] || return 0
  pid=$(cat "$dir/lanternd.pid")
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--pid-file $dir/lanternd.pid" || return 0
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid"
}

lanternd_stop_all() {
  local d
  for d in "${LANTERND_DIRS[@]}"; do lanternd_stop "$d"; done
  LANTERND_DIRS=()
}
