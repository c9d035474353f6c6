# Sourced by the helpers that start servers (tests/swtpm.sh, tests/lanternd.sh): at_exit CMD runs CMD when the
# shell exits, before whatever EXIT trap was already set (lib.sh's removes $TEST_TMP). Each CMD is added once.

at_exit() {
  local cmd=$1 prev
  case " ${AT_EXIT_CMDS:-} " in *" $cmd "*) return 0 ;; esac
  prev=$(trap -p EXIT)
  if [ -n "$prev" ]; then
    eval "set -- $prev"
    prev=$3
  fi
  # shellcheck disable=SC2064
  trap "$cmd; $prev" EXIT
  AT_EXIT_CMDS="${AT_EXIT_CMDS:-} $cmd"
}
