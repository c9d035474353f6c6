#!/bin/bash
# The bytes the stub measures for a section are its in-memory bytes: VirtualSize of them, the file's raw data
# up to SizeOfRawData, then zeros. A UKI whose .cmdline has non-zero padding in the file (not measured) and
# then a VirtualSize larger than SizeOfRawData (zeros measured), checked against a fold done in the shell
# with sha256sum/sha1sum and xxd, and against systemd-measure where it applies.
. "$(dirname "$0")/../lib.sh"

SM=/usr/lib/systemd/systemd-measure
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
for f in "$SM" "$STUB"; do
  [ -e "$f" ] || { not_ok "needs $f"; finish; }
done
for t in objcopy objdump xxd sha1sum sha256sum od dd pesign; do
  command -v $t >/dev/null || { not_ok "needs $t"; finish; }
done
kdir=$(bash "$LANTERN_TOP/tests/lab/fetch-kernel.sh") || { not_ok "fetch the Debian kernel"; finish; }
K=$(ls "$kdir"/boot/vmlinuz-* | head -1)

build_uki() { # OUT STUB NAME=FILE...: sections page aligned above the stub's last one
  local out=$1 stub=$2 end=0 idx name size vma rest e a spec args=()
  shift 2
  while read -r idx name size vma rest; do
    [[ $idx =~ ^[0-9]+$ ]] || continue
    e=$((0x$vma + 0x$size)); ((e > end)) && end=$e
  done < <(objdump -h -w "$stub")
  a=$(((end + 0xfff) & ~0xfff))
  for spec in "$@"; do
    args+=(--add-section "$spec" --change-section-vma "${spec%%=*}=$(printf 0x%x $a)")
    a=$(((a + $(stat -c %s "${spec#*=}") + 0xfff) & ~0xfff))
  done
  objcopy "${args[@]}" "$stub" "$out"
}
u32() { od -An -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }
u16() { od -An -t u2 -j "$2" -N 2 "$1" | tr -d ' '; }
put32() { # FILE OFFSET VALUE
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($3 & 255)) $(($3 >> 8 & 255)) $(($3 >> 16 & 255)) $(($3 >> 24 & 255)))" |
    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# fold BANK NAME=FILE...: PCR 11 from zero after extend(H(NAME\0)), extend(H(FILE)) for each pair.
fold() {
  local bank=$1 spec pcr d n
  shift
  n=$(printf '' | "${bank}sum" | cut -d' ' -f1 | tr -d '\n' | wc -c)
  pcr=$(printf "%0${n}d" 0)
  for spec in "$@"; do
    for d in "$(printf '%s\0' "${spec%%=*}" | "${bank}sum" | cut -d' ' -f1)" "$("${bank}sum" <"${spec#*=}" | cut -d' ' -f1)"; do
      pcr=$({ printf '%s' "$pcr" | xxd -r -p; printf '%s' "$d" | xxd -r -p; } | "${bank}sum" | cut -d' ' -f1)
    done
  done
  echo "$pcr"
}

cd "$TEST_TMP"
printf 'NAME="Lantern"\nID=lantern\n' >osrel
printf 'console=ttyS0 quiet' >cmdline
head -c 70001 /dev/urandom >initrd
build_uki uki.efi "$STUB" .osrel=osrel .cmdline=cmdline .initrd=initrd .linux="$K"

# The oracle fold agrees with systemd-measure on the plain UKI.
for b in sha1 sha256; do
  check_eq "shell fold equals systemd-measure ($b)" \
    "$(fold $b .linux="$K" .osrel=osrel .cmdline=cmdline .initrd=initrd)" \
    "$("$SM" calculate --linux="$K" --osrel=osrel --cmdline=cmdline --initrd=initrd --bank=$b --phase= 2>/dev/null | sed -n "s/^11:$b=//p")"
done

# Locate .cmdline's section header from the raw headers (e_lfanew, SizeOfOptionalHeader) and objdump's index.
pe=$(u32 uki.efi 60)
table=$((pe + 24 + $(u16 uki.efi $((pe + 20)))))
idx=$(objdump -h -w uki.efi | awk '$2 == ".cmdline" { print $1 }')
hdr=$((table + 40 * idx))
vsize=$(u32 uki.efi $((hdr + 8)))
rawsize=$(u32 uki.efi $((hdr + 16)))
rawptr=$(u32 uki.efi $((hdr + 20)))
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
put32 zf.efi $((hdr + 8)) 4096
check_eq "patched VirtualSize" "$(u32 zf.efi $((hdr + 8)))" 4096
dd if=zf.efi of=cmdline.mem bs=1 skip="$rawptr" count="$rawsize" status=none
head -c $((4096 - rawsize)) /dev/zero >>cmdline.mem
check_eq "in-memory .cmdline image is 4096 bytes" "$(stat -c %s cmdline.mem)" 4096
for b in sha1 sha256; do
  check_eq "VirtualSize > SizeOfRawData: zero-filled .cmdline measured ($b)" \
    "$("$LANTERN" uki measure --bank $b zf.efi)" \
    "$b 11 $(fold $b .linux="$K" .osrel=osrel .cmdline=cmdline.mem .initrd=initrd)"
done
check_eq "plan reports the zero fill" \
  "$("$LANTERN" uki measure --json --bank sha256 zf.efi | jq -r '.measurements[] | select(.section == ".cmdline") | "\(.length) \(.zero_fill)"')" \
  "$rawsize $((4096 - rawsize))"
check_eq "Authenticode hash of the patched UKI equals pesign -h" "$("$LANTERN" pe hash zf.efi)" \
  "$(pesign -h -i zf.efi 2>/dev/null | sed -n 's/^hash: //p')"

# 3. A VirtualSize reaching past SizeOfImage cannot be loaded: refused, naming the offset.
cp uki.efi big.efi
put32 big.efi $((hdr + 8)) $((0x7fffffff))
out=$("$LANTERN" uki measure big.efi 2>&1); rc=$?
check_eq "VirtualSize past the image: exit 2" "$rc" 2
check "VirtualSize past the image: message names file and offset" grep -q "big.efi: offset 0x" <<<"$out"
finish
