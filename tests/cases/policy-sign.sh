#!/bin/bash
# lantern policy sign against systemd-measure sign (252, its trial sessions run on swtpm): for the same RSA
# key and the same UKI parts the JSON must be byte-identical, with default banks and phases, chosen banks,
# empty and odd phase expressions, and an explicit public key. A generation predicted from a bootspec
# signs like systemd-measure over the files and texts `lantern predict --json` names.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/swtpm.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

MEASURE=/usr/lib/systemd/systemd-measure
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
for tool in "$MEASURE" jq openssl objcopy; do
  command -v "$tool" >/dev/null || { not_ok "required tool $tool is missing"; finish; }
done
[ -f "$STUB" ] || { not_ok "systemd-stub $STUB is missing"; finish; }
swtpm_start "$TEST_TMP/tpm" || { not_ok "swtpm_start"; finish; }
DEV="swtpm:port=$SWTPM_PORT"

W=$TEST_TMP/w
mkdir -p "$W"
openssl genrsa -out "$W/key.pem" 2048 2>/dev/null
openssl rsa -in "$W/key.pem" -pubout -out "$W/pub.pem" 2>/dev/null
openssl genrsa -out "$W/key3072.pem" 3072 2>/dev/null
head -c 1500000 /dev/urandom >"$W/linux"
head -c 400001 /dev/urandom >"$W/initrd"
printf 'init=/nix/store/x/init console=ttyS0 lantern.q="a = b" Grüße' >"$W/cmdline"
printf 'NAME=NixOS\nID=nixos\nPRETTY_NAME="NixOS (Generation 3)"\n' >"$W/osrel"
lab_uki "$W/uki.efi" "$STUB" "$W/linux" "$W/initrd" "$W/cmdline" "$W/osrel" || { not_ok "lab_uki"; finish; }
PARTS=(--linux="$W/linux" --initrd="$W/initrd" --cmdline="$W/cmdline" --osrel="$W/osrel")

# same NAME "lantern args" "systemd-measure args": compares the two outputs byte for byte.
same() {
  local name=$1 ours=$2 theirs=$3
  eval "\"$LANTERN\" policy sign $ours" >"$W/ours.json" 2>"$W/ours.err" || { not_ok "$name: lantern failed: $(cat "$W/ours.err")"; return; }
  eval "\"$MEASURE\" sign --tpm2-device=\"$DEV\" $theirs" >"$W/theirs.json" 2>"$W/theirs.err" ||
    { not_ok "$name: systemd-measure failed: $(cat "$W/theirs.err")"; return; }
  if cmp -s "$W/ours.json" "$W/theirs.json"; then ok "$name"; else
    not_ok "$name"; diff <(jq -S . "$W/ours.json") <(jq -S . "$W/theirs.json") | head -10 | sed 's/^/#   /'
  fi
}

same "UKI, default banks and phases" "--private-key '$W/key.pem' '$W/uki.efi'" "--private-key='$W/key.pem' ${PARTS[*]@Q}"
same "UKI, --bank sha256, --phase ''" "--private-key '$W/key.pem' --bank sha256 --phase '' '$W/uki.efi'" \
  "--private-key='$W/key.pem' --bank=sha256 --phase= ${PARTS[*]@Q}"
same "UKI, banks sha512,sha1 given out of order, --pcrs 11" \
  "--private-key '$W/key.pem' --bank sha512,sha1 --pcrs 11 '$W/uki.efi'" \
  "--private-key='$W/key.pem' --bank=sha512 --bank=sha1 ${PARTS[*]@Q}"
same "UKI, phases normalised, sorted and made unique" \
  "--private-key '$W/key.pem' --bank sha256 --phase ':sysinit::ready:' --phase enter-initrd --phase 'sysinit:ready' '$W/uki.efi'" \
  "--private-key='$W/key.pem' --bank=sha256 --phase=':sysinit::ready:' --phase=enter-initrd --phase=sysinit:ready ${PARTS[*]@Q}"
same "UKI, explicit public key, 3072-bit key" \
  "--private-key '$W/key3072.pem' --public-key '$W/pub.pem' --bank sha384 '$W/uki.efi'" \
  "--private-key='$W/key3072.pem' --public-key='$W/pub.pem' --bank=sha384 ${PARTS[*]@Q}"

# A generation from a bootspec under --root.
R=$TEST_TMP/root
K=/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1-linux/bzImage
I=/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb1-initrd/initrd
T=/nix/store/ddddddddddddddddddddddddddddddd1-nixos-system
mkdir -p "$R$(dirname $K)" "$R$(dirname $I)" "$R$T/specialisation" "$R/nix/var/nix/profiles"
cp "$W/linux" "$R$K"
cp "$W/initrd" "$R$I"
cat >"$R$T/boot.json" <<EOF
{"org.nixos.bootspec.v1":{"init":"$T/init","initrd":"$I","kernel":"$K","kernelParams":["console=ttyS0","a=\"b c\""],
"label":"NixOS test","system":"x86_64-linux","toplevel":"$T"},"org.nixos.specialisation.v1":{}}
EOF
ln -s "$T" "$R/nix/var/nix/profiles/system-7-link"
ln -s system-7-link "$R/nix/var/nix/profiles/system"
"$LANTERN" predict --root "$R" --json >"$W/predict.json" || not_ok "predict --json"
jq -j '.generations[0].cmdline' "$W/predict.json" >"$W/gcmdline"
jq -j '.generations[0].osrel' "$W/predict.json" >"$W/gosrel"
GPARTS=(--linux="$R$K" --initrd="$R$I" --cmdline="$W/gcmdline" --osrel="$W/gosrel")
same "generation 7 from its bootspec" "--private-key '$W/key.pem' --root '$R' --generation 7" \
  "--private-key='$W/key.pem' ${GPARTS[*]@Q}"

check_exit "no private key: exit 2" 2 "$LANTERN" policy sign "$W/uki.efi"
check_exit "--pcrs 7: exit 2" 2 "$LANTERN" policy sign --private-key "$W/key.pem" --pcrs 7 "$W/uki.efi"
check_exit "a public key as private key: exit 2" 2 "$LANTERN" policy sign --private-key "$W/pub.pem" "$W/uki.efi"
check_exit "UKI and --generation together: exit 2" 2 "$LANTERN" policy sign --private-key "$W/key.pem" --generation 7 "$W/uki.efi"
check_exit "unknown generation: exit 2" 2 "$LANTERN" policy sign --private-key "$W/key.pem" --root "$R" --generation 8
head -c 100 "$W/uki.efi" >"$W/cut.efi"
"$LANTERN" policy sign --private-key "$W/key.pem" "$W/cut.efi" >/dev/null 2>"$W/err"; rc=$?
check_eq "truncated UKI: exit 2" "$rc" 2
check "truncated UKI: the error names the file and an offset" grep -q "cut.efi: offset 0x" "$W/err"
finish
