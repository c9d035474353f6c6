#!/bin/bash
# The Lantern demo, on swtpm + QEMU + OVMF, with the embedded defaults:
#   1. create Secure Boot keys of our own (lantern keys create);
#   2. build a NixOS-style system profile (three generations, one with a specialisation) whose initrd reports
#      PCRs and the event log;
#   3. install every generation onto an ESP, signed, behind systemd-boot (lantern install);
#   4. boot the firmware in Setup Mode: the initrd enrolls our keys (lantern keys enroll);
#   5. reboot with Secure Boot now enforced by our keys into the newest generation;
#   6. predict every generation's PCRs 4, 7, 9, 11, 12 from the bootspecs, the ESP and that boot's event log
#      (lantern predict), then switch the default to generation 1 (never booted) and boot it: the guest's PCRs
#      equal the prediction made before the boot;
#   7. check the event log against the PCRs (lantern eventlog verify) and compute the PolicyOR over all
#      generations that a secret can be sealed to (lantern predict --policy-pcrs).
# Usage: scripts/demo.sh [WORKDIR]   (default: a fresh directory under /tmp, kept for inspection)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

step "Installing packages and building"
bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
L=$top/build/lantern
[ -x "$L" ] && [ -f build/lantern-stub-x64.efi ] || die "build did not produce build/lantern and the stub"

. "$top/tests/lab/lab.sh"
. "$top/tests/lab/profile.sh"
W=${1:-$(mktemp -d /tmp/lantern-demo.XXXXXX)}
mkdir -p "$W"
W=$(cd "$W" && pwd)
echo "work directory: $W"

step "1. Secure Boot keys of our own"
rm -rf "$W/keys"
"$L" keys create --subject "Lantern Demo" "$W/keys"
ls "$W/keys"

step "2. A NixOS system profile: generations 1-3, generation 3 with a specialisation"
K=$(lab_kernel)
kver=$(lab_kernel_version)
cp "$K" "$W/vmlinuz"
sbattach --remove "$W/vmlinuz" >/dev/null 2>&1 || true # NixOS kernels are unsigned
# The initrd enrolls the keys when the firmware is in Setup Mode, then prints PCRs and the event log.
R=$W/initrd-root
rm -rf "$R"
mkdir -p "$R/usr/bin" "$R/keys"
cp "$L" "$R/usr/bin/lantern"
for lib in $(ldd "$L" | grep -o '/[^ ]*'); do mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"; done
cp "$W"/keys/*.auth "$R/keys/"
cp "$(dirname "$K")/../lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" "$R/"
cat >"$W/extra.sh" <<'EOS'
insmod /efivarfs.ko
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
echo "guest: booted $(cat /proc/cmdline | tr ' ' '\n' | grep '^lantern\.' | tr '\n' ' ')"
/usr/bin/lantern keys status | sed 's/^/guest: /'
if /usr/bin/lantern keys status | grep -q '^setup-mode: yes'; then
  /usr/bin/lantern keys enroll /keys | sed 's/^/guest: /'
fi
EOS
LAB_INITRD_DIR=$R lab_initrd "$W/initrd.img" "$W/extra.sh"
P=$W/root
rm -rf "$P"
install_profile_init "$P"
install_generation "$P" 1 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.generation=1"
install_generation "$P" 2 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.generation=2 quiet"
install_generation "$P" 3 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.generation=3" \
  debug "$W/vmlinuz" "$W/initrd.img"
ls -l "$P/nix/var/nix/profiles/"

step "3. lantern install: every generation onto the ESP, signed with our db key"
E=$W/esp
rm -rf "$E"
mkdir -p "$E/loader"
printf 'timeout 0\n' >"$E/loader/loader.conf"
"$L" install --esp "$E" --root "$P" --keys "$W/keys"
(cd "$E" && find . -type f | sort)
for f in "$E"/EFI/Linux/*.efi "$E/EFI/BOOT/BOOTX64.EFI"; do
  sbverify --cert "$W/keys/db.crt" "$f" >/dev/null 2>&1 || die "sbverify refused ${f#$E/}"
done
echo "sbverify --cert db.crt accepts every stub and systemd-boot"

step "4. Firmware in Setup Mode: the initrd enrolls PK, KEK and db"
cp "$LAB_OVMF_VARS" "$W/vars.fd"
lab_boot "$W/boot1" "$E" --secureboot --vars "$W/vars.fd" --tpmstate "$W/tpm"
grep '^guest:' "$W/boot1/serial.log"

step "5. Reboot: Secure Boot enforced by our keys, newest generation"
lab_boot "$W/boot2" "$E" --secureboot --vars "$W/vars.fd" --tpmstate "$W/tpm"
grep '^guest:' "$W/boot2/serial.log"
grep -q '^guest: secure-boot: enabled' "$W/boot2/serial.log" || die "Secure Boot is not enforced"

step "6. Predict every generation from bootspec + ESP + this machine's event log"
"$L" predict --root "$P" --esp "$E" --eventlog "$W/boot2/eventlog.bin" --bank sha256
"$L" predict --root "$P" --esp "$E" --eventlog "$W/boot2/eventlog.bin" --bank sha1,sha256,sha384,sha512 \
  --json >"$W/prediction.json"
g1=$(basename "$E"/EFI/Linux/nixos-generation-1-*.efi)
sed -i "s/^default .*/default $g1/" "$E/loader/loader.conf"
echo "loader.conf default -> $g1 (generation 1 has never booted)"
lab_boot "$W/boot3" "$E" --secureboot --vars "$W/vars.fd" --tpmstate "$W/tpm"
grep '^guest: booted' "$W/boot3/serial.log"
fail=0
for bank in sha1 sha256 sha384 sha512; do
  for pcr in 4 7 9 11 12; do
    want=$(jq -r ".generations[] | select(.generation == 1 and .specialisation == null) | .pcrs.$bank[\"$pcr\"]" \
      "$W/prediction.json")
    got=$(awk -v b=$bank -v n=$pcr '$1 == b && $2 == n { print $3 }' "$W/boot3/pcrs.txt")
    if [ "$want" == "$got" ]; then verdict=match; else verdict=MISMATCH; fail=1; fi
    printf '%-7s PCR %-2s predicted %.16s... guest %.16s... %s\n' "$bank" "$pcr" "$want" "$got" "$verdict"
  done
done
[ "$fail" -eq 0 ] || die "a predicted PCR differs from the booted one"

step "7. Event log verification and a policy for sealing to every generation"
"$L" eventlog verify "$W/boot3/eventlog.bin" --pcrs "$W/boot3/pcrs.txt" | tail -5
"$L" predict --root "$P" --esp "$E" --eventlog "$W/boot2/eventlog.bin" --policy-pcrs 7,11 --json |
  jq '{policyOr, generations: [.generations[] | {generation, specialisation, policy: .policy.sha256}]}'

step "Demo complete: keys enrolled, generations installed and booted under Secure Boot, PCRs predicted before boot"
