#!/bin/bash
# lantern pe hash against pesign -h (sha256, sha1), osslsigncode (the digest it signs, sha384/sha512) and
# sbsign/sbverify, on real PEs: systemd-boot, the systemd stub, the signed Debian kernel, and a UKI built with
# objcopy, unsigned and signed. lantern pe sections against objdump.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

BOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
KEY=/usr/share/ovmf/PkKek-1-snakeoil.key
CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem
need_files "$BOOT" "$STUB" "$KEY" "$CERT"
need_tools pesign sbsign sbverify osslsigncode objcopy objdump jq openssl
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }

pesign_hash() { # FILE [DIGEST]
  pesign -h ${2:+-d $2} -i "$1" 2>/dev/null | sed -n 's/^hash: //p'
}
# The message digest osslsigncode puts in a signature it makes, lowercased.
ossl_digest() { # FILE DIGEST
  osslsigncode sign -certs "$CERT" -key sb.key -h "$2" -in "$1" -out "$TEST_TMP/ossl.efi" >/dev/null 2>&1 &&
    osslsigncode verify -in "$TEST_TMP/ossl.efi" 2>/dev/null | sed -n 's/^Current message digest *: *//p' |
    tr -d ' ' | tr A-F a-f
  rm -f "$TEST_TMP/ossl.efi"
}

cd "$TEST_TMP"
openssl pkey -passin pass:snakeoil -in "$KEY" -out sb.key
printf 'NAME="Lantern"\nID=lantern\n' >osrel
printf 'console=ttyS0' >cmdline
head -c 100001 /dev/urandom >initrd
lab_uki_sections uki.efi "$STUB" .osrel=osrel .cmdline=cmdline .initrd=initrd .linux="$K"
sbsign --key sb.key --cert "$CERT" --output uki-signed.efi uki.efi 2>/dev/null
# Without the COFF symbol table objcopy keeps from the stub, the file ends on FileAlignment, so sbsign adds no
# padding before the certificate table.
objcopy --strip-all uki.efi uki-stripped.efi
sbsign --key sb.key --cert "$CERT" --output uki-stripped-signed.efi uki-stripped.efi 2>/dev/null
check "sbverify accepts the signed UKI" sbverify --cert "$CERT" uki-signed.efi

for f in "$BOOT" "$STUB" "$K" uki.efi uki-signed.efi uki-stripped.efi uki-stripped-signed.efi; do
  n=$(basename "$f")
  want=$(pesign_hash "$f")
  [ -n "$want" ] || not_ok "pesign hashes $n"
  check_eq "$n: sha256 equals pesign -h" "$("$LANTERN" pe hash "$f")" "$want"
  check_eq "$n: sha1 equals pesign -h -d sha1" "$("$LANTERN" pe hash --bank sha1 "$f")" "$(pesign_hash "$f" sha1)"
done
# osslsigncode (like sbsign) pads a file to 8 bytes before signing, which changes the hash of a file with
# unaligned trailing data, so it is asked only about files that end aligned.
objcopy --strip-all "$STUB" stub-stripped.efi
# gnu-efi applications from efitools (installed by scripts/install-deps.sh).
efitools=(/usr/lib/efitools/x86_64-linux-gnu/*.efi)
[ -e "${efitools[0]}" ] || not_ok "needs efitools' EFI applications"
for f in "${efitools[@]}"; do
  [ -e "$f" ] && check_eq "efitools $(basename "$f"): sha256 equals pesign -h" "$("$LANTERN" pe hash "$f")" "$(pesign_hash "$f")"
done

for b in sha384 sha512; do
  for f in stub-stripped.efi uki-stripped.efi; do
    n=$(basename "$f")
    check_eq "$n: $b equals the digest osslsigncode signs" "$("$LANTERN" pe hash --bank $b "$f")" "$(ossl_digest "$f" $b)"
  done
done
check_eq "stripped stub: sha256 equals pesign -h" "$("$LANTERN" pe hash stub-stripped.efi)" "$(pesign_hash stub-stripped.efi)"
check_eq "signing with sbsign does not change the hash" "$("$LANTERN" pe hash uki-stripped-signed.efi)" \
  "$("$LANTERN" pe hash uki-stripped.efi)"
check_eq "signed kernel's hash is the digest its signature signs (osslsigncode)" "$("$LANTERN" pe hash "$K")" \
  "$(osslsigncode verify -in "$K" 2>/dev/null | sed -n 's/^Current message digest *: *//p' | tr -d ' ' | tr A-F a-f)"

# Several banks in one pass; JSON.
multi=$("$LANTERN" pe hash --bank sha1,sha256 "$STUB")
check_eq "--bank sha1,sha256 prints one line per bank" "$multi" \
  "sha1 $(pesign_hash "$STUB" sha1)
sha256 $(pesign_hash "$STUB")"
check_eq "--json" "$("$LANTERN" pe hash --json --bank sha256 "$K" | jq -r .sha256)" "$(pesign_hash "$K")"

# Section table against objdump (name; objdump's Size, which is MIN(VirtualSize, SizeOfRawData); VMA; file offset).
for f in "$BOOT" "$STUB" "$K" uki-signed.efi; do
  n=$(basename "$f")
  want=$(objdump -h -w "$f" | while read -r i nm sz vma lma off rest; do
    [[ $i =~ ^[0-9]+$ ]] && echo "$nm $((0x$sz)) $((0x$vma)) $((0x$off))"; done)
  got=$("$LANTERN" pe sections --json "$f" |
    jq -r '.sections[] | "\(.name) \([.virtual_size, .size_of_raw_data] | min) \(.virtual_address) \(.pointer_to_raw_data)"')
  check_eq "$n: sections equal objdump -h" "$got" "$want"
done
check_eq "signed kernel: certificate table size equals objdump's Security Directory" \
  "$("$LANTERN" pe sections --json "$K" | jq -r '.certificate_table.size')" \
  "$((0x$(objdump -p "$K" | awk '/Security Directory/ { print $4 }')))"
check_eq "unsigned stub: no certificate table" "$("$LANTERN" pe sections --json "$STUB" | jq -r '.certificate_table')" null
check "text output names the sections" bash -c "'$LANTERN' pe sections '$STUB' | grep -q '^  7 .sdmagic '"

check_exit "pe --help exits 0" 0 "$LANTERN" pe --help
check_exit "pe hash --help exits 0" 0 "$LANTERN" pe hash --help
check_exit "pe sections --help exits 0" 0 "$LANTERN" pe sections --help
check_exit "pe unknown verb exits 2" 2 "$LANTERN" pe frobnicate "$STUB"
check_exit "pe sections --bank exits 2" 2 "$LANTERN" pe sections --bank sha1 "$STUB"
check_exit "pe hash without FILE exits 2" 2 "$LANTERN" pe hash
check_exit "pe hash of a directory exits 2" 2 "$LANTERN" pe hash "$TEST_TMP"
finish
