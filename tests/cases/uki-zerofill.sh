#!/bin/bash
# The bytes the stub measures for a section are its in-memory bytes: VirtualSize of them, the file's raw data
# up to SizeOfRawData, then zeros. A UKI whose .cmdline has non-zero padding in the file (not measured) and
# then a VirtualSize larger than SizeOfRawData (zeros measured), checked against a fold done in the shell
# with sha256sum/sha1sum and xxd, and against systemd-measure where it applies.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

SM=/usr/lib/systemd/systemd-measure
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
need_files "$SM" "$STUB"
need_tools objcopy objdump xxd sha1sum sha256sum od dd pesign
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }


cd "$TEST_TMP"
printf 'NAME="Lantern"\nID=lantern\n' >osrel
printf 'console=ttyS0 quiet' >cmdline
head -c 70001 /dev/urandom >initrd
lab_uki_sections uki.efi "$STUB" .osrel=osrel .cmdline=cmdline .initrd=initrd .linux="$K"

# The oracle fold agrees with systemd-measure on the plain UKI.
for b in sha1 sha256; do
  check_eq "shell fold equals systemd-measure ($b)" \
    "$(lab_fold_pcr11 $b .linux="$K" .osrel=osrel .cmdline=cmdline .initrd=initrd)" \
    "$("$SM" calculate --linux="$K" --osrel=osrel --cmdline=cmdline --initrd=initrd --bank=$b --phase= 2>/dev/null | sed -n "s/^11:$b=//p")"
done

# Locate .cmdline's section header from the raw headers (e_lfanew, SizeOfOptionalHeader) and objdump's index.
pe=$(lab_u32 uki.efi 60)
table=$((pe + 24 + $(lab_u16 uki.efi $((pe + 20)))))
idx=$(objdump -h -w uki.efi | awk '$2 == ".cmdline" { print $1 }')
hdr=$((table + 40 * idx))
vsize=$(lab_u32 uki.efi $((hdr + 8)))
rawsize=$(lab_u32 uki.efi $((hdr + 16)))
rawptr=$(lab_u32 uki.efi $((hdr + 20)))
check_eq ".cmdline VirtualSize is the file's length" "$vsize" "$(stat -c %s cmdline)"
check "raw data is padded beyond VirtualSize" test "$rawsize" -gt "$vsize"

# 1. Garbage in the file padding after VirtualSize: not measured.
cp uki.efi pad.efi
head -c $((rawsize - vsize)) /dev/zero | tr '\0' '\252' | dd of=pad.efi bs=1 seek=$((rawptr + vsize)) conv=notrunc status=none
check_eq "padding beyond VirtualSize is not measured (equals systemd-measure)" \
  "$("$LANTERN" uki measure --bank sha256 pad.efi)" \
  "sha256 11 $("$SM" calculate --linux="$K" --osrel=osrel --cmdline=cmdline --initrd=initrd --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=//p')"

# 2. VirtualSize 0x1000 > SizeOfRawData: raw data (with its garbage) then zeros up to VirtualSize.
cp pad.efi zf.efi
lab_put_le zf.efi $((hdr + 8)) 4 4096
check_eq "patched VirtualSize" "$(lab_u32 zf.efi $((hdr + 8)))" 4096
dd if=zf.efi of=cmdline.mem bs=1 skip="$rawptr" count="$rawsize" status=none
head -c $((4096 - rawsize)) /dev/zero >>cmdline.mem
check_eq "in-memory .cmdline image is 4096 bytes" "$(stat -c %s cmdline.mem)" 4096
for b in sha1 sha256; do
  check_eq "VirtualSize > SizeOfRawData: zero-filled .cmdline measured ($b)" \
    "$("$LANTERN" uki measure --bank $b zf.efi)" \
    "$b 11 $(lab_fold_pcr11 $b .linux="$K" .osrel=osrel .cmdline=cmdline.mem .initrd=initrd)"
done
check_eq "plan reports the zero fill" \
  "$("$LANTERN" uki measure --json --bank sha256 zf.efi | jq -r '.measurements[] | select(.section == ".cmdline") | "\(.length) \(.zero_fill)"')" \
  "$rawsize $((4096 - rawsize))"
check_eq "Authenticode hash of the patched UKI equals pesign -h" "$("$LANTERN" pe hash zf.efi)" \
  "$(pesign -h -i zf.efi 2>/dev/null | sed -n 's/^hash: //p')"

# 3. A VirtualSize reaching past SizeOfImage cannot be loaded: refused, naming the offset.
cp uki.efi big.efi
lab_put_le big.efi $((hdr + 8)) 4 $((0x7fffffff))
out=$("$LANTERN" uki measure big.efi 2>&1); rc=$?
check_eq "VirtualSize past the image: exit 2" "$rc" 2
check "VirtualSize past the image: message names file and offset" grep -q "big.efi: offset 0x" <<<"$out"
finish
