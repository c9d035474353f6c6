#!/bin/bash
# lantern luks enroll sealing to several PCR value sets (generations) at once, on swtpm: a lantern-tpm2 token
# whose policy is a TPM2_PolicyOR tree over the sets' TPM2_PolicyPCR digests. The value sets are of PCRs 16
# and 23 (resettable with tpm2_pcrreset), each reached by one extend of random digests, so the TPM can be put
# at any set, or at none:
#   - 3 sets (one --pcr-values file each, or one file of `lantern predict`'s text format with a '#' header per
#     generation): tpm2-policy-branches are tpm2_policypcr's digests (tpm2-tools trial sessions) and
#     tpm2-policy-hash is tpm2_policyor over them; unlock opens at the first and the last set, exits 1 at none
#     ("match none of the 3 sealed generations");
#   - `lantern predict --pcrs 11 --policy-pcrs 11` over ten generations, its text output as --pcr-values: the
#     token's branches and policy hash are predict's PolicyOR leaves and root;
#   - 9 sets (a two-level tree, measure/policy.c's groups of 8: the ninth set's group lists it twice) and 64
#     sets (8 x 8): the root equals tpm2_policyor over tpm2_policyor's; unlock opens at a set of the second
#     group; 65 sets: exit 2, nothing added;
#   - the sha1 bank, duplicates (kept: the root is the PolicyOR of the list as given), a PIN (PolicyAuthValue
#     after the tree), one set (still a systemd-tpm2 token, the plain PolicyPCR digest);
#   - malformed lantern-tpm2 tokens (cryptsetup token import): a truncated digest, a non-hex one, too many or
#     too few entries, a root that is not the branches', a missing bank: exit 2 naming the token and the field.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/swtpm.sh"

need_tools swtpm tpm2_pcrreset tpm2_pcrextend tpm2_startauthsession tpm2_policypcr tpm2_policyor \
        tpm2_policyauthvalue tpm2_flushcontext cryptsetup jq python3 openssl xxd
W=$TEST_TMP
export TSS2_LOG=all+none
PW=policyor-passphrase
Z64=$(printf '0%.0s' $(seq 64)); Z40=$(printf '0%.0s' $(seq 40))

. "$LANTERN_TOP/tests/luks.sh"
token_field() { export_token "$1" "${3:-0}" | jq -c ".[\"$2\"]"; }
enroll() { PASSWORD=$PW "$LANTERN" luks enroll --tcti "$T" "$@"; }
unlock() { "$LANTERN" luks unlock --tcti "$T" --test "$@"; }
# extended BANK OLD_HEX DIGEST_HEX: the value after one extend (hashlib).
extended() {
        python3 -c 'import hashlib, sys; print(hashlib.new(sys.argv[1], bytes.fromhex(sys.argv[2]) + bytes.fromhex(sys.argv[3])).hexdigest())' "$@"
}

swtpm_start "$W/tpm" || { not_ok "swtpm starts"; finish; }
T=$SWTPM_TCTI

# Value set NAME: PCR 16 and 23 after a reset and one extend each (sha256 and sha1 digests in $W/NAME.d),
# its values in $W/NAME.pcrs in `lantern pcr read`'s format (both banks).
declare -A D
valueset() {
        local d16 d23 e16 e23
        d16=$(openssl rand -hex 32); d23=$(openssl rand -hex 32); e16=$(openssl rand -hex 20); e23=$(openssl rand -hex 20)
        D[$1]="16:sha256=$d16,sha1=$e16 23:sha256=$d23,sha1=$e23"
        printf 'sha256 16 %s\nsha256 23 %s\nsha1 16 %s\nsha1 23 %s\n' "$(extended sha256 "$Z64" "$d16")" \
                "$(extended sha256 "$Z64" "$d23")" "$(extended sha1 "$Z40" "$e16")" "$(extended sha1 "$Z40" "$e23")" \
                >"$W/$1.pcrs"
}
# reach NAME: puts the TPM's PCRs 16 and 23 at value set NAME ("none": just reset).
reach() {
        tpm2_pcrreset -T "$T" 16 23 || return 1
        [ "$1" = none ] || tpm2_pcrextend -T "$T" ${D[$1]}
}
# leaf NAME [BANK]: tpm2_policypcr's digest (trial session) over the set's values, hex; the binary in
# $W/NAME.BANK.leaf.
leaf() {
        local bank=${2:-sha256}
        awk -v b="$bank" '$1 == b && $2 == 16 { a = $3 } $1 == b && $2 == 23 { c = $3 } END { print a c }' "$W/$1.pcrs" |
                xxd -r -p >"$W/$1.$bank.values"
        tpm2_startauthsession -T "$T" -S "$W/s.ctx" >/dev/null &&
        tpm2_policypcr -T "$T" -S "$W/s.ctx" -l "$bank:16,23" -f "$W/$1.$bank.values" -L "$W/$1.$bank.leaf" >/dev/null
        tpm2_flushcontext -T "$T" "$W/s.ctx"
        xxd -p -c 64 "$W/$1.$bank.leaf"
}
# policy_or OUT FILE...: tpm2_policyor (trial session) over the digests in FILEs, hex; the binary in OUT.
policy_or() {
        local out=$1 list; shift
        list=$(IFS=,; echo "$*")
        tpm2_startauthsession -T "$T" -S "$W/s.ctx" >/dev/null &&
        tpm2_policyor -T "$T" -S "$W/s.ctx" -l "sha256:$list" -L "$out" >/dev/null
        tpm2_flushcontext -T "$T" "$W/s.ctx"
        xxd -p -c 64 "$out"
}

for s in A B C D E F G H I Z; do valueset "$s"; done
for s in A B C D E F G H I; do leaf "$s" >/dev/null; done

# --- three value sets --------------------------------------------------------------------------------------------
image m3 || { not_ok "cryptsetup luksFormat"; finish; }
enroll --pcrs 16,23 --pcr-values "$W/A.pcrs" --pcr-values "$W/B.pcrs" --pcr-values "$W/C.pcrs" --json "$W/m3" \
        >"$W/out" 2>"$W/err"
check_eq "enroll with 3 --pcr-values files: exit 0" "$?" 0
check_eq "  ... JSON says lantern-tpm2, 3 value sets, sha256" "$(jq -c '[.type, .valueSets, .bank]' "$W/out")" \
        '["lantern-tpm2",3,"sha256"]'
or3=$(policy_or "$W/or3" "$W/A.sha256.leaf" "$W/B.sha256.leaf" "$W/C.sha256.leaf")
check_eq "  ... the token's tpm2-policy-hash = tpm2_policyor over tpm2_policypcr's digests of A, B, C" \
        "$(token_field m3 tpm2-policy-hash)" "\"$or3\""
check_eq "  ... tpm2-policy-branches = tpm2_policypcr's digests, in order" "$(token_field m3 tpm2-policy-branches)" \
        "$(printf '%s\n' "$(xxd -p -c 64 "$W/A.sha256.leaf")" "$(xxd -p -c 64 "$W/B.sha256.leaf")" \
                "$(xxd -p -c 64 "$W/C.sha256.leaf")" | jq -R . | jq -cs .)"
check_eq "  ... the token has systemd-tpm2's fields, type lantern-tpm2, then tpm2-policy-branches" \
        "$(export_token m3 0 | jq -c '[.type, keys_unsorted]')" \
        '["lantern-tpm2",["type","keyslots","tpm2-blob","tpm2-pcrs","tpm2-pcr-bank","tpm2-primary-alg","tpm2-policy-hash","tpm2-pin","tpm2-policy-branches"]]'
"$LANTERN" luks list "$W/m3" >"$W/list"
check "  ... lantern luks list shows the lantern-tpm2 token and its 3 branches" \
        grep -q "^token 0 lantern-tpm2 keyslot 1 pcrs sha256:16,23 primary ecc pin no policy $or3 or-of 3$" "$W/list"
reach A && unlock "$W/m3" >"$W/out" 2>"$W/err"
check_eq "the TPM at set A: unlock --test opens it" "$?" 0
reach C && unlock "$W/m3" >"$W/out" 2>"$W/err"
check_eq "the TPM at set C: unlock --test opens it" "$?" 0
"$LANTERN" luks unseal --tcti "$T" "$W/m3" >"$W/m3.key"
check "  ... cryptsetup open --test-passphrase accepts the passphrase unsealed at C" \
        cryptsetup open --test-passphrase --key-slot 1 --key-file "$W/m3.key" "$W/m3"
for at in Z none; do
        reach "$at" && unlock "$W/m3" >"$W/out" 2>"$W/err"
        check_eq "the TPM at $at (no sealed set): unlock exits 1" "$?" 1
        check "  ... the PCRs match none of the 3 sealed generations" \
                grep -q "token 0 (keyslot 1): the PCRs match none of the 3 sealed generations" "$W/err"
done
reach B && enroll --pcrs 16,23 --pcr-values "$W/A.pcrs" --pcr-values "$W/B.pcrs" --pcr-values "$W/C.pcrs" "$W/m3" \
        >"$W/out" 2>"$W/err"
check_eq "the same 3 sets enrolled again: exit 0" "$?" 0
check "  ... a no-op (already sealed to the policy)" grep -q "token 0 is already sealed to policy $or3" "$W/err"

# The format `lantern predict` prints: a '#' header per generation, both banks, a policy line, "# PCR ..."
# comments before the values.
{
        for s in A B C; do
                printf '# system generation %s: NixOS 24.05\n# PCR 12 not predictable: example\n' "$s"
                cat "$W/$s.pcrs"
                printf 'policy sha256 %s\n' "$(xxd -p -c 64 "$W/$s.sha256.leaf")"
        done
} >"$W/gens.txt"
image m3p || not_ok "cryptsetup luksFormat"
enroll --pcrs 16,23 --pcr-values "$W/gens.txt" "$W/m3p" >"$W/out" 2>"$W/err"
check_eq "enroll --pcr-values with 3 generations in one file: exit 0" "$?" 0
check_eq "  ... the same policy hash as 3 files" "$(token_field m3p tpm2-policy-hash)" "\"$or3\""
check "  ... reports the 3 value sets" grep -q "(any of 3 value sets through a PolicyOR, lantern-tpm2 token)" "$W/out"
image m3s || not_ok "cryptsetup luksFormat"
{ cat "$W/A.pcrs"; printf '#\n'; cat "$W/B.pcrs"; } >"$W/AB.pcrs"
enroll --pcrs 16,23 --pcr-values "$W/AB.pcrs" --pcr-values - "$W/m3s" <"$W/C.pcrs" >"$W/out" 2>"$W/err"
check_eq "a file of 2 sets plus stdin: the same policy hash" "$(token_field m3s tpm2-policy-hash)" "\"$or3\""
reach B && unlock "$W/m3p" >"$W/out" 2>"$W/err"
check_eq "  ... the TPM at set B: unlock opens the token from the predict-format file" "$?" 0

# `lantern predict`'s own output: ten generations (a tree of groups of 8 and 2) under --root, PCR 11 from the
# bootspecs; the token's branches and root are predict --policy-pcrs 11's leaves and PolicyOR root.
R=$W/root
mkdir -p "$R/nix/var/nix/profiles"
K=/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1-linux/bzImage; I=/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1-initrd/initrd
mkdir -p "$R${K%/*}" "$R${I%/*}"
head -c 5000 /dev/urandom >"$R$K"; head -c 3000 /dev/urandom >"$R$I"
for n in $(seq 1 10); do
        t=/nix/store/ddddddddddddddddddddddddddddd$(printf %02d "$n")-nixos-system
        mkdir -p "$R$t"
        printf '{"org.nixos.bootspec.v1":{"init":"%s/init","initrd":"%s","kernel":"%s","kernelParams":["gen=%s"],"label":"NixOS %s","system":"x86_64-linux","toplevel":"%s"},"org.nixos.specialisation.v1":{}}\n' \
                "$t" "$I" "$K" "$n" "$n" "$t" >"$R$t/boot.json"
        ln -s "$t" "$R/nix/var/nix/profiles/system-$n-link"
done
"$LANTERN" predict --root "$R" --pcrs 11 --policy-pcrs 11 >"$W/predict.txt" 2>"$W/err" &&
"$LANTERN" predict --root "$R" --pcrs 11 --policy-pcrs 11 --json >"$W/predict.json" 2>"$W/err"
check_eq "lantern predict --policy-pcrs 11 over ten generations: a PolicyOR tree of 10 leaves" \
        "$(jq '.policyOr.levels | map(length)' -c "$W/predict.json")" "[10,2,1]"
image mpred || not_ok "cryptsetup luksFormat"
enroll --pcrs 11 --pcr-values "$W/predict.txt" "$W/mpred" >"$W/out" 2>"$W/err"
check_eq "enroll --pcrs 11 --pcr-values (lantern predict's text output): exit 0" "$?" 0
check_eq "  ... tpm2-policy-hash = lantern predict --policy-pcrs's PolicyOR root" \
        "$(token_field mpred tpm2-policy-hash)" "$(jq -c .policyOr.sha256 "$W/predict.json")"
check_eq "  ... tpm2-policy-branches = its leaves (each generation's PolicyPCR digest)" \
        "$(token_field mpred tpm2-policy-branches)" "$(jq -c '.policyOr.levels[0]' "$W/predict.json")"

# --- the sha1 bank ----------------------------------------------------------------------------------------------
image m1 || not_ok "cryptsetup luksFormat"
leaf A sha1 >/dev/null; leaf B sha1 >/dev/null
enroll --pcrs 16,23 --bank sha1 --pcr-values "$W/A.pcrs" --pcr-values "$W/B.pcrs" "$W/m1" >"$W/out" 2>"$W/err"
check_eq "--bank sha1 with 2 sets: exit 0" "$?" 0
check_eq "  ... policy hash = tpm2_policyor over tpm2_policypcr -l sha1:16,23 digests" \
        "$(token_field m1 tpm2-policy-hash)" "\"$(policy_or "$W/or1" "$W/A.sha1.leaf" "$W/B.sha1.leaf")\""
reach B && unlock "$W/m1" >"$W/out" 2>"$W/err"
check_eq "  ... the TPM at set B: unlock opens it" "$?" 0

# --- nine sets: a tree of two levels ------------------------------------------------------------------------------
image m9 || not_ok "cryptsetup luksFormat"
args=(); for s in A B C D E F G H I; do args+=(--pcr-values "$W/$s.pcrs"); done
enroll --pcrs 16,23 "${args[@]}" "$W/m9" >"$W/out" 2>"$W/err"
check_eq "enroll with 9 sets: exit 0" "$?" 0
policy_or "$W/g1" "$W/"{A,B,C,D,E,F,G,H}.sha256.leaf >/dev/null
policy_or "$W/g2" "$W/I.sha256.leaf" "$W/I.sha256.leaf" >/dev/null
check_eq "  ... policy hash = tpm2_policyor(tpm2_policyor(A..H), tpm2_policyor(I, I))" \
        "$(token_field m9 tpm2-policy-hash)" "\"$(policy_or "$W/root9" "$W/g1" "$W/g2")\""
reach I && unlock "$W/m9" >"$W/out" 2>"$W/err"
check_eq "  ... the TPM at set I (the second group): unlock opens it" "$?" 0
reach B && unlock "$W/m9" >"$W/out" 2>"$W/err"
check_eq "  ... the TPM at set B (the first group): unlock opens it" "$?" 0
reach Z && unlock "$W/m9" >"$W/out" 2>"$W/err"
check_eq "  ... the TPM at set Z: exit 1" "$?" 1
check "  ... none of the 9 sealed generations" grep -q "the PCRs match none of the 9 sealed generations" "$W/err"

# --- 64 sets (8 x 8), 65 refused -----------------------------------------------------------------------------------
for i in $(seq 1 65); do valueset "n$i"; done
for i in $(seq 1 64); do printf '# generation %d\n' "$i"; cat "$W/n$i.pcrs"; done >"$W/gens64.txt"
{ cat "$W/gens64.txt"; printf '# generation 65\n'; cat "$W/n65.pcrs"; } >"$W/gens65.txt"
image m64 || not_ok "cryptsetup luksFormat"
enroll --pcrs 16,23 --pcr-values "$W/gens64.txt" "$W/m64" >"$W/out" 2>"$W/err"
check_eq "enroll with 64 sets in one file: exit 0" "$?" 0
groups=()
for g in $(seq 0 7); do
        files=(); for j in $(seq 1 8); do leaf "n$((8 * g + j))" >/dev/null; files+=("$W/n$((8 * g + j)).sha256.leaf"); done
        policy_or "$W/g64.$g" "${files[@]}" >/dev/null
        groups+=("$W/g64.$g")
done
check_eq "  ... policy hash = tpm2_policyor over 8 tpm2_policyor's of 8" \
        "$(token_field m64 tpm2-policy-hash)" "\"$(policy_or "$W/root64" "${groups[@]}")\""
reach n60 && unlock "$W/m64" >"$W/out" 2>"$W/err"
check_eq "  ... the TPM at set 60 (the eighth group): unlock opens it" "$?" 0
image m65 || not_ok "cryptsetup luksFormat"
enroll --pcrs 16,23 --pcr-values "$W/gens65.txt" "$W/m65" >"$W/out" 2>"$W/err"
check_eq "65 sets: exit 2" "$?" 2
check "  ... more than 64 value sets, naming file and line" grep -q "$W/gens65.txt:322: more than 64 value sets" "$W/err"
enroll --pcrs 16,23 --pcr-values "$W/gens64.txt" --pcr-values "$W/A.pcrs" "$W/m65" >"$W/out" 2>"$W/err"
check_eq "64 sets in a file plus 1 in another: exit 2" "$?" 2
check_eq "  ... neither added a token or keyslot" \
        "$(cryptsetup luksDump "$W/m65" | grep -c -e 'lantern-tpm2' -e '^  1: luks2')" 0

# --- duplicates, PIN, one set, refused combinations ---------------------------------------------------------------
image mdup || not_ok "cryptsetup luksFormat"
enroll --pcrs 16,23 --pcr-values "$W/A.pcrs" --pcr-values "$W/A.pcrs" --pcr-values "$W/B.pcrs" "$W/mdup" \
        >"$W/out" 2>"$W/err"
check_eq "a duplicate set (A, A, B): exit 0" "$?" 0
check_eq "  ... kept: policy hash = tpm2_policyor(A, A, B)" "$(token_field mdup tpm2-policy-hash)" \
        "\"$(policy_or "$W/ordup" "$W/A.sha256.leaf" "$W/A.sha256.leaf" "$W/B.sha256.leaf")\""
reach A && unlock "$W/mdup" >"$W/out" 2>"$W/err"
check_eq "  ... the TPM at set A: unlock opens it" "$?" 0

image mpin || not_ok "cryptsetup luksFormat"
NEWPIN=2718 enroll --pcrs 16,23 --with-pin --pcr-values "$W/A.pcrs" --pcr-values "$W/B.pcrs" "$W/mpin" >"$W/out" 2>"$W/err"
check_eq "2 sets --with-pin: exit 0" "$?" 0
policy_or "$W/orpin" "$W/A.sha256.leaf" "$W/B.sha256.leaf" >/dev/null
tpm2_startauthsession -T "$T" -S "$W/s.ctx" >/dev/null &&
tpm2_policyor -T "$T" -S "$W/s.ctx" -l "sha256:$W/A.sha256.leaf,$W/B.sha256.leaf" >/dev/null &&
tpm2_policyauthvalue -T "$T" -S "$W/s.ctx" -L "$W/pin.policy" >/dev/null
tpm2_flushcontext -T "$T" "$W/s.ctx"
check_eq "  ... policy hash = tpm2_policyor then tpm2_policyauthvalue" "$(token_field mpin tpm2-policy-hash)" \
        "\"$(xxd -p -c 64 "$W/pin.policy")\""
reach B
PIN=2718 unlock "$W/mpin" >"$W/out" 2>"$W/err"
check_eq "  ... the TPM at set B, the PIN: unlock opens it" "$?" 0
PIN=1111 unlock "$W/mpin" >"$W/out" 2>"$W/err"
check_eq "  ... a wrong PIN: exit 1" "$?" 1
unlock "$W/mpin" >"$W/out" 2>"$W/err"
check_eq "  ... no PIN: exit 2" "$?" 2

image mone || not_ok "cryptsetup luksFormat"
enroll --pcrs 16,23 --pcr-values "$W/A.pcrs" "$W/mone" >"$W/out" 2>"$W/err"
check_eq "one set: exit 0, a systemd-tpm2 token of systemd's fields" "$(export_token mone 0 | jq -c '[.type, keys_unsorted]')" \
        '["systemd-tpm2",["type","keyslots","tpm2-blob","tpm2-pcrs","tpm2-pcr-bank","tpm2-primary-alg","tpm2-policy-hash","tpm2-pin"]]'
check_eq "  ... its policy hash is tpm2_policypcr's digest of the set" "$(token_field mone tpm2-policy-hash)" \
        "\"$(xxd -p -c 64 "$W/A.sha256.leaf")\""
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$W/key.pem" 2>/dev/null &&
        openssl pkey -in "$W/key.pem" -pubout -out "$W/pub.pem" || not_ok "openssl RSA key"
enroll --pcrs 16,23 --public-key "$W/pub.pem" --pcr-values "$W/A.pcrs" --pcr-values "$W/B.pcrs" "$W/mone" \
        >"$W/out" 2>"$W/err"
check_eq "--public-key with 2 sets: exit 2" "$?" 2
check "  ... not supported, says so" grep -q "public-key with several value sets is not supported" "$W/err"
printf 'sha256 16 %s\n# generation 2\n' "$Z64" >"$W/half.pcrs"; cat "$W/B.pcrs" >>"$W/half.pcrs"
enroll --pcrs 16,23 --pcr-values "$W/half.pcrs" "$W/mone" >"$W/out" 2>"$W/err"
check_eq "a set without PCR 23 before a '#' line: exit 2" "$?" 2
check "  ... naming the set's first line" grep -q "$W/half.pcrs:1: no sha256 value for PCR 23 in the value set" "$W/err"

# --- malformed lantern-tpm2 tokens ---------------------------------------------------------------------------------
cp "$W/m3" "$W/mbad" && cryptsetup token remove --token-id 0 "$W/mbad" || not_ok "cryptsetup token remove"
export_token m3 0 >"$W/good.json"
reach A
badtoken() {
        local name=$1 filter=$2 msg=$3 rc
        jq -c "$filter" "$W/good.json" >"$W/bad.json"
        cryptsetup token import --token-id 3 --json-file "$W/bad.json" "$W/mbad" || { not_ok "$name: token import"; return; }
        unlock "$W/mbad" >"$W/out" 2>"$W/err"
        rc=$?
        if [ "$rc" = 2 ] && grep -qF -- "$W/mbad: token 3: $msg" "$W/err"; then ok "$name: exit 2 naming token and field"
        else not_ok "$name (exit $rc)"; sed 's/^/#   /' "$W/err"; fi
        "$LANTERN" luks list "$W/mbad" >/dev/null 2>"$W/err"
        check_eq "  ... luks list: exit 2" "$?" 2
        cryptsetup token remove --token-id 3 "$W/mbad"
}
badtoken "a truncated branch digest" '.["tpm2-policy-branches"][1] |= .[0:63]' \
        "field 'tpm2-policy-branches': entry 1 is not 64 hex digits"
badtoken "a non-hex branch digest" '.["tpm2-policy-branches"][2] = ("zz" * 32)' \
        "field 'tpm2-policy-branches': entry 2 is not 64 hex digits"
badtoken "a branch that is a number" '.["tpm2-policy-branches"][0] = 7' \
        "field 'tpm2-policy-branches': entry 0 is not 64 hex digits"
badtoken "100 branches" '.["tpm2-policy-branches"] = [range(100) | ("ab" * 32)]' \
        "field 'tpm2-policy-branches' has 100 entries (expected 2 to 64)"
badtoken "one branch" '.["tpm2-policy-branches"] |= .[0:1]' \
        "field 'tpm2-policy-branches' has 1 entries (expected 2 to 64)"
badtoken "no branches" 'del(.["tpm2-policy-branches"])' "field 'tpm2-policy-branches' is missing or not an array"
badtoken "branches not an array" '.["tpm2-policy-branches"] = "x"' "field 'tpm2-policy-branches' is missing or not an array"
badtoken "no bank" 'del(.["tpm2-pcr-bank"])' "field 'tpm2-pcr-bank' is missing"
badtoken "a policy hash that is not the branches' root" '.["tpm2-policy-branches"] |= .[0:2]' \
        "field 'tpm2-policy-hash' is not the PolicyOR root of 'tpm2-policy-branches'"
check_exit "  ... the untouched token still opens at set A" 0 unlock "$W/m3"
finish
