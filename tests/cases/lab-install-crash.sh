#!/bin/bash
# Interrupted installs: LANTERN_INSTALL_CRASH_AFTER=N makes `lantern install` SIGKILL itself right after
# its N-th write or removal. For every N of an update (a new generation with a new kernel and initrd, and
# --configuration-limit 1 so that everything old is collected) and of a first install onto an empty ESP:
#   - the process died by SIGKILL;
#   - the ESP still boots a complete generation, checked with outside tools: sbverify --cert accepts
#     EFI/BOOT/BOOTX64.EFI and the stub loader.conf's default names, and the kernel and initrd that stub
#     names exist with the sha256sum its .linuxh/.initrdh carry (a first install may instead not be
#     bootable yet: no EFI/BOOT/BOOTX64.EFI);
#   - no temporary file is left, and a re-run completes to exactly the uninterrupted result.
# Then every distinct resulting ESP is booted once under QEMU + OVMF (Secure Boot enforced, OVMF's snakeoil db
# key, which `lantern install --keys` signs with) + swtpm, through systemd-boot and the Lantern stub. A state is
# its fingerprint: the sorted list of its files with their SHA-256 (temporary files *.tmp.* left out: nothing
# the boot loader reads; the update leaves none). States of a first install without EFI/BOOT/BOOTX64.EFI are
# not booted: a fresh OVMF boots nothing else from that drive. Each boot must reach the initrd (LANTERN-DONE),
# with the SecureBoot variable 1 in the log, and be the complete generation loader.conf's default names (3
# before the update's loader.conf, 4 after): /proc/cmdline equals `lantern predict`'s command line for it
# (lantern.gen=N), the initrd is that generation's, and PCR 11 in sha1, sha256, sha384 and sha512 equals
# `lantern predict` for it.
# Kernels are Debian's vmlinuz without its signature and two copies with different random trailing bytes
# (distinct files that boot); initrds are busybox initrds that differ by a marker line.
# Measured: the first install has 11 steps (one bootable state: the last), the update 12, giving 13 distinct
# states (the first install's last state is the update's base), 13 boots, two at a time: 117-170 s of boots,
# 134-209 s for the whole test on 2 cores (31 s before it booted anything).
# no-lab: runs without its boots
# (the sanitizer pass runs the kills and re-runs of the instrumented installer, LANTERN_NO_BOOT=1, no boots)
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"
. "$LANTERN_TOP/tests/lab/assert.sh"
. "$LANTERN_TOP/tests/lab/profile.sh"

CERT=$LAB_SNAKEOIL_CERT
BANKS="sha1 sha256 sha384 sha512"
need_tools sbverify sbattach sha256sum openssl jq qemu-system-x86_64 swtpm tpm2_eventlog
need_files "$LANTERN_BUILD/lantern-stub-x64.efi"
W=$TEST_TMP
R=$W/root
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }
mkdir -p "$W/keys"
cp "$(lab_signing_key)" "$W/keys/db.key" && cp "$CERT" "$W/keys/db.crt" || { not_ok "snakeoil keys"; finish; }
inst() { local esp=$1; shift; "$LANTERN" install --esp "$esp" --root "$R" --keys "$W/keys" --efivars "$W/none" "$@"; }

# boots ESP: prints nothing and succeeds when the ESP boots a complete generation; else prints why.
boots() {
  local e=$1 d s k i
  sbverify --cert "$CERT" "$e/EFI/BOOT/BOOTX64.EFI" >/dev/null 2>&1 || { echo "BOOTX64.EFI not signed"; return 1; }
  d=$(awk '$1 == "default" { print $2 }' "$e/loader/loader.conf" 2>/dev/null)
  [ -n "$d" ] || { echo "no default in loader.conf"; return 1; }
  s=$e/EFI/Linux/$d
  sbverify --cert "$CERT" "$s" >/dev/null 2>&1 || { echo "default stub $d missing or unsigned"; return 1; }
  k=$(lab_pe_section_esp_path "$s" .linux); i=$(lab_pe_section_esp_path "$s" .initrd)
  [ "$(sha256sum <"$e/$k" 2>/dev/null | cut -c1-64)" = "$(lab_pe_section_hex "$s" .linuxh)" ] || { echo "kernel $k missing or wrong"; return 1; }
  [ "$(sha256sum <"$e/$i" 2>/dev/null | cut -c1-64)" = "$(lab_pe_section_hex "$s" .initrdh)" ] || { echo "initrd $i missing or wrong"; return 1; }
}
tree() { (cd "$1" && find . -type f | sort && find . -type f -exec sha256sum {} + | awk '{ print $1 }' | sort); }
# fingerprint ESP: one hash over the sorted "sha256  path" lines of its files, temporary files left out.
fingerprint() {
  (cd "$1" && find . -type f ! -name '*.tmp.*' -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum | cut -c1-16
}
# default_gen ESP: the generation number of the stub loader.conf's default names.
default_gen() {
  awk '$1 == "default" { print $2 }' "$1/loader/loader.conf" | sed -n 's/^nixos-generation-\([0-9]*\)-.*/\1/p'
}

# Distinct ESP states to boot: STATES (fingerprints, in order of first appearance), a copy of each under
# $W/state-<fp>, the generation it must boot, and the kill points that produced it.
declare -a STATES=()
declare -A STATE_GEN=() STATE_WHERE=()
# remember ESP LABEL: records the state of ESP (which boots a complete generation) before it is changed.
remember() {
  local fp
  fp=$(fingerprint "$1")
  if [ -z "${STATE_GEN[$fp]:-}" ]; then
    STATES+=("$fp")
    STATE_GEN[$fp]=$(default_gen "$1")
    cp -a "$1" "$W/state-$fp"
    STATE_WHERE[$fp]=$2
  else
    STATE_WHERE[$fp]+=", $2"
  fi
}

# --- the profile -------------------------------------------------------------------------------------------
cp "$K" "$W/k1"
sbattach --remove "$W/k1" >/dev/null 2>&1 || { not_ok "sbattach --remove"; finish; }
{ cat "$W/k1"; head -c 65536 /dev/urandom; } >"$W/k2"
{ cat "$W/k1"; head -c 69632 /dev/urandom; } >"$W/k4"
for x in 1 2 4; do
  printf 'echo LANTERN-INITRD i%s\necho "LANTERN-CMDLINE $(cat /proc/cmdline)"\n' "$x" >"$W/extra-$x.sh"
  lab_initrd "$W/i$x" "$W/extra-$x.sh" || { not_ok "initrd i$x"; finish; }
done
install_profile_init "$R"
install_generation "$R" 1 "$W/k1" "$W/i1" "console=ttyS0 panic=-1 lantern.gen=1"
install_generation "$R" 2 "$W/k1" "$W/i2" "console=ttyS0 panic=-1 lantern.gen=2" debug "$W/k2" "$W/i1"
install_generation "$R" 3 "$W/k2" "$W/i2" "console=ttyS0 panic=-1 lantern.gen=3"

# --- a first install onto an empty ESP ---------------------------------------------------------------------
mkdir -p "$W/ref-first/loader" && echo 'timeout 0' >"$W/ref-first/loader/loader.conf"
inst "$W/ref-first" >"$W/first.out"
n_first=$(grep -c '^wrote \|^removed ' "$W/first.out")
check "the first install has steps" test "$n_first" -gt 5
for ((n = 1; n <= n_first; n++)); do
  rm -rf "$W/e" && mkdir -p "$W/e/loader" && echo 'timeout 0' >"$W/e/loader/loader.conf"
  LANTERN_INSTALL_CRASH_AFTER=$n inst "$W/e" >/dev/null 2>&1; rc=$?
  why=""
  if [ -e "$W/e/EFI/BOOT/BOOTX64.EFI" ]; then
    why=$(boots "$W/e") && remember "$W/e" "first install step $n/$n_first"
  fi
  if [ "$rc" = 137 ] && [ -z "$why" ]; then ok "first install killed after step $n/$n_first: not yet bootable, or bootable"
  else not_ok "first install killed after step $n/$n_first (exit $rc): $why"; fi
done
check_eq "the first install's last step is the fallback boot loader" "$(tail -n 1 "$W/first.out")" "wrote EFI/BOOT/BOOTX64.EFI (missing)"

# --- an update: generation 4 on a new kernel and initrd, only the newest kept ------------------------------
rm -rf "$W/base" && mkdir -p "$W/base/loader" && echo 'timeout 0' >"$W/base/loader/loader.conf"
inst "$W/base" >/dev/null 2>&1
install_generation "$R" 4 "$W/k4" "$W/i4" "console=ttyS0 panic=-1 lantern.gen=4"
cp -a "$W/base" "$W/ref"
n_upd=$(inst "$W/ref" --configuration-limit 1 | grep -c '^wrote \|^removed ')
check "the update has writes and removals" test "$n_upd" -ge 10
tree "$W/ref" >"$W/ref.tree"
for ((n = 1; n <= n_upd; n++)); do
  rm -rf "$W/e" && cp -a "$W/base" "$W/e"
  LANTERN_INSTALL_CRASH_AFTER=$n inst "$W/e" --configuration-limit 1 >/dev/null 2>&1; rc=$?
  why=$(boots "$W/e") && remember "$W/e" "update step $n/$n_upd"
  left=$(find "$W/e" -name '*.tmp.*' | wc -l)
  if [ "$rc" = 137 ] && [ -z "$why" ] && [ "$left" = 0 ]; then ok "update killed after step $n/$n_upd: the ESP boots a complete generation"
  else not_ok "update killed after step $n/$n_upd (exit $rc, $left temporary files): $why"; fi
  inst "$W/e" --configuration-limit 1 >/dev/null 2>&1
  tree "$W/e" >"$W/e.tree"
  if cmp -s "$W/ref.tree" "$W/e.tree"; then ok "... a re-run completes to the uninterrupted result"
  else not_ok "... a re-run completes to the uninterrupted result"; diff "$W/ref.tree" "$W/e.tree" | head -5 | sed 's/^/#   /'; fi
done
check_eq "the base of the update is a state of the first install" "$(fingerprint "$W/base")" "$(fingerprint "$W/ref-first")"

# --- boots ---------------------------------------------------------------------------------------------------
if [ "${LANTERN_NO_BOOT:-0}" = 1 ]; then
  echo "# LANTERN_NO_BOOT=1: the ${#STATES[@]} distinct bootable states are not booted"
  finish
fi
echo "# ${#STATES[@]} distinct bootable states"
for fp in "${STATES[@]}"; do echo "#   $fp: generation ${STATE_GEN[$fp]:-?} (${STATE_WHERE[$fp]})"; done
gens=$(for fp in "${STATES[@]}"; do echo "${STATE_GEN[$fp]}"; done | paste -sd' ')
check "in order, the states boot generation 3 until the update's loader.conf, then 4 ($gens)" \
  grep -Eqx '3( 3)* 4( 4)*' <<<"$gens"
"$LANTERN" predict --root "$R" --bank sha1,sha256,sha384,sha512 --json >"$W/pred.json" 2>"$W/pred.err"
check_eq "lantern predict --root exits 0" "$?" 0
start=$SECONDS
for ((j = 0; j < ${#STATES[@]}; j += 2)); do
  pids=()
  for fp in "${STATES[@]:j:2}"; do
    lab_boot "$W/boot-$fp" "$W/state-$fp" --secureboot >"$W/boot-$fp.log" 2>&1 & pids+=($!)
  done
  for ((m = 0; m < ${#pids[@]}; m++)); do
    fp=${STATES[j + m]}
    wait "${pids[m]}"; echo "$?" >"$W/boot-$fp.rc"
  done
done
echo "# ${#STATES[@]} boots in $((SECONDS - start)) s"
for fp in "${STATES[@]}"; do
  gen=${STATE_GEN[$fp]} b=$W/boot-$fp l="state $fp (${STATE_WHERE[$fp]})"
  if [ "$(cat "$b.rc")" != 0 ]; then
    not_ok "$l reached the initrd"; sed 's/^/#   /' "$b.log" | tail -20; continue
  fi
  ok "$l reached the initrd"
  lab_assert_secureboot "$l" "$b" on
  pred=$(jq -c ".generations[] | select(.generation == $gen and .specialisation == null)" "$W/pred.json")
  check_eq "$l: /proc/cmdline is generation $gen's predicted command line" \
    "$(sed -n 's/^LANTERN-CMDLINE //p' "$b/serial.log")" "$(jq -r .cmdline <<<"$pred")"
  check "$l: the command line names generation $gen" grep -q "^LANTERN-CMDLINE .*lantern.gen=$gen\( \|$\)" "$b/serial.log"
  check_eq "$l: generation $gen's initrd booted" "$(sed -n 's/^LANTERN-INITRD //p' "$b/serial.log")" \
    "$([ "$gen" = 4 ] && echo i4 || echo i2)"
  for bank in $BANKS; do
    want=$(jq -r ".pcrs.${bank}[\"11\"]" <<<"$pred")
    [[ $want =~ ^[0-9a-f]{40,128}$ ]] || not_ok "$l: PCR 11 $bank is predicted (got '$want')"
    check_eq "$l: PCR 11 $bank = lantern predict for generation $gen" \
      "$(awk -v b=$bank '$1 == b && $2 == 11 { print $3 }' "$b/pcrs.txt")" "$want"
  done
done
finish
