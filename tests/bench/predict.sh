#!/bin/bash
# Benchmarks `lantern predict` over a large profile against systemd-measure and sha256sum, with hyperfine.
#
#   tests/bench/predict.sh [--build DIR] [--runs N] [--work DIR] [--all-banks]
#
# Input (made once, cached in WORK, default .cache/bench/predict): 5 kernels and 5 initrds of 60,000,000
# random bytes each, and a NixOS profile of 50 generations under WORK/root whose bootspecs pair them up
# (generation n: kernel n mod 5, initrd (n div 5) mod 5, so every file is shared by 10 generations).
# Commands timed (sha256 bank; --all-banks adds sha1, sha384 and sha512 rows):
#   lantern cold      lantern predict --root WORK/root --cache DIR, DIR removed before every run
#   lantern warm      the same with DIR kept (filled by the warmup run)
#   lantern cold, 1 thread    as cold with --threads 1
#   systemd-measure   `systemd-measure calculate --linux --initrd --cmdline --osrel --phase=` once per
#                     generation (50 processes, from one shell script)
#   sha256sum         sha256sum over the 10 unique files (600 MB)
# The page cache is warm for every command (hyperfine's warmup run reads all the files first); only lantern's
# digest cache is dropped for the cold runs. Before timing, every generation's PCR 11 from lantern must equal
# systemd-measure's (else exit 1). Results: a Markdown table on stdout and in WORK/results.md.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
work=$top/.cache/bench/predict
runs=10
all_banks=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --all-banks) all_banks=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; exit 2 ;;
  esac
done
MEASURE=/usr/lib/systemd/systemd-measure
die() { echo "bench: $*" >&2; exit 1; }
for tool in hyperfine jq sha256sum python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ -x "$MEASURE" ] || die "$MEASURE is missing"
[ -x "$build/lantern" ] || die "$build/lantern is missing (meson compile -C $build)"
mkdir -p "$work" || die "cannot create $work"
work=$(cd "$work" && pwd)
cp "$build/lantern" "$work/lantern" || die "cannot copy $build/lantern"
lantern=$work/lantern

# --- inputs -----------------------------------------------------------------------------------------------
R=$work/root
S=/nix/store
if [ ! -e "$R/nix/var/nix/profiles/system-50-link" ]; then
  rm -rf "$R"
  mkdir -p "$R$S" "$R/nix/var/nix/profiles"
  for i in 0 1 2 3 4; do
    for kind in linux initrd; do
      d=$S/$(printf '%031d%s' "$i" "${kind:0:1}")-$kind-6.6.$i
      mkdir -p "$R$d"
      f=$([ $kind = linux ] && echo bzImage || echo initrd)
      head -c 60000000 /dev/urandom >"$R$d/$f" || die "cannot write $R$d/$f"
    done
  done
  etc=$S/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-etc
  mkdir -p "$R$etc/etc"
  printf 'NAME=NixOS\nID=nixos\nVERSION_ID="24.05"\nPRETTY_NAME="NixOS 24.05 (Uakari)"\n' >"$R$etc/etc/os-release"
  for n in $(seq 1 50); do
    k=$((n % 5)); i=$((n / 5 % 5))
    t=$S/$(printf 'ffffffffffffffffffffffffffff%04d' "$n")-nixos-system-bench-$n
    mkdir -p "$R$t"
    ln -s "$etc/etc" "$R$t/etc"
    cat >"$R$t/boot.json" <<EOF
{"org.nixos.bootspec.v1":{"init":"$t/init","initrd":"$S/$(printf '%031di' $i)-initrd-6.6.$i/initrd",
"kernel":"$S/$(printf '%031dl' $k)-linux-6.6.$k/bzImage","kernelParams":["console=ttyS0","root=LABEL=nixos","gen=$n"],
"label":"NixOS bench $n","system":"x86_64-linux","toplevel":"$t"},"org.nixos.specialisation.v1":{}}
EOF
    ln -s "$t" "$R/nix/var/nix/profiles/system-$n-link"
  done
  ln -s system-50-link "$R/nix/var/nix/profiles/system"
fi
unique=("$R$S"/*-linux-6.6.*/bzImage "$R$S"/*-initrd-6.6.*/initrd)
[ ${#unique[@]} -eq 10 ] || die "expected 10 unique files under $R$S"

# One systemd-measure call per generation, with lantern's cmdline and osrel for it.
"$lantern" predict --root "$R" --no-cache --json --bank sha1,sha256,sha384,sha512 >"$work/predict.json" ||
  die "lantern predict failed"
mkdir -p "$work/parts"
for bank in sha256 all; do : >"$work/measure-$bank.sh"; done
n=$(jq '.generations | length' "$work/predict.json")
[ "$n" -eq 50 ] || die "lantern predicted $n generations, not 50"
for ((g = 0; g < n; g++)); do
  e=".generations[$g]"
  jq -j "$e.cmdline" "$work/predict.json" >"$work/parts/cmdline-$g"
  jq -j "$e.osrel" "$work/predict.json" >"$work/parts/osrel-$g"
  args="--linux=$R$(jq -r "$e.kernel" "$work/predict.json") --initrd=$R$(jq -r "$e.initrd" "$work/predict.json")"
  args="$args --cmdline=$work/parts/cmdline-$g --osrel=$work/parts/osrel-$g --phase="
  echo "$MEASURE calculate $args --bank=sha256 >/dev/null" >>"$work/measure-sha256.sh"
  echo "$MEASURE calculate $args >/dev/null" >>"$work/measure-all.sh"
  # Agreement, every bank.
  want=$(jq -r "$e.pcrs | to_entries[] | \"11:\(.key)=\(.value.\"11\")\"" "$work/predict.json" | sort)
  got=$("$MEASURE" calculate $args 2>/dev/null | grep '^11:' | sort)
  [ "$want" == "$got" ] || die "generation $((g + 1)): systemd-measure says
$got
lantern says
$want"
done
echo "agree: PCR 11 of 50 generations in sha1, sha256, sha384 and sha512 equals systemd-measure calculate" >&2

# --- timing -----------------------------------------------------------------------------------------------
cache=$work/digest-cache
results=$work/results.md
{
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), lantern $(git -C "$top" rev-parse --short HEAD 2>/dev/null) ($(basename "$build"))"
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB," \
       "Linux $(uname -r), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $(dpkg-query -W -f 'systemd ${Version}' systemd), $(dpkg-query -W -f 'coreutils ${Version}' coreutils)," \
       "$(hyperfine --version); 1 warmup run, at least $runs timed runs; page cache warm for every command"
  echo
  echo "| command | banks | wall (ms) | CPU (ms) | systemd-measure / this (wall) | this / sha256sum (wall) |"
  echo "|---|---|---|---|---|---|"
} >"$results"

# bench BANKS LANTERN_BANKS MEASURE_SCRIPT: times the five commands and appends their rows.
bench() {
  local label=$1 lbanks=$2 script=$3 json=$work/times-$1.json
  hyperfine --warmup 1 --min-runs "$runs" --export-json "$json" -N \
    --command-name "lantern cold" --prepare "rm -rf $cache" \
      "$lantern predict --root $R --cache $cache --bank $lbanks" \
    --command-name "lantern cold, 1 thread" --prepare "rm -rf $cache" \
      "$lantern predict --root $R --cache $cache --bank $lbanks --threads 1" \
    --command-name "lantern warm" --prepare "true" \
      "$lantern predict --root $R --cache $cache --bank $lbanks" \
    --command-name "systemd-measure x50" --prepare "true" "bash $script" \
    --command-name "sha256sum" --prepare "true" "sha256sum ${unique[*]}" >&2 || die "hyperfine failed"
  python3 - "$json" "$label" >>"$results" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
sm, ss = r["systemd-measure x50"]["mean"], r["sha256sum"]["mean"]
for name in ["lantern cold", "lantern cold, 1 thread", "lantern warm", "systemd-measure x50", "sha256sum"]:
    x = r[name]
    banks = "sha256" if name == "sha256sum" else sys.argv[2]
    print("| %s | %s | %.1f ± %.1f | %.1f | %.1f | %.2f |" % (name, banks, x["mean"] * 1e3, x["stddev"] * 1e3,
          (x["user"] + x["system"]) * 1e3, sm / x["mean"], x["mean"] / ss))
EOF
}
bench sha256 sha256 "$work/measure-sha256.sh"
[ "$all_banks" = 1 ] && bench "sha1+sha256+sha384+sha512" sha1,sha256,sha384,sha512 "$work/measure-all.sh"
cat "$results"
