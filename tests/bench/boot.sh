#!/bin/bash
# Boot time of the three ways to boot one NixOS generation, from firmware start to the initrd's first line:
#   sd    a systemd-stub 252 UKI (Debian's linuxx64.efi.stub);
#   uki   a Lantern UKI (build/lantern-stub-x64.efi with the same sections);
#   thin  a Lantern thin stub, kernel and initrd as files on the ESP checked against .linuxh/.initrdh.
# Same kernel (the lab's Debian kernel), initrd, .cmdline and .osrel for all three; QEMU q35 (TCG) + OVMF +
# a fresh swtpm (four PCR banks) per boot, the ESP served as a FAT directory, exactly as tests/lab boots.
#
#   tests/bench/boot.sh [--build DIR] [--runs N] [--work DIR] [--timeout S]
#
# Time is taken on the host, independent of the guest's clocks: t=0 is just before QEMU is started (swtpm
# already runs), and every serial line is stamped as it arrives through a pipe, with the wall time and with
# the CPU time QEMU has used so far (user + system of all its threads, from /proc; with TCG and one vCPU this
# is the guest's work, and it is much less disturbed by other load on the machine than wall time). Recorded
# per boot, at the first line of each kind:
#   load   "BdsDxe: loading Boot...": the firmware is initialised and starts loading the boot file;
#   start  "BdsDxe: starting Boot...": the firmware has loaded (and measured) the boot file and starts it;
#   kernel "EFI stub: ...": the kernel's own EFI stub runs (the stub has loaded, checked and measured);
#   init   "LANTERN-INIT": the initrd's first line (then the guest powers off).
# Before timing, one boot per variant checks that all three measured the same inputs: the guest prints its
# sha256 PCR 11, which must equal `systemd-measure calculate --phase=` (else exit 1). That boot also warms the
# page cache. Then N rounds (default 5); each round boots every variant once, the starting variant rotating,
# so load changes on the machine spread over all three. Boots run one at a time.
# Results: a Markdown table on stdout and in WORK/boot-results.md, every stamp in WORK/boot-runs.tsv.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
work=$top/.cache/bench/boot
runs=5
timeout=300
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; exit 2 ;;
  esac
done
. "$top/tests/lab/lab.sh"
die() { echo "bench: $*" >&2; exit 1; }
sm=/usr/lib/systemd/systemd-measure
for t in qemu-system-x86_64 swtpm objcopy objdump sha256sum xxd "$sm" "$LAB_STUB_DEFAULT"; do
  command -v "$t" >/dev/null || [ -e "$t" ] || die "$t is missing"
done
[ -f "$build/lantern-stub-x64.efi" ] || die "$build/lantern-stub-x64.efi is missing (meson compile -C $build)"
mkdir -p "$work" || die "cannot create $work"
work=$(cd "$work" && pwd)

# --- inputs -------------------------------------------------------------------------------------------
# A copy of the stub, so that a rebuild during the run cannot change what is timed.
stub=$work/lantern-stub-x64.efi
cp "$build/lantern-stub-x64.efi" "$stub" || die "cannot copy the stub"
kernel=$(lab_kernel) || die "no kernel"
LAB_INIT_EXTRA='echo "LANTERN-PCR11 $(tr A-F a-f </sys/class/tpm/tpm0/pcr-sha256/11)"; poweroff -f' \
  lab_initrd "$work/initrd.img" || die "cannot build the initrd"
lab_cmdline "$work/cmdline"
lab_osrel "$work/osrel"

# thin_stub OUT NAME=FILE...: sections page-aligned above the stub's last one, VirtualSize = file size.
thin_stub() {
  local out=$1 end=0 idx name size vma rest e a spec args=()
  shift
  while read -r idx name size vma rest; do
    [[ $idx =~ ^[0-9]+$ ]] || continue
    e=$((0x$vma + 0x$size)); ((e > end)) && end=$e
  done < <(objdump -h -w "$stub")
  a=$(((end + 0xfff) & ~0xfff))
  for spec in "$@"; do
    args+=(--add-section "$spec" --change-section-vma "${spec%%=*}=$(printf 0x%x $a)")
    a=$(((a + $(stat -c %s "${spec#*=}") + 0xfff) & ~0xfff))
  done
  objcopy "${args[@]}" "$stub" "$out"
}

rm -rf "$work/esp-sd" "$work/esp-uki" "$work/esp-thin"
lab_uki "$work/sd.efi" "" "$kernel" "$work/initrd.img" "$work/cmdline" "$work/osrel" || die "systemd-stub UKI"
lab_uki "$work/uki.efi" "$stub" "$kernel" "$work/initrd.img" "$work/cmdline" "$work/osrel" || die "Lantern UKI"
printf '%s' '\EFI\nixos\kernel.efi' >"$work/linux-path"
printf '%s' '\EFI\nixos\initrd.efi' >"$work/initrd-path"
sha256sum "$kernel" | cut -c1-64 | xxd -r -p >"$work/linuxh"
sha256sum "$work/initrd.img" | cut -c1-64 | xxd -r -p >"$work/initrdh"
thin_stub "$work/thin.efi" .osrel="$work/osrel" .cmdline="$work/cmdline" .linux="$work/linux-path" \
  .linuxh="$work/linuxh" .initrd="$work/initrd-path" .initrdh="$work/initrdh" || die "thin stub"
lab_esp "$work/esp-sd" "$work/sd.efi"
lab_esp "$work/esp-uki" "$work/uki.efi"
lab_esp "$work/esp-thin" "$work/thin.efi"
mkdir -p "$work/esp-thin/EFI/nixos"
cp "$kernel" "$work/esp-thin/EFI/nixos/kernel.efi"
cp "$work/initrd.img" "$work/esp-thin/EFI/nixos/initrd.efi"
want11=$("$sm" calculate --linux="$kernel" --initrd="$work/initrd.img" --cmdline="$work/cmdline" \
         --osrel="$work/osrel" --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=//p')
[ -n "$want11" ] || die "systemd-measure calculate failed"

# --- one timed boot -----------------------------------------------------------------------------------
# boot VARIANT: prints "<pcr11> <wall> <cpu>" for each of load start kernel init: seconds since QEMU was
# started, and seconds of QEMU's CPU time ("-" for a line never seen).
tick=$(getconf CLK_TCK)
boot() {
  local v=$1 run
  run=$(mktemp -d /tmp/bench-boot.XXXXXX) || return 1
  mkdir -p "$run/tpm"
  cp "$LAB_OVMF_VARS" "$run/vars.fd"
  swtpm socket --tpm2 --tpmstate dir="$run/tpm" --ctrl type=unixio,path="$run/swtpm.sock" \
    --flags not-need-init --daemon --pid file="$run/swtpm.pid" 2>"$run/swtpm.err" ||
    { cat "$run/swtpm.err" >&2; rm -rf "$run"; return 1; }
  local t0=$EPOCHREALTIME
  # `timeout` stops QEMU (its own child, by PID) if the guest never powers off.
  timeout --kill-after=10 "$timeout" qemu-system-x86_64 -machine q35,accel=tcg -m 512 -smp 1 \
    -drive if=pflash,format=raw,readonly=on,file="$LAB_OVMF_CODE" \
    -drive if=pflash,format=raw,file="$run/vars.fd" \
    -drive format=raw,file=fat:rw:"$work/esp-$v" \
    -chardev socket,id=chrtpm,path="$run/swtpm.sock" -tpmdev emulator,id=tpm0,chardev=chrtpm \
    -device tpm-tis,tpmdev=tpm0 \
    -display none -monitor none -serial stdio -no-reboot -net none -pidfile "$run/qemu.pid" \
    </dev/null 2>"$run/qemu.err" |
  {
    local line now cpu pcr=- k stat qpid=""
    local -A wall=([load]=- [start]=- [kernel]=- [init]=-) used=([load]=- [start]=- [kernel]=- [init]=-)
    while IFS= read -r line; do
      now=$EPOCHREALTIME
      [ -n "$qpid" ] || qpid=$(cat "$run/qemu.pid" 2>/dev/null)
      case $line in
      *"BdsDxe: loading Boot"*) k=load ;;
      *"BdsDxe: starting Boot"*) k=start ;;
      *"EFI stub: "*) k=kernel ;;
      LANTERN-INIT*) k=init ;;
      LANTERN-PCR11*) k=""; pcr=${line#LANTERN-PCR11 }; pcr=${pcr%$'\r'} ;;
      *) k="" ;;
      esac
      if [ -n "$k" ] && [ "${wall[$k]}" = - ]; then
        wall[$k]=$now
        # utime and stime: fields 14 and 15 of /proc/PID/stat (the name in field 2 has no spaces here).
        if [ -n "$qpid" ] && read -r stat <"/proc/$qpid/stat"; then
          set -- $stat
          used[$k]=$(( ${14} + ${15} ))
        fi
      fi
      printf '%s %s\n' "$now" "$line" >>"$run/serial.log"
    done
    printf '%s' "$pcr"
    for k in load start kernel init; do
      printf ' %s %s' \
        "$([ "${wall[$k]}" = - ] && echo - || awk -v a="${wall[$k]}" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" \
        "$([ "${used[$k]}" = - ] && echo - || awk -v a="${used[$k]}" -v t="$tick" 'BEGIN { printf "%.2f", a / t }')"
    done
    echo
  }
  if [ -s "$run/swtpm.pid" ] && kill -0 "$(cat "$run/swtpm.pid")" 2>/dev/null; then
    kill "$(cat "$run/swtpm.pid")" 2>/dev/null
  fi
  cp "$run/serial.log" "$work/last-$v.log" 2>/dev/null
  rm -rf "$run"
}

variants=(sd uki thin)
declare -A label=([sd]="systemd-stub 252 UKI" [uki]="Lantern UKI" [thin]="Lantern thin stub")

# --- same inputs, same PCR 11 (the boot also warms the page cache and QEMU) -------------------------------
for v in "${variants[@]}"; do
  read -r pcr lw lc sw sc kw kc iw ic < <(boot "$v")
  [ "$iw" != - ] || die "$v: the guest never printed LANTERN-INIT (see $work/last-$v.log)"
  [ "$pcr" = "$want11" ] || die "$v: PCR 11 sha256 $pcr != systemd-measure $want11"
  echo "bench: $v boots, PCR 11 = systemd-measure ($iw s)" >&2
done

# --- timed rounds ---------------------------------------------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
tsv=$work/boot-runs.tsv
printf 'round\tvariant\tload_wall\tload_cpu\tstart_wall\tstart_cpu\tkernel_wall\tkernel_cpu\tinit_wall\tinit_cpu\tloadavg1\n' >"$tsv"
for ((r = 0; r < runs; r++)); do
  for ((i = 0; i < ${#variants[@]}; i++)); do
    v=${variants[$(((i + r) % ${#variants[@]}))]}
    read -r pcr lw lc sw sc kw kc iw ic < <(boot "$v")
    [ "$iw" != - ] && [ "$ic" != - ] && [ "$kw" != - ] && [ "$lw" != - ] ||
      die "$v: round $r: a line is missing (see $work/last-$v.log)"
    printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$v" "$lw" "$lc" "$sw" "$sc" "$kw" "$kc" "$iw" "$ic" \
      "$(cut -d' ' -f1 /proc/loadavg)" >>"$tsv"
    echo "bench: round $r $v: wall load $lw start $sw kernel $kw init $iw s; cpu load $lc start $sc kernel $kc init $ic s" >&2
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- summary --------------------------------------------------------------------------------------------
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) printf "%.2f", a[(NR + 1) / 2]; else printf "%.2f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# col VARIANT EXPR: one value per timed boot of VARIANT, EXPR over the columns (awk, e.g. "$9" or "$7 - $5").
col() { awk -F'\t' -v v="$1" "NR > 1 && \$2 == v { printf \"%.3f\\n\", $2 }" "$tsv"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
out=$work/boot-results.md
{
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), lantern $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- $runs timed boots per variant, interleaved; load average (1, 5, 15 min) before: $load_before, after: $load_after"
  echo "- $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), QEMU $(qemu-system-x86_64 --version | head -1 | awk '{print $4}') TCG"
  echo
  echo "Medians in seconds. Phases: firmware = QEMU start to \"BdsDxe: loading\"; boot file = loading to \"starting\""
  echo "(the firmware reads and measures the UKI or stub); stub = starting to the kernel's \"EFI stub:\" line; kernel ="
  echo "from there to LANTERN-INIT; total = QEMU start to LANTERN-INIT. \"boot file + stub\" is the part the stubs change"
  echo "(the firmware loading the boot file, the stub, the firmware loading the kernel, the kernel's EFI stub up to its"
  echo "first line); firmware start and kernel boot are the same work for all three and only add noise."
  echo
  echo "| variant | total wall | total wall min..max | total CPU | firmware CPU | boot file CPU | stub CPU | boot file + stub CPU | kernel CPU | ratio to systemd-stub: total wall | total CPU | boot file + stub CPU |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  sd_w=$(col sd '$9' | median); sd_c=$(col sd '$10' | median); sd_s=$(col sd '$8 - $4' | median)
  for v in "${variants[@]}"; do
    w=$(col "$v" '$9' | median); c=$(col "$v" '$10' | median); st=$(col "$v" '$8 - $4' | median)
    echo "| ${label[$v]} | $w | $(col "$v" '$9' | sort -n | head -1)..$(col "$v" '$9' | sort -n | tail -1) | $c |" \
         "$(col "$v" '$4' | median) | $(col "$v" '$6 - $4' | median) | $(col "$v" '$8 - $6' | median) | $st |" \
         "$(col "$v" '$10 - $8' | median) | $(ratio "$w" "$sd_w") | $(ratio "$c" "$sd_c") | $(ratio "$st" "$sd_s") |"
  done
  echo
  echo "Wall-clock phases (medians):"
  echo
  for v in "${variants[@]}"; do
    echo "- ${label[$v]}: firmware $(col "$v" '$3' | median), boot file $(col "$v" '$5 - $3' | median), stub $(col "$v" '$7 - $5' | median), kernel $(col "$v" '$9 - $7' | median)."
  done
} >"$out"
cat "$out"
