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
#   7. seal a LUKS2 key to the predicted PCR 7 + 11 of generations 1 (never booted) and 3 at once (lantern luks
#      enroll with two --pcr-values: one TPM2_PolicyOR over both generations' PolicyPCR, a lantern-tpm2 token);
#      in the boot of step 6 the initrd unlocks the volume (lantern luks unlock); generation 2's is refused;
#   8. remote attestation: lanternd (the fleet verifier, on the host's loopback) holds generation 1's predicted
#      PCRs as its golden values; in the same boots the initrd runs lantern attest over the network (EK certificate,
#      credential activation, quote, event log): generation 1 passes and receives its secret, generation 2 fails;
#   9. check the event log against the PCRs (lantern eventlog verify) and compute the PolicyOR over all
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
. "$top/tests/swtpm.sh"
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
mkdir -p "$R/keys"
# The guest talks to its TPM through /dev/tpmrm0: tpm2-tss loads the device TCTI at run time.
lab_initrd_add_lantern "$R" "$L" || die "cannot copy lantern and its libraries into the initrd"
cp "$W"/keys/*.auth "$R/keys/"
cp "$(dirname "$K")/../lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" "$R/"
MODS=$(dirname "$K")/../lib/modules/$kver/kernel
cp "$MODS/drivers/firmware/qemu_fw_cfg.ko" "$R/"
lab_initrd_add_virtio_net "$R" || die "cannot copy the virtio-net modules into the initrd"
cat >"$W/extra.sh" <<'EOS'
insmod /efivarfs.ko
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
echo "guest: booted $(cat /proc/cmdline | tr ' ' '\n' | grep '^lantern\.' | tr '\n' ' ')"
/usr/bin/lantern keys status | sed 's/^/guest: /'
if /usr/bin/lantern keys status | grep -q '^setup-mode: yes'; then
  /usr/bin/lantern keys enroll /keys | sed 's/^/guest: /'
fi
# A LUKS2 volume handed in by the host (it cannot be in the initrd: the initrd is measured into PCR 11).
insmod /qemu_fw_cfg.ko
luks=/sys/firmware/qemu_fw_cfg/by_name/opt/lantern/luks.img/raw
if [ -e "$luks" ]; then
  cat "$luks" >/tmp/luks.img
  if /usr/bin/lantern luks unlock --tcti device:/dev/tpmrm0 --test /tmp/luks.img >/tmp/luks.out 2>&1; then
    echo "guest: LUKS volume unlocked with the TPM-sealed key"
  else
    echo "guest: LUKS unlock refused: $(tr "\n" " " </tmp/luks.out)"
  fi
fi
# A fleet verifier named by the host: bring up the network and attest.
verifier=/sys/firmware/qemu_fw_cfg/by_name/opt/lantern/verifier/raw
if [ -e "$verifier" ]; then
  . /lab-net.sh
  /usr/bin/lantern attest --verifier "$(cat "$verifier")" --tcti device:/dev/tpmrm0 2>&1 | sed 's/^/guest: attest: /'
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
# A manufactured TPM: EK certificate in NV (signed by swtpm's local CA), all four PCR banks active.
rm -rf "$W/tpm"
mkdir -p "$W/tpm"
swtpm_setup --tpm2 --tpmstate "$W/tpm" --create-ek-cert --pcr-banks sha1,sha256,sha384,sha512 --overwrite >/dev/null
# Every boot has the same devices (a NIC without option ROM), so the firmware measures the same things.
NET=(--qemu-arg -netdev --qemu-arg "user,id=n0" --qemu-arg -device --qemu-arg "virtio-net-pci,netdev=n0,romfile=")
lab_boot "$W/boot1" "$E" --secureboot --vars "$W/vars.fd" --tpmstate "$W/tpm" "${NET[@]}"
grep '^guest:' "$W/boot1/serial.log"

step "5. Reboot: Secure Boot enforced by our keys, newest generation"
lab_boot "$W/boot2" "$E" --secureboot --vars "$W/vars.fd" --tpmstate "$W/tpm" "${NET[@]}"
grep '^guest:' "$W/boot2/serial.log"
grep -q '^guest: secure-boot: enabled' "$W/boot2/serial.log" || die "Secure Boot is not enforced"

step "6. Predict every generation from bootspec + ESP + this machine's event log"
"$L" predict --root "$P" --esp "$E" --eventlog "$W/boot2/eventlog.bin" --bank sha256
"$L" predict --root "$P" --esp "$E" --eventlog "$W/boot2/eventlog.bin" --bank sha1,sha256,sha384,sha512 \
  --json >"$W/prediction.json"

step "7. A LUKS2 key sealed to generations 1 and 3: their predicted PCR 7 + 11, one PolicyOR (1 has never booted)"
rm -f "$W/luks.img"
# Small: the guest reads it through fw_cfg, which is slow under TCG.
truncate -s 2M "$W/luks.img"
printf 'demo-passphrase' | cryptsetup luksFormat --type luks2 -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --luks2-metadata-size 16k --luks2-keyslots-size 512k --key-size 256 --key-file - "$W/luks.img"
for g in 1 3; do
  echo "# generation $g"
  jq -r ".generations[] | select(.generation == $g and .specialisation == null) | .pcrs.sha256 |
    \"sha256 7 \\(.[\"7\"])\", \"sha256 11 \\(.[\"11\"])\"" "$W/prediction.json" | tee "$W/gen$g.pcrs"
done
swtpm_start "$W/tpm" # the machine's own TPM state, from the host side, between boots
printf 'demo-passphrase' >"$W/passphrase"
"$L" luks enroll --tcti "$SWTPM_TCTI" --pcrs 7,11 --pcr-values "$W/gen1.pcrs" --pcr-values "$W/gen3.pcrs" \
  --key-file "$W/passphrase" "$W/luks.img"
swtpm_stop "$W/tpm"
"$L" luks list "$W/luks.img"
LUKS=(--qemu-arg -fw_cfg --qemu-arg "name=opt/lantern/luks.img,file=$W/luks.img")

step "8. lanternd, the fleet verifier: generation 1's predicted PCRs are the golden values"
TOKEN=$(openssl rand -hex 24)
printf '%s\n' "$TOKEN" >"$W/token"
rm -f "$W/lanternd.pid" "$W/lanternd.db"
"$top/build/lanternd" --listen 127.0.0.1:0 --db "$W/lanternd.db" --pid-file "$W/lanternd.pid" \
  --admin-token-file "$W/token" >"$W/lanternd.log" 2>&1 &
for _ in $(seq 50); do [ -s "$W/lanternd.pid" ] && break; sleep 0.1; done
[ -s "$W/lanternd.pid" ] || die "lanternd did not start: $(cat "$W/lanternd.log")"
stop_lanternd() { [ -s "$W/lanternd.pid" ] && kill "$(cat "$W/lanternd.pid")" 2>/dev/null; }
trap stop_lanternd EXIT
PORT=$(ss -Htlnp | awk -v pid="pid=$(cat "$W/lanternd.pid")," '$0 ~ pid { sub(/.*:/, "", $4); print $4; exit }')
[ -n "$PORT" ] || die "cannot find lanternd's port"
echo "lanternd listens on 127.0.0.1:$PORT (pid $(cat "$W/lanternd.pid"))"
swtpm_start "$W/tpm"
ID=$("$L" attest id --tcti "$SWTPM_TCTI")
swtpm_stop "$W/tpm"
echo "machine id (from its EK): $ID"
jq -c '{generations: [.generations[] | select(.generation == 1 and .specialisation == null)]}' "$W/prediction.json" \
  >"$W/golden.json"
curl -sf -H "Authorization: Bearer $TOKEN" --data-binary "@$W/golden.json" \
  "http://127.0.0.1:$PORT/v1/machines/$ID/golden" >/dev/null || die "registering golden values failed"
printf '{"secret":"%s"}' "$(printf fleet-credential-for-generation-1 | base64)" >"$W/secret.json"
curl -sf -H "Authorization: Bearer $TOKEN" --data-binary "@$W/secret.json" \
  "http://127.0.0.1:$PORT/v1/machines/$ID/secret" >/dev/null || die "registering the secret failed"
echo "golden values: generation 1; secret registered"
VERIFIER=(--qemu-arg -fw_cfg --qemu-arg "name=opt/lantern/verifier,string=http://10.0.2.2:$PORT")

g1=$(basename "$E"/EFI/Linux/nixos-generation-1-*.efi)
sed -i "s/^default .*/default $g1/" "$E/loader/loader.conf"
echo "loader.conf default -> $g1 (generation 1 has never booted)"
lab_boot "$W/boot3" "$E" --secureboot --vars "$W/vars.fd" --tpmstate "$W/tpm" "${NET[@]}" "${LUKS[@]}" "${VERIFIER[@]}"
grep -E '^guest: (booted|LUKS|attest)' "$W/boot3/serial.log"
grep -q '^guest: LUKS volume unlocked' "$W/boot3/serial.log" || die "generation 1 did not unlock its LUKS volume"
grep -q '^guest: attest: verdict pass' "$W/boot3/serial.log" || die "generation 1 did not pass attestation"
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

g2=$(basename "$E"/EFI/Linux/nixos-generation-2-*.efi)
sed -i "s/^default .*/default $g2/" "$E/loader/loader.conf"
echo "loader.conf default -> $g2: the key is not sealed to it, and it is not a golden generation"
lab_boot "$W/boot4" "$E" --secureboot --vars "$W/vars.fd" --tpmstate "$W/tpm" "${NET[@]}" "${LUKS[@]}" "${VERIFIER[@]}"
grep -E '^guest: (booted|LUKS|attest)' "$W/boot4/serial.log" | cut -c1-300
grep -q '^guest: LUKS unlock refused.*match none of the 2 sealed generations' "$W/boot4/serial.log" ||
  die "generation 2 unlocked a volume sealed to generations 1 and 3, or was refused for another reason"
grep -q '^guest: attest: verdict fail' "$W/boot4/serial.log" || die "generation 2 passed attestation"

step "9. Event log verification and a policy for sealing to every generation"
"$L" eventlog verify "$W/boot3/eventlog.bin" --pcrs "$W/boot3/pcrs.txt" | tail -5
"$L" predict --root "$P" --esp "$E" --eventlog "$W/boot2/eventlog.bin" --policy-pcrs 7,11 --json |
  jq '{policyOr, generations: [.generations[] | {generation, specialisation, policy: .policy.sha256}]}'

step "Demo complete: keys enrolled, generations installed and booted under Secure Boot, PCRs predicted before boot, LUKS opened and attestation passed only on approved generations"
