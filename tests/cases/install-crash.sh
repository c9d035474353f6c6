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
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"
. "$LANTERN_TOP/tests/lab/profile.sh"

CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem
need_tools sbverify sha256sum openssl
W=$TEST_TMP
R=$W/root
mkdir -p "$W/keys"
openssl pkey -passin pass:snakeoil -in /usr/share/ovmf/PkKek-1-snakeoil.key -out "$W/keys/db.key" 2>/dev/null
cp "$CERT" "$W/keys/db.crt"
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

install_profile_init "$R"
for x in k1:300001 i1:200003 k2:310007 i2:210011 k4:320009 i4:220013; do head -c "${x#*:}" /dev/urandom >"$W/${x%%:*}"; done
install_generation "$R" 1 "$W/k1" "$W/i1"
install_generation "$R" 2 "$W/k1" "$W/i2" "console=ttyS0" debug "$W/k2" "$W/i1"
install_generation "$R" 3 "$W/k2" "$W/i2"

# First install onto an empty ESP.
mkdir -p "$W/ref-first/loader" && echo 'timeout 0' >"$W/ref-first/loader/loader.conf"
inst "$W/ref-first" >"$W/first.out"
n_first=$(grep -c '^wrote \|^removed ' "$W/first.out")
check "the first install has steps" test "$n_first" -gt 5
for ((n = 1; n <= n_first; n++)); do
  rm -rf "$W/e" && mkdir -p "$W/e/loader" && echo 'timeout 0' >"$W/e/loader/loader.conf"
  LANTERN_INSTALL_CRASH_AFTER=$n inst "$W/e" >/dev/null 2>&1; rc=$?
  why=""
  if [ -e "$W/e/EFI/BOOT/BOOTX64.EFI" ]; then why=$(boots "$W/e") || true; fi
  if [ "$rc" = 137 ] && [ -z "$why" ]; then ok "first install killed after step $n/$n_first: not yet bootable, or bootable"
  else not_ok "first install killed after step $n/$n_first (exit $rc): $why"; fi
done
check_eq "the first install's last step is the fallback boot loader" "$(tail -n 1 "$W/first.out")" "wrote EFI/BOOT/BOOTX64.EFI (missing)"

# An update: generation 4 on a new kernel and initrd, only the newest kept.
rm -rf "$W/base" && mkdir -p "$W/base/loader" && echo 'timeout 0' >"$W/base/loader/loader.conf"
inst "$W/base" >/dev/null 2>&1
install_generation "$R" 4 "$W/k4" "$W/i4"
cp -a "$W/base" "$W/ref"
n_upd=$(inst "$W/ref" --configuration-limit 1 | grep -c '^wrote \|^removed ')
check "the update has writes and removals" test "$n_upd" -ge 10
tree "$W/ref" >"$W/ref.tree"
for ((n = 1; n <= n_upd; n++)); do
  rm -rf "$W/e" && cp -a "$W/base" "$W/e"
  LANTERN_INSTALL_CRASH_AFTER=$n inst "$W/e" --configuration-limit 1 >/dev/null 2>&1; rc=$?
  why=$(boots "$W/e") || true
  left=$(find "$W/e" -name '*.tmp.*' | wc -l)
  if [ "$rc" = 137 ] && [ -z "$why" ] && [ "$left" = 0 ]; then ok "update killed after step $n/$n_upd: the ESP boots a complete generation"
  else not_ok "update killed after step $n/$n_upd (exit $rc, $left temporary files): $why"; fi
  inst "$W/e" --configuration-limit 1 >/dev/null 2>&1
  tree "$W/e" >"$W/e.tree"
  if cmp -s "$W/ref.tree" "$W/e.tree"; then ok "... a re-run completes to the uninterrupted result"
  else not_ok "... a re-run completes to the uninterrupted result"; diff "$W/ref.tree" "$W/e.tree" | head -5 | sed 's/^/#   /'; fi
done
finish
