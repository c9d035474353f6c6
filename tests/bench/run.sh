#!/bin/bash
# Benchmarks lantern against the peer tools, with hyperfine.
#
#   tests/bench/run.sh [--build DIR] [--runs N] [--warmup N] [--work DIR]
#
#   1. `lantern eventlog replay` vs `tpm2_eventlog` on tests/fixtures/boot/*/eventlog.bin and on a synthetic
#      5,000-event crypto-agile log (sha1+sha256+sha384+sha512, made by gen-eventlog.py);
#   2. `lantern pe hash` vs `pesign -h -i` on a 100 MB PE (linuxx64.efi.stub plus a 100 MB section of random
#      bytes, made with objcopy).
# Before timing anything, each pair must agree: the replayed PCRs equal tpm2_eventlog's, the Authenticode
# SHA-256 equals pesign's; a disagreement stops the run (exit 1). Inputs are cached in the work directory
# (default .cache/bench). Results: a Markdown table on stdout and in WORK/results.md, raw data in
# WORK/*.json.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lab/lab.sh"
build=$top/build
work=$top/.cache/bench
runs=20
warmup=3
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; exit 2 ;;
  esac
done
lantern=$build/lantern
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub

die() { echo "bench: $*" >&2; exit 1; }
for tool in hyperfine tpm2_eventlog pesign objcopy python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ -x "$lantern" ] || die "$lantern is missing (meson compile -C $build)"
[ -f "$stub" ] || die "$stub is missing (systemd-boot-efi)"
mkdir -p "$work" || die "cannot create $work"
# A copy, so that a rebuild of the tree during the run cannot swap the binary under hyperfine.
cp "$lantern" "$work/lantern" || die "cannot copy $lantern"
lantern=$work/lantern

# --- inputs -------------------------------------------------------------------------------------------
synthetic=$work/synthetic-5000.bin
if [ ! -s "$synthetic" ]; then
  python3 "$top/tests/bench/gen-eventlog.py" --events 5000 "$synthetic" || die "gen-eventlog.py failed"
fi
bigpe=$work/stub-100M.efi
if [ ! -s "$bigpe" ]; then
  head -c 100000000 /dev/urandom >"$work/random-100M.bin" || die "cannot write $work/random-100M.bin"
  objcopy --add-section .bench="$work/random-100M.bin" --change-section-vma .bench=0x1000000 \
    --set-section-flags .bench=data,readonly "$stub" "$bigpe" || die "objcopy failed"
  rm -f "$work/random-100M.bin"
fi
logs=()
for f in "$top"/tests/fixtures/boot/*/eventlog.bin; do [ -s "$f" ] && logs+=("$f"); done
logs+=("$synthetic")

# --- agreement checks ---------------------------------------------------------------------------------
# lantern's text output: "<bank> <pcr> <hex>" lines.
lantern_pcrs() {
  "$lantern" eventlog replay "$1" | awk 'NF == 3 && $2 ~ /^[0-9]+$/ { print $1, $2, tolower($3) }'
}
for log in "${logs[@]}"; do
  peer=$(lab_eventlog_pcrs "$log") || die "tpm2_eventlog failed on $log"
  ours=$(lantern_pcrs "$log") || die "lantern eventlog replay failed on $log"
  [ -n "$peer" ] || die "tpm2_eventlog printed no PCRs for $log"
  # Every PCR tpm2_eventlog reports must be in ours with the same value; ours may list more PCRs
  # (untouched ones), but never a different value for one tpm2_eventlog reports.
  missing=$(comm -23 <(sort <<<"$peer") <(sort <<<"$ours"))
  [ -z "$missing" ] || die "$log: lantern eventlog replay disagrees with tpm2_eventlog on:
$missing"
  echo "agree: $(wc -l <<<"$peer") PCR values of $(basename "$(dirname "$log")")/$(basename "$log")" >&2
done
peer_hash=$(pesign -h -i "$bigpe" | awk '/^hash:/ { print tolower($2) }')
our_hash=$("$lantern" pe hash "$bigpe" | grep -oiE '\b[0-9a-f]{64}\b' | head -1 | tr 'A-F' 'a-f')
[ -n "$peer_hash" ] && [ "$peer_hash" == "$our_hash" ] ||
  die "Authenticode SHA-256 of $bigpe: pesign '$peer_hash', lantern '$our_hash'"
echo "agree: Authenticode SHA-256 of a $(stat -c %s "$bigpe")-byte PE: $peer_hash" >&2

# --- timing -------------------------------------------------------------------------------------------
results=$work/results.md
{
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), lantern $(git -C "$top" rev-parse --short HEAD 2>/dev/null) ($(basename "$build"))"
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB," \
       "Linux $(uname -r), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- peers: $(dpkg-query -W -f 'tpm2-tools ${Version}' tpm2-tools), $(dpkg-query -W -f 'pesign ${Version}' pesign)," \
       "$(hyperfine --version); $warmup warmup runs, at least $runs timed runs"
  echo
  echo "| input | lantern wall (ms) | peer wall (ms) | peer tool | lantern / peer (wall) | lantern CPU (ms) | peer CPU (ms) | lantern / peer (CPU) |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$results"

# bench NAME PEERNAME LANTERN_CMD PEER_CMD
bench() {
  local name=$1 peer=$2 json=$work/$1.json
  hyperfine --warmup "$warmup" --min-runs "$runs" --shell=none --export-json "$json" \
    --command-name lantern "$3" --command-name "$peer" "$4" >&2 || die "hyperfine failed for $name"
  python3 - "$json" "$name" "$peer" >>"$results" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
ours, peer = r["lantern"], r[sys.argv[3]]
ms = lambda x: "%.1f ± %.1f" % (x["mean"] * 1e3, x["stddev"] * 1e3)
cpu = lambda x: x["user"] + x["system"]  # mean user + system time
print("| %s | %s | %s | %s | %.2f | %.1f | %.1f | %.2f |" % (
    sys.argv[2], ms(ours), ms(peer), sys.argv[3], ours["mean"] / peer["mean"],
    cpu(ours) * 1e3, cpu(peer) * 1e3, cpu(ours) / cpu(peer)))
EOF
}
for log in "${logs[@]}"; do
  name=$(basename "$(dirname "$log")")
  [ "$log" == "$synthetic" ] && name=synthetic-5000
  bench "replay-$name" tpm2_eventlog "$lantern eventlog replay $log" "tpm2_eventlog $log"
done
bench "pe-hash-100M" pesign "$lantern pe hash $bigpe" "pesign -h -i $bigpe"

cat "$results"
