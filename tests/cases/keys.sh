#!/bin/bash
# lantern keys: created keys and updates checked with efitools, openssl and sbsigntool as oracles.
. "$(dirname "$0")/../lib.sh"

GUID=6b3a2c1d-8e4f-4a5b-9c7d-0e1f2a3b4c5d
K=$TEST_TMP/keys
check "keys create succeeds" "$LANTERN" keys create --guid $GUID --timestamp "2026-01-02 03:04:05" "$K"
check_eq "GUID file holds the owner" "$(cat "$K/GUID")" "$GUID"
check_eq "key directory is private" "$(stat -c %a "$K")" "700"
check_eq "private keys are 0600" "$(stat -c %a "$K/PK.key" "$K/KEK.key" "$K/db.key" | sort -u)" "600"

for k in PK KEK db; do
  # cert-to-efi-sig-list (efitools) builds the same EFI_SIGNATURE_LIST byte for byte.
  cert-to-efi-sig-list -g $GUID "$K/$k.crt" "$TEST_TMP/$k.esl.ref" >/dev/null
  check "$k.esl equals cert-to-efi-sig-list" cmp -s "$K/$k.esl" "$TEST_TMP/$k.esl.ref"
  check "$k.key matches $k.crt" bash -c "[ \"\$(openssl pkey -in '$K/$k.key' -pubout)\" == \"\$(openssl x509 -in '$K/$k.crt' -noout -pubkey)\" ]"
  text=$(openssl x509 -in "$K/$k.crt" -noout -text)
  check "$k.crt is RSA 2048 signed with SHA-256" bash -c "grep -q 'Public-Key: (2048 bit)' <<<'$text' && grep -q 'sha256WithRSAEncryption' <<<'$text'"
done
check "db.crt allows code signing" bash -c "openssl x509 -in '$K/db.crt' -noout -ext extendedKeyUsage | grep -q 'Code Signing'"

# The .auth signature: efitools' -o prints the exact bundle UEFI signs (name, vendor GUID, attributes, timestamp,
# data), for the same timestamp.
# openssl wants a ContentInfo around the SignedData: SEQUENCE { signedData OID, [0] EXPLICIT SignedData }.
wrap_content_info() {
  local n; n=$(stat -c %s "$1")
  printf "\\x30\\x82\\x$(printf %02x $(((n + 15) >> 8)))\\x$(printf %02x $(((n + 15) & 255)))"
  printf '\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02'
  printf "\\xa0\\x82\\x$(printf %02x $((n >> 8)))\\x$(printf %02x $((n & 255)))"
  cat "$1"
}
signer() { case $1 in db) echo KEK ;; *) echo PK ;; esac; }
for k in PK KEK db; do
  sign-efi-sig-list -o -g $GUID -t "2026-01-02 03:04:05" $k "$K/$k.esl" "$TEST_TMP/$k.bundle" >/dev/null
  auth=$K/$k.auth
  len=$(od -An -tu4 -j16 -N4 "$auth" | tr -d ' ')
  tail -c +41 "$auth" | head -c $((len - 24)) >"$TEST_TMP/$k.sd"
  check_eq "$k.auth CertData is a bare SignedData (SEQUENCE, version 1)" \
    "$(od -An -tx1 -N1 "$TEST_TMP/$k.sd" | tr -d ' ')$(od -An -tx1 -j4 -N3 "$TEST_TMP/$k.sd" | tr -d ' ')" "30020101"
  wrap_content_info "$TEST_TMP/$k.sd" >"$TEST_TMP/$k.p7"
  tail -c +$((16 + len + 1)) "$auth" >"$TEST_TMP/$k.data"
  check "$k.auth carries $k.esl after the signature" cmp -s "$TEST_TMP/$k.data" "$K/$k.esl"
  check_eq "$k.auth header: revision 0x0200, WIN_CERT_TYPE_EFI_GUID, PKCS7 GUID" \
    "$(od -An -tx1 -j20 -N20 "$auth" | tr -d ' \n')" "0002f10e9dd2af4adf68ee498aa9347d375665a7"
  check_eq "$k.auth timestamp is 2026-01-02 03:04:05" "$(od -An -tx1 -N16 "$auth" | tr -d ' \n')" "ea070102030405000000000000000000"
  s=$(signer $k)
  check "$k.auth signature verifies over the efitools bundle with $s.crt" \
    openssl smime -verify -binary -inform DER -in "$TEST_TMP/$k.p7" -content "$TEST_TMP/$k.bundle" \
      -CAfile "$K/$s.crt" -purpose any -out /dev/null
  other=$( [ $s == PK ] && echo db || echo PK )
  check_exit "$k.auth signature does not verify with $other.crt" 4 \
    openssl smime -verify -binary -inform DER -in "$TEST_TMP/$k.p7" -content "$TEST_TMP/$k.bundle" \
      -CAfile "$K/$other.crt" -purpose any -out /dev/null
done

# A binary signed with the db key verifies against db.crt only.
sbsign --key "$K/db.key" --cert "$K/db.crt" --output "$TEST_TMP/signed.efi" /usr/lib/systemd/boot/efi/systemd-bootx64.efi 2>/dev/null
check "sbverify accepts a binary signed with db.key" sbverify --cert "$K/db.crt" "$TEST_TMP/signed.efi"
check_exit "sbverify refuses it with PK.crt" 1 sbverify --cert "$K/PK.crt" "$TEST_TMP/signed.efi"

# Refusals change nothing.
before=$(ls -l --time-style=full-iso "$K" | md5sum)
check_exit "create refuses a non-empty directory" 2 "$LANTERN" keys create "$K"
check_eq "the refused create left the keys alone" "$(ls -l --time-style=full-iso "$K" | md5sum)" "$before"
check_exit "create rejects a malformed GUID" 2 "$LANTERN" keys create --guid 1234 "$TEST_TMP/x"
check_exit "create rejects a malformed timestamp" 2 "$LANTERN" keys create --timestamp yesterday "$TEST_TMP/x"
check_exit "create rejects an odd RSA size" 2 "$LANTERN" keys create --rsa-bits 1024 "$TEST_TMP/x"
check "refused creates leave no directory behind" bash -c "! ls -d '$TEST_TMP'/x* 2>/dev/null"
mkdir "$TEST_TMP/empty"
check "create fills an existing empty directory" "$LANTERN" keys create "$TEST_TMP/empty"
check "two creates make different owners" bash -c "! cmp -s '$TEST_TMP/empty/GUID' '$K/GUID'"

# efivarfs semantics on a directory laid out like /sys/firmware/efi/efivars.
EV=$TEST_TMP/efivars
G=8be4df61-93ca-11d2-aa0d-00e098032b8c
mkdir "$EV"
printf '\x06\x00\x00\x00\x01' >"$EV/SetupMode-$G"
printf '\x06\x00\x00\x00\x00' >"$EV/SecureBoot-$G"
check_eq "status reports Setup Mode" "$("$LANTERN" keys status --efivars "$EV" | head -2 | tr '\n' ' ')" "setup-mode: yes secure-boot: disabled "
check "enroll writes in Setup Mode" "$LANTERN" keys enroll --efivars "$EV" "$K"
for k in PK KEK db; do
  v=$G; [ $k == db ] && v=d719b2cb-3d3a-4596-a3bc-dad00e67656f
  check "$k variable = attributes 0x27 + $k.auth" bash -c "cmp -s <(printf '\x27\x00\x00\x00'; cat '$K/$k.auth') '$EV/$k-$v'"
done
# What the firmware keeps (and efivarfs then shows) is the data after the authentication header.
settle() { # EFIVARS: rewrites PK, KEK and db as attributes + data, as the firmware stores an accepted update
  local f len
  for f in "$1"/PK-* "$1"/KEK-* "$1"/db-*; do
    len=$(od -An -tu4 -j20 -N4 "$f" | tr -d ' ')
    { head -c 4 "$f"; tail -c +$((4 + 16 + len + 1)) "$f"; } >"$f.new" && mv "$f.new" "$f"
  done
}
settle "$EV"
check_eq "status --json sees the keys and their certificates" "$("$LANTERN" keys status --efivars "$EV" --json | tr -d ' \n')" \
  '{"SetupMode":true,"SecureBoot":false,"AuditMode":null,"DeployedMode":null,"PK":true,"KEK":true,"db":true,"certificates":{"PK":["CN=LanternPlatformKey"],"KEK":["CN=LanternKeyExchangeKey"],"db":["CN=LanternSignatureDatabaseKey"]}}'
EV2=$TEST_TMP/efivars2
mkdir "$EV2"
printf '\x06\x00\x00\x00\x00' >"$EV2/SetupMode-$G"
check_exit "enroll refuses outside Setup Mode" 1 "$LANTERN" keys enroll --efivars "$EV2" "$K"
check_eq "the refused enroll wrote nothing" "$(ls "$EV2")" "SetupMode-$G"
mkdir "$TEST_TMP/partial"; cp "$K/db.auth" "$K/KEK.auth" "$TEST_TMP/partial/"
printf '\x06\x00\x00\x00\x01' >"$EV2/SetupMode-$G"
check_exit "enroll refuses a key directory without PK.auth" 2 "$LANTERN" keys enroll --efivars "$EV2" "$TEST_TMP/partial"
check_eq "and writes nothing" "$(ls "$EV2")" "SetupMode-$G"
check_exit "status without efivars fails clearly" 2 "$LANTERN" keys status --efivars "$TEST_TMP/nothing"

# --microsoft: Microsoft's certificates (taken from OVMF's Microsoft-enrolled variable store) appended to KEK and db.
. "$LANTERN_TOP/tests/lab/lab.sh"
MS=$TEST_TMP/ms
lab_microsoft_certs "$MS" || not_ok "extract Microsoft's certificates from OVMF"
EV3=$TEST_TMP/efivars3
mkdir "$EV3"
printf '\x06\x00\x00\x00\x01' >"$EV3/SetupMode-$G"
check "enroll --microsoft writes in Setup Mode" "$LANTERN" keys enroll --efivars "$EV3" --microsoft "$MS" "$K"
cp -r "$EV3" "$TEST_TMP/efivars3-written"
settle "$EV3"
subjects() { "$LANTERN" keys status --efivars "$EV3" --json | jq -r ".certificates.$1[]"; }
check_eq "KEK holds our KEK, then Microsoft's KEK CA" "$(subjects KEK)" \
  "$(printf '%s\n' "CN=Lantern Key Exchange Key" "CN=Microsoft Corporation KEK CA 2011,O=Microsoft Corporation,L=Redmond,ST=Washington,C=US")"
check_eq "db holds our db key, then Microsoft's two CAs" "$(subjects db)" \
  "$(printf '%s\n' "CN=Lantern Signature Database Key" "CN=Microsoft Windows Production PCA 2011,O=Microsoft Corporation,L=Redmond,ST=Washington,C=US" "CN=Microsoft Corporation UEFI CA 2011,O=Microsoft Corporation,L=Redmond,ST=Washington,C=US")"
check_eq "PK is ours alone" "$(subjects PK)" "CN=Lantern Platform Key"
check "status --verbose lists the subjects" bash -c "'$LANTERN' keys status --efivars '$EV3' --verbose | grep -q '^  CN=Microsoft Corporation UEFI CA 2011'"
# The re-signed db update: cert-to-efi-sig-list + Microsoft's owner GUID rebuilds the data, and KEK.crt verifies it.
MSG=77fa9abd-0359-4d32-bd60-28f4e78f784b
for i in 1 2; do
  openssl x509 -inform DER -in "$MS/db/microsoft-$i.der" -out "$TEST_TMP/ms$i.pem"
  cert-to-efi-sig-list -g $MSG "$TEST_TMP/ms$i.pem" "$TEST_TMP/ms$i.esl" >/dev/null
done
dbvar=$TEST_TMP/efivars3-written/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f
tail -c +5 "$dbvar" >"$TEST_TMP/db-ms.auth"
len=$(od -An -tu4 -j16 -N4 "$TEST_TMP/db-ms.auth" | tr -d ' ')
tail -c +$((16 + len + 1)) "$TEST_TMP/db-ms.auth" >"$TEST_TMP/db-ms.data"
check "db data = db.esl + cert-to-efi-sig-list of each Microsoft CA" cmp -s "$TEST_TMP/db-ms.data" <(cat "$K/db.esl" "$TEST_TMP/ms1.esl" "$TEST_TMP/ms2.esl")
ts=$(od -An -tu1 -N8 "$TEST_TMP/db-ms.auth" | awk '{ printf "%04d-%02d-%02d %02d:%02d:%02d", $1 + 256 * $2, $3, $4, $5, $6, $7 }')
sign-efi-sig-list -o -g $GUID -t "$ts" db "$TEST_TMP/db-ms.data" "$TEST_TMP/db-ms.bundle" >/dev/null
tail -c +41 "$TEST_TMP/db-ms.auth" | head -c $((len - 24)) >"$TEST_TMP/db-ms.sd"
wrap_content_info "$TEST_TMP/db-ms.sd" >"$TEST_TMP/db-ms.p7"
check "the re-signed db update verifies with KEK.crt" openssl smime -verify -binary -inform DER -in "$TEST_TMP/db-ms.p7" \
  -content "$TEST_TMP/db-ms.bundle" -CAfile "$K/KEK.crt" -purpose any -out /dev/null
EV4=$TEST_TMP/efivars4
mkdir -p "$EV4" "$TEST_TMP/ms-empty/KEK" "$TEST_TMP/ms-bad/KEK" "$TEST_TMP/ms-bad/db"
printf '\x06\x00\x00\x00\x01' >"$EV4/SetupMode-$G"
check_exit "--microsoft with an empty directory is refused" 2 "$LANTERN" keys enroll --efivars "$EV4" --microsoft "$TEST_TMP/ms-empty" "$K"
echo "not a certificate" >"$TEST_TMP/ms-bad/KEK/x.crt"; cp "$MS/db/microsoft-1.der" "$TEST_TMP/ms-bad/db/"
check_exit "--microsoft with a file that is no certificate is refused" 2 "$LANTERN" keys enroll --efivars "$EV4" --microsoft "$TEST_TMP/ms-bad" "$K"
check_eq "and nothing was written" "$(ls "$EV4")" "SetupMode-$G"
finish
