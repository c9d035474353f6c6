# Sourced by tests that need a TPM: starts and stops swtpm (TPM 2.0) listening on loopback only.
#
#   . "$LANTERN_TOP/tests/swtpm.sh"
#   swtpm_start DIR     # state in DIR; exports SWTPM_TCTI=swtpm:host=127.0.0.1,port=P (and SWTPM_PORT)
#   ...                 # e.g. tpm2_pcrread -T "$SWTPM_TCTI", lantern pcr read --tcti "$SWTPM_TCTI"
#   swtpm_stop DIR      # optional: every swtpm started here is stopped at exit anyway
#
# The port pair (P for commands, P+1 for control) is picked at random and retried when busy, so tests can
# run in parallel. swtpm runs as a daemon with its pid in DIR/swtpm.pid and is stopped by that pid only.

. "$(dirname "${BASH_SOURCE[0]}")/at-exit.sh"

SWTPM_DIRS=()

# Starts swtpm with its state in DIR (created when missing) and waits until it answers a command.
swtpm_start() {
  local dir=$1 port try
  command -v swtpm >/dev/null || { echo "swtpm_start: swtpm is not installed" >&2; return 1; }
  command -v tpm2_getcap >/dev/null || { echo "swtpm_start: tpm2-tools is not installed" >&2; return 1; }
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd)
  at_exit swtpm_stop_all
  for try in $(seq 1 20); do
    port=$((20000 + 2 * (RANDOM % 15000)))
    if ss -Htln "( sport = :$port or sport = :$((port + 1)) )" 2>/dev/null | grep -q .; then
      continue
    fi
    rm -f "$dir/swtpm.pid"
    if swtpm socket --tpm2 \
        --server type=tcp,port=$port,bindaddr=127.0.0.1 \
        --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
        --flags not-need-init,startup-clear \
        --tpmstate dir="$dir" \
        --log file="$dir/swtpm.log" \
        --daemon --pid file="$dir/swtpm.pid" 2>>"$dir/swtpm.err"; then
      SWTPM_DIRS+=("$dir")
      export SWTPM_PORT=$port
      export SWTPM_TCTI="swtpm:host=127.0.0.1,port=$port"
      swtpm_wait "$dir" && return 0
      swtpm_stop "$dir"
    fi
  done
  echo "swtpm_start: could not start swtpm in $dir (see $dir/swtpm.err)" >&2
  return 1
}

# Waits until the swtpm in DIR answers TPM2_GetCapability on $SWTPM_TCTI (up to 10 s).
swtpm_wait() {
  local dir=$1 i
  for i in $(seq 1 100); do
    [ -s "$dir/swtpm.pid" ] && kill -0 "$(cat "$dir/swtpm.pid")" 2>/dev/null || { sleep 0.1; continue; }
    TSS2_LOG=all+none tpm2_getcap -T "$SWTPM_TCTI" properties-fixed >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "swtpm_wait: swtpm in $dir does not answer on $SWTPM_TCTI" >&2
  return 1
}

# Stops the swtpm whose pid is in DIR/swtpm.pid and waits until it has exited (SIGKILL after 5 s).
swtpm_stop() {
  local dir=$1 pid i
  [ -s "$dir/swtpm.pid" ] || return 0
  pid=$(cat "$dir/swtpm.pid")
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  # Only a process that is swtpm and uses this state directory is ours to stop.
  if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "dir=$dir"; then
    rm -f "$dir/swtpm.pid"
    return 0
  fi
  kill "$pid" 2>/dev/null
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  rm -f "$dir/swtpm.pid"
  return 0
}

swtpm_stop_all() {
  local d
  for d in "${SWTPM_DIRS[@]}"; do swtpm_stop "$d"; done
  SWTPM_DIRS=()
}
