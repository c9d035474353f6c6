#!/bin/bash
# Secure Boot and the command line, under QEMU + OVMF + swtpm:
#   (e) Secure Boot enforced (snakeoil keys), through a signed systemd-boot 252: a Lantern UKI signed with the
#       snakeoil key carrying an UNSIGNED kernel boots, and PCR 11 equals systemd-measure calculate. sd-boot
#       passes the .cmdline as LoadOptions and measures it into PCR 12; under Secure Boot the stub uses its
#       embedded .cmdline and measures nothing more, so PCR 12 is that one extend and
#       StubPcrKernelParameters stays unset;
#   (f) the same as a signed thin stub with the unsigned kernel and the initrd on the ESP: boots, same PCR 11;
#   (g) one Secure Boot boot in which nothing may run, four disks that OVMF tries in turn:
#       port 0: the unsigned kernel alone: the firmware refuses it (control: so (e)/(f) ran it only through
#               the stub's verification);
#       port 1: the thin stub of (f) unsigned, with good files: the firmware refuses it;
#       port 3: the signed thin stub of (f), one byte of the kernel file flipped: the stub refuses it;
#       port 4: the same, one byte of the initrd file flipped: the stub refuses it;
#   (h) Secure Boot off, the NixOS chain: systemd-boot 252 as EFI/BOOT/BOOTX64.EFI, two thin Lantern stubs
#       under EFI/Linux/ (two generations sharing the kernel and initrd under EFI/nixos/), loader.conf's
#       `default` naming the older one, which systemd-boot's own order puts second. The named entry boots
#       (systemd-boot's LoaderEntrySelected, the kernel's command line, PCR 11). sd-boot passes the stub's
#       .cmdline as LoadOptions; the Lantern stub measures them into PCR 12 like systemd-stub 252: PCR 12 and
#       its event records equal those of the real systemd-stub boot captured in
#       tests/fixtures/boot/sd252-sdboot-sb-off, and StubPcrKernelParameters is "12".
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

SM=/usr/lib/systemd/systemd-measure
STUB=$LANTERN_BUILD/lantern-stub-x64.efi
FIX=$LANTERN_FIXTURES/boot/sd252-sdboot-sb-off
for f in "$SM" "$STUB" "$LAB_SDBOOT_DEFAULT" "$FIX/pcrs.txt" "$FIX/eventlog.bin" "$FIX/cmdline"; do
  [ -e "$f" ] || { not_ok "needs $f"; finish; }
done
for t in objcopy objdump sbattach sbsign sbverify sha256sum xxd tpm2_eventlog qemu-system-x86_64 swtpm iconv openssl cmp; do
  command -v $t >/dev/null || { not_ok "needs $t"; finish; }
done

W=$TEST_TMP
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }
kver=$(lab_kernel_version)
VENDOR=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f

cp "$K" "$W/vmlinuz"
sbattach --remove "$W/vmlinuz" >/dev/null 2>&1
check "the test kernel carries no signature" bash -c "! sbverify --list '$W/vmlinuz' 2>/dev/null | grep -q 'signature 1'"

R=$W/root
mkdir -p "$R"
cp "$(dirname "$K")/../lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" "$R/efivarfs.ko"
cat >"$W/extra.sh" <<EOS
insmod /efivarfs.ko
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
echo "LANTERN-CMDLINE \$(cat /proc/cmdline)"
for v in StubPcrKernelImage StubPcrKernelParameters LoaderEntrySelected LoaderEntries; do
  f=/sys/firmware/efi/efivars/\$v-$VENDOR
  if [ -e "\$f" ]; then echo "LANTERN-VAR \$v \$(od -An -tx1 "\$f" | tr -d ' \n')"; else echo "LANTERN-VAR \$v none"; fi
done
EOS
LAB_INITRD_DIR=$R lab_initrd "$W/initrd.img" "$W/extra.sh" || { not_ok "initrd"; finish; }
cp "$FIX/cmdline" "$W/cmdline"
lab_osrel "$W/osrel"

thin_stub() { lab_uki_sections "$1" "$STUB" "${@:2}"; } # OUT NAME=FILE...: sections added to the Lantern stub

lab_uki "$W/uki.efi" "$STUB" "$W/vmlinuz" "$W/initrd.img" "$W/cmdline" "$W/osrel" || { not_ok "Lantern UKI"; finish; }
lab_sign "$W/uki.efi" "$W/uki-signed.efi" || { not_ok "sign the UKI"; finish; }
printf '%s' '\EFI\lantern\vmlinuz.efi' >"$W/linux-path"
printf '%s' '\EFI\lantern\initrd.img' >"$W/initrd-path"
sha256sum "$W/vmlinuz" | cut -c1-64 | xxd -r -p >"$W/linuxh"
sha256sum "$W/initrd.img" | cut -c1-64 | xxd -r -p >"$W/initrdh"
thin_stub "$W/thin.efi" .osrel="$W/osrel" .cmdline="$W/cmdline" .linux="$W/linux-path" .linuxh="$W/linuxh" \
  .initrd="$W/initrd-path" .initrdh="$W/initrdh" || { not_ok "thin stub"; finish; }
lab_sign "$W/thin.efi" "$W/thin-signed.efi" || { not_ok "sign the thin stub"; finish; }
check "sbverify accepts the signed thin stub with the snakeoil certificate" \
  sbverify --cert "$LAB_SNAKEOIL_CERT" "$W/thin-signed.efi"

lab_sign "$LAB_SDBOOT_DEFAULT" "$W/sdboot-signed.efi" || { not_ok "sign systemd-boot"; finish; }
lab_esp_sdboot "$W/esp-e" "$W/uki-signed.efi" "$W/sdboot-signed.efi" || { not_ok "systemd-boot ESP (e)"; finish; }
lab_esp "$W/esp-f" "$W/thin-signed.efi"
mkdir -p "$W/esp-f/EFI/lantern"
cp "$W/vmlinuz" "$W/esp-f/EFI/lantern/vmlinuz.efi"
cp "$W/initrd.img" "$W/esp-f/EFI/lantern/initrd.img"

# (g): four ESPs, on AHCI ports 0 (lab_boot's drive), 1, 3 and 4 (port 2 is QEMU's CD-ROM).
flip() { # FILE: flips the lowest bit of the byte in the middle of FILE
  local off byte
  off=$(( $(stat -c %s "$1") / 2 ))
  byte=$(od -An -tu1 -j "$off" -N 1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $(( byte ^ 1 )))" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
}
lab_esp "$W/esp-g0" "$W/vmlinuz"
cp -r "$W/esp-f" "$W/esp-g1" && cp "$W/thin.efi" "$W/esp-g1/EFI/BOOT/BOOTX64.EFI"
cp -r "$W/esp-f" "$W/esp-g3" && flip "$W/esp-g3/EFI/lantern/vmlinuz.efi"
cp -r "$W/esp-f" "$W/esp-g4" && flip "$W/esp-g4/EFI/lantern/initrd.img"
check "the flipped files differ from the ones the stub's hashes name" bash -c \
  "! cmp -s '$W/vmlinuz' '$W/esp-g3/EFI/lantern/vmlinuz.efi' && ! cmp -s '$W/initrd.img' '$W/esp-g4/EFI/lantern/initrd.img'"
g_disks=()
for port in 1 3 4; do g_disks+=(--qemu-arg -drive --qemu-arg "format=raw,index=$port,file=fat:rw:$W/esp-g$port"); done

# (h): two generations of thin stubs for systemd-boot. Generation 1 has the fixture's command line; generation 2
# another one and a higher VERSION_ID, so systemd-boot lists it first and would boot it without the `default`.
lab_osrel "$W/osrel-1"
sed 's/^VERSION_ID=.*/VERSION_ID=2/; s/^PRETTY_NAME=.*/PRETTY_NAME="Lantern Lab 2"/' "$W/osrel-1" >"$W/osrel-2"
printf '%s lantern.generation=2' "$(cat "$W/cmdline")" >"$W/cmdline-2"
printf '%s' '\EFI\nixos\vmlinuz.efi' >"$W/linux-path-h"
printf '%s' '\EFI\nixos\initrd.efi' >"$W/initrd-path-h"
for gen in 1 2; do
  c=$W/cmdline; [ $gen = 2 ] && c=$W/cmdline-2
  thin_stub "$W/gen-$gen.efi" .osrel="$W/osrel-$gen" .cmdline="$c" .linux="$W/linux-path-h" .linuxh="$W/linuxh" \
    .initrd="$W/initrd-path-h" .initrdh="$W/initrdh" || { not_ok "thin stub for generation $gen"; finish; }
done
mkdir -p "$W/esp-h/EFI/BOOT" "$W/esp-h/EFI/Linux" "$W/esp-h/EFI/nixos" "$W/esp-h/loader"
cp "$LAB_SDBOOT_DEFAULT" "$W/esp-h/EFI/BOOT/BOOTX64.EFI"
cp "$W/gen-1.efi" "$W/esp-h/EFI/Linux/nixos-generation-1.efi"
cp "$W/gen-2.efi" "$W/esp-h/EFI/Linux/nixos-generation-2.efi"
cp "$W/vmlinuz" "$W/esp-h/EFI/nixos/vmlinuz.efi"
cp "$W/initrd.img" "$W/esp-h/EFI/nixos/initrd.efi"
printf 'timeout 0\ndefault nixos-generation-1.efi\n' >"$W/esp-h/loader/loader.conf"

lab_boot "$W/e" "$W/esp-e" --secureboot >"$W/e.log" 2>&1 & pe=$!
lab_boot "$W/f" "$W/esp-f" --secureboot >"$W/f.log" 2>&1 & pf=$!
wait $pe; re=$?; wait $pf; rf=$?
# No short --timeout for (g): lab_boot stops QEMU as soon as OVMF reports that nothing could be booted; a
# deadline shorter than a slow firmware start would cut the log before the refusals it must show.
lab_boot "$W/g" "$W/esp-g0" --secureboot "${g_disks[@]}" >"$W/g.log" 2>&1 & pg=$!
lab_boot "$W/h" "$W/esp-h" >"$W/h.log" 2>&1 & ph=$!
wait $pg; rg=$?; wait $ph; rh=$?
for x in e f h; do
  eval "r=\$r$x"
  if [ "$r" -eq 0 ]; then ok "boot ($x) reached the initrd"; else not_ok "boot ($x) reached the initrd"; sed 's/^/#   /' "$W/$x.log" | tail -20; fi
done

pcr() { awk -v b="$2" -v n="$3" '$1 == b && $2 == n { print $3 }' "$W/$1/pcrs.txt" 2>/dev/null; }
zero=$(printf '0%.0s' {1..64})
for bank in sha256 sha384; do
  want=$("$SM" calculate --linux="$W/vmlinuz" --initrd="$W/initrd.img" --cmdline="$W/cmdline" --osrel="$W/osrel" \
         --bank="$bank" --phase= 2>/dev/null | sed -n "s/^11:$bank=//p")
  [ -n "$want" ] || { not_ok "systemd-measure calculate for $bank"; continue; }
  check_eq "Secure Boot, Lantern UKI: PCR 11 $bank = systemd-measure" "$(pcr e $bank 11)" "$want"
  check_eq "Secure Boot, thin stub: PCR 11 $bank = systemd-measure" "$(pcr f $bank 11)" "$want"
done
# One extend of PCR 12 from zero with H(cmdline as UTF-16LE + NUL): systemd-boot's; the stub added none.
d=$( { printf '%s' "$(cat "$W/cmdline")" | iconv -t UTF-16LE; printf '\0\0'; } | openssl dgst -sha256 -r | cut -d' ' -f1)
check_eq "Secure Boot via systemd-boot: PCR 12 = systemd-boot's one extend (the stub ignored LoadOptions)" \
  "$(pcr e sha256 12)" "$(printf '%s%s' "$zero" "$d" | xxd -r -p | openssl dgst -sha256 -r | cut -d' ' -f1)"
check_eq "Secure Boot via systemd-boot: one PCR 12 record" \
  "$(tpm2_eventlog "$W/e/eventlog.bin" 2>/dev/null | grep -c '^  PCRIndex: 12$')" 1
check "Secure Boot was on in (e)" bash -c "[ '$(pcr e sha256 7)' != '$(pcr h sha256 7)' ]"
check "tpm2_eventlog replays boot (f) to the guest's PCRs" lab_check_replay "$W/f/eventlog.bin" "$W/f/pcrs.txt"

# (g): OVMF's boot manager reports each disk's fate on the console: "failed to load" = LoadImage refused the
# image (the firmware's Secure Boot check), "failed to start" = the image ran and returned that status.
G=$W/g/serial.log
bds() { grep -a "BdsDxe: $1 Boot[0-9A-F]* \"UEFI QEMU HARDDISK .*Sata(0x$2,0xFFFF,0x0)" "$G"; }
# The console between OVMF starting the disk on PORT and reporting its failure.
ran() { sed -n "/BdsDxe: starting Boot.*Sata(0x$1,0xFFFF,0x0)/,/BdsDxe: failed to start Boot.*Sata(0x$1,0xFFFF,0x0)/p" "$G"; }
# refused_at_load PORT: OVMF could not load the disk's boot file (Access Denied) and so never started it.
refused_at_load() { bds 'failed to load' "$1" | grep -q ': Access Denied$' && ! bds starting "$1" | grep -q .; }
check "Secure Boot, nothing booted: OVMF tried every disk and found nothing bootable" \
  bash -c "[ $rg -ne 0 ] && grep -q 'BdsDxe: No bootable option or device was found' '$G'"
check "Secure Boot, nothing else ran: no kernel started" bash -c "! grep -aq 'EFI stub: \|Linux version\|^LANTERN-INIT' '$G'"
check "control: the firmware refuses the unsigned kernel on its own (Access Denied at load)" refused_at_load 0
check "the firmware refuses the unsigned thin stub (Access Denied at load)" refused_at_load 1
for port in 3 4; do
  case $port in
  3) file='\EFI\lantern\vmlinuz.efi' sec=.linuxh what=kernel ;;
  4) file='\EFI\lantern\initrd.img' sec=.initrdh what=initrd ;;
  esac
  if bds 'failed to start' $port | grep -q ': Security Violation$'; then
    ok "Secure Boot, flipped $what byte: the signed stub ran and returned Security Violation"
  else
    not_ok "Secure Boot, flipped $what byte: the signed stub ran and returned Security Violation"
  fi
  if ran $port | grep -qF "lantern-stub: $file does not match the SHA-256 in the stub's $sec section, refusing to boot"; then
    ok "Secure Boot, flipped $what byte: the console names $file and $sec"
  else
    not_ok "Secure Boot, flipped $what byte: the console names $file and $sec"; ran $port | sed 's/^/#   /' | head -10
  fi
done
# (h) PCR 12 through systemd-boot, against the real systemd-stub 252 boot in the fixture.
check_eq "sd-boot chain: PCR 12 sha256 = systemd-stub 252's (fixture)" "$(pcr h sha256 12)" \
  "$(awk '$1 == "sha256" && $2 == 12 { print $3 }' "$FIX/pcrs.txt")"
check_eq "sd-boot chain: PCR 12 sha1 = systemd-stub 252's (fixture)" "$(pcr h sha1 12)" \
  "$(awk '$1 == "sha1" && $2 == 12 { print $3 }' "$FIX/pcrs.txt")"
# The prediction from first principles: systemd-boot and then the stub each extend PCR 12 with the digest of the
# command line as UTF-16LE with its NUL, from zero.
for bank in sha1 sha256; do
  d=$( { printf '%s' "$(cat "$W/cmdline")" | iconv -t UTF-16LE; printf '\0\0'; } | openssl dgst -"$bank" -r | cut -d' ' -f1)
  z=$(printf '%s' "$d" | tr 0-9a-f 0)
  p1=$(printf '%s%s' "$z" "$d" | xxd -r -p | openssl dgst -"$bank" -r | cut -d' ' -f1)
  p2=$(printf '%s%s' "$p1" "$d" | xxd -r -p | openssl dgst -"$bank" -r | cut -d' ' -f1)
  check_eq "sd-boot chain: PCR 12 $bank = extend(extend(0, H(UTF-16LE cmdline + NUL)), same) (openssl)" "$(pcr h $bank 12)" "$p2"
done
rec12() { tpm2_eventlog "$1" 2>/dev/null | awk '/^- EventNum:/ { p = 0 } /^  PCRIndex: 12$/ { p = 1 } p'; }
check_eq "sd-boot chain: two PCR 12 records (sd-boot's, then the stub's)" "$(rec12 "$W/h/eventlog.bin" | grep -c 'PCRIndex: 12')" 2
check_eq "sd-boot chain: PCR 12 records = systemd-stub 252's, event data included" \
  "$(rec12 "$W/h/eventlog.bin" | md5sum)" "$(rec12 "$FIX/eventlog.bin" | md5sum)"
var() { sed -n "s/^LANTERN-VAR $2 //p" "$W/$1/serial.log"; }
utf16z() { printf '%s' "$1" | iconv -t UTF-16LE | xxd -p | tr -d '\n'; printf 0000; }
# LoaderEntries: the ids of systemd-boot's menu in its order, UTF-16 strings with NULs (after the 4 attribute bytes).
entries() { var h LoaderEntries | cut -c9- | xxd -r -p | iconv -f UTF-16LE -t UTF-8 | tr '\0' '\n' | grep '^nixos-' | tr '\n' ' '; }
check_eq "sd-boot chain: systemd-boot lists generation 2 first (LoaderEntries), so its default would be 2" \
  "$(entries)" "nixos-generation-2.efi nixos-generation-1.efi "
check_eq "sd-boot chain: systemd-boot booted loader.conf's default (LoaderEntrySelected)" \
  "$(var h LoaderEntrySelected)" "06000000$(utf16z nixos-generation-1.efi)"
check_eq "sd-boot chain: the kernel runs with generation 1's .cmdline" \
  "$(sed -n 's/^LANTERN-CMDLINE //p' "$W/h/serial.log")" "$(cat "$W/cmdline")"
want=$("$SM" calculate --linux="$W/vmlinuz" --initrd="$W/initrd.img" --cmdline="$W/cmdline" --osrel="$W/osrel-1" \
       --bank=sha256 --phase= 2>/dev/null | sed -n "s/^11:sha256=//p")
check_eq "sd-boot chain: PCR 11 sha256 = systemd-measure over generation 1's files" "$(pcr h sha256 11)" "$want"
check_eq "LoadOptions measured: StubPcrKernelParameters is \"12\" (BS|RT, UTF-16 with NUL)" \
  "$(var h StubPcrKernelParameters)" "06000000310032000000"
check_eq "Secure Boot: StubPcrKernelImage is \"11\"" "$(var e StubPcrKernelImage)" "06000000310031000000"
check_eq "Secure Boot: LoadOptions not measured, StubPcrKernelParameters unset" "$(var e StubPcrKernelParameters)" none
finish
