# lantern eventlog on real logs captured from QEMU + OVMF + swtpm boots (tests/fixtures/boot/*): replay equals
# the PCRs read in the guest and tpm2_eventlog's replay, every real digest check passes, and tampered logs and
# PCR files are caught.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

for tool in tpm2_eventlog jq python3; do
  command -v "$tool" >/dev/null || { not_ok "$tool is installed"; finish; }
done

# Writes a copy of $1 to $2 with the 4 bytes at offset $3 replaced by the little-endian u32 $4.
patch_u32() {
  python3 - "$1" "$2" "$3" "$4" <<'EOF'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
off = int(sys.argv[3], 0)
data[off:off + 4] = struct.pack("<I", int(sys.argv[4], 0))
open(sys.argv[2], "wb").write(data)
EOF
}

n_fixtures=0
for dir in "$LANTERN_FIXTURES"/boot/*/; do
  [ -f "$dir/eventlog.bin" ] || continue
  name=$(basename "$dir")
  log=$dir/eventlog.bin
  n_fixtures=$((n_fixtures + 1))
  t=$TEST_TMP/$name
  mkdir -p "$t"

  # Replay against both oracles.
  "$LANTERN" eventlog replay "$log" >"$t/replay" 2>"$t/err"
  check_eq "$name: replay exits 0" "$?" 0
  lab_eventlog_pcrs "$log" >"$t/tpm2"
  check "$name: tpm2_eventlog replays the log" test -s "$t/tpm2"
  check_eq "$name: replay equals tpm2_eventlog's, every bank and PCR" "$(cat "$t/replay")" "$(cat "$t/tpm2")"
  awk '{print $1}' "$t/replay" | uniq >"$t/banks"
  check_eq "$name: replay covers the four swtpm banks in registry order" "$(tr '\n' ' ' <"$t/banks")" \
    "sha1 sha256 sha384 sha512 "
  missing=$(grep -vxFf "$dir/pcrs.txt" "$t/replay" | head -3)
  check_eq "$name: every replayed value equals the guest's PCR (pcrs.txt)" "$missing" ""

  "$LANTERN" eventlog replay --json "$log" >"$t/replay.json"
  check_eq "$name: replay --json has the same values" \
    "$(jq -r 'to_entries[] | .key as $b | .value | to_entries[] | "\($b) \(.key) \(.value)"' "$t/replay.json")" \
    "$(cat "$t/replay")"

  # show: every event of tpm2_eventlog, every computable digest check passes.
  "$LANTERN" eventlog show --json "$log" >"$t/show.json" 2>"$t/err"
  check_eq "$name: show --json exits 0" "$?" 0
  check_eq "$name: show lists as many events as tpm2_eventlog" "$(jq '.events | length' "$t/show.json")" \
    "$(tpm2_eventlog "$log" 2>/dev/null | grep -c '^- EventNum:')"
  check_eq "$name: show types equal tpm2_eventlog's" \
    "$(jq -r '.events[].type' "$t/show.json")" \
    "$(tpm2_eventlog "$log" 2>/dev/null | awk '/^  EventType:/ {print $2}')"
  check_eq "$name: no real event fails its digest check" \
    "$(jq '[.events[] | select(.digest_check.verdict == "mismatch")] | length' "$t/show.json")" 0
  check_eq "$name: no real event fails to decode" \
    "$(jq '[.events[] | select(has("decode_error"))] | length' "$t/show.json")" 0
  for type in EV_SEPARATOR EV_EFI_ACTION EV_EFI_VARIABLE_DRIVER_CONFIG EV_EFI_VARIABLE_BOOT EV_S_CRTM_VERSION; do
    check_eq "$name: every $type digest is checked and matches" \
      "$(jq --arg t "$type" '[.events[] | select(.type == $t and .digest_check.verdict != "ok")] | length' \
        "$t/show.json")" 0
  done
  check_eq "$name: the UKI's PCR 11 section names are checked (EV_IPL text as ASCII)" \
    "$(jq '[.events[] | select(.pcr == 11 and .digest_check.verdict == "ok")] | length' "$t/show.json")" 4
  check "$name: the boot application's device path is decoded to text" \
    grep -q 'HD(1,MBR,0x[0-9a-f]*,0x[0-9a-f]*,0x[0-9a-f]*)/\\\\EFI\\\\' "$t/show.json"
  # The PCR 4 application digests are the Authenticode hashes pesign -h printed at capture time (info.txt).
  for what in bootloader uki; do
    want=$(awk -v k="$what-authenticode-sha256:" '$1 == k { print $2 }' "$dir/info.txt")
    [ -n "$want" ] || continue
    check_eq "$name: a PCR 4 boot application's sha256 digest is the $what's Authenticode hash (pesign -h)" \
      "$(jq -r --arg w "$want" '[.events[] | select(.pcr == 4 and .type == "EV_EFI_BOOT_SERVICES_APPLICATION"
           and .digests.sha256 == $w)] | length > 0' "$t/show.json")" true
  done
  "$LANTERN" eventlog show "$log" >"$t/show.txt"
  check_eq "$name: text show exits 0" "$?" 0

  # verify against the guest's PCRs, also as the kernel prints them (uppercase hex).
  "$LANTERN" eventlog verify "$log" --pcrs "$dir/pcrs.txt" >"$t/verify" 2>"$t/err"
  check_eq "$name: verify --pcrs pcrs.txt exits 0" "$?" 0
  check_eq "$name: verify prints one verdict per replayed PCR and bank" \
    "$(grep -c ' ok$' "$t/verify")" "$(wc -l <"$t/replay")"
  awk '{print $1, $2, toupper($3)}' "$dir/pcrs.txt" >"$t/pcrs-upper"
  check_exit "$name: verify accepts uppercase hex" 0 "$LANTERN" eventlog verify "$log" --pcrs "$t/pcrs-upper"
  "$LANTERN" eventlog verify --json "$log" --pcrs "$dir/pcrs.txt" >"$t/verify.json"
  check_eq "$name: verify --json says ok" "$(jq .ok "$t/verify.json")" true

  # A PCR value that differs: exit 1 and the PCR is named.
  awk '$1 == "sha256" && $2 == 4 { $3 = substr($3, 1, 63) (substr($3, 64, 1) == "0" ? "1" : "0") } { print }' \
    "$dir/pcrs.txt" >"$t/pcrs-bad"
  "$LANTERN" eventlog verify "$log" --pcrs "$t/pcrs-bad" >"$t/verify-bad" 2>&1
  check_eq "$name: verify with one wrong PCR exits 1" "$?" 1
  check "$name: verify names the mismatching PCR" grep -q '^sha256 4 MISMATCH' "$t/verify-bad"
  grep -v '^sha384 7 ' "$dir/pcrs.txt" >"$t/pcrs-missing"
  check_exit "$name: verify with a replayed PCR missing from the file exits 1" 1 \
    "$LANTERN" eventlog verify "$log" --pcrs "$t/pcrs-missing"
  { cat "$dir/pcrs.txt"; echo "sha256 4 nothex"; } >"$t/pcrs-garbage"
  "$LANTERN" eventlog verify "$log" --pcrs "$t/pcrs-garbage" >/dev/null 2>"$t/err"
  check_eq "$name: verify with a malformed PCR file exits 2" "$?" 2
  check "$name: the malformed PCR file's line is named" grep -q "pcrs-garbage:$(($(wc -l <"$dir/pcrs.txt") + 1)):" \
    "$t/err"

  # Tampering the digests cannot see: the event type (a boot application relabelled as an action) and data
  # (one character of an action string). The replay is unchanged; the digest check must catch both.
  bsa=$(jq '[.events[] | select(.type == "EV_EFI_BOOT_SERVICES_APPLICATION")][0].offset' "$t/show.json")
  patch_u32 "$log" "$t/retyped.bin" $((bsa + 4)) 0x80000007
  check_eq "$name: a relabelled event still replays to the guest's PCRs" \
    "$("$LANTERN" eventlog replay "$t/retyped.bin")" "$(cat "$t/replay")"
  "$LANTERN" eventlog verify "$t/retyped.bin" --pcrs "$dir/pcrs.txt" >"$t/verify-retyped" 2>&1
  check_eq "$name: verify of a log with a boot application relabelled EV_EFI_ACTION exits 1" "$?" 1
  check "$name: the relabelled event is listed" grep -q "^event [0-9]* at 0x$(printf %x "$bsa"): pcr 4 EV_EFI_ACTION" \
    "$t/verify-retyped"

  python3 - "$log" "$t/edited.bin" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
i = data.find(b"Calling EFI Application")  # OVMF's first EV_EFI_ACTION string
data[i] ^= 0x20
open(sys.argv[2], "wb").write(data)
EOF
  "$LANTERN" eventlog verify "$t/edited.bin" --pcrs "$dir/pcrs.txt" >"$t/verify-edited" 2>&1
  check_eq "$name: verify of a log with an edited EV_EFI_ACTION string exits 1" "$?" 1
  check "$name: the edited event is listed as a digest mismatch" grep -q 'EV_EFI_ACTION: sha1 digest is not' \
    "$t/verify-edited"
done
check "fixtures: at least one captured boot log" test "$n_fixtures" -ge 1

# Usage errors.
log=$(ls "$LANTERN_FIXTURES"/boot/*/eventlog.bin | head -1)
check_exit "verify without --pcrs or --tcti exits 2" 2 "$LANTERN" eventlog verify "$log"
check_exit "verify of a missing log exits 2" 2 "$LANTERN" eventlog verify "$TEST_TMP/none" --pcrs "$log"
check_exit "replay with two files exits 2" 2 "$LANTERN" eventlog replay "$log" "$log"
check_exit "unknown verb exits 2" 2 "$LANTERN" eventlog frobnicate "$log"
for verb in show replay verify; do
  out=$("$LANTERN" eventlog "$verb" --help)
  check_eq "eventlog $verb --help exits 0" "$?" 0
  check "eventlog $verb --help shows its usage" grep -q "Usage: lantern eventlog $verb" <<<"$out"
done
check_exit "eventlog --help exits 0" 0 "$LANTERN" eventlog --help
finish
