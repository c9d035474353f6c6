#!/bin/bash
# lantern predict --esp --eventlog --policy-pcrs over a profile of ten generations under --root:
#  - every entry's TPM2_PolicyPCR digest equals tpm2_policypcr's (trial session on swtpm) over the predicted
#    PCR values, and the PolicyOR tree (ten leaves: groups of 8 and 2, then the root) equals tpm2_policyor's;
#  - a generation with initrdSecrets is predicted from the thin stub on the ESP: PCR 11 equals
#    systemd-measure over the ESP's initrd (store initrd + secrets), and the JSON names the ESP files;
#  - PCR 7 and 12 come from the captured sd252-sdboot-sb-off log: PCR 7 is the guest's, and PCR 12 is
#    systemd-boot's and the stub's two measurements of the UTF-16 command line (folded with openssl here).
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/swtpm.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

MEASURE=/usr/lib/systemd/systemd-measure
STUB=$LANTERN_BUILD/lantern-stub-x64.efi
SDBOOT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
FIX=$LANTERN_FIXTURES/boot/sd252-sdboot-sb-off
for tool in "$MEASURE" jq openssl objcopy objdump xxd iconv tpm2_policypcr tpm2_policyor; do
  command -v "$tool" >/dev/null || { not_ok "required tool $tool is missing"; finish; }
done
for f in "$STUB" "$SDBOOT" "$FIX/eventlog.bin"; do
  [ -f "$f" ] || { not_ok "missing $f"; finish; }
done
swtpm_start "$TEST_TMP/tpm" || { not_ok "swtpm_start"; finish; }
export TPM2TOOLS_TCTI=$SWTPM_TCTI

W=$TEST_TMP/w
R=$TEST_TMP/root
ESP=$TEST_TMP/esp
mkdir -p "$W" "$R/nix/var/nix/profiles" "$ESP/EFI/Linux" "$ESP/EFI/nixos" "$ESP/EFI/BOOT"
cp "$SDBOOT" "$ESP/EFI/BOOT/BOOTX64.EFI"

ktree=$("$LANTERN_TOP/tests/lab/fetch-kernel.sh") || { not_ok "fetch-kernel.sh"; finish; }
K=/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1-linux/bzImage
I=/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1-initrd/initrd
mkdir -p "$R$(dirname $K)" "$R$(dirname $I)"
cp "$(ls "$ktree"/boot/vmlinuz-* | head -1)" "$R$K"
head -c 300001 /dev/urandom >"$R$I"
for n in $(seq 1 10); do
  t=/nix/store/ddddddddddddddddddddddddddddd$(printf %02d "$n")-nixos-system
  mkdir -p "$R$t"
  secrets=null
  [ "$n" = 3 ] && secrets="\"$t/append-initrd-secrets\""
  cat >"$R$t/boot.json" <<EOF
{"org.nixos.bootspec.v1":{"init":"$t/init","initrd":"$I","initrdSecrets":$secrets,"kernel":"$K",
"kernelParams":["console=ttyS0","gen=$n","x=\"a b\"","ü"],"label":"NixOS $n","system":"x86_64-linux","toplevel":"$t"},
"org.nixos.specialisation.v1":{}}
EOF
  ln -s "$t" "$R/nix/var/nix/profiles/system-$n-link"
done
ln -s system-10-link "$R/nix/var/nix/profiles/system"

# Texts of generations 1 and 3 as the predictor builds them (the installer writes the same).
"$LANTERN" predict --root "$R" --json >"$W/store.json" 2>/dev/null || { not_ok "predict from the store"; finish; }
check_eq "without --esp, generation 3 (initrdSecrets) is not predictable" \
  "$(jq -r '.generations[] | select(.generation == 3) | .pcrs' "$W/store.json")" null

# Thin stubs for generations 1 and 3 (3 gets the store initrd with a secrets cpio appended).
thin_stub() { lab_uki_sections "$1" "$STUB" "${@:2}"; } # OUT NAME=FILE...: sections added to the Lantern stub
cp "$R$K" "$ESP/EFI/nixos/kernel-1.efi"
cp "$R$I" "$ESP/EFI/nixos/initrd-1.efi"
{ cat "$R$I"; printf 'secret-cpio-%s' "$RANDOM"; } >"$ESP/EFI/nixos/initrd-3.efi"
for n in 1 3; do
  jq -j ".generations[] | select(.generation == $n) | .cmdline" "$W/store.json" >"$W/cmdline-$n"
  jq -j ".generations[] | select(.generation == $n) | .osrel" "$W/store.json" >"$W/osrel-$n"
  printf '%s' '\EFI\nixos\kernel-1.efi' >"$W/lp"
  printf '%s' "\\EFI\\nixos\\initrd-$n.efi" >"$W/ip-$n"
  sha256sum "$ESP/EFI/nixos/kernel-1.efi" | cut -c1-64 | xxd -r -p >"$W/lh"
  sha256sum "$ESP/EFI/nixos/initrd-$n.efi" | cut -c1-64 | xxd -r -p >"$W/ih-$n"
  thin_stub "$ESP/EFI/Linux/nixos-generation-$n.efi" .osrel="$W/osrel-$n" .cmdline="$W/cmdline-$n" \
    .linux="$W/lp" .linuxh="$W/lh" .initrd="$W/ip-$n" .initrdh="$W/ih-$n" || { not_ok "thin stub $n"; finish; }
done

"$LANTERN" predict --root "$R" --esp "$ESP" --eventlog "$FIX/eventlog.bin" --bank sha256 --policy-pcrs 7,11,12 \
  --json >"$W/p.json" 2>"$W/err"
check_eq "predict --esp --eventlog --policy-pcrs exits 0" "$?" 0
g() { jq -r ".generations[] | select(.generation == $1) | $2" "$W/p.json"; }

# Generation 3 from the ESP.
want=$("$MEASURE" calculate --linux="$ESP/EFI/nixos/kernel-1.efi" --initrd="$ESP/EFI/nixos/initrd-3.efi" \
  --cmdline="$W/cmdline-3" --osrel="$W/osrel-3" --bank=sha256 --phase= | cut -d= -f2)
check_eq "generation 3: PCR 11 = systemd-measure over the ESP initrd" "$(g 3 '.pcrs.sha256."11"')" "$want"
check_eq "generation 3: initrd is the ESP file" "$(g 3 .initrd)" "$ESP/EFI/nixos/initrd-3.efi"
check_eq "generation 3: stub named" "$(g 3 .stub)" "$ESP/EFI/Linux/nixos-generation-3.efi"
check_eq "generation 1: PCR 11 from the ESP = from the store" "$(g 1 '.pcrs.sha256."11"')" \
  "$(jq -r '.generations[] | select(.generation == 1) | .pcrs.sha256."11"' "$W/store.json")"
check "generation 1: PCR 4 predicted (stub on the ESP)" test "$(g 1 '.pcrs.sha256."4"')" != null
check_eq "generation 2: PCR 4 not predicted without a stub" "$(g 2 '.unpredictablePcrs."4" | test("stub")')" true

# PCR 7: the guest's; PCR 12: two extends of the UTF-16LE command line with NUL (Secure Boot off).
check_eq "PCR 7 = the guest's PCR 7 (firmware part)" "$(g 5 '.pcrs.sha256."7"')" \
  "$(awk '$1 == "sha256" && $2 == 7 { print $3 }' "$FIX/pcrs.txt")"
fold() { # HEXDIGEST...: PCR value after extending a zero PCR
  local v=0000000000000000000000000000000000000000000000000000000000000000 d
  for d in "$@"; do v=$(printf '%s%s' "$v" "$d" | xxd -r -p | sha256sum | cut -c1-64); done
  echo "$v"
}
c5=$( { g 5 .cmdline | tr -d '\n' | iconv -f UTF-8 -t UTF-16LE; printf '\0\0'; } | sha256sum | cut -c1-64)
check_eq "PCR 12 = systemd-boot's and the stub's measurements of the command line" "$(g 5 '.pcrs.sha256."12"')" \
  "$(fold "$c5" "$c5")"
check_eq "PCR 9 = LoadOptions, then the initrd" "$(g 5 '.pcrs.sha256."9"')" \
  "$(fold "$c5" "$(sha256sum "$R$I" | cut -c1-64)")"

# Policy digests against tpm2_policypcr, per entry.
trial() { # tpm2 policy command args...: prints the digest of a fresh trial session after it
  tpm2_startauthsession -S "$W/s.ctx" >/dev/null && "$@" -S "$W/s.ctx" -L "$W/out.bin" >/dev/null &&
    tpm2_flushcontext "$W/s.ctx" && xxd -p -c 64 "$W/out.bin"
}
n_ok=0
for n in $(seq 1 10); do
  for pcr in 7 11 12; do g "$n" ".pcrs.sha256.\"$pcr\""; done | xxd -r -p >"$W/values-$n"
  want=$(trial tpm2_policypcr -l sha256:7,11,12 -f "$W/values-$n")
  [ "$want" = "$(g "$n" .policy.sha256)" ] && n_ok=$((n_ok + 1))
  printf '%s' "$(g "$n" .policy.sha256)" | xxd -r -p >"$W/leaf-$n"
done
check_eq "PolicyPCR digest of all 10 entries = tpm2_policypcr" "$n_ok" 10

# The tree: leaves 1-8 and 9-10 ORed, then the root over the two.
a=$(trial tpm2_policyor -l "sha256:$(printf "$W/leaf-%s," 1 2 3 4 5 6 7 8 | sed 's/,$//')")
b=$(trial tpm2_policyor -l "sha256:$W/leaf-9,$W/leaf-10")
printf '%s' "$a" | xxd -r -p >"$W/or-a"
printf '%s' "$b" | xxd -r -p >"$W/or-b"
root=$(trial tpm2_policyor -l "sha256:$W/or-a,$W/or-b")
check_eq "PolicyOR tree level 1 = tpm2_policyor" "$(jq -r '.policyOr.levels[1] | join(",")' "$W/p.json")" "$a,$b"
check_eq "PolicyOR root = tpm2_policyor over the groups" "$(jq -r .policyOr.sha256 "$W/p.json")" "$root"

# Text output and errors.
"$LANTERN" predict --root "$R" --esp "$ESP" --eventlog "$FIX/eventlog.bin" --pcrs 7,12 --policy-pcrs 7 >"$W/text"
check_eq "text: PCR lines and a policy line per entry" "$(grep -c '^sha256 ' "$W/text"),$(grep -c '^policy sha256 ' "$W/text")" "20,10"
check_exit "--pcrs 4 without --eventlog: exit 2" 2 "$LANTERN" predict --root "$R" --pcrs 4
check_exit "--pcrs 5: exit 2" 2 "$LANTERN" predict --root "$R" --pcrs 5
head -c 5000 "$FIX/eventlog.bin" >"$W/cut.bin"
"$LANTERN" predict --root "$R" --eventlog "$W/cut.bin" >/dev/null 2>"$W/err"; rc=$?
check_eq "cut event log: exit 2" "$rc" 2
check "cut event log: error names the file and offset" grep -q "cut.bin: event [0-9]* at offset 0x" "$W/err"
printf 'x' >>"$ESP/EFI/nixos/initrd-3.efi"
"$LANTERN" predict --root "$R" --esp "$ESP" >/dev/null 2>"$W/err"; rc=$?
check_eq "an ESP file that does not match its stub: exit 2" "$rc" 2
check "... naming the file" grep -q "initrd-3.efi does not match the SHA-256" "$W/err"
head -c 1000 "$STUB" >"$ESP/EFI/Linux/broken.efi"
"$LANTERN" predict --root "$R" --esp "$ESP" >/dev/null 2>"$W/err"; rc=$?
check_eq "a truncated stub on the ESP: exit 2" "$rc" 2
check "... naming the file and offset" grep -q "broken.efi: offset 0x" "$W/err"
finish
