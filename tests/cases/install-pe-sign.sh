#!/bin/bash
# The installer's PE building and Authenticode signing against outside tools:
#   build-stub adds sections byte for byte like `objcopy --add-section --change-section-vma` (all but the
#   COFF TimeDateStamp objcopy stamps, and the CheckSum covering it); with no sections it reproduces the stub
#   exactly, CheckSum included (the one ld/objcopy computed);
#   sign: sbverify --cert, osslsigncode verify and pesign -S accept the signature, pesign -h is unchanged by
#   signing, `install verify` accepts sbsign's signature and refuses other keys, tampering and garbage.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

STUB=$LANTERN_BUILD/lantern-stub-x64.efi
CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem
need_tools objcopy objdump sbverify sbsign osslsigncode pesign openssl cmp
need_files "$STUB"
W=$TEST_TMP
openssl pkey -passin pass:snakeoil -in /usr/share/ovmf/PkKek-1-snakeoil.key -out "$W/db.key" 2>/dev/null

printf 'NAME=NixOS\nID=nixos\nPRETTY_NAME="NixOS (Generation 1)"\n' >"$W/osrel"
printf 'init=/nix/store/x/init console=ttyS0' >"$W/cmdline"
printf '%s' '\EFI\nixos\kernel-6.1.0-abc.efi' >"$W/linux"
head -c 32 /dev/urandom >"$W/linuxh"
printf '%s' '\EFI\nixos\initrd-6.1.0-def.efi' >"$W/initrd"
head -c 32 /dev/urandom >"$W/initrdh"
specs=(.osrel="$W/osrel" .cmdline="$W/cmdline" .linux="$W/linux" .linuxh="$W/linuxh" .initrd="$W/initrd" .initrdh="$W/initrdh")

# objcopy's way, as docs/STUB.md describes it.
lab_uki_sections "$W/ref.efi" "$STUB" "${specs[@]}"
ours=()
for spec in "${specs[@]}"; do ours+=(--section "$spec"); done
check "build-stub runs" "$LANTERN" install build-stub "${ours[@]}" "$STUB" "$W/ours.efi"
# Blank the TimeDateStamp (PE header + 8) and CheckSum (PE header + 24 + 64) of both, pad the reference to 8
# bytes as build-stub does, then compare.
blank() {
  local pe; pe=$(lab_u32 "$1" 60)
  cp "$1" "$2"
  dd if=/dev/zero of="$2" bs=1 seek=$((pe + 8)) count=4 conv=notrunc status=none
  dd if=/dev/zero of="$2" bs=1 seek=$((pe + 88)) count=4 conv=notrunc status=none
  truncate -s $(( ($(stat -c %s "$2") + 7) / 8 * 8 )) "$2"
}
blank "$W/ref.efi" "$W/ref.cmp"; blank "$W/ours.efi" "$W/ours.cmp"
check "build-stub = objcopy --add-section (but for TimeDateStamp and CheckSum)" cmp "$W/ref.cmp" "$W/ours.cmp"
check "build-stub with no sections reproduces the stub, CheckSum included" \
  bash -c "'$LANTERN' install build-stub '$STUB' '$W/same.efi' && cmp '$W/same.efi' '$STUB'"
check_eq "objdump reads the same section table" "$(objdump -h -w "$W/ours.efi" | awk '$1 ~ /^[0-9]+$/ { print $2, $3, $4 }')" \
  "$(objdump -h -w "$W/ref.efi" | awk '$1 ~ /^[0-9]+$/ { print $2, $3, $4 }')"

check "sign runs" "$LANTERN" install sign --key "$W/db.key" --cert "$CERT" "$W/ours.efi" "$W/signed.efi"
check "sbverify --cert accepts the signature" sbverify --cert "$CERT" "$W/signed.efi"
check "osslsigncode verify accepts the signature" \
  bash -c "osslsigncode verify -CAfile '$CERT' '$W/signed.efi' 2>&1 | grep -q 'Signature verification: ok'"
check "pesign -S lists one signature" bash -c "pesign -S -i '$W/signed.efi' | grep -q 'certificate address'"
check_eq "pesign -h: signing leaves the Authenticode hash as it was" "$(pesign -h -i "$W/signed.efi")" \
  "$(pesign -h -i "$W/ours.efi")"
check_eq "osslsigncode: the signed digest is the file's" \
  "$(osslsigncode verify -CAfile "$CERT" "$W/signed.efi" 2>&1 | sed -n 's/^Current message digest *: *//p' | tr -d ' ')" \
  "$(osslsigncode verify -CAfile "$CERT" "$W/signed.efi" 2>&1 | sed -n 's/^Calculated message digest *: *//p' | tr -d ' ')"
check "re-signing a signed file replaces the signature" \
  bash -c "'$LANTERN' install sign --key '$W/db.key' --cert '$CERT' '$W/signed.efi' '$W/resigned.efi' && sbverify --cert '$CERT' '$W/resigned.efi' && [ \$(pesign -S -i '$W/resigned.efi' | grep -c 'certificate address') = 1 ]"
check "signing is reproducible (no signing time): the same image and key give the same bytes" \
  bash -c "'$LANTERN' install sign --key '$W/db.key' --cert '$CERT' '$W/ours.efi' '$W/again.efi' && cmp '$W/signed.efi' '$W/again.efi'"
sbsign --key "$W/db.key" --cert "$CERT" --output "$W/sbsign.efi" "$W/ours.efi" >/dev/null 2>&1
check "install verify accepts sbsign's signature" "$LANTERN" install verify --cert "$CERT" "$W/sbsign.efi"

openssl req -new -x509 -newkey rsa:2048 -nodes -subj /CN=other -keyout "$W/other.key" -out "$W/other.crt" -days 1 2>/dev/null
"$LANTERN" install sign --key "$W/other.key" --cert "$W/other.crt" "$W/ours.efi" "$W/other.efi"
check "sbverify refuses a stub signed by another key" bash -c "! sbverify --cert '$CERT' '$W/other.efi' >/dev/null 2>&1"
check_eq "install verify: another key" "$("$LANTERN" install verify --cert "$CERT" "$W/other.efi"; echo "exit $?")" \
  "$W/other.efi: signed by another key
exit 1"
cp "$W/signed.efi" "$W/tampered.efi"
printf 'X' | dd of="$W/tampered.efi" bs=1 seek=$(( $(lab_u32 "$W/ours.efi" 60) + 300 )) conv=notrunc status=none
check "sbverify refuses a tampered stub" bash -c "! sbverify --cert '$CERT' '$W/tampered.efi' >/dev/null 2>&1"
check_eq "install verify: tampered" "$("$LANTERN" install verify --cert "$CERT" "$W/tampered.efi"; echo "exit $?")" \
  "$W/tampered.efi: bad signature
exit 1"
check_eq "install verify: unsigned" "$("$LANTERN" install verify --cert "$CERT" "$W/ours.efi"; echo "exit $?")" \
  "$W/ours.efi: unsigned
exit 1"

# Bad input: exit 2 with the file and offset named.
head -c 200 "$STUB" >"$W/short.efi"
out=$("$LANTERN" install build-stub --section .osrel="$W/osrel" "$W/short.efi" "$W/x.efi" 2>&1); rc=$?
check_eq "build-stub on a cut PE exits 2" "$rc" 2
check "... naming the file and an offset" grep -q "short.efi: offset [0-9]" <<<"$out"
out=$("$LANTERN" install sign --key "$W/db.key" --cert "$CERT" "$W/short.efi" "$W/x.efi" 2>&1); rc=$?
check_eq "sign on a cut PE exits 2" "$rc" 2
check "... naming the file and an offset" grep -q "short.efi: offset [0-9]" <<<"$out"
check_exit "sign with a key that is not the certificate's exits 2" 2 \
  "$LANTERN" install sign --key "$W/other.key" --cert "$CERT" "$W/ours.efi" "$W/x.efi"
check_exit "build-stub refuses a signed image (sign after building)" 2 \
  "$LANTERN" install build-stub --section .osrel="$W/osrel" "$W/signed.efi" "$W/x.efi"
check_exit "verify on garbage exits 2" 2 "$LANTERN" install verify --cert "$CERT" "$W/osrel"
check "no output file was left behind by the failures" bash -c "[ ! -e '$W/x.efi' ] && ! ls '$W'/x.efi.tmp.* 2>/dev/null"
finish
