#!/bin/bash
# lanternd + lantern attest against swtpm manufactured by swtpm_setup (EK certificates signed by swtpm's local
# CA). The TPM's sha256 PCRs are extended with the digests tpm2_eventlog decodes from a captured boot log
# (tests/fixtures/boot/sd252-sdboot-sb-off), so the log replays to the quoted PCRs; the golden values are the
# PCRs read in that boot's guest. Checked: enrollment by credential activation, a passing verdict naming the
# generation and releasing the secret, and refusals with their message: replayed request, nonce never issued,
# quote over another nonce, tampered event log, a quote from another TPM (wrong AK), a PCR extended after the
# golden values were registered, a wrong activation credential, an EK certificate from an unknown CA; bad
# requests (400/401/404/405/413). Oracles: tpm2_nvread + openssl (machine id, EK chain), tpm2_readpublic (AK
# name), tpm2_pcrread (quoted values), tpm2_eventlog (log digests), hashlib (appended event).
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/swtpm.sh"
. "$LANTERN_TOP/tests/lanternd.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

for tool in swtpm swtpm_setup tpm2_pcrextend tpm2_nvread tpm2_readpublic tpm2_createprimary tpm2_eventlog curl \
            python3 openssl strace ldd; do
  command -v "$tool" >/dev/null || { not_ok "$tool is installed"; finish; }
done
LANTERND=$LANTERN_BUILD/lanternd
[ -x "$LANTERND" ] || { not_ok "lanternd is built ($LANTERND)"; finish; }
export TSS2_LOG=all+none
W=$TEST_TMP
FIX=$LANTERN_FIXTURES/boot/sd252-sdboot-sb-off
LOG=$FIX/eventlog.bin
CA=/var/lib/swtpm-localca

# manufacture DIR: a TPM state like a real one (EK certificates in NV, sha256 bank).
manufacture() {
  mkdir -p "$1"
  swtpm_setup --tpm2 --tpmstate "$1" --create-ek-cert --create-platform-cert --overwrite >"$1.setup.log" 2>&1
}
manufacture "$W/tpm" || { not_ok "swtpm_setup --create-ek-cert"; sed 's/^/#   /' "$W/tpm.setup.log"; finish; }
swtpm_start "$W/tpm" || { not_ok "swtpm starts"; finish; }
TPM=$SWTPM_TCTI
ok "swtpm with an EK certificate on $TPM"

# The boot's measurements into the sha256 bank, as tpm2_eventlog decodes them.
specs=$(lab_eventlog_digests "$LOG" | awk '$4 == "sha256" && $3 != "EV_NO_ACTION" { print $2 ":sha256=" $5 }')
[ -n "$specs" ] || { not_ok "tpm2_eventlog decodes $LOG"; finish; }
# shellcheck disable=SC2086
tpm2_pcrextend -T "$TPM" $specs || { not_ok "tpm2_pcrextend the log's digests"; finish; }
pcrval() { tpm2_pcrread -T "$TPM" "sha256:$1" | awk '/0x/ { v = $NF; sub(/^0x/, "", v); print tolower(v) }'; }
guest() { awk -v p="$1" '$1 == "sha256" && $2 == p { print $3 }' "$FIX/pcrs.txt"; }
check_eq "the TPM's PCR 4 after the log's extends = PCR 4 read in the guest" "$(pcrval 4)" "$(guest 4)"
check_eq "the TPM's PCR 11 after the log's extends = PCR 11 read in the guest" "$(pcrval 11)" "$(guest 11)"

# --- identity ----------------------------------------------------------------------------------------------
tpm2_nvread -T "$TPM" 0x01c00002 -o "$W/ek.der" 2>/dev/null
want_id=$(openssl x509 -inform DER -in "$W/ek.der" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)
ID=$("$LANTERN" attest id --tcti "$TPM")
check_eq "attest id = sha256 of the EK certificate's public key (tpm2_nvread + openssl)" "$ID" "$want_id"
check "oracle: openssl verify chains the EK certificate to swtpm's local CA" \
  openssl verify -CAfile "$CA/swtpm-localca-rootca-cert.pem" -untrusted "$CA/issuercert.pem" \
  <(openssl x509 -inform DER -in "$W/ek.der")

# --- lanternd ----------------------------------------------------------------------------------------------
TOKEN=$(openssl rand -hex 24)
printf '%s\n' "$TOKEN" >"$W/token"
lanternd_start "$W" "$W/token" --nonce-ttl 60 || { not_ok "lanternd starts"; cat "$W/lanternd.log"; finish; }
URL=$LANTERND_URL
ok "lanternd listens on $URL"
check "lanternd wrote its pid file" test -s "$W/lanternd.pid"

# api METHOD PATH [BODY_FILE] [admin]: prints "<status> <body>".
api() {
  local args=(-s -o "$W/api.out" -w '%{http_code}' -X "$1" "$URL$2")
  [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "@$3")
  [ -n "${4:-}" ] && args+=(-H "Authorization: Bearer $TOKEN")
  local code
  code=$(curl "${args[@]}")
  echo "$code $(cat "$W/api.out")"
}
jget() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read().split(" ",1)[1]); print(d'"$1"')'; }

# Golden values in `lantern predict --json`'s shape: generation 2 carries the PCRs read in the guest.
python3 - "$FIX/pcrs.txt" >"$W/golden.json" <<'EOF'
import json, sys
v = {}
for line in open(sys.argv[1]):
    bank, pcr, hexv = line.split()
    if bank == "sha256" and int(pcr) in (4, 7, 9, 11, 12):
        v[pcr] = hexv
other = dict(v, **{"11": "11" * 32})
print(json.dumps({"generations": [
    {"profile": "system", "generation": 1, "specialisation": None, "label": "NixOS old", "pcrs": {"sha256": other}},
    {"profile": "system", "generation": 2, "specialisation": None, "label": "NixOS lab", "pcrs": {"sha256": v}},
]}))
EOF
SECRET=$(openssl rand -base64 32)
printf '{"secret":"%s"}' "$SECRET" >"$W/secret.json"
r=$(api POST "/v1/machines/$ID/golden" "$W/golden.json")
check_eq "golden values without the admin token: 401" "${r%% *}" 401
r=$(api POST "/v1/machines/$ID/golden" "$W/golden.json" admin)
check_eq "golden values registered (2 generations)" "$r" "200 {\"machine\":\"$ID\",\"generations\":2}"
r=$(api POST "/v1/machines/$ID/secret" "$W/secret.json" admin)
check_eq "secret registered" "${r%% *}" 200
r=$(api GET "/v1/machines/$ID")
check_eq "before enrollment: the machine is known but not enrolled" "$(jget '["enrolled"]' <<<"$r")" False

# --- enroll + attest: pass -----------------------------------------------------------------------------------
"$LANTERN" attest --verifier "$URL" --tcti "$TPM" --eventlog "$LOG" --save-request "$W/req1.json" \
  >"$W/run1.out" 2>"$W/run1.err"
check_eq "attest: exit 0 on a passing verdict" "$?" 0
check "attest: enrolled now" grep -q "^machine $ID (enrolled now)$" "$W/run1.out"
check "attest: verdict pass" grep -q '^verdict pass$' "$W/run1.out"
check "attest: the verdict names generation 2" \
  grep -q '^reason the quoted PCRs are those predicted for generation 2 of profile system, "NixOS lab"$' "$W/run1.out"
check_eq "attest: the registered secret is released" "$(sed -n 's/^secret //p' "$W/run1.out")" "$SECRET"
check_eq "attest: nothing on stderr" "$(cat "$W/run1.err")" ""

tpm2_createprimary -T "$TPM" -C o -G ecc256:ecdsa-sha256:null -c "$W/ak.ctx" \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign' >/dev/null
tpm2_readpublic -T "$TPM" -c "$W/ak.ctx" -n "$W/ak.name" -o "$W/ak.pub" >/dev/null
tpm2_flushcontext -T "$TPM" -t >/dev/null 2>&1
r=$(api GET "/v1/machines/$ID")
check_eq "after enrollment: enrolled" "$(jget '["enrolled"]' <<<"$r")" True
check_eq "the enrolled AK's name = tpm2_readpublic's name of the AK template" "$(jget '["akName"]' <<<"$r")" \
  "$(xxd -p "$W/ak.name" | tr -d '\n')"
python3 - "$W/req1.json" <<'EOF' >"$W/req1.check"
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted(d)), " ".join(sorted(d["pcrs"]["sha256"], key=int)))
EOF
check_eq "the attest request: its members and the default PCRs" "$(cat "$W/req1.check")" \
  "eventlog machine nonce pcrs quote signature 0 1 2 3 4 5 6 7 8 9 11 12"
"$LANTERN" attest --verifier "$URL" --tcti "$TPM" --eventlog "$LOG" --json >"$W/run2.out" 2>&1
check_eq "second attest: exit 0, no new enrollment" "$?:$(grep -c 'enrolled now' "$W/run2.out")" "0:0"
check_eq "--json: the verdict's generation" \
  "$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["generation"]; print(g["profile"], g["generation"], g["specialisation"], g["label"])' "$W/run2.out")" \
  "system 2 None NixOS lab"

# --- refusals ------------------------------------------------------------------------------------------------
# refused NAME REQUEST_FILE MESSAGE: POST /v1/attest answers 403 with a fail verdict whose reason has MESSAGE.
refused() {
  local r reason
  r=$(api POST /v1/attest "$2")
  reason=$(jget '["reason"]' <<<"$r" 2>/dev/null)
  if [ "${r%% *}" = 403 ] && [ "$(jget '["verdict"]' <<<"$r" 2>/dev/null)" = fail ] && [[ "$reason" == *"$3"* ]]; then
    ok "$1"
  else
    not_ok "$1"
    echo "#   got: $r"
    echo "#   want: 403, reason containing: $3"
  fi
}
refused "replayed request: refused" "$W/req1.json" "nonce unknown, already used or expired"

# request OUT [--nonce-quote HEX] [--log FILE] [--tcti T] [--machine ID] [--nonce HEX]: a request built from
# a fresh nonce and `lantern attest quote` files.
request() {
  local out=$1 qnonce="" log=$LOG tcti=$TPM machine=$ID nonce=""
  shift
  while [ $# -gt 0 ]; do
    case $1 in
    --nonce-quote) qnonce=$2 ;; --log) log=$2 ;; --tcti) tcti=$2 ;; --machine) machine=$2 ;; --nonce) nonce=$2 ;;
    esac
    shift 2
  done
  [ -n "$nonce" ] || nonce=$(api GET /v1/nonce | jget '["nonce"]')
  "$LANTERN" attest quote --tcti "$tcti" --nonce "${qnonce:-$nonce}" --pcrs 0-9,11,12 \
    --message "$W/q.msg" --signature "$W/q.sig" --pcr "$W/q.pcr" || return 1
  python3 - "$machine" "$nonce" "$W/q.msg" "$W/q.sig" "$W/q.pcr" "$log" >"$out" <<'EOF'
import base64, json, sys
machine, nonce, msg, sig, pcr, log = sys.argv[1:]
vals = open(pcr, "rb").read()
pcrs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12]
b64 = lambda p: base64.b64encode(open(p, "rb").read()).decode()
print(json.dumps({"machine": machine, "nonce": nonce, "quote": b64(msg), "signature": b64(sig),
                  "pcrs": {"sha256": {str(p): vals[32 * i:32 * i + 32].hex() for i, p in enumerate(pcrs)}},
                  "eventlog": b64(log)}))
EOF
}
request "$W/ok.json" && r=$(api POST /v1/attest "$W/ok.json")
check_eq "a request built from lantern attest quote files passes" "$(jget '["verdict"]' <<<"$r")" pass
request "$W/unissued.json" --nonce "$(openssl rand -hex 32)"
refused "nonce never issued: refused" "$W/unissued.json" "nonce unknown, already used or expired"
request "$W/othernonce.json" --nonce-quote "$(openssl rand -hex 32)"
refused "quote over another nonce: refused" "$W/othernonce.json" \
  "the quote's nonce (extraData, 32 bytes) is not the one expected"

# Tampered log: one byte of the sha256 digest of the first PCR 4 event (offset from our own parser, the
# change checked with tpm2_eventlog).
off=$("$LANTERN" eventlog show --json "$LOG" | python3 -c '
import json, sys
d = json.load(sys.stdin)
evs = d["events"] if isinstance(d, dict) else d
for e in evs:
    if e.get("pcr") == 4:
        print(e["offset"]); break' 2>/dev/null)
python3 - "$LOG" "$W/tampered.bin" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
# Walk the crypto-agile log: header TCG_PCR_EVENT, then TCG_PCR_EVENT2 records.
import struct
hdr_size = struct.unpack_from("<I", data, 28)[0]
pos = 32 + hdr_size
spec = data[32:32 + hdr_size]
n_algs = struct.unpack_from("<I", spec, 24)[0]
sizes = {struct.unpack_from("<H", spec, 28 + 4 * i)[0]: struct.unpack_from("<H", spec, 30 + 4 * i)[0] for i in range(n_algs)}
while pos < len(data):
    pcr, typ, count = struct.unpack_from("<III", data, pos)
    p = pos + 12
    for _ in range(count):
        alg = struct.unpack_from("<H", data, p)[0]
        if pcr == 4 and alg == 0x000B:
            data[p + 2] ^= 0xFF
            open(sys.argv[2], "wb").write(data)
            sys.exit(0)
        p += 2 + sizes[alg]
    pos = p + 4 + struct.unpack_from("<I", data, p)[0]
sys.exit(1)
EOF
check "oracle: the tampered log differs from the boot's in PCR 4 (tpm2_eventlog)" \
  test "$(lab_eventlog_pcrs "$W/tampered.bin" | awk '$1 == "sha256" && $2 == 4')" != \
       "$(lab_eventlog_pcrs "$LOG" | awk '$1 == "sha256" && $2 == 4')"
request "$W/tampered.json" --log "$W/tampered.bin"
refused "tampered event log: refused, naming PCR 4" "$W/tampered.json" \
  "event log does not replay to the quoted PCR 4:"

# Another TPM's quote sent as this machine's: the AK differs.
manufacture "$W/tpm2" && swtpm_start "$W/tpm2" || { not_ok "second swtpm"; finish; }
TPM2=$SWTPM_TCTI
request "$W/wrongak.json" --tcti "$TPM2"
refused "a quote by another TPM's AK: refused" "$W/wrongak.json" "the quote's signature does not verify with the AK"

# A PCR extended after the golden values were registered, with a matching event appended to the log.
python3 - "$LOG" "$W/extended.bin" "$W/pcr12.digest" <<'EOF'
import hashlib, struct, sys
data = open(sys.argv[1], "rb").read()
hdr_size = struct.unpack_from("<I", data, 28)[0]
spec = data[32:32 + hdr_size]
n_algs = struct.unpack_from("<I", spec, 24)[0]
algs = [struct.unpack_from("<HH", spec, 28 + 4 * i) for i in range(n_algs)]
names = {0x0004: "sha1", 0x000B: "sha256", 0x000C: "sha384", 0x000D: "sha512"}
event = b"lantern test: a command line given at boot\0"
rec = struct.pack("<III", 12, 0x0D, len(algs))  # PCR 12, EV_IPL
for alg, size in algs:
    rec += struct.pack("<H", alg) + hashlib.new(names[alg], event).digest()
rec += struct.pack("<I", len(event)) + event
open(sys.argv[2], "wb").write(data + rec)
open(sys.argv[3], "w").write(hashlib.sha256(event).hexdigest())
EOF
tpm2_pcrextend -T "$TPM" "12:sha256=$(cat "$W/pcr12.digest")"
check "oracle: tpm2_eventlog replays the extended log to the TPM's new PCR 12" \
  test "$(lab_eventlog_pcrs "$W/extended.bin" | awk '$1 == "sha256" && $2 == 12 { print $3 }')" = "$(pcrval 12)"
"$LANTERN" attest --verifier "$URL" --tcti "$TPM" --eventlog "$W/extended.bin" >"$W/run3.out" 2>"$W/run3.err"
check_eq "PCR 12 changed after golden registration: exit 1" "$?" 1
check "PCR 12 changed: verdict fail" grep -q '^verdict fail$' "$W/run3.out"
check "PCR 12 changed: the reason names PCR 12 with the golden and the quoted value" grep -qF \
  "reason no golden generation matches the quoted PCRs; closest is generation 2 of profile system, \"NixOS lab\": PCR 12 expected $(guest 12), quoted $(pcrval 12)" \
  "$W/run3.out"
check "PCR 12 changed: no secret" bash -c "! grep -q '^secret' '$W/run3.out'"
"$LANTERN" attest --verifier "$URL" --tcti "$TPM" --eventlog "$LOG" >"$W/run4.out" 2>&1
check_eq "the old log after the extend: exit 1" "$?" 1
check "the old log after the extend: the log does not replay to PCR 12" \
  grep -q '^reason event log does not replay to the quoted PCR 12: .* the quote has '"$(pcrval 12)"'$' "$W/run4.out"

# --- enrollment refusals --------------------------------------------------------------------------------------
tpm2_readpublic -T "$TPM" -c 0x81010001 >/dev/null 2>&1 || true
python3 - "$W/ek.der" "$W/ak.pub" >"$W/enroll.json" <<'EOF'
import base64, json, sys
print(json.dumps({"ekCert": base64.b64encode(open(sys.argv[1], "rb").read()).decode(),
                  "akPublic": base64.b64encode(open(sys.argv[2], "rb").read()).decode()}))
EOF
r=$(api POST /v1/enroll "$W/enroll.json")
check_eq "enroll: a challenge for the EK certificate and tpm2_readpublic's AK" "${r%% *}" 200
enr=$(jget '["enrollment"]' <<<"$r")
printf '{"enrollment":"%s","credential":"%s"}' "$enr" "$(openssl rand -hex 32)" >"$W/activate.json"
r=$(api POST /v1/activate "$W/activate.json")
check_eq "activate with a wrong credential: 403" "$r" \
  '403 {"error":"activate: wrong credential: the AK is not in the TPM of that EK"}'
r=$(api POST /v1/activate "$W/activate.json")
check_eq "the enrollment is spent by the wrong credential: 404" "${r%% *}" 404
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/rogue.key" -subj /CN=rogue-ek -days 1 -outform DER \
  -out "$W/rogue.der" 2>/dev/null
python3 - "$W/rogue.der" "$W/ak.pub" >"$W/rogue.json" <<'EOF'
import base64, json, sys
print(json.dumps({"ekCert": base64.b64encode(open(sys.argv[1], "rb").read()).decode(),
                  "akPublic": base64.b64encode(open(sys.argv[2], "rb").read()).decode()}))
EOF
r=$(api POST /v1/enroll "$W/rogue.json")
check_eq "enroll with an EK certificate from an unknown CA: 403" "${r%% *}" 403
check "  ... the error says it does not chain" grep -q 'does not chain to a trusted EK CA' <<<"$r"

# --- bad requests ---------------------------------------------------------------------------------------------
bad() {
  local name=$1 want=$2 msg=$3 file=$4 r
  r=$(api POST /v1/attest "$file")
  if [ "${r%% *}" = "$want" ] && grep -qF -- "$msg" <<<"$r"; then ok "$name"; else not_ok "$name"; echo "#   got: $r"; fi
}
printf '{"machine":' >"$W/b1.json"
bad "truncated JSON: 400 naming the offset" 400 '"error":"attest: body: offset 11: unexpected end of JSON"' "$W/b1.json"
python3 -c 'print("[" * 100 + "]" * 100)' >"$W/b2.json"
bad "deep JSON: 400" 400 '"error":"attest: body: offset 8: nesting too deep"' "$W/b2.json"
python3 - "$W/ok.json" >"$W/b3.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["quote"] = "not base64!"; print(json.dumps(d))
EOF
bad "quote not base64: 400 naming the field" 400 '$.quote: not base64' "$W/b3.json"
python3 - "$W/ok.json" >"$W/b4.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["pcrs"]["sha256"]["24"] = "00" * 32; print(json.dumps(d))
EOF
bad "PCR 24: 400" 400 '$.pcrs.sha256.24: not a PCR index 0-23' "$W/b4.json"
python3 - "$W/ok.json" >"$W/b5.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["extra"] = 1; print(json.dumps(d))
EOF
bad "unknown member: 400" 400 '$.extra: unknown member' "$W/b5.json"
python3 - "$W/ok.json" >"$W/b6.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["eventlog"] = "AAAA" * 1000; print(json.dumps(d))
EOF
# 3000 zero bytes read as SHA-1 records of 32 bytes: the 94th (event 93, at 2976) has 16 of its 20 digest bytes.
bad "an event log that is not one: 400 with the event and offset" 400 \
  'attest: $.eventlog: event log: event 93 at offset 2984: truncated' "$W/b6.json"
head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' 'A' >"$W/huge.json"
bad "body over 8 MiB: 413" 413 'request body larger than 8388608 bytes' "$W/huge.json"
r=$(api GET /v1/machines/0000000000000000000000000000000000000000000000000000000000000000)
check_eq "unknown machine: 404" "${r%% *}" 404
r=$(api DELETE /v1/nonce)
check_eq "DELETE /v1/nonce: 405" "${r%% *}" 405
r=$(api GET /v1/nothing)
check_eq "unknown path: 404" "${r%% *}" 404

# --- the client's own errors: exit 2 ------------------------------------------------------------------------
closed=$((SWTPM_PORT + 3000))
"$LANTERN" attest --verifier "http://127.0.0.1:$closed" --tcti "$TPM" --eventlog "$LOG" >/dev/null 2>"$W/e1"
check_eq "unreachable verifier: exit 2" "$?" 2
check "unreachable verifier: the message names the URL" grep -q "127.0.0.1:$closed/v1/machines/$ID: Couldn't connect to server" "$W/e1"
"$LANTERN" attest --verifier "$URL" --tcti "$TPM" --eventlog "$W/nonexistent" >/dev/null 2>"$W/e2"
check_eq "missing event log: exit 2" "$?" 2
check "missing event log: the message names the file" grep -q "event log $W/nonexistent: No such file or directory" "$W/e2"
check_exit "attest without --verifier: exit 2" 2 "$LANTERN" attest --tcti "$TPM"
check_exit "attest with an unknown verb: exit 2" 2 "$LANTERN" attest frobnicate

# --- stop by pid --------------------------------------------------------------------------------------------
# libcurl is loaded by the client at run time, not linked: no lantern command pays for loading it.
check "lantern does not link libcurl (ldd)" bash -c '! ldd "$1" | grep -q libcurl' _ "$LANTERN"
check "lantern attest loads libcurl.so.4 when it runs (strace: openat)" \
  bash -c 'strace -f -e trace=openat "$@" 2>&1 >/dev/null | grep -q "libcurl\.so\.4"' _ \
  "$LANTERN" attest --verifier "$URL" --tcti "$TPM" --eventlog "$LOG" --json
pid=$(cat "$W/lanternd.pid")
lanternd_stop "$W"
check "lanternd stopped by its pid" test ! -e "/proc/$pid"
check "lanternd removed its pid file" test ! -e "$W/lanternd.pid"
finish
