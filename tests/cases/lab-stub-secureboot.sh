#!/bin/bash
# Secure Boot and the command line, under QEMU + OVMF + swtpm:
#   (e) Secure Boot enforced (snakeoil keys): a Lantern UKI signed with the snakeoil key carrying an UNSIGNED
#       kernel boots, and PCR 11 equals systemd-measure calculate; PCR 12 stays zero (embedded .cmdline wins);
#   (f) the same as a signed thin stub with the unsigned kernel and the initrd on the ESP: boots, same PCR 11;
#   (g) control: the firmware refuses that unsigned kernel when started directly, so (e)/(f) booted it only
#       through the stub's verification;
#   (h) Secure Boot off, through systemd-boot 252: sd-boot passes the UKI's .cmdline as LoadOptions; the
#       Lantern stub measures them into PCR 12 like systemd-stub 252: PCR 12 and its event records equal
#       those of the real systemd-stub boot captured in tests/fixtures/boot/sd252-sdboot-sb-off, and
#       StubPcrKernelParameters is "12".
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

SM=/usr/lib/systemd/systemd-measure
STUB=$LANTERN_BUILD/lantern-stub-x64.efi
FIX=$LANTERN_FIXTURES/boot/sd252-sdboot-sb-off
for f in "$SM" "$STUB" "$LAB_SDBOOT_DEFAULT" "$FIX/pcrs.txt" "$FIX/eventlog.bin" "$FIX/cmdline"; do
  [ -e "$f" ] || { not_ok "needs $f"; finish; }
done
for t in objcopy objdump sbattach sbsign sbverify sha256sum xxd tpm2_eventlog qemu-system-x86_64 swtpm; do
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
for v in StubPcrKernelImage StubPcrKernelParameters; do
  f=/sys/firmware/efi/efivars/\$v-$VENDOR
  if [ -e "\$f" ]; then echo "LANTERN-VAR \$v \$(od -An -tx1 "\$f" | tr -d ' \n')"; else echo "LANTERN-VAR \$v none"; fi
done
EOS
LAB_INITRD_DIR=$R lab_initrd "$W/initrd.img" "$W/extra.sh" || { not_ok "initrd"; finish; }
cp "$FIX/cmdline" "$W/cmdline"
lab_osrel "$W/osrel"

thin_stub() { # OUT NAME=FILE...: sections page-aligned above the stub's last one, VirtualSize = file size
  local out=$1 end=0 idx name size vma rest e a spec args=()
  shift
  while read -r idx name size vma rest; do
    [[ $idx =~ ^[0-9]+$ ]] || continue
    e=$((0x$vma + 0x$size)); ((e > end)) && end=$e
  done < <(objdump -h -w "$STUB")
  a=$(((end + 0xfff) & ~0xfff))
  for spec in "$@"; do
    args+=(--add-section "$spec" --change-section-vma "${spec%%=*}=$(printf 0x%x $a)")
    a=$(((a + $(stat -c %s "${spec#*=}") + 0xfff) & ~0xfff))
  done
  objcopy "${args[@]}" "$STUB" "$out"
}

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

lab_esp "$W/esp-e" "$W/uki-signed.efi"
lab_esp "$W/esp-f" "$W/thin-signed.efi"
mkdir -p "$W/esp-f/EFI/lantern"
cp "$W/vmlinuz" "$W/esp-f/EFI/lantern/vmlinuz.efi"
cp "$W/initrd.img" "$W/esp-f/EFI/lantern/initrd.img"
lab_esp "$W/esp-g" "$W/vmlinuz"
lab_esp_sdboot "$W/esp-h" "$W/uki.efi" || { not_ok "systemd-boot ESP"; finish; }

lab_boot "$W/e" "$W/esp-e" --secureboot >"$W/e.log" 2>&1 & pe=$!
lab_boot "$W/f" "$W/esp-f" --secureboot >"$W/f.log" 2>&1 & pf=$!
wait $pe; re=$?; wait $pf; rf=$?
lab_boot "$W/g" "$W/esp-g" --secureboot --timeout 40 >"$W/g.log" 2>&1 & pg=$!
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
check_eq "Secure Boot: PCR 12 untouched (the embedded .cmdline wins over LoadOptions)" "$(pcr e sha256 12)" "$zero"
check "Secure Boot was on in (e)" bash -c "[ '$(pcr e sha256 7)' != '$(pcr h sha256 7)' ]"
check "tpm2_eventlog replays boot (f) to the guest's PCRs" lab_check_replay "$W/f/eventlog.bin" "$W/f/pcrs.txt"
check "control: the firmware refuses the unsigned kernel on its own" \
  bash -c "[ $rg -ne 0 ] && ! grep -q 'Linux version' '$W/g/serial.log' && grep -q 'Access Denied\|Security Violation' '$W/g/serial.log'"

# (h) PCR 12 through systemd-boot, against the real systemd-stub 252 boot in the fixture.
check_eq "sd-boot chain: PCR 12 sha256 = systemd-stub 252's (fixture)" "$(pcr h sha256 12)" \
  "$(awk '$1 == "sha256" && $2 == 12 { print $3 }' "$FIX/pcrs.txt")"
check_eq "sd-boot chain: PCR 12 sha1 = systemd-stub 252's (fixture)" "$(pcr h sha1 12)" \
  "$(awk '$1 == "sha1" && $2 == 12 { print $3 }' "$FIX/pcrs.txt")"
rec12() { tpm2_eventlog "$1" 2>/dev/null | awk '/^- EventNum:/ { p = 0 } /^  PCRIndex: 12$/ { p = 1 } p'; }
check_eq "sd-boot chain: two PCR 12 records (sd-boot's, then the stub's)" "$(rec12 "$W/h/eventlog.bin" | grep -c 'PCRIndex: 12')" 2
check_eq "sd-boot chain: PCR 12 records = systemd-stub 252's, event data included" \
  "$(rec12 "$W/h/eventlog.bin" | md5sum)" "$(rec12 "$FIX/eventlog.bin" | md5sum)"
var() { sed -n "s/^LANTERN-VAR $2 //p" "$W/$1/serial.log"; }
check_eq "LoadOptions measured: StubPcrKernelParameters is \"12\" (BS|RT, UTF-16 with NUL)" \
  "$(var h StubPcrKernelParameters)" "06000000310032000000"
check_eq "Secure Boot: StubPcrKernelImage is \"11\"" "$(var e StubPcrKernelImage)" "06000000310031000000"
finish
