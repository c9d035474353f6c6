#!/bin/bash
# Live boots of the NixOS chain, systemd-boot 252 -> systemd-stub 252 UKI (rebuilt from the current Debian
# kernel), under QEMU + OVMF + swtpm: (off) unsigned, Secure Boot off; (on) both signed with OVMF's snakeoil
# key, Secure Boot enforced. The two boots run at once. For each, exactly:
#   tpm2_eventlog's replay of the guest's log = the guest's PCRs (every bank); `lantern eventlog replay` =
#   the guest's PCRs for every PCR the log extends; `lantern eventlog verify` exits 0 (1 on an altered PCR);
#   PCR 11 = `systemd-measure calculate --phase=` = `lantern uki measure --bank B` (every bank);
#   PCR 4's application events = `pesign -h` of systemd-boot, then of the UKI (then, Secure Boot off only,
#   of the kernel systemd-stub loads) = `lantern pe hash` (every bank);
#   PCR 12: systemd-boot measures the UKI's .cmdline (EV_IPL, UTF-16LE with its NUL) and passes it as
#   LoadOptions; with Secure Boot off systemd-stub measures those LoadOptions again, with it on it ignores
#   them: two identical events vs one, so PCR 12 is extend(extend(0, d), d) vs extend(0, d) (checked with
#   openssl in every bank) and differs between the boots.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"
. "$LANTERN_TOP/tests/lab/assert.sh"

for t in objcopy objdump pesign sbsign tpm2_eventlog qemu-system-x86_64 swtpm iconv openssl xxd \
         /usr/lib/systemd/systemd-measure "$LAB_SDBOOT_DEFAULT" "$LANTERN"; do
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
check "sign systemd-boot with the snakeoil key" lab_sign "$LAB_SDBOOT_DEFAULT" "$W/sdboot-signed.efi"
[ -f "$W/uki-signed.efi" ] && [ -f "$W/sdboot-signed.efi" ] || finish
SDBOOT=$W/systemd-bootx64.efi
cp "$LAB_SDBOOT_DEFAULT" "$SDBOOT"
lab_esp_sdboot "$W/esp-off" "$W/uki.efi" "$SDBOOT"
lab_esp_sdboot "$W/esp-on" "$W/uki-signed.efi" "$W/sdboot-signed.efi"

lab_boot "$W/off" "$W/esp-off" --timeout "$T" >"$W/off.log" 2>&1 & p_off=$!
lab_boot "$W/on" "$W/esp-on" --secureboot --timeout "$T" >"$W/on.log" 2>&1 & p_on=$!
wait "$p_off"; rc_off=$?
wait "$p_on"; rc_on=$?
sed 's/^/# off: /' "$W/off.log"
sed 's/^/# on: /' "$W/on.log"
check_eq "systemd-boot boots the UKI with Secure Boot off and the guest dumps its PCRs and log" "$rc_off" 0
check_eq "signed systemd-boot boots the signed UKI with Secure Boot enforced and the guest dumps its PCRs and log" \
        "$rc_on" 0

# The digest systemd-boot and systemd-stub log for the command line: its UTF-16LE text with the NUL.
utf16_cmdline() { { cat "$W/cmdline"; printf '\0'; } | iconv -f UTF-8 -t UTF-16LE; }

# check_pcr12 LABEL DIR COUNT: PCR 12 holds exactly COUNT EV_IPL events, each the digest of the UTF-16LE
# command line, in every bank; the guest's PCR 12 is that many extends from zero (computed with openssl).
check_pcr12() {
        local label=$1 dir=$2 count=$3 bank d want got pcr i
        for bank in $(awk '{ print $1 }' "$dir/pcrs.txt" | sort -u); do
                d=$(utf16_cmdline | openssl dgst -"$bank" -r | cut -d' ' -f1)
                want=$(for ((i = 0; i < count; i++)); do echo "12 EV_IPL $d"; done)
                got=$(lab_eventlog_digests "$dir/eventlog.bin" | awk -v b="$bank" '$2 == 12 && $4 == b { print $2, $3, $5 }')
                check_eq "PCR 12 $bank has $count EV_IPL event(s) of the UTF-16LE .cmdline ($label)" "$got" "$want"
                pcr=$(printf '%0*d' $(( ${#d} )) 0)
                for ((i = 0; i < count; i++)); do
                        pcr=$(printf '%s%s' "$pcr" "$d" | xxd -r -p | openssl dgst -"$bank" -r | cut -d' ' -f1)
                done
                got=$(awk -v b="$bank" '$1 == b && $2 == 12 { print $3 }' "$dir/pcrs.txt")
                check_eq "guest PCR 12 $bank is $count extend(s) of that digest from zero ($label)" "$got" "$pcr"
        done
}

if [ "$rc_off" = 0 ]; then
        lab_assert_replay "sb off" "$W/off"
        lab_assert_pcr11 "sb off" "$W/off" "$W/uki.efi" "$K" "$W/initrd.img" "$W/cmdline" "$W/os-release"
        lab_assert_pcr4 "sb off" "$W/off" "$SDBOOT" "$W/uki.efi" "$K"
        lab_assert_secureboot "sb off" "$W/off" off
        check_pcr12 "sb off" "$W/off" 2
fi
if [ "$rc_on" = 0 ]; then
        lab_assert_replay "sb on" "$W/on"
        lab_assert_pcr11 "sb on" "$W/on" "$W/uki-signed.efi" "$K" "$W/initrd.img" "$W/cmdline" "$W/os-release"
        lab_assert_pcr4 "sb on" "$W/on" "$W/sdboot-signed.efi" "$W/uki-signed.efi"
        lab_assert_secureboot "sb on" "$W/on" on
        check_pcr12 "sb on" "$W/on" 1
fi
if [ "$rc_off" = 0 ] && [ "$rc_on" = 0 ]; then
        for p in 7 12; do
                a=$(awk -v p=$p '$1 == "sha256" && $2 == p { print $3 }' "$W/off/pcrs.txt")
                b=$(awk -v p=$p '$1 == "sha256" && $2 == p { print $3 }' "$W/on/pcrs.txt")
                if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]; then
                        ok "PCR $p differs between Secure Boot off and on"
                else
                        not_ok "PCR $p differs between Secure Boot off and on ($a, $b)"
                fi
        done
fi
finish
