#!/bin/bash
# Secure Boot enrollment end to end on OVMF: firmware in Setup Mode boots a UKI signed with our own db key;
# the guest runs `lantern keys enroll`; the next boot (same variable store) enforces Secure Boot with our
# keys, boots the signed UKI and refuses the unsigned one.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

W=$TEST_TMP
"$LANTERN" keys create --subject "Lantern Test" "$W/keys" >/dev/null || { not_ok "keys create"; finish; }

# The guest runs the real lantern binary: copy it with the shared libraries it links.
R=$W/root
mkdir -p "$R/usr/bin" "$R/keys"
cp "$LANTERN" "$R/usr/bin/lantern"
for lib in $(ldd "$LANTERN" | grep -o '/[^ ]*'); do
  mkdir -p "$R$(dirname "$lib")"
  cp -L "$lib" "$R$lib"
done
cp "$W"/keys/*.auth "$R/keys/"
kver=$(lab_kernel_version)
cp "$(dirname "$(lab_kernel)")/../lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" "$R/efivarfs.ko"
cat >"$W/extra.sh" <<'EOS'
insmod /efivarfs.ko
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
echo "STATUS-BEFORE $(/usr/bin/lantern keys status | tr '\n' ' ')"
/usr/bin/lantern keys enroll /keys
echo "ENROLL-RC $?"
echo "STATUS-AFTER $(/usr/bin/lantern keys status | tr '\n' ' ')"
EOS
LAB_INITRD_DIR=$R lab_initrd "$W/initrd.img" "$W/extra.sh" || { not_ok "initrd"; finish; }
lab_cmdline "$W/cmdline"
lab_osrel "$W/osrel"
lab_uki "$W/uki.efi" "" "$(lab_kernel)" "$W/initrd.img" "$W/cmdline" "$W/osrel" || { not_ok "uki"; finish; }
sbsign --key "$W/keys/db.key" --cert "$W/keys/db.crt" --output "$W/uki-signed.efi" "$W/uki.efi" 2>/dev/null
check "sbverify accepts the UKI with our db.crt" sbverify --cert "$W/keys/db.crt" "$W/uki-signed.efi"

# Setup Mode: OVMF's empty variable store with the Secure Boot capable firmware.
cp "$LAB_OVMF_VARS" "$W/vars.fd"
lab_esp "$W/esp1" "$W/uki-signed.efi"
if lab_boot "$W/b1" "$W/esp1" --secureboot --vars "$W/vars.fd"; then
  ok "Setup Mode boot of the signed UKI"
  log=$W/b1/serial.log
  check "guest saw Setup Mode with Secure Boot off" grep -q '^STATUS-BEFORE setup-mode: yes secure-boot: disabled' "$log"
  check "guest enrolled db, KEK and PK" bash -c "grep -q '^Enrolled db' '$log' && grep -q '^Enrolled KEK' '$log' && grep -q '^Enrolled PK' '$log' && grep -q '^ENROLL-RC 0' '$log'"
  check "firmware left Setup Mode after PK" grep -q '^STATUS-AFTER setup-mode: no .*PK: set KEK: set db: set' "$log"
else
  not_ok "Setup Mode boot of the signed UKI"
fi

# Same variable store: Secure Boot is now enforced with our keys.
if lab_boot "$W/b2" "$W/esp1" --secureboot --vars "$W/vars.fd"; then
  ok "the signed UKI boots with Secure Boot enforced by our keys"
  log=$W/b2/serial.log
  check "guest reports Secure Boot enabled, user mode" grep -q '^STATUS-BEFORE setup-mode: no secure-boot: enabled' "$log"
  check "a second enroll is refused outside Setup Mode" grep -q '^ENROLL-RC 1' "$log"
  check "PCR 7 differs from the Setup Mode boot" bash -c "[ \"\$(grep '^sha256 7 ' '$W/b1/pcrs.txt')\" != \"\$(grep '^sha256 7 ' '$W/b2/pcrs.txt')\" ]"
else
  not_ok "the signed UKI boots with Secure Boot enforced by our keys"
fi

lab_esp "$W/esp2" "$W/uki.efi"
if lab_boot "$W/b3" "$W/esp2" --secureboot --vars "$W/vars.fd" --timeout 90 2>/dev/null; then
  not_ok "the unsigned UKI is refused by the firmware (it booted)"
else
  check "the unsigned UKI is refused by the firmware" bash -c "! grep -q LANTERN-INIT '$W/b3/serial.log' && grep -Eq 'Access Denied|Security Violation' '$W/b3/serial.log'"
fi
finish
