#!/bin/bash
# Live boots of a systemd-stub 252 UKI rebuilt from the current Debian kernel under QEMU + OVMF + swtpm,
# started straight from the firmware: (off) unsigned, Secure Boot off; (on) signed with OVMF's snakeoil key,
# Secure Boot enforced. The two boots run at once. For each, exactly:
#   tpm2_eventlog's replay of the guest's log = the guest's PCRs (every bank);
#   `lantern eventlog replay` = the guest's PCRs for every PCR the log extends; `eventlog verify` exits 0
#   (and 1 on an altered PCR);
#   PCR 11 = `systemd-measure calculate --phase=` = `lantern uki measure --bank B` (every bank);
#   PCR 4's application events = `pesign -h` of the booted files = `lantern pe hash` (every bank): the UKI,
#   then (Secure Boot off only) the kernel systemd-stub loads with LoadImage; under Secure Boot its
#   security override bypasses the firmware's measurement of the kernel;
#   the measured SecureBoot variable matches, and PCR 7 differs between the two boots.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"
. "$LANTERN_TOP/tests/lab/assert.sh"

for t in objcopy objdump pesign sbsign tpm2_eventlog qemu-system-x86_64 swtpm /usr/lib/systemd/systemd-measure \
         "$LANTERN"; do
        command -v "$t" >/dev/null || { not_ok "needs $t"; finish; }
done

W=$TEST_TMP
# Two TCG boots at once on a busy 2-core machine: be generous.
T=${LAB_BOOT_TIMEOUT:-360}
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }
lab_initrd "$W/initrd.img" || { not_ok "build the initrd"; finish; }
lab_cmdline "$W/cmdline"
lab_osrel "$W/os-release"
check "build the UKI ($(basename "$K"))" \
        lab_uki "$W/uki.efi" "" "$K" "$W/initrd.img" "$W/cmdline" "$W/os-release"
check "sign the UKI with the snakeoil key" lab_sign "$W/uki.efi" "$W/uki-signed.efi"
[ -f "$W/uki-signed.efi" ] || finish
check "sbverify accepts the signed UKI" \
        sbverify --cert "$LAB_SNAKEOIL_CERT" "$W/uki-signed.efi"
lab_esp "$W/esp-off" "$W/uki.efi"
lab_esp "$W/esp-on" "$W/uki-signed.efi"

lab_boot "$W/off" "$W/esp-off" --timeout "$T" >"$W/off.log" 2>&1 & p_off=$!
lab_boot "$W/on" "$W/esp-on" --secureboot --timeout "$T" >"$W/on.log" 2>&1 & p_on=$!
wait "$p_off"; rc_off=$?
wait "$p_on"; rc_on=$?
sed 's/^/# off: /' "$W/off.log"
sed 's/^/# on: /' "$W/on.log"
check_eq "UKI boots with Secure Boot off and the guest dumps its PCRs and log" "$rc_off" 0
check_eq "signed UKI boots with Secure Boot enforced and the guest dumps its PCRs and log" "$rc_on" 0

if [ "$rc_off" = 0 ]; then
        lab_assert_replay "sb off" "$W/off"
        lab_assert_pcr11 "sb off" "$W/off" "$W/uki.efi" "$K" "$W/initrd.img" "$W/cmdline" "$W/os-release"
        lab_assert_pcr4 "sb off" "$W/off" "$W/uki.efi" "$K"
        lab_assert_secureboot "sb off" "$W/off" off
fi
if [ "$rc_on" = 0 ]; then
        lab_assert_replay "sb on" "$W/on"
        lab_assert_pcr11 "sb on" "$W/on" "$W/uki-signed.efi" "$K" "$W/initrd.img" "$W/cmdline" "$W/os-release"
        lab_assert_pcr4 "sb on" "$W/on" "$W/uki-signed.efi"
        lab_assert_secureboot "sb on" "$W/on" on
fi
if [ "$rc_off" = 0 ] && [ "$rc_on" = 0 ]; then
        p7_off=$(awk '$1 == "sha256" && $2 == 7 { print $3 }' "$W/off/pcrs.txt")
        p7_on=$(awk '$1 == "sha256" && $2 == 7 { print $3 }' "$W/on/pcrs.txt")
        if [ -n "$p7_off" ] && [ -n "$p7_on" ] && [ "$p7_off" != "$p7_on" ]; then
                ok "PCR 7 differs between Secure Boot off and on"
        else
                not_ok "PCR 7 differs between Secure Boot off and on ($p7_off, $p7_on)"
        fi
fi
finish
