#!/bin/bash
# lantern install on a test profile (three generations, one specialisation, shared kernels and initrds)
# onto an ESP directory, checked with outside tools:
#   - sha256sum names the content-addressed kernels and initrds; the stubs' .linuxh/.initrdh hold those
#     hashes; sbverify --cert accepts every stub and both copies of systemd-boot;
#   - systemd-measure calculate over the ESP's kernel, initrd and the stub's .cmdline/.osrel equals
#     `lantern predict --root` for every entry (the installer and the predictor build the same texts);
#   - a re-run writes nothing (mtimes and hashes), --dry-run writes nothing, --status reports valid;
#   - GC with --configuration-limit removes exactly the old generations' files, never the booted entry's
#     (LoaderEntrySelected), and nothing at all while a bootspec is unreadable (exit 2);
#   - initrdSecrets: the script's output is appended to the ESP's initrd copy;
#   - a full ESP, a bad key, a wrong stub: exit 2, the ESP unchanged;
#   - tampering with an installed kernel: --status --verify exits 1, install --verify repairs it.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"
. "$LANTERN_TOP/tests/lab/profile.sh"

SM=/usr/lib/systemd/systemd-measure
CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem
STUB=$LANTERN_BUILD/lantern-stub-x64.efi
need_tools sbverify sha256sum jq openssl "$SM"
need_files "$STUB"
W=$TEST_TMP
R=$W/root
E=$W/esp
openssl pkey -passin pass:snakeoil -in /usr/share/ovmf/PkKek-1-snakeoil.key -out "$W/db.key" 2>/dev/null
mkdir -p "$W/keys" && cp "$W/db.key" "$W/keys/db.key" && cp "$CERT" "$W/keys/db.crt"
inst() { "$LANTERN" install --esp "$E" --root "$R" --keys "$W/keys" --efivars "$W/efivars" "$@"; }

install_profile_init "$R"
for x in k1:300001 i1:200003 k2:310007 i2:210011 k3:320009; do
  head -c "${x#*:}" /dev/urandom >"$W/${x%%:*}"
done
install_generation "$R" 1 "$W/k1" "$W/i1"
install_generation "$R" 2 "$W/k1" "$W/i2" "console=ttyS0 quiet lantern.q=\\\"a=b\\\"" debug "$W/k2" "$W/i1"
install_generation "$R" 3 "$W/k2" "$W/i2"
mkdir -p "$E/loader" "$W/efivars"
printf 'timeout 0\n# a comment the installer keeps\neditor no\n' >"$E/loader/loader.conf"

snapshot() { (cd "$1" && find . -type f -printf '%p %T@ %s\n' | sort && find . -type f -exec sha256sum {} + | sort); }

out=$(inst 2>&1); rc=$?
check_eq "first install exits 0" "$rc" 0
[ "$rc" = 0 ] || echo "$out" | sed 's/^/#   /'
check_eq "four stubs under EFI/Linux" "$(ls "$E/EFI/Linux" | grep -c '^nixos-generation-')" 4
check_eq "four kernels and initrds under EFI/nixos (k1, k2, i1, i2)" "$(ls "$E/EFI/nixos" | wc -l)" 4
for f in k1 k2; do
  check "kernel $f content-addressed by sha256sum" test -f "$E/EFI/nixos/kernel-6.1.0-lab-$(sha256sum <"$W/$f" | cut -c1-64).efi"
done
for f in i1 i2; do
  check "initrd $f content-addressed by sha256sum" test -f "$E/EFI/nixos/initrd-6.1.0-lab-$(sha256sum <"$W/$f" | cut -c1-64).efi"
done
for s in "$E"/EFI/Linux/*.efi "$E/EFI/BOOT/BOOTX64.EFI" "$E/EFI/systemd/systemd-bootx64.efi"; do
  check "sbverify --cert accepts ${s#$E/}" sbverify --cert "$CERT" "$s"
done
check "systemd-boot on the ESP is Debian's systemd-boot (pesign -h equal up to 8-byte padding)" \
  bash -c "cp '$LAB_SDBOOT_DEFAULT' '$W/sdb' && truncate -s \$(( (\$(stat -c %s '$W/sdb') + 7) / 8 * 8 )) '$W/sdb' && [ \"\$(pesign -h -i '$W/sdb')\" = \"\$(pesign -h -i '$E/EFI/BOOT/BOOTX64.EFI')\" ]"
default=$(awk '$1 == "default" { print $2 }' "$E/loader/loader.conf")
check "loader.conf: default is generation 3's stub" bash -c "[[ '$default' == nixos-generation-3-*.efi ]] && [ -f '$E/EFI/Linux/$default' ]"
check "loader.conf: the user's lines are kept" bash -c "grep -qx 'timeout 0' '$E/loader/loader.conf' && grep -qx 'editor no' '$E/loader/loader.conf' && grep -qx '# a comment the installer keeps' '$E/loader/loader.conf'"

# Every entry: hashes in the stub, and PCR 11 from systemd-measure = lantern predict.
pred=$("$LANTERN" predict --root "$R" --json)
for s in "$E"/EFI/Linux/nixos-generation-*.efi; do
  n=$(basename "$s" | sed 's/^nixos-generation-\([0-9]*\).*/\1/')
  spec=null; [[ $s == *-specialisation-debug-* ]] && spec='"debug"'
  k=$(lab_pe_section_esp_path "$s" .linux); i=$(lab_pe_section_esp_path "$s" .initrd)
  check_eq "gen $n spec $spec: .linuxh = sha256sum of $k" "$(lab_pe_section_hex "$s" .linuxh)" "$(sha256sum <"$E/$k" | cut -c1-64)"
  check_eq "gen $n spec $spec: .initrdh = sha256sum of $i" "$(lab_pe_section_hex "$s" .initrdh)" "$(sha256sum <"$E/$i" | cut -c1-64)"
  lab_pe_section "$s" .cmdline >"$W/cmdline"; lab_pe_section "$s" .osrel >"$W/osrel"
  check_eq "gen $n spec $spec: .cmdline = lantern predict's" "$(cat "$W/cmdline")" \
    "$(jq -r ".generations[] | select(.generation == $n and .specialisation == $spec) | .cmdline" <<<"$pred")"
  want=$(jq -r ".generations[] | select(.generation == $n and .specialisation == $spec) | .pcrs.sha256[\"11\"]" <<<"$pred")
  got=$("$SM" calculate --linux="$E/$k" --initrd="$E/$i" --cmdline="$W/cmdline" --osrel="$W/osrel" --bank=sha256 --phase= |
        sed -n 's/^11:sha256=//p')
  check_eq "gen $n spec $spec: systemd-measure over the installed files = lantern predict --root" "$got" "$want"
done

# Idempotence.
snapshot "$E" >"$W/before"
out=$(inst 2>&1); rc=$?
check_eq "re-run exits 0 and says so" "$rc/$out" "0/nothing to do"
snapshot "$E" >"$W/after"
check "re-run wrote nothing (mtimes, sizes, hashes)" cmp "$W/before" "$W/after"
st=$(inst --status --verify --json); rc=$?
check_eq "--status --verify: exit 0" "$rc" 0
check_eq "--status: every stub valid with its files" "$(jq -r '[.entries[] | "\(.signature) \(.files_ok) \(.action)"] | unique | join(",")' <<<"$st")" "valid true keep"
check_eq "--status: nothing to write or remove" "$(jq -c '[.writes, .removals]' <<<"$st")" "[[],[]]"

# Generation 4 (a new kernel) and --configuration-limit 2: generations 3 and 4 stay.
install_generation "$R" 4 "$W/k3" "$W/i2"
snapshot "$E" >"$W/before"
out=$(inst --configuration-limit 2 --dry-run 2>&1); rc=$?
snapshot "$E" >"$W/after"
check "--dry-run exits 0 and changes nothing" bash -c "[ $rc = 0 ] && cmp -s '$W/before' '$W/after'"
check_eq "--dry-run lists the writes and removals" "$(grep -c '^would write\|^would remove' <<<"$out")" 8
cp -a "$E" "$W/esp-before-gc"

# The booted entry (LoaderEntrySelected = generation 1's stub) is never collected.
g1=$(basename "$E"/EFI/Linux/nixos-generation-1-*.efi)
printf '\x06\x00\x00\x00' >"$W/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
printf '%s\0' "$g1" | iconv -f utf-8 -t utf-16le >>"$W/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
out=$(inst --configuration-limit 2 --json); rc=$?
check_eq "install with limit 2 exits 0" "$rc" 0
check_eq "the booted entry is reported" "$(jq -r .booted <<<"$out")" "$g1"
check_eq "GC removed generation 2 and its specialisation, kept the booted generation 1" \
  "$(ls "$E/EFI/Linux" | sed 's/-[0-9a-f]*\.efi$//' | sort | paste -sd' ')" \
  "nixos-generation-1 nixos-generation-3 nixos-generation-4"
check_eq "GC kept k1 and i1 (booted), k2 (gen 3), k3, i2; nothing else" "$(ls "$E/EFI/nixos" | wc -l)" 5
rm "$W/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
inst --configuration-limit 2 >/dev/null 2>&1
check_eq "once not booted, generation 1 and its files go" \
  "$(ls "$E/EFI/Linux" | sed 's/-[0-9a-f]*\.efi$//' | sort | paste -sd' ')/$(ls "$E/EFI/nixos" | sort | sed 's/-[0-9a-f]*\.efi$//' | paste -sd' ')" \
  "nixos-generation-3 nixos-generation-4/initrd-6.1.0-lab kernel-6.1.0-lab kernel-6.1.0-lab"
check "default is now generation 4" grep -q '^default nixos-generation-4-' "$E/loader/loader.conf"

# An unreadable bootspec: exit 2 naming it, nothing written, nothing collected.
snapshot "$E" >"$W/before"
t5=$(readlink "$R/nix/var/nix/profiles/system-3-link")
cp "$R$t5/boot.json" "$W/boot.json.good"
printf '{ "org.nixos.bootspec.v1": { "init": 3' >"$R$t5/boot.json"
out=$(inst --configuration-limit 1 2>&1); rc=$?
snapshot "$E" >"$W/after"
check_eq "a broken bootspec: exit 2" "$rc" 2
check "... naming the boot.json" grep -q "boot.json" <<<"$out"
check "... and the ESP is unchanged (no GC)" cmp "$W/before" "$W/after"
cp "$W/boot.json.good" "$R$t5/boot.json"

# Checks before writing: bad key, a file that is not the stub, a full ESP.
check_exit "a key that is not the certificate's: exit 2" 2 "$LANTERN" install --esp "$E" --root "$R" \
  --key "$W/db.key" --cert /etc/ssl/certs/ca-certificates.crt
check_exit "a stub that is not the Lantern stub: exit 2" 2 inst --stub "$LAB_SDBOOT_DEFAULT"
check_exit "a missing key: exit 2" 2 "$LANTERN" install --esp "$E" --root "$R" --keys "$W/nokeys"
snapshot "$E" >"$W/after"
check "... and the ESP is unchanged" cmp "$W/before" "$W/after"
mkdir -p "$W/small"
if mount -t tmpfs -o size=512k tmpfs "$W/small"; then
  mkdir -p "$W/small/loader" && echo 'timeout 0' >"$W/small/loader/loader.conf"
  out=$("$LANTERN" install --esp "$W/small" --root "$R" --keys "$W/keys" 2>&1); rc=$?
  check_eq "a full ESP: exit 2" "$rc" 2
  check "... saying how much is free and needed" grep -q "bytes free, the install needs" <<<"$out"
  check_eq "... and nothing was written" "$(cd "$W/small" && find . -type f | paste -sd' ')" "./loader/loader.conf"
  umount "$W/small"
else
  not_ok "mount a small tmpfs as a full ESP"
fi

# initrdSecrets: the script's output lands at the end of the ESP's initrd.
install_generation "$R" 5 "$W/k3" "$W/i1"
install_secrets_script "$R" 5 "SECRET-MARKER"
out=$(inst 2>&1); rc=$?
check_eq "install with initrdSecrets: exit 0" "$rc" 0
s5=$(ls "$E"/EFI/Linux/nixos-generation-5-*.efi)
i5=$(lab_pe_section_esp_path "$s5" .initrd)
check "the installed initrd is the store initrd + the secrets" bash -c "cat '$W/i1' <(printf SECRET-MARKER) | cmp - '$E/$i5'"
check_eq "its .initrdh = sha256sum of that" "$(lab_pe_section_hex "$s5" .initrdh)" "$(sha256sum <"$E/$i5" | cut -c1-64)"
check "no temporary initrd is left behind" bash -c "! ls \${TMPDIR:-/tmp}/lantern-initrd.* 2>/dev/null | grep -q ."

# Tampering with an installed kernel: --status --verify says so (exit 1), install --verify repairs it.
k=$(lab_pe_section_esp_path "$s5" .linux)
printf 'X' | dd of="$E/$k" bs=1 seek=1000 conv=notrunc status=none
st=$(inst --status --verify --json); rc=$?
check_eq "--status --verify on a tampered kernel: exit 1" "$rc" 1
check_eq "... that entry's files are not ok" "$(jq -r '.entries[] | select(.generation == 5) | .files_ok' <<<"$st")" false
inst --verify >/dev/null 2>&1
check_eq "install --verify restored the kernel" "$(sha256sum <"$E/$k" | cut -c1-64)" "$(sha256sum <"$W/k3" | cut -c1-64)"
finish
