#!/bin/bash
# Malformed thin stubs and ESP files are refused with a console line naming the section or file, and the
# stub returns an error instead of booting. One QEMU boot: OVMF finds no boot loader, falls back to its
# UEFI shell, whose startup.nsh runs each broken stub in turn, then powers the machine off.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

STUB=$LANTERN_BUILD/lantern-stub-x64.efi
[ -e "$STUB" ] || { not_ok "needs $STUB"; finish; }
for t in objcopy objdump sha256sum xxd qemu-system-x86_64 swtpm; do
  command -v $t >/dev/null || { not_ok "needs $t"; finish; }
done

W=$TEST_TMP
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }

thin_stub() { lab_uki_sections "$1" "$STUB" "${@:2}"; } # OUT NAME=FILE...: sections added to the Lantern stub

E=$W/esp
mkdir -p "$E/lantern"
cp "$K" "$E/lantern/kernel.efi"
: >"$E/lantern/empty.efi"
printf 'not the initrd' >"$E/lantern/initrd.img"
lab_cmdline "$W/cmdline"
printf '%s' '\lantern\kernel.efi' >"$W/kpath"
printf '%s' '\lantern\missing.efi' >"$W/missing"
printf '%s' '\lantern\empty.efi' >"$W/empty"
printf '%s' '\lantern\initrd.img' >"$W/ipath"
printf '\\lantern\\k\x01.efi' >"$W/badpath"
sha256sum "$K" | cut -c1-64 | xxd -r -p >"$W/kh"
head -c 31 "$W/kh" >"$W/kh31"
printf 'the initrd that was signed' | sha256sum | cut -c1-64 | xxd -r -p >"$W/ih"

thin_stub "$E/short-hash.efi" .cmdline="$W/cmdline" .linux="$W/kpath" .linuxh="$W/kh31"
thin_stub "$E/missing.efi" .cmdline="$W/cmdline" .linux="$W/missing" .linuxh="$W/kh"
thin_stub "$E/empty.efi" .cmdline="$W/cmdline" .linux="$W/empty" .linuxh="$W/kh"
thin_stub "$E/initrd.efi" .cmdline="$W/cmdline" .linux="$W/kpath" .linuxh="$W/kh" .initrd="$W/ipath" .initrdh="$W/ih"
thin_stub "$E/badpath.efi" .cmdline="$W/cmdline" .linux="$W/badpath" .linuxh="$W/kh"
thin_stub "$E/nolinux.efi" .cmdline="$W/cmdline"
thin_stub "$E/hashonly.efi" .cmdline="$W/cmdline" .linux="$W/kpath" .initrdh="$W/ih"

cases=(short-hash missing empty initrd badpath nolinux hashonly)
{
  for c in "${cases[@]}"; do printf 'echo CASE-BEGIN %s\r\nFS0:\\%s.efi\r\necho CASE-END %s\r\n' "$c" "$c" "$c"; done
  printf 'reset -s\r\n'
} >"$E/startup.nsh"

lab_boot "$W/out" "$E" --timeout 240 >"$W/boot.log" 2>&1
S=$W/out/serial.log
[ -s "$S" ] || { not_ok "boot produced a console log"; sed 's/^/#   /' "$W/boot.log"; finish; }
check "every case ran (the shell reached the last one)" grep -q 'CASE-END hashonly' "$S"
check "nothing booted" bash -c "! grep -q 'Linux version' '$S'"

# The console between CASE-BEGIN <case> and CASE-END <case>.
out() { sed -n "/CASE-BEGIN $1\$/,/CASE-END $1\$/p" "$S"; }
has() { local c=$1 want=$2; if out "$c" | grep -qF -- "$want"; then ok "$c: $want"; else not_ok "$c: $want"; out "$c" | sed 's/^/#   /' | head -8; fi; }
has short-hash "lantern-stub: Section .linuxh has 31 bytes, want a 32-byte SHA-256"
has missing 'lantern-stub: Cannot open \lantern\missing.efi on the boot volume: Not Found'
has empty 'lantern-stub: \lantern\empty.efi has 0 bytes'
has initrd "lantern-stub: \\lantern\\initrd.img does not match the SHA-256 in the stub's .initrdh section, refusing to boot"
has badpath 'lantern-stub: Section .linux: byte 0x01 at offset 10 is not printable ASCII'
has nolinux 'lantern-stub: No .linux section: this stub carries no kernel'
has hashonly 'lantern-stub: Section .initrd (the ESP path its hash belongs to) is missing'
finish
