# lantern pcr read against swtpm, with tpm2_pcrextend/tpm2_pcrread (tpm2-tools) as the oracle.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/swtpm.sh"

for tool in swtpm tpm2_pcrextend tpm2_pcrread python3 openssl; do
  command -v "$tool" >/dev/null || { not_ok "$tool is installed"; finish; }
done

swtpm_start "$TEST_TMP/tpm" || { not_ok "swtpm starts"; finish; }
ok "swtpm starts on $SWTPM_TCTI"
export TSS2_LOG=all+none # tpm2-tss's own logging would only add noise to the logs below

rand() { openssl rand -hex "$1"; }

# Extends in several banks at once, in PCRs on both sides of the 8-per-call boundary of TPM2_PCR_Read,
# and in some PCRs more than once.
extend_ok=1
for spec in \
    "0:sha1=$(rand 20),sha256=$(rand 32),sha384=$(rand 48),sha512=$(rand 64)" \
    "0:sha256=$(rand 32)" \
    "4:sha256=$(rand 32),sha384=$(rand 48)" \
    "7:sha1=$(rand 20),sha512=$(rand 64)" \
    "8:sha1=$(rand 20),sha256=$(rand 32),sha384=$(rand 48),sha512=$(rand 64)" \
    "11:sha256=$(rand 32)" "11:sha256=$(rand 32)" "11:sha256=$(rand 32)" \
    "12:sha384=$(rand 48)" \
    "15:sha512=$(rand 64)" \
    "16:sha1=$(rand 20),sha256=$(rand 32)" \
    "23:sha1=$(rand 20),sha256=$(rand 32),sha384=$(rand 48),sha512=$(rand 64)"; do
  tpm2_pcrextend -T "$SWTPM_TCTI" "$spec" || extend_ok=0
done
check_eq "tpm2_pcrextend into PCRs 0,4,7,8,11,12,15,16,23 of four banks" "$extend_ok" 1

# tpm2_pcrread's YAML-ish output ("  sha256:" then "    11: 0xABCD...") as "<bank> <pcr> <lowercase hex>".
oracle() {
  tpm2_pcrread -T "$SWTPM_TCTI" "$@" | awk '
    /^  [a-z0-9_]+:$/ { bank = $1; sub(/:$/, "", bank); next }
    /^ +[0-9]+ *: *0x[0-9A-Fa-f]+$/ {
      line = $0; gsub(/[ :]/, " ", line); split(line, f, " ")
      hex = tolower(f[2]); sub(/^0x/, "", hex)
      print bank, f[1], hex
    }'
}

oracle >"$TEST_TMP/want-all"
check_eq "oracle: tpm2_pcrread gives 4 banks x 24 PCRs" "$(wc -l <"$TEST_TMP/want-all")" 96
check_eq "oracle: the extends changed PCRs (sha256 PCR 11 is not zero)" \
  "$(grep -c '^sha256 11 0*$' "$TEST_TMP/want-all")" 0

"$LANTERN" pcr read --tcti "$SWTPM_TCTI" >"$TEST_TMP/got-all" 2>"$TEST_TMP/err"
check_eq "pcr read --tcti: exit 0" "$?" 0
check_eq "pcr read --tcti: every active bank and PCR equals tpm2_pcrread" \
  "$(sort "$TEST_TMP/got-all")" "$(sort "$TEST_TMP/want-all")"
check_eq "pcr read: banks in registry order, PCRs ascending" \
  "$(awk '{print $1}' "$TEST_TMP/got-all" | uniq | tr '\n' ' ')" "sha1 sha256 sha384 sha512 "
check_eq "pcr read: nothing on stderr" "$(cat "$TEST_TMP/err")" ""

got=$(TPM2TOOLS_TCTI=$SWTPM_TCTI "$LANTERN" pcr read)
check_eq "pcr read with TPM2TOOLS_TCTI" "$got" "$(cat "$TEST_TMP/got-all")"
got=$(TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=1 "$LANTERN" pcr read --tcti "$SWTPM_TCTI" 2>/dev/null)
check_eq "pcr read: --tcti wins over TPM2TOOLS_TCTI" "$got" "$(cat "$TEST_TMP/got-all")"
got=$(TPM2TOOLS_TCTI=$SWTPM_TCTI "$LANTERN" pcr read --tcti=$SWTPM_TCTI --bank sha256 0,7-9,11,23)
check_eq "pcr read --bank sha256 0,7-9,11,23" "$got" "$(oracle sha256:0,7,8,9,11,23)"
got=$("$LANTERN" pcr read --bank sha512,sha1 --tcti "$SWTPM_TCTI" 16-23)
check_eq "pcr read --bank sha512,sha1 16-23 (banks in the order asked)" "$got" \
  "$(oracle sha512:16,17,18,19,20,21,22,23; oracle sha1:16,17,18,19,20,21,22,23)"
got=$("$LANTERN" pcr read --tcti "$SWTPM_TCTI" --bank sha384 all)
check_eq "pcr read --bank sha384 all" "$got" "$(oracle sha384:all)"

"$LANTERN" pcr read --tcti "$SWTPM_TCTI" --json >"$TEST_TMP/got.json"
check_eq "pcr read --json: exit 0" "$?" 0
got=$(python3 - "$TEST_TMP/got.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
for bank, pcrs in doc.items():
    for pcr, hexv in pcrs.items():
        assert isinstance(hexv, str)
        print(bank, int(pcr), hexv)
EOF
)
check_eq "pcr read --json parses and equals tpm2_pcrread" "$(sort <<<"$got")" "$(sort "$TEST_TMP/want-all")"
got=$("$LANTERN" pcr read --json --tcti "$SWTPM_TCTI" --bank sha256 11 |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(d), sorted(d["sha256"]), d["sha256"]["11"])')
check_eq "pcr read --json --bank sha256 11: one bank, one PCR" "$got" \
  "['sha256'] ['11'] $(oracle sha256:11 | awk '{print $3}')"

# Bad input: exit 2, a message naming the problem, no output on stdout.
bad() {
  local name=$1 want_msg=$2 rc; shift 2
  "$LANTERN" "$@" >"$TEST_TMP/bad.out" 2>"$TEST_TMP/bad.err"
  rc=$?
  if [ "$rc" -eq 2 ] && grep -q -- "$want_msg" "$TEST_TMP/bad.err" && [ ! -s "$TEST_TMP/bad.out" ]; then
    ok "$name"
  else
    not_ok "$name (exit $rc)"
    sed 's/^/#   /' "$TEST_TMP/bad.err"
  fi
}
bad "bad input: unknown bank" "unknown bank 'md5'" pcr read --tcti "$SWTPM_TCTI" --bank md5
bad "bad input: empty bank list" "empty bank list" pcr read --tcti "$SWTPM_TCTI" --bank ,
bad "bad input: PCR 24" "invalid PCR list '24'" pcr read --tcti "$SWTPM_TCTI" 24
bad "bad input: PCR range backwards" "invalid PCR list '7-3'" pcr read --tcti "$SWTPM_TCTI" 7-3
bad "bad input: PCR list with junk" "invalid PCR list '1,x'" pcr read --tcti "$SWTPM_TCTI" 1,x
bad "bad input: two PCR lists" "unexpected argument '2'" pcr read --tcti "$SWTPM_TCTI" 1 2
bad "bad input: unknown option" "unknown or incomplete option '--frobnicate'" pcr read --frobnicate
bad "bad input: --tcti without value" "unknown or incomplete option '--tcti'" pcr read --tcti
bad "bad input: unknown verb" "unknown verb 'write'" pcr write
closed=$((SWTPM_PORT + 1000))
bad "unreachable TPM: exit 2, message names the TCTI" \
  "cannot reach the TPM: cannot open TCTI 'swtpm:host=127.0.0.1,port=$closed'" \
  pcr read --tcti "swtpm:host=127.0.0.1,port=$closed"
TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$closed" bad "unreachable TPM from TPM2TOOLS_TCTI" \
  "cannot open TCTI 'swtpm:host=127.0.0.1,port=$closed'" pcr read
bad "unknown TCTI module" "cannot open TCTI 'nosuchtcti:x'" pcr read --tcti nosuchtcti:x

check_exit "pcr read --help: exit 0" 0 "$LANTERN" pcr read --help
check_exit "pcr without a verb: exit 2" 2 "$LANTERN" pcr

pid=$(cat "$TEST_TMP/tpm/swtpm.pid")
swtpm_stop "$TEST_TMP/tpm"
check "swtpm_stop: the swtpm process is gone" test ! -e "/proc/$pid"
finish
