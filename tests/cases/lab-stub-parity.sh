#!/bin/bash
# The same kernel, initrd, cmdline and os-release booted three ways under QEMU + OVMF + swtpm:
#   (a) a systemd-stub 252 UKI, (b) a Lantern UKI (sections added onto build/lantern-stub-x64.efi),
#   (c) a thin Lantern stub: .linux/.initrd hold ESP paths, .linuxh/.initrdh their SHA-256.
# PCR 11 read in the guest is identical across the three in every bank and equals systemd-measure calculate
# --phase= and lantern uki measure; tpm2_eventlog replays each log to the guest's PCRs and lantern eventlog
# verify accepts the Lantern boots' logs against them; the stub's variables are byte-identical to
# systemd-stub's where systemd defines them. Then (d): one flipped byte in the thin layout's kernel file is
# refused before anything runs (the guest never starts; the console names the file).
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

SM=/usr/lib/systemd/systemd-measure
STUB=$LANTERN_BUILD/lantern-stub-x64.efi
for f in "$SM" "$LAB_STUB_DEFAULT" "$STUB"; do
  [ -e "$f" ] || { not_ok "needs $f"; finish; }
done
for t in objcopy objdump sha256sum xxd tpm2_eventlog qemu-system-x86_64 swtpm jq mkfs.vfat mmd mcopy iconv; do
  command -v $t >/dev/null || { not_ok "needs $t"; finish; }
done

W=$TEST_TMP
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }
kver=$(lab_kernel_version)
VENDOR=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f

# The guest prints the stub's variables (attributes + data, hex) before the PCR dump.
R=$W/root
mkdir -p "$R"
cp "$(dirname "$K")/../lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" "$R/efivarfs.ko"
cat >"$W/extra.sh" <<EOS
insmod /efivarfs.ko
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
for v in StubInfo StubFeatures StubPcrKernelImage StubPcrKernelParameters LoaderDevicePartUUID; do
  f=/sys/firmware/efi/efivars/\$v-$VENDOR
  if [ -e "\$f" ]; then echo "LANTERN-VAR \$v \$(od -An -tx1 "\$f" | tr -d ' \n')"; else echo "LANTERN-VAR \$v none"; fi
done
EOS
LAB_INITRD_DIR=$R lab_initrd "$W/initrd.img" "$W/extra.sh" || { not_ok "initrd"; finish; }
lab_cmdline "$W/cmdline"
lab_osrel "$W/osrel"

# (a) and (b): UKIs on systemd's stub and on ours.
lab_uki "$W/sd.efi" "" "$K" "$W/initrd.img" "$W/cmdline" "$W/osrel" || { not_ok "systemd-stub UKI"; finish; }
lab_uki "$W/lantern.efi" "$STUB" "$K" "$W/initrd.img" "$W/cmdline" "$W/osrel" || { not_ok "Lantern UKI"; finish; }

# (c): the thin stub. Sections page-aligned above the stub's last one, VirtualSize = file size.
thin_stub() { lab_uki_sections "$1" "$STUB" "${@:2}"; } # OUT NAME=FILE...: sections added to the Lantern stub
printf '%s' '\EFI\lantern\kernel.efi' >"$W/linux-path"
printf '%s' '\EFI\lantern\initrd.img' >"$W/initrd-path"
sha256sum "$K" | cut -c1-64 | xxd -r -p >"$W/linuxh"
sha256sum "$W/initrd.img" | cut -c1-64 | xxd -r -p >"$W/initrdh"
thin_stub "$W/thin.efi" .osrel="$W/osrel" .cmdline="$W/cmdline" .linux="$W/linux-path" .linuxh="$W/linuxh" \
  .initrd="$W/initrd-path" .initrdh="$W/initrdh" || { not_ok "thin stub"; finish; }

# (a) and (b) boot from GPT disks (made by systemd-repart, which reports the partition UUID), so the stubs
# can report LoaderDevicePartUUID; the lab's directory ESP stays empty and the firmware falls through to it.
gpt_disk() { # OUT EFI_FILE: prints the ESP partition's UUID
  local out=$1 defs=$W/repart.d off size
  mkdir -p "$defs"
  printf '[Partition]\nType=esp\nSizeMinBytes=64M\n' >"$defs/10-esp.conf"
  systemd-repart --empty=create --size=80M --definitions="$defs" --dry-run=no --seed=random --json=short \
    "$out" >"$out.json" 2>"$out.err" || { cat "$out.err" >&2; return 1; }
  off=$(jq -r '.[0].offset' "$out.json"); size=$(jq -r '.[0].raw_size' "$out.json")
  mkfs.vfat --offset=$((off / 512)) -F 32 "$out" $((size / 1024)) >/dev/null 2>&1 &&
    mmd -i "$out@@$off" ::/EFI ::/EFI/BOOT && mcopy -i "$out@@$off" "$2" ::/EFI/BOOT/BOOTX64.EFI || return 1
  jq -r '.[0].uuid' "$out.json"
}
uuid_a=$(gpt_disk "$W/disk-a.img" "$W/sd.efi") || { not_ok "GPT disk (a)"; finish; }
uuid_b=$(gpt_disk "$W/disk-b.img" "$W/lantern.efi") || { not_ok "GPT disk (b)"; finish; }
mkdir -p "$W/esp-a" "$W/esp-b"
lab_esp "$W/esp-c" "$W/thin.efi"
mkdir -p "$W/esp-c/EFI/lantern"
cp "$K" "$W/esp-c/EFI/lantern/kernel.efi"
cp "$W/initrd.img" "$W/esp-c/EFI/lantern/initrd.img"
# (d): the same thin stub, one byte of the kernel file flipped.
cp -r "$W/esp-c" "$W/esp-d"
off=$(( $(stat -c %s "$K") / 2 ))
byte=$(od -An -tu1 -j "$off" -N 1 "$K" | tr -d ' ')
printf "$(printf '\\%03o' $(( byte ^ 1 )))" | dd of="$W/esp-d/EFI/lantern/kernel.efi" bs=1 seek="$off" conv=notrunc status=none
# After the refusal OVMF falls back to its UEFI shell, which runs the ESP's startup.nsh: power off there, so
# the boot ends as soon as the refusal is on the console instead of at a deadline a slow machine could miss.
printf 'reset -s\r\n' >"$W/esp-d/startup.nsh"

# Four boots, two at a time (the machine has two cores).
lab_boot "$W/a" "$W/esp-a" --qemu-arg -drive --qemu-arg "format=raw,file=$W/disk-a.img" >"$W/a.log" 2>&1 & pa=$!
lab_boot "$W/b" "$W/esp-b" --qemu-arg -drive --qemu-arg "format=raw,file=$W/disk-b.img" >"$W/b.log" 2>&1 & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
lab_boot "$W/c" "$W/esp-c" >"$W/c.log" 2>&1 & pc=$!
lab_boot "$W/d" "$W/esp-d" >"$W/d.log" 2>&1 & pd=$!
wait $pc; rc=$?; wait $pd; rd=$?
for x in a b c; do
  eval "r=\$r$x"
  if [ "$r" -eq 0 ]; then ok "boot ($x) reached the initrd"; else not_ok "boot ($x) reached the initrd"; sed 's/^/#   /' "$W/$x.log" | tail -20; fi
done

pcr() { awk -v b="$2" -v n="$3" '$1 == b && $2 == n { print $3 }' "$W/$1/pcrs.txt" 2>/dev/null; }
for bank in sha1 sha256 sha384 sha512; do
  want=$("$SM" calculate --linux="$K" --initrd="$W/initrd.img" --cmdline="$W/cmdline" --osrel="$W/osrel" \
         --bank="$bank" --phase= 2>/dev/null | sed -n "s/^11:$bank=//p")
  [ -n "$want" ] || { not_ok "systemd-measure calculate for $bank"; continue; }
  check_eq "PCR 11 $bank: systemd-stub UKI = systemd-measure" "$(pcr a $bank 11)" "$want"
  check_eq "PCR 11 $bank: Lantern UKI = systemd-measure" "$(pcr b $bank 11)" "$want"
  check_eq "PCR 11 $bank: Lantern thin stub = systemd-measure" "$(pcr c $bank 11)" "$want"
done
for x in b c; do
  check "tpm2_eventlog replays boot ($x) to the guest's PCRs (all banks)" lab_check_replay "$W/$x/eventlog.bin" "$W/$x/pcrs.txt"
  check_exit "lantern eventlog verify: the log of boot ($x) against the PCRs read in the guest" 0 \
    "$LANTERN" eventlog verify "$W/$x/eventlog.bin" --pcrs "$W/$x/pcrs.txt"
done
# The predictor's view of the same files: lantern uki measure on the Lantern UKI, and on the thin stub with the
# ESP it boots from, equals the PCR 11 the guest read (all four banks).
for bank in sha1 sha256 sha384 sha512; do
  check_eq "lantern uki measure (Lantern UKI) = guest PCR 11 $bank" \
    "$("$LANTERN" uki measure --bank "$bank" "$W/lantern.efi" 2>&1)" "$bank 11 $(pcr b $bank 11)"
  check_eq "lantern uki measure --esp (thin stub) = guest PCR 11 $bank" \
    "$("$LANTERN" uki measure --bank "$bank" --esp "$W/esp-c" "$W/thin.efi" 2>&1)" "$bank 11 $(pcr c $bank 11)"
done

# PCR 11 events: EV_IPL, event data = section name as UTF-16LE with NUL, name record then content record.
ev11() { lab_eventlog_digests "$W/$1/eventlog.bin" | awk '$2 == 11 && $4 == "sha256" { print $3, $5 }'; }
check_eq "PCR 11 events of the thin stub = those of systemd-stub (type and digest, in order)" "$(ev11 c)" "$(ev11 a)"
# Whole PCR 11 records as tpm2_eventlog decodes them (type, digests, event size and data), minus the numbering.
rec11() { tpm2_eventlog "$W/$1/eventlog.bin" 2>/dev/null | awk '/^- EventNum:/ { p = 0 } /^  PCRIndex: 11$/ { p = 1 } p'; }
check_eq "PCR 11 records of the Lantern UKI = systemd-stub's, event data included" "$(rec11 b | md5sum)" "$(rec11 a | md5sum)"
check_eq "PCR 11 has two records per section (.linux .osrel .cmdline .initrd)" "$(rec11 b | grep -c 'PCRIndex: 11')" 8
check_eq "PCR 11 records of the thin stub = systemd-stub's, event data included" "$(rec11 c | md5sum)" "$(rec11 a | md5sum)"
check_eq "first PCR 11 event is .linux as UTF-16LE with NUL" "$(rec11 b | sed -n '/String:/{n;p;q}' | tr -d ' ')" '".\0l\0i\0n\0u\0x\0\0\0"'

var() { sed -n "s/^LANTERN-VAR $2 //p" "$W/$1/serial.log"; }
# 06000000 = BS|RT attributes; "11" as UTF-16 with NUL.
check_eq "StubPcrKernelImage equals systemd-stub's (UKI)" "$(var b StubPcrKernelImage)" "$(var a StubPcrKernelImage)"
check_eq "StubPcrKernelImage equals systemd-stub's (thin)" "$(var c StubPcrKernelImage)" "$(var a StubPcrKernelImage)"
check_eq "StubPcrKernelImage is \"11\" (BS|RT, UTF-16 with NUL)" "$(var b StubPcrKernelImage)" "06000000310031000000"
check_eq "StubInfo names the Lantern stub" "$(var b StubInfo)" \
  "06000000$(printf 'lantern-stub %s' "$("$LANTERN" --version 2>/dev/null | awk '{print $NF}')" | iconv -t UTF-16LE | xxd -p | tr -d '\n')0000"
# systemd-stub 252 sets it even when nothing went to PCR 12; Lantern only when it measured LoadOptions.
check_eq "no LoadOptions: StubPcrKernelParameters unset" "$(var b StubPcrKernelParameters)" "none"
utf16() { printf '%s' "$1" | iconv -t UTF-16LE | xxd -p | tr -d '\n'; }
# systemd-stub 252 writes the GUID in uppercase, as UTF-16 with NUL.
check_eq "LoaderDevicePartUUID from systemd-stub = the GPT partition UUID (systemd-repart), uppercase" \
  "$(var a LoaderDevicePartUUID)" "06000000$(utf16 "${uuid_a^^}")0000"
check_eq "LoaderDevicePartUUID from the Lantern stub = the GPT partition UUID, in systemd-stub's encoding" \
  "$(var b LoaderDevicePartUUID)" "06000000$(utf16 "${uuid_b^^}")0000"
check_eq "directory ESP (MBR, no partition GUID): no LoaderDevicePartUUID" "$(var c LoaderDevicePartUUID)" "none"
# StubFeatures: systemd's u64, little-endian, BS|RT. systemd-stub 252 reports REPORT_BOOT_PARTITION (bit 0)
# among others; Lantern reports only that one (it picks up no credentials or sysexts, so it cannot claim
# THREE_PCRS, which promises PCR 13). So Lantern's value is systemd-stub's with every other bit cleared.
sd_features=$(var a StubFeatures)
echo "# StubFeatures (attributes, value) of systemd-stub 252: $sd_features, of the Lantern UKI: $(var b StubFeatures)"
check "systemd-stub 252 sets StubFeatures: BS|RT, 8 bytes, REPORT_BOOT_PARTITION (bit 0) set" \
  bash -c "[[ '$sd_features' =~ ^06000000[0-9a-f]{16}\$ ]] && (( 0x${sd_features:8:2} & 1 ))"
only_bit0() { [ "${#1}" -eq 24 ] && printf '%s%02x%s' "${1:0:8}" $(( 0x${1:8:2} & 1 )) 00000000000000; }
for x in b c; do
  check_eq "StubFeatures of boot ($x) = systemd-stub's with only REPORT_BOOT_PARTITION kept" \
    "$(var $x StubFeatures)" "$(only_bit0 "$sd_features")"
done

# (d) refused: no kernel ran, and the console says which file failed.
check "flipped kernel byte: the guest never starts" bash -c "[ $rd -ne 0 ] && ! grep -q '^LANTERN-INIT' '$W/d/serial.log' && ! grep -q 'Linux version' '$W/d/serial.log'"
check "flipped kernel byte: the console names the file and the hash section" \
  grep -q 'lantern-stub: \\EFI\\lantern\\kernel.efi does not match the SHA-256 in the stub.s .linuxh section, refusing to boot' "$W/d/serial.log"
check "flipped kernel byte: the stub returned EFI_SECURITY_VIOLATION to the firmware" \
  grep -q 'BdsDxe: failed to start Boot.*: Security Violation' "$W/d/serial.log"
check "flipped kernel byte: the boot ended in the UEFI shell's power-off, not at a deadline" \
  grep -q 'guest stopped without printing LANTERN-DONE' "$W/d.log"
grep -q 'refusing to boot' "$W/d/serial.log" 2>/dev/null || { sed 's/^/#   /' "$W/d.log" | tail -30; }
finish
