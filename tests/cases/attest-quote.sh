#!/bin/bash
# TPM2 quotes both ways against tpm2-tools on swtpm: `tpm2_checkquote` accepts the files `lantern attest quote`
# writes, and `lantern attest check-quote` accepts tpm2_quote's (AKs made by tpm2_createak: ECDSA and RSASSA),
# and refuses what tpm2_checkquote refuses: another nonce, a changed message, changed PCR values; with
# --eventlog it replays a captured boot log to the quoted PCRs (the TPM extended with tpm2_eventlog's digests).
# tpm2_checkquote 5.4 fails on its own tpm2_quote output when 8 or more PCRs are quoted with --pcrs_format values,
# so the oracle runs use at most 7.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/swtpm.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

for tool in swtpm swtpm_setup tpm2_quote tpm2_checkquote tpm2_createak tpm2_pcrextend tpm2_eventlog openssl; do
  command -v "$tool" >/dev/null || { not_ok "$tool is installed"; finish; }
done
export TSS2_LOG=all+none
W=$TEST_TMP
LOG=$LANTERN_FIXTURES/boot/sd252-sdboot-sb-off/eventlog.bin

mkdir -p "$W/tpm"
swtpm_setup --tpm2 --tpmstate "$W/tpm" --create-ek-cert --overwrite >"$W/setup.log" 2>&1 ||
  { not_ok "swtpm_setup"; finish; }
swtpm_start "$W/tpm" || { not_ok "swtpm starts"; finish; }
TPM=$SWTPM_TCTI
specs=$(lab_eventlog_digests "$LOG" | awk '$4 == "sha256" && $3 != "EV_NO_ACTION" { print $2 ":sha256=" $5 }')
# shellcheck disable=SC2086
tpm2_pcrextend -T "$TPM" $specs || { not_ok "tpm2_pcrextend the boot log's digests"; finish; }
ok "swtpm on $TPM, PCRs extended with the boot log's sha256 digests"

PCRS=0,4,7,9,11,12
N=$(openssl rand -hex 32)

# --- lantern attest quote -> tpm2_checkquote ---------------------------------------------------------------
"$LANTERN" attest quote --tcti "$TPM" --nonce "$N" --pcrs "$PCRS" --message "$W/m" --signature "$W/s" \
  --pcr "$W/p" --ak-public "$W/ak.pub"
check_eq "lantern attest quote: exit 0" "$?" 0
check "tpm2_checkquote accepts lantern's quote (message, signature, PCR values, nonce)" \
  tpm2_checkquote -u "$W/ak.pub" -m "$W/m" -s "$W/s" -f "$W/p" -l "sha256:$PCRS" -q "$N" -g sha256
check "oracle sanity: tpm2_checkquote refuses it with another nonce" \
  bash -c "! tpm2_checkquote -u '$W/ak.pub' -m '$W/m' -s '$W/s' -f '$W/p' -l 'sha256:$PCRS' -q 00 -g sha256 >/dev/null 2>&1"
tpm2_pcrread -T "$TPM" "sha256:$PCRS" -o "$W/p.oracle" >/dev/null
check "the PCR values file = tpm2_pcrread -o" cmp "$W/p" "$W/p.oracle"
check "lantern attest check-quote accepts its own quote with the event log" \
  "$LANTERN" attest check-quote --ak-public "$W/ak.pub" --message "$W/m" --signature "$W/s" --pcr "$W/p" \
  --nonce "$N" --eventlog "$LOG"

# --- tpm2_quote -> lantern attest check-quote --------------------------------------------------------------
for kind in "ecc ecdsa" "rsa rsassa"; do
  set -- $kind
  name="$1/$2"
  d=$W/$1-$2
  mkdir -p "$d"
  tpm2_createak -T "$TPM" -C 0x81010001 -c "$d/ak.ctx" -u "$d/ak.pub" -G "$1" -g sha256 -s "$2" >/dev/null ||
    { not_ok "tpm2_createak $name"; continue; }
  tpm2_quote -T "$TPM" -c "$d/ak.ctx" -l "sha256:$PCRS" -q "$N" -m "$d/m" -s "$d/s" -o "$d/p" -F values \
    -g sha256 >/dev/null || { not_ok "tpm2_quote $name"; continue; }
  tpm2_flushcontext -T "$TPM" -t >/dev/null 2>&1
  check "$name: oracle: tpm2_checkquote accepts tpm2_quote's files" \
    tpm2_checkquote -u "$d/ak.pub" -m "$d/m" -s "$d/s" -f "$d/p" -l "sha256:$PCRS" -q "$N" -g sha256
  out=$("$LANTERN" attest check-quote --ak-public "$d/ak.pub" --message "$d/m" --signature "$d/s" --pcr "$d/p" \
    --nonce "$N" --eventlog "$LOG" 2>&1)
  check_eq "$name: lantern attest check-quote accepts tpm2_quote's files, the log replays" "$?:$out" \
    "0:quote verified: signature, nonce, event log replay, 6 sha256 PCRs"
  out=$("$LANTERN" attest check-quote --ak-public "$d/ak.pub" --message "$d/m" --signature "$d/s" --pcr "$d/p" \
    --nonce "${N%??}00" 2>&1)
  check_eq "$name: another nonce: exit 1" "$?:$out" \
    "1:lantern: attest check-quote: refused: the quote's nonce (extraData, 32 bytes) is not the one expected"
  cp "$d/m" "$d/m.bad"
  printf '\x01' | dd of="$d/m.bad" bs=1 seek=40 conv=notrunc status=none
  out=$("$LANTERN" attest check-quote --ak-public "$d/ak.pub" --message "$d/m.bad" --signature "$d/s" \
    --pcr "$d/p" 2>&1)
  check_eq "$name: a changed message byte: exit 1, signature" "$?:$out" \
    "1:lantern: attest check-quote: refused: the quote's signature does not verify with the AK"
  check "  ... tpm2_checkquote refuses it too" \
    bash -c "! tpm2_checkquote -u '$d/ak.pub' -m '$d/m.bad' -s '$d/s' -f '$d/p' -l 'sha256:$PCRS' -q '$N' -g sha256 >/dev/null 2>&1"
  cp "$d/p" "$d/p.bad"
  printf '\x01' | dd of="$d/p.bad" bs=1 seek=33 conv=notrunc status=none
  out=$("$LANTERN" attest check-quote --ak-public "$d/ak.pub" --message "$d/m" --signature "$d/s" \
    --pcr "$d/p.bad" 2>&1)
  check_eq "$name: a changed PCR value: exit 1" "$?:$out" \
    "1:lantern: attest check-quote: refused: the PCR values do not hash to the quote's PCR digest"
  check "  ... tpm2_checkquote refuses it too" \
    bash -c "! tpm2_checkquote -u '$d/ak.pub' -m '$d/m' -s '$d/s' -f '$d/p.bad' -l 'sha256:$PCRS' -q '$N' -g sha256 >/dev/null 2>&1"
done

# The wrong AK: lantern's quote checked with tpm2_createak's ECC key.
out=$("$LANTERN" attest check-quote --ak-public "$W/ecc-ecdsa/ak.pub" --message "$W/m" --signature "$W/s" \
  --pcr "$W/p" 2>&1)
check_eq "another AK's public key: exit 1" "$?:$out" \
  "1:lantern: attest check-quote: refused: the quote's signature does not verify with the AK"

# --- bad input: exit 2, the file named ------------------------------------------------------------------------
head -c 50 "$W/m" >"$W/m.short"
out=$("$LANTERN" attest check-quote --ak-public "$W/ak.pub" --message "$W/m.short" --signature "$W/s" --pcr "$W/p" 2>&1)
check_eq "truncated message: exit 2" "$?" 2
check "  ... names the file" grep -q "^lantern: attest check-quote: $W/m.short: quote message: not a TPMS_ATTEST (50 bytes)" <<<"$out"
head -c 100 "$W/p" >"$W/p.short"
out=$("$LANTERN" attest check-quote --ak-public "$W/ak.pub" --message "$W/m" --signature "$W/s" --pcr "$W/p.short" 2>&1)
check_eq "short PCR values file: exit 2 with the sizes" "$?:$out" \
  "2:lantern: attest check-quote: $W/p.short: PCR values: 100 bytes for 6 sha256 PCRs (want 192)"
out=$("$LANTERN" attest check-quote --ak-public "$W/m" --message "$W/m" --signature "$W/s" --pcr "$W/p" 2>&1)
check_eq "a message given as the AK: exit 2" "$?" 2
check "  ... names the file" grep -q "^lantern: attest check-quote: $W/m: " <<<"$out"
out=$("$LANTERN" attest quote --tcti "$TPM" --nonce xyz --message "$W/x" --signature "$W/x" --pcr "$W/x" 2>&1)
check_eq "quote --nonce xyz: exit 2" "$?:$out" "2:lantern: attest: --nonce 'xyz': want 1 to 64 bytes of hex"
finish
