#!/bin/bash
# lantern luks enroll --wipe-tpm2 (re-sealing after an update, like systemd-cryptenroll --wipe-slot=tpm2) on
# swtpm, with cryptsetup luksDump and systemd-cryptenroll 252 as the oracles:
#   - after PCR 7 moves on (an update), the old tokens, one enrolled by systemd-cryptenroll and one lantern-tpm2
#     (PolicyOR) token, and exactly their keyslots are removed; the passphrase keyslot and the new token stay;
#     the new token unlocks, and the passphrase still opens the volume;
#   - a token whose keyslot the enroll passphrase opens (the old TPM passphrase given as --key-file) is kept
#     and reported;
#   - enrolling the policy a token already has, with --wipe-tpm2, keeps that token and removes the others;
#   - --wipe-tpm2 is refused outside enroll.
# (A token whose keyslots field lantern cannot read stops the wipe before anything is removed, but cryptsetup
# refuses to import such a token, so it is not tested here.)
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/swtpm.sh"

for tool in swtpm tpm2_pcrextend systemd-cryptenroll cryptsetup jq openssl; do
        command -v "$tool" >/dev/null || { not_ok "$tool is installed"; finish; }
done
W=$TEST_TMP
export TSS2_LOG=all+none
PW=wipe-passphrase

swtpm_start "$W/tpm" || { not_ok "swtpm starts"; finish; }
T=$SWTPM_TCTI
tpm2_pcrextend -T "$T" "7:sha256=$(openssl rand -hex 32)" || { not_ok "tpm2_pcrextend"; finish; }
. "$LANTERN_TOP/tests/luks.sh"

# keyslots IMG / tokens IMG: the numbers luksDump lists under Keyslots / Tokens ("0 1 3").
keyslots() { cryptsetup luksDump "$W/$1" | sed -n '/^Keyslots:/,/^Tokens:/p' | sed -n 's/^  \([0-9]*\): .*/\1/p' | paste -sd' '; }
tokens() { cryptsetup luksDump "$W/$1" | sed -n '/^Tokens:/,/^Digests:/p' | sed -n 's/^  \([0-9]*\): .*/\1/p' | paste -sd' '; }
token_type() { export_token "$1" "$2" | jq -r .type; }
token_slot() { export_token "$1" "$2" | jq -r '.keyslots[0]'; }

image v || { not_ok "luksFormat"; finish; }
# Token 0: systemd-cryptenroll's, sealed to PCR 7 (keyslot 1).
PASSWORD=$PW systemd-cryptenroll "--tpm2-device=swtpm:host=127.0.0.1,port=$SWTPM_PORT" --tpm2-pcrs=7 "$W/v" \
        >/dev/null 2>&1
check_eq "systemd-cryptenroll enrolls" "$?" 0
tpm2_flushcontext -T "$T" -l >/dev/null 2>&1
# Token 1: a lantern-tpm2 token sealed to two value sets (the current PCR 7, and another).
"$LANTERN" pcr read --tcti "$T" --bank sha256 7 >"$W/now.pcrs"
printf 'sha256 7 %s\n' "$(openssl rand -hex 32)" >"$W/other.pcrs"
PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" --pcrs 7 --pcr-values "$W/now.pcrs" --pcr-values "$W/other.pcrs" \
        "$W/v" >/dev/null
check_eq "lantern enrolls a lantern-tpm2 token" "$?" 0
check_eq "before: keyslots 0 (passphrase), 1 and 2 (TPM)" "$(keyslots v)" "0 1 2"
check_eq "before: tokens 0 and 1" "$(tokens v)" "0 1"
check_eq "token 0 is systemd-cryptenroll's systemd-tpm2, keyslot 1" "$(token_type v 0) $(token_slot v 0)" "systemd-tpm2 1"
check_eq "token 1 is lantern-tpm2, keyslot 2" "$(token_type v 1) $(token_slot v 1)" "lantern-tpm2 2"

# An update: PCR 7 moves on. Re-seal to the new value and wipe the rest.
tpm2_pcrextend -T "$T" "7:sha256=$(openssl rand -hex 32)" || not_ok "tpm2_pcrextend"
PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" --pcrs 7 --wipe-tpm2 "$W/v" >"$W/wipe.out" 2>"$W/wipe.err"
check_eq "enroll --wipe-tpm2 exits 0" "$?" 0
sed 's/^/#   /' "$W/wipe.out"
check "it reports token 0 removed with keyslot 1" grep -q 'removed token 0 (keyslot 1)$' "$W/wipe.out"
check "it reports token 1 removed with keyslot 2" grep -q 'removed token 1 (keyslot 2)$' "$W/wipe.out"
new=$(tokens v)
check_eq "after: one token left, the new one" "$(wc -w <<<"$new") $(token_type v "$new")" "1 systemd-tpm2"
check_eq "after: keyslots 0 (passphrase) and the new token's" "$(keyslots v)" "0 $(token_slot v "$new")"
check "the new token unlocks" "$LANTERN" luks unlock --tcti "$T" --test "$W/v"
check "the passphrase still opens the volume (cryptsetup)" \
        bash -c 'printf %s "$1" | cryptsetup open --test-passphrase --key-file - "$2"' _ "$PW" "$W/v"

# The old TPM passphrase as --key-file (after another update): its token is kept.
"$LANTERN" luks unseal --tcti "$T" "$W/v" >"$W/tpm-pass"
check_eq "lantern luks unseal exits 0" "$?" 0
kept=$new
tpm2_pcrextend -T "$T" "7:sha256=$(openssl rand -hex 32)" || not_ok "tpm2_pcrextend"
"$LANTERN" luks enroll --tcti "$T" --pcrs 7 --wipe-tpm2 --key-file "$W/tpm-pass" --json "$W/v" >"$W/keep.json" 2>"$W/keep.err"
check_eq "enroll --wipe-tpm2 with the TPM passphrase exits 0" "$?" 0
check_eq "the token whose keyslot that passphrase opens is kept (JSON)" "$(jq -c .keptTokens "$W/keep.json")" "[$kept]"
check_eq "... and nothing is wiped" "$(jq -c .wipedTokens "$W/keep.json")" "[]"
check_eq "two tokens now" "$(tokens v | wc -w)" 2

# The same policy again, with the passphrase: the token sealed to it is kept, the other one (sealed to the
# value before the last update) removed.
newest=$(jq .token "$W/keep.json")
PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" --pcrs 7 --wipe-tpm2 --json "$W/v" >"$W/same.json" 2>"$W/same.err"
check_eq "enroll --wipe-tpm2 of a policy already enrolled exits 0" "$?" 0
check "... says it keeps token $newest" grep -q "token $newest is already sealed to policy .*, keeping it" "$W/same.err"
check_eq "... removes the other token" "$(jq -c .wipedTokens "$W/same.json") $(tokens v)" "[$kept] $newest"
check "... which still unlocks" "$LANTERN" luks unlock --tcti "$T" --test "$W/v"
PASSWORD=wrong "$LANTERN" luks enroll --tcti "$T" --pcrs 7 --wipe-tpm2 "$W/v" >/dev/null 2>"$W/wrong.err"
check_eq "the same with a wrong passphrase: exit 2" "$?" 2
check "... the passphrase opens no keyslot" grep -q "the passphrase opens no keyslot" "$W/wrong.err"
check "--wipe-tpm2 outside enroll: exit 2" bash -c '"$1" luks unlock --wipe-tpm2 --test "$2" 2>&1 >/dev/null | grep -q "an option of enroll"; [ "${PIPESTATUS[0]}" = 2 ]' _ "$LANTERN" "$W/v"
finish
