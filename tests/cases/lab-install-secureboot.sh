#!/bin/bash
# A Lantern-installed ESP boots under QEMU + OVMF + swtpm with Secure Boot enforced (OVMF's snakeoil db key
# signs everything: `lantern install --keys` with the snakeoil pair):
#   (a) firmware -> signed systemd-boot -> loader.conf's default (generation 2's signed thin stub) -> the
#       unsigned kernel from EFI/nixos/: SecureBoot is 1 in the guest, and PCR 11 in sha1/sha256/sha384/sha512
#       equals `lantern predict --root` for generation 2;
#   (b) the same ESP with loader.conf's default switched to generation 1 boots generation 1, with its
#       predicted PCR 11 (the command lines differ, so the values do);
#   (c) the installed initrd of the default generation tampered with: the stub refuses it and Linux never
#       starts.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"
. "$LANTERN_TOP/tests/lab/profile.sh"

CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem
for t in sbattach sbverify jq qemu-system-x86_64 swtpm tpm2_eventlog; do
  command -v $t >/dev/null || { not_ok "needs $t"; finish; }
done
[ -f "$LANTERN_BUILD/lantern-stub-x64.efi" ] || { not_ok "needs the stub"; finish; }
W=$TEST_TMP
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }
kver=$(lab_kernel_version)
cp "$K" "$W/vmlinuz"
sbattach --remove "$W/vmlinuz" >/dev/null 2>&1

mkdir -p "$W/initrd-root"
cp "$(dirname "$K")/../lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" "$W/initrd-root/efivarfs.ko"
cat >"$W/extra.sh" <<'EOS'
insmod /efivarfs.ko
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
echo "LANTERN-SECUREBOOT $(od -An -tx1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c | tr -d ' \n')"
echo "LANTERN-CMDLINE $(cat /proc/cmdline)"
EOS
LAB_INITRD_DIR=$W/initrd-root lab_initrd "$W/initrd.img" "$W/extra.sh" || { not_ok "initrd"; finish; }

R=$W/root
install_profile_init "$R"
install_generation "$R" 1 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.generation=1"
install_generation "$R" 2 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.generation=2"
mkdir -p "$W/keys" "$W/esp/loader"
lab_signing_key >/dev/null && cp "$(lab_signing_key)" "$W/keys/db.key" && cp "$CERT" "$W/keys/db.crt"
printf 'timeout 0\n' >"$W/esp/loader/loader.conf"
check "lantern install onto the ESP" "$LANTERN" install --esp "$W/esp" --root "$R" --keys "$W/keys"
for f in "$W"/esp/EFI/Linux/*.efi "$W/esp/EFI/BOOT/BOOTX64.EFI"; do
  check "sbverify --cert accepts ${f#$W/esp/}" sbverify --cert "$CERT" "$f"
done
check "the kernel on the ESP carries no signature of its own" \
  bash -c "! sbverify --list '$W'/esp/EFI/nixos/kernel-*.efi 2>/dev/null | grep -q 'signature 1'"

g1=$(basename "$W"/esp/EFI/Linux/nixos-generation-1-*.efi)
cp -a "$W/esp" "$W/esp-b"
sed -i "s/^default .*/default $g1/" "$W/esp-b/loader/loader.conf"
cp -a "$W/esp" "$W/esp-c"
s2=$(ls "$W"/esp-c/EFI/Linux/nixos-generation-2-*.efi)
i2=$("$LANTERN" install --esp "$W/esp-c" --root "$R" --keys "$W/keys" --status --json --no-systemd-boot |
     jq -r '.entries[] | select(.generation == 2) | .initrd')
printf 'X' | dd of="$W/esp-c/$i2" bs=1 seek=100 conv=notrunc status=none

# (c) never prints LANTERN-DONE (systemd-boot waits in its menu after the stub's refusal): it runs beside
# the others until its timeout.
lab_boot "$W/c" "$W/esp-c" --secureboot --timeout 75 >"$W/c.log" 2>&1 & pc=$!
lab_boot "$W/a" "$W/esp" --secureboot >"$W/a.log" 2>&1 & pa=$!
lab_boot "$W/b" "$W/esp-b" --secureboot >"$W/b.log" 2>&1 & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?; wait $pc; rc=$?
for x in a b; do
  eval "r=\$r$x"
  if [ "$r" -eq 0 ]; then ok "boot ($x) reached the initrd"; else not_ok "boot ($x) reached the initrd"; sed 's/^/#   /' "$W/$x.log" | tail -20; fi
done
check_eq "(a) Secure Boot is on in the guest (SecureBoot: attributes BS|RT, value 1)" "$(sed -n 's/^LANTERN-SECUREBOOT //p' "$W/a/serial.log")" 0600000001
check "(a) generation 2 booted" grep -q '^LANTERN-CMDLINE .*lantern.generation=2' "$W/a/serial.log"
check "(b) generation 1 booted" grep -q '^LANTERN-CMDLINE .*lantern.generation=1' "$W/b/serial.log"
pred=$("$LANTERN" predict --root "$R" --bank sha1,sha256,sha384,sha512 --json)
for bank in sha1 sha256 sha384 sha512; do
  for x in a:2 b:1; do
    want=$(jq -r ".generations[] | select(.generation == ${x#*:}) | .pcrs.$bank[\"11\"]" <<<"$pred")
    got=$(awk -v b=$bank '$1 == b && $2 == 11 { print $3 }' "$W/${x%%:*}/pcrs.txt")
    check_eq "(${x%%:*}) PCR 11 $bank = lantern predict for generation ${x#*:}" "$got" "$want"
  done
done
check "(a) tpm2_eventlog replays the log to the guest's PCRs" lab_check_replay "$W/a/eventlog.bin" "$W/a/pcrs.txt"
check "(c) the tampered initrd is refused: Linux never started" \
  bash -c "[ $rc -ne 0 ] && ! grep -q '^LANTERN-INIT' '$W/c/serial.log' && grep -q 'does not match the SHA-256' '$W/c/serial.log'"
finish
