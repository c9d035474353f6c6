#!/bin/bash
# lantern luks enroll sealing to values that are not (yet) in the TPM, and to signed PCR policies, on swtpm:
#   - predicted values (future PCR 7 and 11, computed with Python's hashlib from the current values and the
#     digests that will be extended): the token's policy hash equals tpm2_createpolicy --policy-pcr over the
#     same values (tpm2-tools' trial session), in the sha256 and sha1 banks; unlock fails (exit 1) until
#     tpm2_pcrextend brings the PCRs there, then opens; systemd-cryptenroll sealing to the (now current) values
#     records the same policy hash;
#   - signed policies: systemd-measure sign (the .pcrsig JSON) for a PCR 11 value extended into the TPM;
#     systemd-cryptenroll --tpm2-public-key and lantern luks enroll --public-key write the same token but for
#     the blob; lantern unlocks both with the signature, refuses without a matching one (exit 1 after PCR 11
#     moves on), and asks for one when none is given;
#   - malformed --pcr-values files: exit 2 naming file and line.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/swtpm.sh"

MEASURE=/usr/lib/systemd/systemd-measure
for tool in swtpm tpm2_pcrextend tpm2_pcrread tpm2_createpolicy systemd-cryptenroll cryptsetup jq python3 openssl "$MEASURE"; do
        command -v "$tool" >/dev/null || { not_ok "$tool is installed"; finish; }
done
W=$TEST_TMP
export TSS2_LOG=all+none
PW=predicted-passphrase

. "$LANTERN_TOP/tests/luks.sh"
policy_of() { export_token "$1" "${2:-0}" | jq -r '.["tpm2-policy-hash"]'; }
# systemd-cryptenroll 252 and tpm2_createpolicy leave a loaded session behind per run (tpm2_getcap
# handles-loaded-session), systemd-measure sign shares systemd's TPM code; swtpm has no resource manager to
# drop them, and a few exhaust its session slots: flush them after each of those tools.
flush_sessions() { tpm2_flushcontext -T "$T" -l >/dev/null 2>&1; }
sd_enroll() {
        local rc
        PASSWORD=$PW systemd-cryptenroll "--tpm2-device=swtpm:host=127.0.0.1,port=$SWTPM_PORT" "$@" >"$W/sd.log" 2>&1
        rc=$?
        flush_sessions
        return $rc
}
# pcr BANK N: the TPM's value, lowercase hex.
pcr() { tpm2_pcrread -T "$T" "$1:$2" | awk '/0x/ { v = $NF; sub(/^0x/, "", v); print tolower(v) }'; }
# extended BANK OLD_HEX DIGEST_HEX: the value after one extend (hashlib).
extended() {
        python3 -c 'import hashlib, sys; print(hashlib.new(sys.argv[1], bytes.fromhex(sys.argv[2]) + bytes.fromhex(sys.argv[3])).hexdigest())' "$@"
}

swtpm_start "$W/tpm" || { not_ok "swtpm starts"; finish; }
T=$SWTPM_TCTI
tpm2_pcrextend -T "$T" "7:sha256=$(openssl rand -hex 32),sha1=$(openssl rand -hex 20)" || not_ok "tpm2_pcrextend"

# --- predicted values ---------------------------------------------------------------------------------------------
d7=$(openssl rand -hex 32); d11=$(openssl rand -hex 32); e7=$(openssl rand -hex 20); e11=$(openssl rand -hex 20)
v7=$(extended sha256 "$(pcr sha256 7)" "$d7"); v11=$(extended sha256 "$(pcr sha256 11)" "$d11")
s7=$(extended sha1 "$(pcr sha1 7)" "$e7"); s11=$(extended sha1 "$(pcr sha1 11)" "$e11")
printf '# generation 5: NixOS\nsha256 7 %s\nsha1 7 %s\nsha256 11 %s\nsha1 11 %s\npolicy sha256 %s\n' \
        "$v7" "$s7" "$v11" "$s11" "$(openssl rand -hex 32)" >"$W/future.pcrs"
image p256 && image p1 || { not_ok "cryptsetup luksFormat"; finish; }
PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" --pcrs 7,11 --pcr-values "$W/future.pcrs" --json "$W/p256" \
        >"$W/out" 2>"$W/err"
check_eq "enroll --pcr-values (sha256 values not in the TPM): exit 0" "$?" 0
check_eq "  ... JSON says predicted, sha256" "$(jq -c '[.predicted, .bank]' "$W/out")" '[true,"sha256"]'
printf '%s%s' "$v7" "$v11" | xxd -r -p >"$W/values.bin"
tpm2_createpolicy -T "$T" --policy-pcr -l sha256:7,11 -f "$W/values.bin" -L "$W/policy.bin" >/dev/null 2>&1 ||
        not_ok "tpm2_createpolicy --policy-pcr"
flush_sessions
check_eq "  ... the token's policy hash = tpm2_createpolicy --policy-pcr -l sha256:7,11 over the values" \
        "$(policy_of p256)" "$(xxd -p -c 64 "$W/policy.bin")"
check_eq "  ... the token names bank sha256 and PCRs 7,11" \
        "$(export_token p256 0 | jq -c '[.["tpm2-pcr-bank"], .["tpm2-pcrs"]]')" '["sha256",[7,11]]'
"$LANTERN" luks enroll --tcti "$T" --pcrs 7,11 --bank sha1 --pcr-values - --key-file <(printf '%s' "$PW") "$W/p1" \
        <"$W/future.pcrs" >/dev/null 2>"$W/err"
check_eq "enroll --bank sha1 --pcr-values - (stdin): exit 0" "$?" 0
printf '%s%s' "$s7" "$s11" | xxd -r -p >"$W/values1.bin"
tpm2_createpolicy -T "$T" --policy-pcr -l sha1:7,11 -f "$W/values1.bin" -L "$W/policy1.bin" >/dev/null 2>&1
flush_sessions
check_eq "  ... the policy hash = tpm2_createpolicy -l sha1:7,11" "$(policy_of p1)" "$(xxd -p -c 64 "$W/policy1.bin")"
for img in p256 p1; do
        "$LANTERN" luks unlock --tcti "$T" --test "$W/$img" >/dev/null 2>"$W/err"
        check_eq "$img: before the extends, unlock exits 1" "$?" 1
done
tpm2_pcrextend -T "$T" "7:sha256=$d7,sha1=$e7" "11:sha256=$d11,sha1=$e11" || not_ok "tpm2_pcrextend"
check_eq "tpm2_pcrextend reached the predicted values" "$(pcr sha256 7) $(pcr sha256 11) $(pcr sha1 11)" "$v7 $v11 $s11"
for img in p256 p1; do
        check "$img: after the extends, lantern luks unlock --test opens it" "$LANTERN" luks unlock --tcti "$T" --test "$W/$img"
        "$LANTERN" luks unseal --tcti "$T" "$W/$img" >"$W/$img.key"
        check "$img: cryptsetup open --test-passphrase accepts the unsealed passphrase" \
                cryptsetup open --test-passphrase --key-slot 1 --key-file "$W/$img.key" "$W/$img"
done
image sdnow || not_ok "cryptsetup luksFormat"
sd_enroll --tpm2-pcrs=7+11 "$W/sdnow"
check_eq "systemd-cryptenroll sealing to the now-current values records the same policy hash" \
        "$(policy_of sdnow)" "$(policy_of p256)"

# --- malformed --pcr-values ---------------------------------------------------------------------------------------
bad() {
        local name=$1 msg=$2 rc; shift 2
        PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" --pcrs 7,11 --pcr-values "$@" "$W/p1" >"$W/bad.out" 2>"$W/bad.err"
        rc=$?
        if [ "$rc" = 2 ] && grep -q -- "$msg" "$W/bad.err"; then ok "$name"; else
                not_ok "$name (exit $rc)"; sed 's/^/#   /' "$W/bad.err"; fi
}
printf 'sha256 7 %s\n' "$v7" >"$W/only7"
bad "--pcr-values without PCR 11: exit 2" "$W/only7: no sha256 value for PCR 11" "$W/only7"
printf 'sha256 7 %s\nsha256 11 abcd\n' "$v7" >"$W/short"
bad "--pcr-values with a short digest: exit 2 naming file:line" "$W/short:2: sha256 PCR 11: expected 64 hex digits" "$W/short"
printf 'sha256 7 %s\nsha256 7 %s\nsha256 11 %s\n' "$v7" "$v7" "$v11" >"$W/twice"
bad "--pcr-values with two values for one PCR: exit 2" "$W/twice:2: a second sha256 value for PCR 7" "$W/twice"
printf 'sha256 seven %s\n' "$v7" >"$W/junk"
bad "--pcr-values with junk: exit 2" "$W/junk:1: expected '<bank> <pcr> <hex>'" "$W/junk"
printf 'md5 7 %s\n' "$v7" >"$W/md5"
bad "--pcr-values with an unknown bank: exit 2" "$W/md5:1: unknown bank 'md5'" "$W/md5"
head -c 100 /dev/urandom | tr -d '\n' | tr '\001' '\000' >"$W/binary"; printf '\0' >>"$W/binary"
bad "--pcr-values with binary data: exit 2" "binary data" "$W/binary"
bad "--pcr-values missing file: exit 2" "$W/none: cannot open" "$W/none"
check_eq "  ... none of these added a token" "$(cryptsetup luksDump "$W/p1" | grep -c ': systemd-tpm2')" 1

# --- signed policies (systemd-measure's .pcrsig JSON) ------------------------------------------------------------
swtpm_stop "$W/tpm"
swtpm_start "$W/tpm2" || { not_ok "second swtpm starts"; finish; }
T=$SWTPM_TCTI
head -c 4096 /dev/urandom >"$W/linux"; head -c 2048 /dev/urandom >"$W/initrd"
printf 'ID=lantern\n' >"$W/osrel"; printf 'console=ttyS0 lantern.signed=1' >"$W/cmdline"
SECTIONS=(--linux="$W/linux" --osrel="$W/osrel" --cmdline="$W/cmdline" --initrd="$W/initrd")
want11=$("$MEASURE" calculate "${SECTIONS[@]}" --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=//p')
# The stub's extends for these sections: name with NUL, then contents, in canonical order.
for s in linux:linux osrel:osrel cmdline:cmdline initrd:initrd; do
        tpm2_pcrextend -T "$T" "11:sha256=$(printf '.%s\0' "${s%%:*}" | sha256sum | cut -c1-64)" &&
        tpm2_pcrextend -T "$T" "11:sha256=$(sha256sum <"$W/${s#*:}" | cut -c1-64)" || not_ok "tpm2_pcrextend 11"
done
check_eq "PCR 11 now holds systemd-measure calculate's value" "$(pcr sha256 11)" "$want11"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/key.pem" 2>/dev/null &&
openssl pkey -in "$W/key.pem" -pubout -out "$W/pub.pem" || not_ok "openssl RSA key"
"$MEASURE" sign "--tpm2-device=swtpm:host=127.0.0.1,port=$SWTPM_PORT" "${SECTIONS[@]}" --bank=sha256 --phase= --private-key="$W/key.pem" --public-key="$W/pub.pem" \
        >"$W/sig.json" 2>"$W/measure.err"
flush_sessions
check "systemd-measure sign wrote a signature for PCR 11" jq -e '.sha256[0].pcrs == [11]' "$W/sig.json"
image sds && image lns || { not_ok "cryptsetup luksFormat"; finish; }
sd_enroll --tpm2-pcrs=7 --tpm2-public-key="$W/pub.pem" --tpm2-public-key-pcrs=11 --tpm2-signature="$W/sig.json" "$W/sds"
check_eq "systemd-cryptenroll --tpm2-public-key --tpm2-signature enrolls" "$?" 0
PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" --pcrs 7 --public-key "$W/pub.pem" "$W/lns" >"$W/out" 2>"$W/err"
check_eq "lantern luks enroll --public-key: exit 0" "$?" 0
check "  ... reports the signed PCR 11" grep -q "sealed to sha256:7 and signed sha256:11" "$W/out"
check_eq "  ... the token equals systemd-cryptenroll's but for tpm2-blob (tpm2_pubkey, tpm2_pubkey_pcrs, policy)" \
        "$(export_token lns 0 | sed 's/"tpm2-blob":"[^"]*"/BLOB/')" "$(export_token sds 0 | sed 's/"tpm2-blob":"[^"]*"/BLOB/')"
check "  ... tpm2_pubkey is the PEM file" cmp <(export_token lns 0 | jq -r .tpm2_pubkey | base64 -d) "$W/pub.pem"
for img in sds lns; do
        check "$img: lantern luks unlock --signature opens the signed token" \
                "$LANTERN" luks unlock --tcti "$T" --test --signature "$W/sig.json" "$W/$img"
        "$LANTERN" luks unseal --tcti "$T" --signature "$W/sig.json" "$W/$img" >"$W/$img.key"
        check "$img: cryptsetup accepts the passphrase unsealed through PolicyAuthorize" \
                cryptsetup open --test-passphrase --key-slot 1 --key-file "$W/$img.key" "$W/$img"
done
"$LANTERN" luks unlock --tcti "$T" --test "$W/lns" >"$W/out" 2>"$W/err"
check_eq "signed token without a signature file: exit 2" "$?" 2
check "  ... asking for the .pcrsig JSON" grep -q "a signature JSON (.pcrsig) is needed" "$W/err"
tpm2_pcrextend -T "$T" "11:sha256=$(openssl rand -hex 32)" || not_ok "tpm2_pcrextend 11"
for img in sds lns; do
        "$LANTERN" luks unlock --tcti "$T" --test --signature "$W/sig.json" "$W/$img" >"$W/out" 2>"$W/err"
        check_eq "$img: PCR 11 moved past the signed value: exit 1" "$?" 1
        check "  ... no signed policy matches this boot" grep -q "no signed policy matches this boot" "$W/err"
done
finish
