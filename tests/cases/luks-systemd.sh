#!/bin/bash
# lantern luks against systemd-cryptenroll 252 on swtpm, both ways:
#   - a systemd-tpm2 token enrolled by systemd-cryptenroll is unsealed by `lantern luks unlock/unseal`, and the
#     passphrase lantern unseals opens the keyslot for `cryptsetup open --test-passphrase`;
#   - `lantern luks enroll` with the same options writes a token whose JSON is field for field (and byte for
#     byte, but for the random tpm2-blob) systemd-cryptenroll's, that systemd's token plugin decodes the same
#     in `cryptsetup luksDump`, a keyslot with the same PBKDF, and a sealed object whose TPM2B_PUBLIC
#     (tpm2_print) equals systemd's but for its random unique field;
#   - PIN tokens (systemd's --tpm2-with-pin) both ways; a wrong PIN is refused;
#   - fail closed: after tpm2_pcrextend of a sealed PCR, unlock exits 1 naming the policy mismatch;
#   - bad input (no LUKS header, broken tokens, bad passphrase, unreachable TPM) exits 2 with a message.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/swtpm.sh"

for tool in swtpm tpm2_pcrextend tpm2_print systemd-cryptenroll cryptsetup jq python3; do
        command -v "$tool" >/dev/null || { not_ok "$tool is installed"; finish; }
done
W=$TEST_TMP
export TSS2_LOG=all+none

swtpm_start "$W/tpm" || { not_ok "swtpm starts"; finish; }
T=$SWTPM_TCTI
SD_TPM="--tpm2-device=swtpm:host=127.0.0.1,port=$SWTPM_PORT"
PW=correct-horse-battery

# PCR 7 and 11 get values other than zero first, as on a booted machine.
tpm2_pcrextend -T "$T" "7:sha256=$(openssl rand -hex 32)" "11:sha256=$(openssl rand -hex 32)" ||
        { not_ok "tpm2_pcrextend"; finish; }

# sd_enroll ARGS...: systemd-cryptenroll on this swtpm. systemd 252 leaves one loaded session behind per run
# (tpm2_getcap handles-loaded-session; swtpm has no resource manager to drop it), which would exhaust the TPM's
# session slots: flush loaded sessions after it.
sd_enroll() {
        local rc
        PASSWORD=$PW systemd-cryptenroll "$SD_TPM" "$@"; rc=$?
        tpm2_flushcontext -T "$T" -l >/dev/null 2>&1
        return $rc
}
. "$LANTERN_TOP/tests/luks.sh"
# dump_token IMG: cryptsetup luksDump's Tokens section (systemd's token plugin decodes systemd-tpm2 tokens)
# without the blob's hex lines.
dump_token() {
        cryptsetup luksDump "$W/$1" | sed -n '/^Tokens:/,/^Digests:/p' |
                awk '/tpm2-blob:/ { skip = 1; next } skip && /^\t    / { next } { skip = 0; print }'
}
# dump_keyslot IMG N: keyslot N of luksDump without its random salt.
dump_keyslot() {
        cryptsetup luksDump "$W/$1" | awk -v n="  $2: luks2" '$0 == n { on = 1; print; next }
                on && /^  [0-9]+: / { on = 0 } on && /^[A-Z]/ { on = 0 }
                on && /Salt:/ { salt = 1; next } on && salt && /^\t    / { next } on { salt = 0; print }'
}
# public IMG TOKEN: tpm2_print of the TPM2B_PUBLIC half of the token's tpm2-blob.
public() {
        export_token "$1" "$2" | jq -r '.["tpm2-blob"]' | base64 -d >"$W/blob" &&
        python3 -c 'import sys; b = open(sys.argv[1], "rb").read(); n = int.from_bytes(b[:2], "big"); open(sys.argv[2], "wb").write(b[2 + n:])' \
                "$W/blob" "$W/pub" &&
        tpm2_print -t TPM2B_PUBLIC "$W/pub"
}

# --- systemd-cryptenroll enrolls, lantern unlocks -------------------------------------------------------------
image sd || { not_ok "cryptsetup luksFormat"; finish; }
sd_enroll --tpm2-pcrs=7+11 "$W/sd" >"$W/sd.log" 2>&1
check_eq "systemd-cryptenroll --tpm2-pcrs=7+11 enrolls" "$?" 0
"$LANTERN" luks unlock --tcti "$T" --test "$W/sd" >"$W/out" 2>"$W/err"
check_eq "lantern luks unlock --test opens systemd-cryptenroll's token: exit 0" "$?" 0
check "  ... and says which token and keyslot" grep -q "token 0 unsealed the passphrase of keyslot 1" "$W/out"
"$LANTERN" luks unseal --tcti "$T" "$W/sd" >"$W/sd.key" 2>"$W/err"
check_eq "lantern luks unseal of systemd's token: exit 0" "$?" 0
check "  ... the passphrase is base64 of 32 bytes (systemd's encoding)" \
        bash -c "[ \"\$(base64 -d '$W/sd.key' | wc -c)\" = 32 ] && [ \"\$(wc -c <'$W/sd.key')\" = 44 ]"
check "  ... cryptsetup open --test-passphrase accepts it for keyslot 1" \
        cryptsetup open --test-passphrase --key-slot 1 --key-file "$W/sd.key" "$W/sd"
"$LANTERN" luks list "$W/sd" >"$W/list"
check_eq "lantern luks list names systemd's token" "$(cut -d' ' -f1-7 "$W/list")" "token 0 systemd-tpm2 keyslot 1 pcrs sha256:7,11"
check_eq "lantern luks list --json carries the token as cryptsetup token export shows it" \
        "$("$LANTERN" luks list --json "$W/sd" | jq -c '.[0] | [.token, .keyslot, .json]')" "[0,1,$(export_token sd 0 | jq -c .)]"

# --- lantern enrolls, the same token as systemd's --------------------------------------------------------------
image ln || { not_ok "cryptsetup luksFormat"; finish; }
PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" --pcrs 7,11 "$W/ln" >"$W/out" 2>"$W/err"
check_eq "lantern luks enroll --pcrs 7,11: exit 0" "$?" 0
check "  ... reports token 0 for keyslot 1" grep -q "token 0 for keyslot 1, sealed to sha256:7,11 (current values)" "$W/out"
check_eq "token JSON equals systemd-cryptenroll's byte for byte, but for tpm2-blob" \
        "$(export_token ln 0 | sed 's/"tpm2-blob":"[^"]*"/BLOB/')" "$(export_token sd 0 | sed 's/"tpm2-blob":"[^"]*"/BLOB/')"
check_eq "token fields equal systemd-cryptenroll's (jq, without tpm2-blob)" \
        "$(export_token ln 0 | jq -S 'del(.["tpm2-blob"])')" "$(export_token sd 0 | jq -S 'del(.["tpm2-blob"])')"
check "  ... and the policy hash is 32 bytes of hex" grep -Eq '^[0-9a-f]{64}$' <<<"$(export_token ln 0 | jq -r '.["tpm2-policy-hash"]')"
check_eq "cryptsetup luksDump (systemd's token plugin) shows the same token" "$(dump_token ln)" "$(dump_token sd)"
check "  ... naming systemd-tpm2 and PCRs 7+11" bash -c "dump_token() { :; }; cryptsetup luksDump '$W/ln' | grep -q 'tpm2-hash-pcrs:   7+11'"
check_eq "the new keyslot has systemd's cipher and PBKDF (pbkdf2, sha512, 1000 iterations)" \
        "$(dump_keyslot ln 1)" "$(dump_keyslot sd 1)"
check "  ... pbkdf2 sha512" bash -c "cryptsetup luksDump '$W/ln' | sed -n '/^  1: luks2/,/Digest ID/p' | grep -q 'Hash:       sha512'"
check_eq "the sealed object's TPM2B_PUBLIC (tpm2_print) equals systemd's but for the random unique field" \
        "$(public ln 0 | grep -v '^keyedhash:')" "$(public sd 0 | grep -v '^keyedhash:')"
"$LANTERN" luks unseal --tcti "$T" "$W/ln" >"$W/ln.key" 2>"$W/err"
check_eq "lantern luks unseal of its own token: exit 0" "$?" 0
check "cryptsetup open --test-passphrase accepts lantern's unsealed passphrase for keyslot 1" \
        cryptsetup open --test-passphrase --key-slot 1 --key-file "$W/ln.key" "$W/ln"
check "  ... and not for keyslot 0 (a different passphrase)" \
        bash -c "! cryptsetup open --test-passphrase --key-slot 0 --key-file '$W/ln.key' '$W/ln' 2>/dev/null"
check "lantern luks unlock --test of its own token" "$LANTERN" luks unlock --tcti "$T" --test "$W/ln"
PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" --pcrs 7,11 "$W/ln" >"$W/out" 2>"$W/err"
check_eq "enrolling the same policy again is a no-op (as systemd-cryptenroll): exit 0" "$?" 0
check_eq "  ... still one token" "$(cryptsetup luksDump "$W/ln" | grep -c ': systemd-tpm2')" 1
printf '%s' "$PW" >"$W/pwfile"
"$LANTERN" luks enroll --tcti "$T" --pcrs 7 --key-file "$W/pwfile" --json "$W/ln" >"$W/out" 2>"$W/err"
check_eq "enroll --key-file --pcrs 7 --json: a second token" "$(jq -c '[.token, .keyslot, .bank, .predicted]' "$W/out")" '[1,2,"sha256",false]'
check_eq "  ... its policy hash equals systemd-cryptenroll's for PCR 7" "$(jq -r .policyHash "$W/out")" \
        "$(image sd7 && sd_enroll --tpm2-pcrs=7 "$W/sd7" >/dev/null 2>&1 && export_token sd7 0 | jq -r '.["tpm2-policy-hash"]')"

# --- PIN --------------------------------------------------------------------------------------------------------
image sdpin && image lnpin || { not_ok "cryptsetup luksFormat"; finish; }
NEWPIN=4711 sd_enroll --tpm2-pcrs=7 --tpm2-with-pin=yes "$W/sdpin" >"$W/sd.log" 2>&1
check_eq "systemd-cryptenroll --tpm2-with-pin=yes enrolls" "$?" 0
PIN=4711 "$LANTERN" luks unlock --tcti "$T" --test "$W/sdpin" >/dev/null 2>"$W/err"
check_eq "lantern unlocks systemd's PIN token with \$PIN" "$?" 0
PIN=0000 "$LANTERN" luks unlock --tcti "$T" --test "$W/sdpin" >"$W/out" 2>"$W/err"
check_eq "a wrong PIN: exit 1" "$?" 1
check "  ... the message says wrong PIN" grep -q "wrong PIN" "$W/err"
"$LANTERN" luks unlock --tcti "$T" --test "$W/sdpin" >"$W/out" 2>"$W/err"
check_eq "no PIN for a PIN token: exit 2" "$?" 2
check "  ... the message says the token needs a PIN" grep -q "the token needs a PIN" "$W/err"
PASSWORD=$PW NEWPIN=4711 "$LANTERN" luks enroll --tcti "$T" --pcrs 7 --with-pin "$W/lnpin" >/dev/null 2>"$W/err"
check_eq "lantern luks enroll --with-pin: exit 0" "$?" 0
check_eq "  ... the token equals systemd's PIN token but for tpm2-blob (tpm2-pin true, same policy)" \
        "$(export_token lnpin 0 | sed 's/"tpm2-blob":"[^"]*"/BLOB/')" "$(export_token sdpin 0 | sed 's/"tpm2-blob":"[^"]*"/BLOB/')"
PIN=4711 "$LANTERN" luks unseal --tcti "$T" "$W/lnpin" >"$W/lnpin.key" 2>"$W/err"
check "  ... its unsealed passphrase opens keyslot 1 (cryptsetup)" \
        cryptsetup open --test-passphrase --key-slot 1 --key-file "$W/lnpin.key" "$W/lnpin"

# --- fail closed ------------------------------------------------------------------------------------------------
tpm2_pcrextend -T "$T" "11:sha256=$(openssl rand -hex 32)" || not_ok "tpm2_pcrextend 11"
for img in sd ln; do
        "$LANTERN" luks unlock --tcti "$T" --test --token 0 "$W/$img" >"$W/out" 2>"$W/err"
        check_eq "after extending PCR 11, unlock of the $img token sealed to 7+11: exit 1" "$?" 1
        check "  ... the message names the policy mismatch" grep -q "do not satisfy the sealed policy" "$W/err"
        check "  ... and says nothing was unlocked" grep -q "not unlocked: the TPM refused every token" "$W/err"
        check_eq "  ... nothing on stdout" "$(cat "$W/out")" ""
        "$LANTERN" luks unseal --tcti "$T" --token 0 "$W/$img" >"$W/out" 2>/dev/null
        check_eq "  ... unseal exits 1 and prints no passphrase" "$?:$(cat "$W/out")" "1:"
done
check "the PCR 7 token of the same image still unlocks (token 1)" "$LANTERN" luks unlock --tcti "$T" --test "$W/ln"

# --- bad input --------------------------------------------------------------------------------------------------
bad() {
        local name=$1 want=$2 msg=$3 rc; shift 3
        "$@" >"$W/bad.out" 2>"$W/bad.err"; rc=$?
        if [ "$rc" = "$want" ] && grep -q -- "$msg" "$W/bad.err"; then ok "$name"; else
                not_ok "$name (exit $rc)"; sed 's/^/#   /' "$W/bad.err"; fi
}
head -c 1048576 /dev/urandom >"$W/random.img"
bad "not a LUKS2 image: exit 2 naming the file" 2 "$W/random.img: no LUKS2 header" \
        "$LANTERN" luks unlock --tcti "$T" --test "$W/random.img"
bad "missing image: exit 2" 2 "$W/nothing: " "$LANTERN" luks list "$W/nothing"
image broken || not_ok "luksFormat"
# (systemd's token plugin would refuse these tokens at import: import them without it)
import_token() { printf '%s' "$2" | cryptsetup token import --disable-external-tokens --token-id "${3:-0}" "$W/$1"; }
import_token broken '{"type":"systemd-tpm2","keyslots":["0"],"tpm2-blob":"!!notbase64!!","tpm2-pcrs":[7],"tpm2-policy-hash":"00"}'
bad "token with a tpm2-blob that is not base64: exit 2" 2 "token 0: field 'tpm2-blob'" \
        "$LANTERN" luks unlock --tcti "$T" --test "$W/broken"
image short || not_ok "luksFormat"
import_token short "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],\"tpm2-blob\":\"$(head -c 40 /dev/urandom | base64 -w0)\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"$(openssl rand -hex 32)\"}"
bad "token with a truncated blob: exit 2 naming the offset" 2 "sealed blob: .*offset" \
        "$LANTERN" luks unlock --tcti "$T" --test "$W/short"
image nopcrs || not_ok "luksFormat"
import_token nopcrs '{"type":"systemd-tpm2","keyslots":["0"],"tpm2-blob":"AAAA","tpm2-pcrs":[24],"tpm2-policy-hash":"00"}'
bad "token with PCR 24: exit 2" 2 "field 'tpm2-pcrs'" "$LANTERN" luks unlock --tcti "$T" --test "$W/nopcrs"
image empty || not_ok "luksFormat"
bad "image without tokens: exit 2" 2 "no systemd-tpm2 token" "$LANTERN" luks unlock --tcti "$T" --test "$W/empty"
PASSWORD=wrong bad "enroll with a wrong passphrase: exit 2" 2 "the passphrase opens no keyslot" \
        "$LANTERN" luks enroll --tcti "$T" --pcrs 7 "$W/empty"
check_eq "  ... no keyslot or token was added" "$(cryptsetup luksDump "$W/empty" | grep -c -E '^  [0-9]+: (luks2|systemd-tpm2)')" 1
bad "enroll without a passphrase: exit 2" 2 'set $PASSWORD or --key-file' \
        env -u PASSWORD "$LANTERN" luks enroll --tcti "$T" --pcrs 7 "$W/empty"
closed=$((SWTPM_PORT + 1000))
PASSWORD=$PW bad "unreachable TPM: exit 2" 2 "cannot reach the TPM" \
        "$LANTERN" luks enroll --tcti "swtpm:host=127.0.0.1,port=$closed" --pcrs 7 "$W/empty"
check_eq "  ... the image is unchanged" "$(cryptsetup luksDump "$W/empty" | grep -c -E '^  [0-9]+: (luks2|systemd-tpm2)')" 1
bad "unlock without --name or --test: exit 2" 2 "give --name NAME" "$LANTERN" luks unlock --tcti "$T" "$W/sd"
bad "unknown verb: exit 2" 2 "unknown verb 'open'" "$LANTERN" luks open "$W/sd"
bad "bad --token: exit 2" 2 "invalid token number" "$LANTERN" luks unlock --test --token 99 "$W/sd"
bad "--public-key-pcrs without --public-key: exit 2" 2 "needs --public-key" \
        env PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" --public-key-pcrs 11 "$W/empty"
finish
