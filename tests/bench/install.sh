#!/bin/bash
# Benchmark of `lantern install`: 50 generations (5 kernels, 10 initrds, as a machine accumulates them)
# installed cold onto an empty ESP directory, against the same work done the lzbt way with standard tools
# (per generation: sha256sum kernel and initrd, cp them content-addressed, objcopy the stub, sbsign it);
# then a warm re-run of `lantern install` with nothing new (which must write nothing). Last, `lantern predict
# --esp` over the installed ESP, cold (digest cache removed before each run), four banks, with the ESP's files
# hashed ahead on every CPU (the default) and on one thread (--threads 1): both must predict the same.
#
#   tests/bench/install.sh [--build DIR] [--runs N] [--work DIR]
#
# Before timing, the results are checked to agree: both ESPs hold the same kernel/initrd files (same names,
# same bytes), and sbverify accepts every stub of both. Prints a Markdown table; hyperfine JSON in WORK.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
work=$top/.cache/bench-install
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; exit 2 ;;
  esac
done
. "$top/tests/lab/lab.sh"
. "$top/tests/lab/profile.sh"
for t in hyperfine sbsign sbverify objcopy sha256sum; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
mkdir -p "$work"
work=$(cd "$work" && pwd)
lantern=$work/lantern
cp "$build/lantern" "$lantern"
cp "$build/lantern-stub-x64.efi" "$work/lantern-stub-x64.efi"
STUB=$work/lantern-stub-x64.efi
K=$(lab_kernel) || exit 1
key=$(lab_signing_key) || exit 1
CERT=$LAB_SNAKEOIL_CERT
mkdir -p "$work/keys" && cp "$key" "$work/keys/db.key" && cp "$CERT" "$work/keys/db.crt"

R=$work/root
if [ ! -e "$R/nix/var/nix/profiles/system-50-link" ]; then
  rm -rf "$R" "$work/in" && install_profile_init "$R" && mkdir -p "$work/in"
  for k in 1 2 3 4 5; do cp "$K" "$work/in/k$k"; printf 'kernel %d' $k >>"$work/in/k$k"; done
  for i in $(seq 1 10); do head -c 20000000 /dev/urandom >"$work/in/i$i"; done
  for n in $(seq 1 50); do
    install_generation "$R" "$n" "$work/in/k$(( (n - 1) / 10 + 1 ))" "$work/in/i$(( (n - 1) / 5 + 1 ))" \
      "console=ttyS0 panic=-1 lantern.generation=$n"
  done
fi

cold() { rm -rf "$work/esp" && mkdir -p "$work/esp/loader" && "$lantern" install --esp "$work/esp" --root "$R" --keys "$work/keys" --stub "$STUB" >/dev/null; }
# The lzbt way, with standard tools, for the same generations.
lzbt() {
  local esp=$work/esp-lzbt n t k i kh ih kr ir end a spec
  rm -rf "$esp" && mkdir -p "$esp/EFI/nixos" "$esp/EFI/Linux"
  end=0
  while read -r idx name size vma rest; do [[ $idx =~ ^[0-9]+$ ]] || continue; e=$((0x$vma + 0x$size)); ((e > end)) && end=$e; done < <(objdump -h -w "$STUB")
  for n in $(seq 1 50); do
    t=$(readlink "$R/nix/var/nix/profiles/system-$n-link")
    k=$R$(jq -r '."org.nixos.bootspec.v1".kernel' "$R$t/boot.json"); i=$R$(jq -r '."org.nixos.bootspec.v1".initrd' "$R$t/boot.json")
    kh=$(sha256sum <"$k" | cut -c1-64); ih=$(sha256sum <"$i" | cut -c1-64)
    kr=EFI/nixos/kernel-6.1.0-lab-$kh.efi; ir=EFI/nixos/initrd-6.1.0-lab-$ih.efi
    [ -e "$esp/$kr" ] || { cp "$k" "$esp/$kr.tmp" && sync "$esp/$kr.tmp" && mv "$esp/$kr.tmp" "$esp/$kr"; }
    [ -e "$esp/$ir" ] || { cp "$i" "$esp/$ir.tmp" && sync "$esp/$ir.tmp" && mv "$esp/$ir.tmp" "$esp/$ir"; }
    printf 'init=%s/init' "$t" >"$work/cmdline"; jq -r '."org.nixos.bootspec.v1".kernelParams[]' "$R$t/boot.json" | while read -r p; do printf ' %s' "$p"; done >>"$work/cmdline"
    cp "$R$t/etc/os-release" "$work/osrel"
    printf '%s' "\\${kr//\//\\}" >"$work/lp"; printf '%s' "\\${ir//\//\\}" >"$work/ip"
    printf '%s' "$kh" | xxd -r -p >"$work/lh"; printf '%s' "$ih" | xxd -r -p >"$work/ih"
    a=$(((end + 0xfff) & ~0xfff)); args=()
    for spec in .osrel="$work/osrel" .cmdline="$work/cmdline" .linux="$work/lp" .linuxh="$work/lh" .initrd="$work/ip" .initrdh="$work/ih"; do
      args+=(--add-section "$spec" --change-section-vma "${spec%%=*}=$(printf 0x%x $a)")
      a=$(((a + $(stat -c %s "${spec#*=}") + 0xfff) & ~0xfff))
    done
    objcopy "${args[@]}" "$STUB" "$work/stub.efi"
    sbsign --key "$work/keys/db.key" --cert "$CERT" --output "$esp/EFI/Linux/nixos-generation-$n.efi.tmp" "$work/stub.efi" 2>/dev/null
    sync "$esp/EFI/Linux/nixos-generation-$n.efi.tmp" && mv "$esp/EFI/Linux/nixos-generation-$n.efi.tmp" "$esp/EFI/Linux/nixos-generation-$n.efi"
  done
}
export -f lzbt cold
export work R STUB CERT lantern

cold && lzbt || { echo "a run failed" >&2; exit 1; }
[ "$(cd "$work/esp/EFI/nixos" && sha256sum * | sort)" = "$(cd "$work/esp-lzbt/EFI/nixos" && sha256sum * | sort)" ] ||
  { echo "the two ESPs hold different kernels/initrds" >&2; exit 1; }
for s in "$work"/esp/EFI/Linux/*.efi "$work"/esp-lzbt/EFI/Linux/*.efi; do
  sbverify --cert "$CERT" "$s" >/dev/null 2>&1 || { echo "sbverify refuses $s" >&2; exit 1; }
done
[ "$("$lantern" install --esp "$work/esp" --root "$R" --keys "$work/keys" --stub "$STUB")" = "nothing to do" ] ||
  { echo "the warm re-run is not a no-op" >&2; exit 1; }

hyperfine --shell bash --runs "$runs" --export-json "$work/cold.json" -n "lantern install, 50 generations, cold" cold \
  -n "lzbt-like: sha256sum + cp + objcopy + sbsign" lzbt >&2
hyperfine --runs $((runs * 5)) --warmup 1 --export-json "$work/warm.json" -n "lantern install, warm re-run (writes nothing)" \
  "$lantern install --esp $work/esp --root $R --keys $work/keys --stub $STUB" >&2
predict=("$lantern" predict --root "$R" --esp "$work/esp" --cache "$work/pcache" --bank sha1,sha256,sha384,sha512)
rm -rf "$work/pcache"; "${predict[@]}" --json >"$work/predict-n.json" || { echo "predict --esp failed" >&2; exit 1; }
rm -rf "$work/pcache"; "${predict[@]}" --json --threads 1 >"$work/predict-1.json" || exit 1
cmp -s "$work/predict-n.json" "$work/predict-1.json" || { echo "predict --esp differs on one thread" >&2; exit 1; }
hyperfine -N --runs $((runs * 3)) --warmup 1 --prepare "rm -rf $work/pcache" --export-json "$work/predict-esp.json" \
  -n "lantern predict --esp, 50 generations, 4 banks, cold" "${predict[*]}" \
  -n "lantern predict --esp, 50 generations, 4 banks, cold, --threads 1" "${predict[*]} --threads 1" >&2
echo "| command | mean | min | max | user | system |"
echo "|---|---|---|---|---|---|"
jq -r '.results[] | "| \(.command) | \(.mean * 1000 | floor) ms | \(.min * 1000 | floor) ms | \(.max * 1000 | floor) ms | \(.user * 1000 | floor) ms | \(.system * 1000 | floor) ms |"' \
  "$work/cold.json" "$work/warm.json" "$work/predict-esp.json"
echo
echo "ESP: $(du -sb "$work/esp" | cut -f1) bytes in $(find "$work/esp" -type f | wc -l) files; stubs $(stat -c %s "$work"/esp/EFI/Linux/nixos-generation-1-*.efi) bytes each"
