#!/bin/bash
# The lantern stub (build/lantern-stub-x64.efi) in both layouts. UKI layout: the kernel and initrd inside.
# Thin layout: .linux/.initrd hold ESP paths and .linuxh/.initrdh their SHA-256; the stub measures the files'
# contents, so PCR 11 equals the UKI's. Oracle: systemd-measure 252 (the lantern set minus .sbat covers the
# same sections here). A file that does not match its hash exits 1; a thin stub without --esp exits 2.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

SM=/usr/lib/systemd/systemd-measure
LSTUB=$LANTERN_BUILD/lantern-stub-x64.efi
need_files "$SM" "$LSTUB"
need_tools objcopy objdump xxd sha256sum jq
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }


cd "$TEST_TMP"
printf 'NAME="Lantern"\nID=lantern\n' >osrel
printf 'console=ttyS0 init=/nix/store/x-nixos-system/init' >cmdline
head -c 100003 /dev/urandom >initrd
mkdir -p esp/EFI/nixos
cp "$K" esp/EFI/nixos/kernel.efi
cp initrd esp/EFI/nixos/initrd.efi
printf '\\EFI\\nixos\\kernel.efi' >linux.path
printf '\\EFI\\nixos\\initrd.efi\0' >initrd.path
sha256sum <"$K" | cut -d' ' -f1 | xxd -r -p >linux.sha256
sha256sum <initrd | cut -d' ' -f1 | xxd -r -p >initrd.sha256

want=$(for b in sha1 sha256 sha384 sha512; do
  "$SM" calculate --linux="$K" --initrd=initrd --cmdline=cmdline --osrel=osrel --bank=$b --phase= 2>/dev/null |
    sed -n "s/^11:$b=/$b 11 /p"; done)

lab_uki_sections uki.efi "$LSTUB" .osrel=osrel .cmdline=cmdline .initrd=initrd .linux="$K"
check_eq "lantern stub, UKI layout: equals systemd-measure" "$("$LANTERN" uki measure uki.efi 2>stderr)" "$want"
check_eq "lantern stub identified (no notice)" "$(cat stderr)" ""

lab_uki_sections thin.efi "$LSTUB" .osrel=osrel .cmdline=cmdline .linux=linux.path .linuxh=linux.sha256 \
  .initrd=initrd.path .initrdh=initrd.sha256
check_eq "thin layout with --esp: equals the UKI layout and systemd-measure" \
  "$("$LANTERN" uki measure --esp esp thin.efi)" "$want"
"$LANTERN" uki measure --esp esp --json --bank sha256 thin.efi >thin.json
check_eq "thin layout JSON names the ESP files" "$(jq -r '[.measurements[] | select(.esp_path) | "\(.section)=\(.esp_path)"] | join(" ")' thin.json)" \
  '.linux=\EFI\nixos\kernel.efi .initrd=\EFI\nixos\initrd.efi'
check_eq "thin layout JSON: .linux data digest is the kernel file's" \
  "$(jq -r '.measurements[0].digests.sha256.data' thin.json)" "$(sha256sum <"$K" | cut -d' ' -f1)"

out=$("$LANTERN" uki measure thin.efi 2>&1); rc=$?
check_eq "thin layout without --esp: exit 2" "$rc" 2
check "thin layout without --esp: says which file" grep -qF 'names the ESP file \EFI\nixos\kernel.efi; give --esp DIR' <<<"$out"

printf 'x' >>esp/EFI/nixos/initrd.efi
out=$("$LANTERN" uki measure --esp esp thin.efi 2>&1); rc=$?
check_eq "ESP initrd changed: exit 1" "$rc" 1
check "ESP initrd changed: names the hash section" grep -q "does not match the SHA-256 in the stub's .initrdh section" <<<"$out"
rm esp/EFI/nixos/initrd.efi
check_exit "ESP initrd missing: exit 2" 2 "$LANTERN" uki measure --esp esp thin.efi

head -c 31 linux.sha256 >short.sha256
lab_uki_sections badhash.efi "$LSTUB" .linux=linux.path .linuxh=short.sha256
out=$("$LANTERN" uki measure --esp esp badhash.efi 2>&1); rc=$?
check_eq "31-byte .linuxh: exit 2" "$rc" 2
check "31-byte .linuxh: says why, with the offset" grep -q "badhash.efi: offset 0x[0-9a-f]*: thin-layout hash section is not 32 bytes" <<<"$out"
printf '\\EFI\\n\001' >ctl.path
lab_uki_sections badpath.efi "$LSTUB" .linux=ctl.path .linuxh=linux.sha256
check_exit "control character in the path: exit 2" 2 "$LANTERN" uki measure --esp esp badpath.efi
finish
