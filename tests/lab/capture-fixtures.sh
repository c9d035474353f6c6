#!/bin/bash
# Boots the lab's reference configurations under QEMU + OVMF + swtpm and stores what the guest saw as
# fixtures under tests/fixtures/boot/<name>/:
#   eventlog.bin  the guest's /sys/kernel/security/tpm0/binary_bios_measurements
#   pcrs.txt      every PCR of every bank read in the guest, "<bank> <n> <lowercase hex>"
#   info.txt      kernel, stub, boot loader, command line, Secure Boot state, tool versions, input hashes, date
#   cmdline, os-release  the UKI's .cmdline and .osrel sections, byte for byte
#
#   tests/lab/capture-fixtures.sh [--commit] [NAME...]
#
# NAME is one of (default: all, in this order):
#   sd252-uki-sb-off      systemd-stub 252 UKI booted straight from the firmware, Secure Boot off
#   sd252-uki-sb-on       the same UKI signed with OVMF's snakeoil key, Secure Boot enforced
#   sd252-sdboot-sb-off   systemd-boot 252 -> the UKI, Secure Boot off
#   sd252-sdboot-sb-on    signed systemd-boot 252 -> signed UKI, Secure Boot enforced
# Before anything is written, each boot is checked against outside oracles: tpm2_eventlog's replay of the log
# equals the guest's PCRs in every bank; PCR 11 equals `systemd-measure calculate` in every bank; the PCR 4
# EV_EFI_BOOT_SERVICES_APPLICATION digests are `pesign -h` of the booted files, in order (with Secure Boot off
# systemd-stub 252's LoadImage of the kernel is measured too; with it on, its security override bypasses the
# firmware's measurement and PCR 4 ends with the UKI); the SecureBoot
# variable in the log matches the configuration; PCR 12 holds exactly the expected .cmdline measurements.
# --commit commits each fixture directory on its own.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lab/lab.sh"
fixtures=$top/tests/fixtures/boot
all=(sd252-uki-sb-off sd252-uki-sb-on sd252-sdboot-sb-off sd252-sdboot-sb-on)
commit=0
names=()
while [ $# -gt 0 ]; do
        case $1 in
        --commit) commit=1; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        sd252-*) names+=("$1"); shift ;;
        *) echo "capture-fixtures: unknown argument $1" >&2; exit 2 ;;
        esac
done
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

for tool in tpm2_eventlog pesign sbsign objcopy swtpm qemu-system-x86_64 /usr/lib/systemd/systemd-measure; do
        command -v "$tool" >/dev/null || { echo "capture-fixtures: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/lab-capture.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Inputs shared by every configuration.
kernel=$(lab_kernel)
lab_initrd "$work/initrd.img"
lab_cmdline "$work/cmdline"
lab_osrel "$work/os-release"
lab_uki "$work/uki.efi" "" "$kernel" "$work/initrd.img" "$work/cmdline" "$work/os-release"
lab_sign "$work/uki.efi" "$work/uki-signed.efi"
lab_sign "$LAB_SDBOOT_DEFAULT" "$work/sdboot-signed.efi"

pe_hash() { pesign -h -i "$1" | awk '{ print tolower($2) }'; }
pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo unknown; }

# check_boot NAME OUT SB FILE...: the oracle checks above; FILE... are the images the firmware and the boot
# chain load, in order (their Authenticode hashes must be PCR 4's application events).
check_boot() {
        local name=$1 out=$2 sb=$3 bank want got fail=0 i
        shift 3
        lab_check_replay "$out/eventlog.bin" "$out/pcrs.txt" || fail=1
        for bank in $(awk '{ print $1 }' "$out/pcrs.txt" | sort -u); do
                want=$(/usr/lib/systemd/systemd-measure calculate --linux="$kernel" --initrd="$work/initrd.img" \
                        --cmdline="$work/cmdline" --osrel="$work/os-release" --bank="$bank" --phase= 2>/dev/null |
                        sed -n "s/^11:$bank=//p" | tr A-F a-f)
                got=$(awk -v b="$bank" '$1 == b && $2 == 11 { print $3 }' "$out/pcrs.txt")
                if [ -z "$want" ] || [ "$want" != "$got" ]; then
                        echo "capture-fixtures: $name: PCR 11 $bank is $got, systemd-measure says ${want:-nothing}" >&2
                        fail=1
                fi
        done
        want=$(for f in "$@"; do pe_hash "$f"; done)
        got=$(lab_eventlog_digests "$out/eventlog.bin" |
                awk '$2 == 4 && $3 == "EV_EFI_BOOT_SERVICES_APPLICATION" && $4 == "sha256" { print $5 }')
        if [ "$want" != "$got" ]; then
                echo "capture-fixtures: $name: PCR 4 applications are [$(echo $got)], pesign -h says [$(echo $want)]" >&2
                fail=1
        fi
        # PCR 12: nothing when the firmware starts the UKI; through systemd-boot, its EV_IPL of the UKI's
        # .cmdline (UTF-16LE with NUL), and with Secure Boot off systemd-stub's measurement of the same text
        # passed as LoadOptions.
        want=""
        if [ "$pcr12" -gt 0 ]; then
                local c
                c=$({ cat "$work/cmdline"; printf '\0'; } | iconv -f UTF-8 -t UTF-16LE | sha256sum | cut -d' ' -f1)
                want=$(for ((i = 0; i < pcr12; i++)); do echo "12 EV_IPL $c"; done)
        fi
        got=$(lab_eventlog_digests "$out/eventlog.bin" | awk '$2 == 12 && $4 == "sha256" { print $2, $3, $5 }')
        if [ "$want" != "$got" ]; then
                echo "capture-fixtures: $name: PCR 12 events are [$(echo $got)], want [$(echo $want)]" >&2
                fail=1
        fi
        want=$([ "$sb" = on ] && echo 01 || echo 00)
        got=$(tpm2_eventlog "$out/eventlog.bin" 2>/dev/null |
                awk '/UnicodeName: SecureBoot$/ { f = 1; next } f && /VariableData:/ { gsub(/"/, "", $2); print $2; exit }')
        if [ "$got" != "$want" ]; then
                echo "capture-fixtures: $name: SecureBoot variable in the log is '$got', want $want" >&2
                fail=1
        fi
        return $fail
}

capture() {
        local name=$1 esp=$work/esp-$1 out=$work/out-$1 dest=$fixtures/$1 sb loader uki pcr12=0 opts=() files=()
        case $name in
        sd252-uki-sb-off)
                sb=off; loader="none (firmware boots the UKI as EFI/BOOT/BOOTX64.EFI)"
                uki=$work/uki.efi
                lab_esp "$esp" "$uki"
                files=("$uki" "$kernel") ;;
        sd252-uki-sb-on)
                sb=on; loader="none (firmware boots the signed UKI as EFI/BOOT/BOOTX64.EFI)"
                uki=$work/uki-signed.efi
                lab_esp "$esp" "$uki"
                opts=(--secureboot)
                files=("$uki") ;;
        sd252-sdboot-sb-off)
                sb=off; loader="systemd-boot $(pkgver systemd-boot-efi) (EFI/BOOT/BOOTX64.EFI, UKI as EFI/Linux/lab.efi, timeout 0)"
                uki=$work/uki.efi
                lab_esp_sdboot "$esp" "$uki"
                pcr12=2
                files=("$LAB_SDBOOT_DEFAULT" "$uki" "$kernel") ;;
        sd252-sdboot-sb-on)
                sb=on; loader="systemd-boot $(pkgver systemd-boot-efi) signed (EFI/BOOT/BOOTX64.EFI, signed UKI as EFI/Linux/lab.efi, timeout 0)"
                uki=$work/uki-signed.efi
                lab_esp_sdboot "$esp" "$uki" "$work/sdboot-signed.efi"
                pcr12=1
                opts=(--secureboot)
                files=("$work/sdboot-signed.efi" "$uki") ;;
        *) echo "capture-fixtures: unknown configuration $name" >&2; return 2 ;;
        esac
        echo "== $name: booting" >&2
        lab_boot "$out" "$esp" "${opts[@]}"
        check_boot "$name" "$out" "$sb" "${files[@]}" || { echo "capture-fixtures: $name: checks failed, nothing written" >&2; return 1; }

        rm -rf "$dest"
        mkdir -p "$dest"
        cp "$out/eventlog.bin" "$out/pcrs.txt" "$dest/"
        cp "$work/cmdline" "$dest/cmdline"
        cp "$work/os-release" "$dest/os-release"
        {
                echo "name: $name"
                echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
                echo "kernel: $(lab_kernel_version) ($(file -b "$kernel" 2>/dev/null | sed -n 's/.*version \([^,]*\),.*/\1/p'))"
                echo "kernel-sha256: $(sha256sum <"$kernel" | cut -d' ' -f1)"
                echo "kernel-authenticode-sha256: $(pe_hash "$kernel")"
                echo "stub: $LAB_STUB_DEFAULT (systemd-boot-efi $(pkgver systemd-boot-efi))"
                echo "bootloader: $loader"
                [ "${loader#systemd-boot}" != "$loader" ] &&
                        echo "bootloader-authenticode-sha256: $(pe_hash "${files[0]}")"
                echo "cmdline: $(cat "$work/cmdline")"
                echo "secureboot: $sb"
                echo "initrd: busybox-static $(pkgver busybox-static), tests/lab/lab.sh lab_initrd"
                echo "initrd-sha256: $(sha256sum <"$work/initrd.img" | cut -d' ' -f1)"
                echo "uki-sha256: $(sha256sum <"$uki" | cut -d' ' -f1)"
                echo "uki-authenticode-sha256: $(pe_hash "$uki")"
                echo "uki-layout: objcopy sections .osrel .cmdline .linux .initrd on the stub, VirtualSize = file size"
                echo "signed: $([ "$sb" = on ] && echo "sbsign, /usr/share/ovmf/PkKek-1-snakeoil.key" || echo no)"
                echo "firmware: ovmf $(pkgver ovmf), $([ "$sb" = on ] && echo "OVMF_CODE_4M.secboot.fd + OVMF_VARS_4M.snakeoil.fd" || echo "OVMF_CODE_4M.fd + OVMF_VARS_4M.fd")"
                echo "qemu: qemu-system-x86 $(pkgver qemu-system-x86), q35, tcg$([ "$sb" = on ] && echo ", smm=on")"
                echo "tpm: swtpm $(pkgver swtpm) tpm-tis, fresh state without swtpm_setup (banks $(awk '{ print $1 }' "$out/pcrs.txt" | sort -u | tr '\n' ' ' | sed 's/ $//'))"
                echo "checked: tpm2_eventlog replay = pcrs.txt (all banks); PCR 11 = systemd-measure calculate --phase= (all banks); PCR 4 applications = pesign -h of $(for f in "${files[@]}"; do basename "$f"; done | tr '\n' ' ' | sed 's/ $//')"
        } >"$dest/info.txt"
        echo "== $name: written to $dest" >&2
        if [ "$commit" = 1 ]; then
                git -C "$top" add -- "$dest"
                git -C "$top" commit -q -m "Boot fixture $name: event log and PCRs of a QEMU+OVMF+swtpm boot" -- "$dest"
        fi
}

for n in "${names[@]}"; do
        capture "$n"
done
