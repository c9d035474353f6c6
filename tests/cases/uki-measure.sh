#!/bin/bash
# lantern uki measure against systemd-measure 252 (the oracle): a UKI built with objcopy from Debian's
# systemd-stub, the Debian kernel, an initrd, a command line and os-release, in all four banks; the same UKI
# signed with sbsign, with its sections in another PE order, and with sections the 252 stub ignores.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

SM=/usr/lib/systemd/systemd-measure
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
KEY=/usr/share/ovmf/PkKek-1-snakeoil.key
CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem
BANKS="sha1 sha256 sha384 sha512"

need_files "$SM" "$STUB" "$KEY" "$CERT"
need_tools objcopy objdump sbsign jq openssl
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }


cd "$TEST_TMP"
printf 'NAME="Lantern"\nID=lantern\nVERSION_ID=1\n' >osrel
printf 'console=ttyS0 init=/nix/store/abc-nixos-system/init' >cmdline
head -c 200003 /dev/urandom >initrd
head -c 3000 /dev/urandom >dtb
head -c 5000 /dev/urandom >splash
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pcr.key 2>/dev/null
openssl pkey -in pcr.key -pubout -out pcrpkey
printf '{"sha256":[]}' >pcrsig
printf '6.1.0-test' >uname

sm_values() { # INPUTS... -> "<bank> 11 <hex>" lines in BANKS order
  local b
  for b in $BANKS; do
    "$SM" calculate "$@" --bank="$b" --phase= 2>/dev/null | sed -n "s/^11:$b=/$b 11 /p"
  done
}

lab_uki_sections uki.efi "$STUB" .osrel=osrel .cmdline=cmdline .initrd=initrd .linux="$K"
want=$(sm_values --linux="$K" --initrd=initrd --cmdline=cmdline --osrel=osrel)
check_eq "oracle printed four banks" "$(echo "$want" | wc -l)" 4
got=$("$LANTERN" uki measure uki.efi 2>stderr)
check_eq "kernel+initrd+cmdline+osrel UKI, all four banks, equals systemd-measure" "$got" "$want"
check_eq "no warning for a systemd-stub 252 UKI" "$(cat stderr)" ""
for b in $BANKS; do
  check_eq "--bank $b" "$("$LANTERN" uki measure --bank "$b" uki.efi)" "$(echo "$want" | grep "^$b ")"
done
check_eq "--bank list keeps the order asked" "$("$LANTERN" uki measure --bank sha512,sha1 uki.efi)" \
  "$(echo "$want" | grep '^sha512 '; echo "$want" | grep '^sha1 ')"

# JSON: "pcrs" has systemd-measure's --json shape.
sm_json=$("$SM" calculate --linux="$K" --initrd=initrd --cmdline=cmdline --osrel=osrel \
  --bank=sha1 --bank=sha256 --bank=sha384 --bank=sha512 --phase= --json=short 2>/dev/null | jq -S -c .)
"$LANTERN" uki measure --json uki.efi >out.json
check_eq "--json pcrs equal systemd-measure --json" "$(jq -S -c .pcrs out.json)" "$sm_json"
check_eq "--json stub identified from .sdmagic" "$(jq -r '.stub.kind + " " + (.stub.version|tostring) + " " + .stub.match' out.json)" \
  "systemd-stub 252 prefix-last"
check_eq "--json plan in canonical order" "$(jq -r '[.measurements[].section] | join(",")' out.json)" \
  ".linux,.osrel,.cmdline,.initrd"
check_eq "--json .linux length is the kernel's size" "$(jq -r '.measurements[0].length' out.json)" "$(stat -c %s "$K")"
check_eq "--json .cmdline data digest is sha256 of the file" \
  "$(jq -r '.measurements[2].digests.sha256.data' out.json)" "$(sha256sum <cmdline | cut -d' ' -f1)"
check_eq "--json .cmdline name digest is sha256 of '.cmdline\\0'" \
  "$(jq -r '.measurements[2].digests.sha256.name' out.json)" "$(printf '.cmdline\0' | sha256sum | cut -d' ' -f1)"

# Signing adds a certificate table; PCR 11 does not change.
openssl pkey -passin pass:snakeoil -in "$KEY" -out sb.key
sbsign --key sb.key --cert "$CERT" --output signed.efi uki.efi 2>/dev/null
check "sbverify accepts the signed UKI" sbverify --cert "$CERT" signed.efi
check_eq "signed UKI: same PCR 11" "$("$LANTERN" uki measure signed.efi)" "$want"

# The stub measures in its own order, not the PE table's.
lab_uki_sections rev.efi "$STUB" .linux="$K" .initrd=initrd .cmdline=cmdline .osrel=osrel
check_eq "sections in reverse PE order: same PCR 11" "$("$LANTERN" uki measure rev.efi)" "$want"

# Every section the 252 stub measures, plus .pcrsig (never measured) and .uname (not known to 252).
lab_uki_sections all.efi "$STUB" .pcrsig=pcrsig .uname=uname .pcrpkey=pcrpkey .splash=splash .dtb=dtb .initrd=initrd \
  .cmdline=cmdline .osrel=osrel .linux="$K"
want_all=$(sm_values --linux="$K" --initrd=initrd --cmdline=cmdline --osrel=osrel --splash=splash --dtb=dtb \
  --pcrpkey=pcrpkey)
check_eq "with .splash .dtb .pcrpkey .pcrsig .uname: equals systemd-measure" "$("$LANTERN" uki measure all.efi)" "$want_all"
check_eq "all sections: plan" "$("$LANTERN" uki measure --json all.efi | jq -r '[.measurements[].section] | join(",")')" \
  ".linux,.osrel,.cmdline,.initrd,.splash,.dtb,.pcrpkey"

# No initrd: absent sections are skipped.
lab_uki_sections noinitrd.efi "$STUB" .cmdline=cmdline .osrel=osrel .linux="$K"
check_eq "UKI without .initrd" "$("$LANTERN" uki measure noinitrd.efi)" \
  "$(sm_values --linux="$K" --cmdline=cmdline --osrel=osrel)"

# An empty section is skipped too (systemd-measure skips empty inputs, "the stub does so too").
: >empty
lab_uki_sections emptysec.efi "$STUB" .cmdline=empty .osrel=osrel .linux="$K"
check_eq "empty .cmdline is skipped" "$("$LANTERN" uki measure emptysec.efi)" \
  "$(sm_values --linux="$K" --cmdline=empty --osrel=osrel)"
check_eq "empty .cmdline: oracle skips it too" "$(sm_values --linux="$K" --cmdline=empty --osrel=osrel)" \
  "$(sm_values --linux="$K" --osrel=osrel)"

# Usage.
check_exit "uki measure --help exits 0" 0 "$LANTERN" uki measure --help
check_exit "uki --help exits 0" 0 "$LANTERN" uki --help
check_exit "unknown verb exits 2" 2 "$LANTERN" uki frobnicate uki.efi
check_exit "unknown bank exits 2" 2 "$LANTERN" uki measure --bank md5 uki.efi
check_exit "missing file exits 2" 2 "$LANTERN" uki measure "$TEST_TMP/nonexistent.efi"
check_exit "two files exit 2" 2 "$LANTERN" uki measure uki.efi uki.efi
finish
