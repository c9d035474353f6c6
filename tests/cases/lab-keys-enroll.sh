#!/bin/bash
# Secure Boot enrollment end to end on OVMF with a Lantern-installed ESP: the firmware in Setup Mode boots
# systemd-boot and the Lantern stub (signed with our own db key by `lantern install --keys`); the guest runs
# `lantern keys enroll --microsoft`; the next boot (same variable store) enforces Secure Boot with our keys and
# Microsoft's CAs in db, boots the signed stub, and the firmware refuses an unsigned stub.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"
. "$LANTERN_TOP/tests/lab/profile.sh"

W=$TEST_TMP
"$LANTERN" keys create --subject "Lantern Test" "$W/keys" >/dev/null || { not_ok "keys create"; finish; }
lab_microsoft_certs "$W/ms" || { not_ok "Microsoft certificates from OVMF"; finish; }

# The guest runs the real lantern binary: copy it with the shared libraries it links.
R=$W/root
mkdir -p "$R/keys"
lab_initrd_add_lantern "$R" || { not_ok "lantern and its libraries in the initrd"; finish; }
cp -r "$W/keys/." "$R/keys/"
cp -r "$W/ms" "$R/ms"
K=$(lab_kernel)
kver=$(lab_kernel_version)
cp "$(dirname "$K")/../lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" "$R/efivarfs.ko"
cat >"$W/extra.sh" <<'EOS'
insmod /efivarfs.ko
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
echo "STATUS-BEFORE $(/usr/bin/lantern keys status | tr '\n' ' ')"
/usr/bin/lantern keys enroll --microsoft /ms /keys
echo "ENROLL-RC $?"
echo "STATUS-AFTER $(/usr/bin/lantern keys status | tr '\n' ' ')"
/usr/bin/lantern keys status --verbose | sed 's/^/STATUS-VERBOSE /'
EOS
LAB_INITRD_DIR=$R lab_initrd "$W/initrd.img" "$W/extra.sh" || { not_ok "initrd"; finish; }
cp "$K" "$W/vmlinuz"
sbattach --remove "$W/vmlinuz" >/dev/null 2>&1

P=$W/profile
install_profile_init "$P"
install_generation "$P" 1 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1"
mkdir -p "$W/esp/loader"
printf 'timeout 0\n' >"$W/esp/loader/loader.conf"
check "lantern install --keys onto the ESP" "$LANTERN" install --esp "$W/esp" --root "$P" --keys "$W/keys"
stub=$(ls "$W"/esp/EFI/Linux/nixos-generation-1-*.efi)
check "sbverify accepts the installed stub with our db.crt" sbverify --cert "$W/keys/db.crt" "$stub"
check "sbverify accepts the installed systemd-boot with our db.crt" sbverify --cert "$W/keys/db.crt" "$W/esp/EFI/BOOT/BOOTX64.EFI"

# Setup Mode: OVMF's empty variable store with the Secure Boot capable firmware.
cp "$LAB_OVMF_VARS" "$W/vars.fd"
if lab_boot "$W/b1" "$W/esp" --secureboot --vars "$W/vars.fd"; then
  ok "Setup Mode boot of the installed ESP"
  log=$W/b1/serial.log
  check "guest saw Setup Mode with Secure Boot off" grep -q '^STATUS-BEFORE setup-mode: yes secure-boot: disabled' "$log"
  check "guest enrolled db, KEK and PK" bash -c "grep -q '^Enrolled db' '$log' && grep -q '^Enrolled KEK' '$log' && grep -q '^Enrolled PK' '$log' && grep -q '^ENROLL-RC 0' '$log'"
  check "firmware left Setup Mode after PK" grep -q '^STATUS-AFTER setup-mode: no .*PK: set KEK: set db: set' "$log"
else
  not_ok "Setup Mode boot of the installed ESP"
fi

# Same variable store: Secure Boot is now enforced with our keys.
if lab_boot "$W/b2" "$W/esp" --secureboot --vars "$W/vars.fd"; then
  ok "the installed ESP boots with Secure Boot enforced by our keys"
  log=$W/b2/serial.log
  check "guest reports Secure Boot enabled, user mode" grep -q '^STATUS-BEFORE setup-mode: no secure-boot: enabled' "$log"
  check "a second enroll is refused outside Setup Mode" grep -q '^ENROLL-RC 1' "$log"
  check "the firmware's db holds our db key and Microsoft's UEFI CA" bash -c \
    "grep -q '^STATUS-VERBOSE   CN=Lantern Test Signature Database Key' '$log' && grep -q '^STATUS-VERBOSE   CN=Microsoft Corporation UEFI CA 2011' '$log'"
  check "the firmware's KEK holds Microsoft's KEK CA" grep -q '^STATUS-VERBOSE   CN=Microsoft Corporation KEK CA 2011' "$log"
  check "PCR 7 differs from the Setup Mode boot" bash -c "[ \"\$(grep '^sha256 7 ' '$W/b1/pcrs.txt')\" != \"\$(grep '^sha256 7 ' '$W/b2/pcrs.txt')\" ]"
else
  not_ok "the installed ESP boots with Secure Boot enforced by our keys"
fi

# The same ESP with the stub's signature removed: systemd-boot (signed) starts, the firmware refuses the stub.
cp -a "$W/esp" "$W/esp-unsigned"
sbattach --remove "$W/esp-unsigned/${stub#$W/esp/}" >/dev/null 2>&1
check "the stub copy carries no signature" bash -c "! sbverify --cert '$W/keys/db.crt' '$W/esp-unsigned/${stub#$W/esp/}' 2>/dev/null"
if lab_boot "$W/b3" "$W/esp-unsigned" --secureboot --vars "$W/vars.fd" --timeout 75 2>/dev/null; then
  not_ok "the unsigned stub is refused by the firmware (it booted)"
else
  check "the unsigned stub is refused by the firmware" bash -c "! grep -q LANTERN-INIT '$W/b3/serial.log' && grep -Eqi 'Access Denied|Security Violation' '$W/b3/serial.log'"
fi
finish
