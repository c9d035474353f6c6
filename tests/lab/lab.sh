# Lantern boot lab: a bash library that builds boot media and boots them under QEMU + OVMF + swtpm.
# Source it from a test or a script:
#
#   . "$LANTERN_TOP/tests/lab/lab.sh"
#   lab_initrd "$dir/initrd.img"
#   lab_uki "$dir/uki.efi" "" "$(lab_kernel)" "$dir/initrd.img" "$dir/cmdline" "$dir/os-release"
#   lab_esp "$dir/esp" "$dir/uki.efi"
#   lab_boot "$dir/out" "$dir/esp"      # -> out/serial.log, out/pcrs.txt, out/eventlog.bin
#
# Every function returns 0 on success, non-zero after printing a message prefixed "lab:" to stderr.
# Nothing here uses fixed ports or fixed temporary paths, so several boots can run at once.
# Cache (kernel, decrypted signing key): $LANTERN_LAB_CACHE, default <top>/.cache/lab.
# Function names are stable: other tests source this file.

LAB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_CACHE=${LANTERN_LAB_CACHE:-$LAB_TOP/.cache/lab}
LAB_STUB_DEFAULT=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
LAB_SDBOOT_DEFAULT=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
LAB_SNAKEOIL_KEY=/usr/share/ovmf/PkKek-1-snakeoil.key
LAB_SNAKEOIL_CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem
LAB_OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
LAB_OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
LAB_OVMF_CODE_SB=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
LAB_OVMF_VARS_SB=/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd
LAB_OVMF_VARS_MS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
# The kernel command line the lab uses unless a caller writes its own: serial console, and a panic powers the
# guest off at once (QEMU runs with -no-reboot) instead of hanging until the timeout.
LAB_CMDLINE_DEFAULT="console=ttyS0 panic=-1"

_lab_err() { echo "lab: $*" >&2; }

# lab_kernel: prints the absolute path of the cached Debian vmlinuz (downloading it once through
# tests/lab/fetch-kernel.sh).
lab_kernel() {
        local tree k
        tree=$("$LAB_TOP/tests/lab/fetch-kernel.sh") || { _lab_err "cannot fetch the kernel"; return 1; }
        k=$(ls "$tree"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
        [ -n "$k" ] || { _lab_err "no boot/vmlinuz-* under $tree"; return 1; }
        echo "$k"
}

# lab_kernel_version: prints the version of the cached kernel (the vmlinuz-<version> suffix).
lab_kernel_version() {
        local k
        k=$(lab_kernel) || return 1
        echo "${k##*/vmlinuz-}"
}

# lab_initrd OUT [EXTRA_SCRIPT]: writes OUT, a gzip'd newc cpio holding busybox-static and an /init that
# mounts proc, sysfs, devtmpfs and securityfs, runs caller code, then prints to the console:
#   LANTERN-PCR <bank> <n> <lowercase hex>     for every PCR of every bank under /sys/class/tpm/tpm0/pcr-*/
#   LANTERN-EVENTLOG-BEGIN / base64 of binary_bios_measurements / LANTERN-EVENTLOG-END
#   LANTERN-DONE
# and powers off. Caller code (run by the guest's sh before the dump, as /lab-extra.sh) comes from the file
# EXTRA_SCRIPT and/or the text of the environment variable LAB_INIT_EXTRA (file first). If LAB_INITRD_DIR names
# a directory, its contents are copied into the initrd's root too (modules, tools, data).
# The archive is reproducible: sorted names, mtime 0, gzip -n.
lab_initrd() {
        local out=$1 extra=${2:-} root bb
        [ -n "$out" ] || { _lab_err "usage: lab_initrd OUT [EXTRA_SCRIPT]"; return 1; }
        bb=$(command -v busybox) || bb=/bin/busybox
        [ -x "$bb" ] || { _lab_err "busybox-static is not installed"; return 1; }
        root=$(mktemp -d "${TMPDIR:-/tmp}/lab-initrd.XXXXXX") || return 1
        mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc}
        cp "$bb" "$root/bin/busybox"
        # The /init shebang needs a shell before --install has run.
        ln -s busybox "$root/bin/sh"
        if [ -n "${LAB_INITRD_DIR:-}" ]; then
                cp -a "$LAB_INITRD_DIR"/. "$root"/ || { rm -rf "$root"; _lab_err "cannot copy $LAB_INITRD_DIR"; return 1; }
        fi
        : >"$root/lab-extra.sh"
        if [ -n "$extra" ]; then
                cat "$extra" >>"$root/lab-extra.sh" || { rm -rf "$root"; _lab_err "cannot read $extra"; return 1; }
        fi
        if [ -n "${LAB_INIT_EXTRA:-}" ]; then
                printf '%s\n' "$LAB_INIT_EXTRA" >>"$root/lab-extra.sh"
        fi
        cat >"$root/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
# Keep kernel messages from interleaving with the dump on the serial console.
dmesg -n 1
echo LANTERN-INIT
. /lab-extra.sh
for d in /sys/class/tpm/tpm0/pcr-*; do
        [ -d "$d" ] || continue
        bank=${d##*/pcr-}
        n=0
        while [ $n -lt 24 ]; do
                [ -r "$d/$n" ] && echo "LANTERN-PCR $bank $n $(tr A-F a-f <"$d/$n")"
                n=$((n + 1))
        done
done
echo LANTERN-EVENTLOG-BEGIN
base64 /sys/kernel/security/tpm0/binary_bios_measurements
echo LANTERN-EVENTLOG-END
echo LANTERN-DONE
poweroff -f
EOF
        chmod 0755 "$root/init"
        find "$root" -exec touch -h -d @0 {} +
        mkdir -p "$(dirname "$out")"
        (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) |
                gzip -n -9 >"$out.tmp" || { rm -rf "$root" "$out.tmp"; _lab_err "cannot pack $out"; return 1; }
        rm -rf "$root"
        mv "$out.tmp" "$out"
}

# lab_initrd_add_lantern ROOT [BINARY]: copies the lantern binary (default $LANTERN) to ROOT/usr/bin/lantern, with
# the shared libraries it links and tpm2-tss's device TCTI (libtss2-tcti-device.so.0, which tpm2-tss loads with
# dlopen for --tcti device:/dev/tpmrm0), libcurl (which `lantern attest` loads with dlopen, from the path in the
# build's lantern-config.h) and the libraries of both, each at its host path under ROOT. For an initrd
# built with LAB_INITRD_DIR=ROOT.
LAB_TCTI_DEVICE=/usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0
lab_initrd_add_lantern() {
        local root=$1 bin=${2:-${LANTERN:-}} lib curl
        [ -n "$root" ] && [ -x "$bin" ] || { _lab_err "usage: lab_initrd_add_lantern ROOT [BINARY]"; return 1; }
        [ -f "$LAB_TCTI_DEVICE" ] || { _lab_err "$LAB_TCTI_DEVICE is not installed"; return 1; }
        # libcurl is loaded at run time by `lantern attest` (not linked), from the path the build recorded.
        curl=$(sed -n 's/^#define LANTERN_LIBCURL_PATH "\(.*\)"$/\1/p' "$(dirname "$bin")/lantern-config.h" 2>/dev/null)
        [ -f "$curl" ] || { _lab_err "no libcurl path in $(dirname "$bin")/lantern-config.h"; return 1; }
        mkdir -p "$root/usr/bin" && cp "$bin" "$root/usr/bin/lantern" || { _lab_err "cannot copy $bin"; return 1; }
        for lib in $(ldd "$bin" | grep -o '/[^ ]*') $(ldd "$LAB_TCTI_DEVICE" | grep -o '/[^ ]*') \
                   "$LAB_TCTI_DEVICE" $(ldd "$curl" | grep -o '/[^ ]*') "$curl"; do
                mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib" ||
                        { _lab_err "cannot copy $lib"; return 1; }
        done
}

# lab_initrd_add_virtio_net ROOT: copies virtio-net and the modules it needs from the cached kernel to
# ROOT/modules/, and writes ROOT/lab-net.sh, which the guest sources (`. /lab-net.sh`) to load them in
# dependency order, wait for eth0 and configure it for QEMU's user network (10.0.2.15/24, gateway 10.0.2.2).
# The guest's QEMU needs a virtio-net-pci NIC on a -netdev user.
LAB_VIRTIO_NET_MODULES="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
        drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci net/core/failover drivers/net/net_failover
        drivers/net/virtio_net"
lab_initrd_add_virtio_net() {
        local root=$1 k v mods m
        [ -n "$root" ] || { _lab_err "usage: lab_initrd_add_virtio_net ROOT"; return 1; }
        k=$(lab_kernel) && v=$(lab_kernel_version) || return 1
        mods=$(dirname "$k")/../lib/modules/$v/kernel
        mkdir -p "$root/modules" || return 1
        : >"$root/lab-net.sh"
        for m in $LAB_VIRTIO_NET_MODULES; do
                cp "$mods/$m.ko" "$root/modules/" || { _lab_err "no module $m.ko in $mods"; return 1; }
                echo "insmod /modules/${m##*/}.ko" >>"$root/lab-net.sh"
        done
        cat >>"$root/lab-net.sh" <<'EOF'
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
EOF
}

# lab_u16 FILE OFFSET, lab_u32 FILE OFFSET: print the little-endian 16- or 32-bit value at OFFSET of FILE, in
# decimal.
_lab_u() { od -An -t "u$3" -j "$2" -N "$3" "$1" | tr -d ' \n'; }
lab_u16() { _lab_u "$1" "$2" 2; }
lab_u32() { _lab_u "$1" "$2" 4; }

# lab_put_le FILE OFFSET BYTES VALUE: overwrites BYTES bytes of FILE at OFFSET with VALUE, little-endian.
lab_put_le() {
        local i s=""
        for ((i = 0; i < $3; i++)); do s+=$(printf '\\x%02x' $(($4 >> (8 * i) & 255))); done
        printf "$s" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# lab_pe_sections FILE: prints one line per PE section of FILE: "<name> <VirtualSize> <VirtualAddress>
# <SizeOfRawData> <PointerToRawData>" (decimal), read straight from the section table.
lab_pe_sections() {
        local f=$1 pe nsec optsz off i name
        [ "$(head -c 2 "$f" 2>/dev/null)" = MZ ] || { _lab_err "$f: not a PE file"; return 1; }
        pe=$(_lab_u "$f" 60 4)
        [ "$(dd if="$f" bs=1 skip="$pe" count=4 status=none | od -An -tx1 | tr -d ' \n')" = 50450000 ] ||
                { _lab_err "$f: no PE signature at offset $pe"; return 1; }
        nsec=$(_lab_u "$f" $((pe + 6)) 2)
        optsz=$(_lab_u "$f" $((pe + 20)) 2)
        off=$((pe + 24 + optsz))
        for ((i = 0; i < nsec; i++)); do
                name=$(dd if="$f" bs=1 skip=$((off + 40 * i)) count=8 status=none | tr -d '\0')
                echo "$name $(_lab_u "$f" $((off + 40 * i + 8)) 4) $(_lab_u "$f" $((off + 40 * i + 12)) 4)" \
                     "$(_lab_u "$f" $((off + 40 * i + 16)) 4) $(_lab_u "$f" $((off + 40 * i + 20)) 4)"
        done
}

# lab_pe_section FILE NAME: prints the VirtualSize bytes of the section NAME of the PE file FILE; fails when
# FILE has no such section.
lab_pe_section() {
        local line
        line=$(lab_pe_sections "$1" | awk -v n="$2" '$1 == n')
        [ -n "$line" ] || return 1
        set -- "$1" $line
        dd if="$1" bs=1 skip="$6" count="$3" status=none
}

# lab_pe_section_hex FILE NAME: the same bytes as lowercase hex on one line (the .linuxh/.initrdh SHA-256 of a
# thin stub).
lab_pe_section_hex() { lab_pe_section "$1" "$2" | od -An -tx1 | tr -d ' \n'; }

# lab_pe_section_esp_path FILE NAME: a section holding an ESP path (\EFI\...: a thin stub's .linux/.initrd) as a
# path relative to the ESP's root (EFI/...).
lab_pe_section_esp_path() { lab_pe_section "$1" "$2" | tr '\\' '/' | sed 's|^/||'; }

# lab_uki_sections OUT STUB NAME=FILE...: writes OUT, STUB with a section NAME holding FILE added for each
# argument, in the given PE order, with objcopy --add-section and --change-section-vma: each page-aligned above
# the one before, the first above the stub's last section, VirtualSize = the file's size
# (shared/notes/boot-lab.md). objcopy stamps the current time into the COFF header.
lab_uki_sections() {
        local out=$1 stub=$2 end=0 idx name size vma rest e a spec args=()
        shift 2
        while read -r idx name size vma rest; do
                [[ $idx =~ ^[0-9]+$ ]] || continue
                e=$((0x$vma + 0x$size)); ((e > end)) && end=$e
        done < <(objdump -h -w "$stub")
        [ "$end" -gt 0 ] || { _lab_err "lab_uki_sections: cannot read the sections of $stub"; return 1; }
        a=$(((end + 0xfff) & ~0xfff))
        for spec in "$@"; do
                args+=(--add-section "$spec" --change-section-vma "${spec%%=*}=$(printf 0x%x $a)")
                a=$(((a + $(stat -c %s "${spec#*=}") + 0xfff) & ~0xfff))
        done
        objcopy "${args[@]}" "$stub" "$out"
}

# lab_uki OUT STUB KERNEL INITRD CMDLINE_FILE OSREL_FILE: builds a UKI with lab_uki_sections on STUB (empty:
# systemd's linuxx64.efi.stub), in the order .osrel .cmdline .linux .initrd. Each section's VirtualSize is
# checked to equal its input file's size (the stub measures VirtualSize bytes; systemd-measure hashes whole
# files). The output is reproducible: the same inputs give the same bytes.
lab_uki() {
        [ $# -eq 6 ] || { _lab_err "usage: lab_uki OUT STUB KERNEL INITRD CMDLINE_FILE OSREL_FILE"; return 1; }
        local out=$1 stub=${2:-$LAB_STUB_DEFAULT} kernel=$3 initrd=$4 cmdline=$5 osrel=$6
        local f name file secs got
        for f in "$stub" "$kernel" "$initrd" "$cmdline" "$osrel"; do
                [ -f "$f" ] || { _lab_err "lab_uki: no such file: $f"; return 1; }
        done
        lab_uki_sections "$out.tmp" "$stub" .osrel="$osrel" .cmdline="$cmdline" .linux="$kernel" .initrd="$initrd" ||
                { rm -f "$out.tmp"; _lab_err "lab_uki: cannot add the sections to $stub"; return 1; }
        # objcopy stamps the current time into the COFF header: copy the stub's TimeDateStamp instead, so a UKI
        # is a function of its inputs (its Authenticode hash lands in PCR 4), and zero the optional header's
        # CheckSum, which covered the old stamp (0 means "not computed"; UEFI does not check it).
        local pe
        pe=$(lab_u32 "$out.tmp" 60)
        dd if="$stub" of="$out.tmp" bs=1 skip=$((pe + 8)) seek=$((pe + 8)) count=4 conv=notrunc status=none &&
        dd if=/dev/zero of="$out.tmp" bs=1 seek=$((pe + 24 + 64)) count=4 conv=notrunc status=none ||
                { rm -f "$out.tmp"; _lab_err "lab_uki: cannot patch the PE header of $out"; return 1; }
        secs=$(lab_pe_sections "$out.tmp") || { rm -f "$out.tmp"; return 1; }
        for name in .osrel .cmdline .linux .initrd; do
                case $name in
                .osrel) file=$osrel ;; .cmdline) file=$cmdline ;; .linux) file=$kernel ;; .initrd) file=$initrd ;;
                esac
                got=$(awk -v n="$name" '$1 == n { print $2 }' <<<"$secs")
                if [ "$got" != "$(stat -c %s "$file")" ]; then
                        rm -f "$out.tmp"
                        _lab_err "lab_uki: section $name VirtualSize ${got:-missing} != size of $file"
                        return 1
                fi
        done
        mv "$out.tmp" "$out"
}

# lab_fold_pcr11 BANK NAME=FILE...: prints PCR 11 of BANK (sha1, sha256, ...: the coreutils BANKsum) from zero
# after extend(H(NAME\0)), extend(H(FILE)) for each pair, in the given order: systemd-stub's measurement of
# the sections, computed with coreutils and xxd alone, as an oracle.
lab_fold_pcr11() {
        local bank=$1 spec pcr d n
        shift
        n=$(printf '' | "${bank}sum" | cut -d' ' -f1 | tr -d '\n' | wc -c)
        pcr=$(printf "%0${n}d" 0)
        for spec in "$@"; do
                for d in "$(printf '%s\0' "${spec%%=*}" | "${bank}sum" | cut -d' ' -f1)" "$("${bank}sum" <"${spec#*=}" | cut -d' ' -f1)"; do
                        pcr=$({ printf '%s' "$pcr" | xxd -r -p; printf '%s' "$d" | xxd -r -p; } | "${bank}sum" | cut -d' ' -f1)
                done
        done
        echo "$pcr"
}

# lab_signing_key: prints the path of OVMF's snakeoil private key decrypted (once) into the lab cache.
lab_signing_key() {
        local key=$LAB_CACHE/PkKek-1-snakeoil.key
        mkdir -p "$LAB_CACHE"
        if [ ! -s "$key" ]; then
                (umask 077 && openssl pkey -passin pass:snakeoil -in "$LAB_SNAKEOIL_KEY" -out "$key.$$") ||
                        { rm -f "$key.$$"; _lab_err "cannot decrypt $LAB_SNAKEOIL_KEY"; return 1; }
                mv "$key.$$" "$key"
        fi
        echo "$key"
}

# lab_sign IN OUT: signs the PE file IN with sbsign and OVMF's snakeoil key/cert (enrolled in
# OVMF_VARS_4M.snakeoil.fd), writing OUT.
lab_sign() {
        local in=$1 out=$2 key
        key=$(lab_signing_key) || return 1
        sbsign --key "$key" --cert "$LAB_SNAKEOIL_CERT" --output "$out" "$in" >/dev/null 2>"$out.err" ||
                { cat "$out.err" >&2; rm -f "$out.err" "$out"; _lab_err "sbsign $in failed"; return 1; }
        rm -f "$out.err"
}

# lab_esp DIR EFI_FILE: makes DIR an ESP directory that boots EFI_FILE straight from the firmware
# (DIR/EFI/BOOT/BOOTX64.EFI).
lab_esp() {
        local dir=$1 efi=$2
        [ -f "$efi" ] || { _lab_err "lab_esp: no such file: $efi"; return 1; }
        mkdir -p "$dir/EFI/BOOT"
        cp "$efi" "$dir/EFI/BOOT/BOOTX64.EFI"
}

# lab_esp_sdboot DIR UKI [BOOTLOADER]: makes DIR an ESP for the systemd-boot chain: BOOTLOADER (default
# systemd's systemd-bootx64.efi; pass a signed copy for Secure Boot) as EFI/BOOT/BOOTX64.EFI, UKI as
# EFI/Linux/lab.efi (a type #2 entry) and loader/loader.conf with `timeout 0`, so it boots without a menu.
lab_esp_sdboot() {
        local dir=$1 uki=$2 boot=${3:-$LAB_SDBOOT_DEFAULT}
        [ -f "$uki" ] || { _lab_err "lab_esp_sdboot: no such file: $uki"; return 1; }
        [ -f "$boot" ] || { _lab_err "lab_esp_sdboot: no such file: $boot"; return 1; }
        mkdir -p "$dir/EFI/BOOT" "$dir/EFI/Linux" "$dir/loader"
        cp "$boot" "$dir/EFI/BOOT/BOOTX64.EFI"
        cp "$uki" "$dir/EFI/Linux/lab.efi"
        echo "timeout 0" >"$dir/loader/loader.conf"
}

# lab_eventlog_pcrs LOG: prints tpm2_eventlog's replay of the binary event log LOG as "<bank> <n> <hex>"
# lines (lowercase, sorted by bank then PCR). Fails if tpm2_eventlog cannot parse LOG.
lab_eventlog_pcrs() {
        local yaml
        yaml=$(tpm2_eventlog "$1" 2>/dev/null) || { _lab_err "tpm2_eventlog cannot parse $1"; return 1; }
        awk '
                /^pcrs:/ { inp = 1; next }
                inp && /^  [a-z0-9]+:$/ { bank = $1; sub(/:$/, "", bank); next }
                inp && bank != "" && /^    [0-9]+ *: *0x/ {
                        n = $1; sub(/:$/, "", n); v = $NF; sub(/^0x/, "", v)
                        print bank, n + 0, tolower(v)
                }
                inp && /^[^ ]/ { inp = 0 }
        ' <<<"$yaml" | sort -k1,1 -k2,2n
}

# lab_eventlog_digests LOG: prints one line per digest of every event in the binary event log LOG, as decoded
# by tpm2_eventlog: "<event number> <pcr> <event type> <bank> <lowercase hex>", in log order. Filter it with
# awk, e.g. `awk '$2 == 4 && $3 == "EV_EFI_BOOT_SERVICES_APPLICATION" && $4 == "sha256" { print $5 }'`.
lab_eventlog_digests() {
        local yaml
        yaml=$(tpm2_eventlog "$1" 2>/dev/null) || { _lab_err "tpm2_eventlog cannot parse $1"; return 1; }
        awk '
                /^- EventNum:/ { num = $3; pcr = ""; type = ""; alg = ""; next }
                /^  PCRIndex:/ { pcr = $2; next }
                /^  EventType:/ { type = $2; next }
                /^  - AlgorithmId:/ { alg = $3; next }
                /^    Digest:/ && alg != "" { d = $2; gsub(/"/, "", d); print num, pcr, type, alg, tolower(d); alg = "" }
                /^pcrs:/ { exit }
        ' <<<"$yaml"
}

# lab_check_replay LOG PCRS: compares tpm2_eventlog's replay of LOG with the PCR file PCRS ("<bank> <n> <hex>"
# lines): every PCR the replay names must equal PCRS, and every bank in PCRS must be replayed. Prints the
# differences and returns 1 on mismatch.
lab_check_replay() {
        local log=$1 pcrs=$2 replay diff rc=0 bank
        replay=$(lab_eventlog_pcrs "$log") || return 1
        [ -n "$replay" ] || { _lab_err "tpm2_eventlog replayed nothing from $log"; return 1; }
        diff=$(join -j1 <(awk '{ print $1 "/" $2, $3 }' <<<"$replay" | sort) \
                        <(awk '{ print $1 "/" $2, $3 }' "$pcrs" | sort) -a1 |
                awk '$2 != $3 { print "  " $1 ": replay " $2 ", guest " ($3 == "" ? "missing" : $3) }')
        if [ -n "$diff" ]; then
                _lab_err "tpm2_eventlog replay of $log differs from $pcrs:"
                echo "$diff" >&2
                rc=1
        fi
        for bank in $(awk '{ print $1 }' "$pcrs" | sort -u); do
                grep -q "^$bank " <<<"$replay" || { _lab_err "bank $bank of $pcrs is not in the replay of $log"; rc=1; }
        done
        return $rc
}

# lab_boot OUTDIR ESP_DIR [--secureboot] [--vars FILE] [--timeout S] [--tpmstate DIR] [--qemu-arg ARG]...:
# boots ESP_DIR (a directory served as a FAT drive) on QEMU q35 (TCG) with OVMF and a fresh swtpm (or the
# state in --tpmstate DIR, kept), and writes:
#   OUTDIR/serial.log    the serial console, \r stripped
#   OUTDIR/pcrs.txt      "<bank> <n> <hex>" lines from the guest, sorted by bank then PCR
#   OUTDIR/eventlog.bin  the guest's binary_bios_measurements
# --secureboot uses OVMF_CODE_4M.secboot.fd with OVMF_VARS_4M.snakeoil.fd (Secure Boot enforced, snakeoil keys).
# --vars FILE uses FILE as the writable variable store in place (it persists across boots); without it a
# fresh copy of the matching OVMF_VARS is used. --timeout (default $LAB_BOOT_TIMEOUT, else 180 s) kills QEMU by
# its pid file.
# --qemu-arg passes one more argument to QEMU (repeatable). Returns non-zero with a message if the guest
# never printed LANTERN-DONE; when OVMF reports that no boot option could be started (as when Secure Boot
# refuses an image) QEMU is stopped at once rather than at the timeout.
lab_boot() {
        local out=$1 esp=$2 sb=0 vars="" timeout=${LAB_BOOT_TIMEOUT:-180} tpmstate="" qemu_extra=()
        shift 2 || { _lab_err "usage: lab_boot OUTDIR ESP_DIR [options]"; return 1; }
        while [ $# -gt 0 ]; do
                case $1 in
                --secureboot) sb=1; shift ;;
                --vars) vars=$2; shift 2 ;;
                --timeout) timeout=$2; shift 2 ;;
                --tpmstate) tpmstate=$2; shift 2 ;;
                --qemu-arg) qemu_extra+=("$2"); shift 2 ;;
                *) _lab_err "lab_boot: unknown option $1"; return 1 ;;
                esac
        done
        [ -d "$esp" ] || { _lab_err "lab_boot: no ESP directory $esp"; return 1; }
        mkdir -p "$out" || return 1
        out=$(cd "$out" && pwd)
        esp=$(cd "$esp" && pwd)
        rm -f "$out/serial.log" "$out/pcrs.txt" "$out/eventlog.bin"

        # Short absolute paths: a unix socket path must fit in 108 bytes.
        local run code machine=(-machine q35,accel=tcg) rc=0
        run=$(mktemp -d /tmp/lab-boot.XXXXXX) || return 1
        if [ -n "$tpmstate" ]; then
                mkdir -p "$tpmstate" && tpmstate=$(cd "$tpmstate" && pwd)
        else
                tpmstate=$run/tpm
                mkdir -p "$tpmstate"
        fi
        if [ "$sb" = 1 ]; then
                code=$LAB_OVMF_CODE_SB
                machine=(-machine q35,smm=on,accel=tcg -global driver=cfi.pflash01,property=secure,value=on)
                [ -n "$vars" ] || { cp "$LAB_OVMF_VARS_SB" "$run/vars.fd"; vars=$run/vars.fd; }
        else
                code=$LAB_OVMF_CODE
                [ -n "$vars" ] || { cp "$LAB_OVMF_VARS" "$run/vars.fd"; vars=$run/vars.fd; }
        fi
        vars=$(cd "$(dirname "$vars")" && pwd)/$(basename "$vars")

        if ! swtpm socket --tpm2 --tpmstate dir="$tpmstate" --ctrl type=unixio,path="$run/swtpm.sock" \
                        --flags not-need-init --daemon --pid file="$run/swtpm.pid" --log file="$run/swtpm.log" \
                        2>"$run/swtpm.err"; then
                _lab_err "swtpm failed to start: $(cat "$run/swtpm.err" "$run/swtpm.log" 2>/dev/null)"
                rm -rf "$run"
                return 1
        fi

        local qpid="" i=0 start=$SECONDS timed_out=0 no_boot=0
        # `timeout` is only a backstop for when this shell dies before its own deadline below.
        timeout --kill-after=10 $((timeout + 60)) qemu-system-x86_64 "${machine[@]}" -m 512 -smp 1 \
                -drive if=pflash,format=raw,readonly=on,file="$code" \
                -drive if=pflash,format=raw,file="$vars" \
                -drive format=raw,file=fat:rw:"$esp" \
                -chardev socket,id=chrtpm,path="$run/swtpm.sock" \
                -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0 \
                -nographic -monitor none -serial file:"$run/serial.raw" -no-reboot -net none \
                -pidfile "$run/qemu.pid" "${qemu_extra[@]}" \
                </dev/null >"$run/qemu.out" 2>&1 &
        qpid=$!
        while kill -0 "$qpid" 2>/dev/null; do
                # OVMF gave up on every boot option (e.g. Secure Boot refused the image): nothing more will come.
                grep -q 'BdsDxe: No bootable option or device was found' "$run/serial.raw" 2>/dev/null && no_boot=1
                if [ "$no_boot" = 1 ] || [ $((SECONDS - start)) -ge "$timeout" ]; then
                        [ "$no_boot" = 1 ] || timed_out=1
                        [ -s "$run/qemu.pid" ] && kill "$(cat "$run/qemu.pid")" 2>/dev/null
                        sleep 2
                        [ -s "$run/qemu.pid" ] && kill -9 "$(cat "$run/qemu.pid")" 2>/dev/null
                        break
                fi
                sleep 1
        done
        wait "$qpid" 2>/dev/null
        # swtpm usually exits when QEMU closes its control channel; stop it by its pid if not.
        if [ -s "$run/swtpm.pid" ]; then
                local spid
                spid=$(cat "$run/swtpm.pid")
                for ((i = 0; i < 20; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.2; done
                if kill -0 "$spid" 2>/dev/null; then
                        kill "$spid" 2>/dev/null
                        for ((i = 0; i < 20; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.2; done
                fi
        fi

        tr -d '\r' <"$run/serial.raw" >"$out/serial.log" 2>/dev/null
        if ! grep -q '^LANTERN-DONE' "$out/serial.log"; then
                if [ "$no_boot" = 1 ]; then
                        _lab_err "the firmware found nothing it could boot (Access Denied / Security Violation: unsigned image under Secure Boot?); see $out/serial.log"
                elif [ "$timed_out" = 1 ]; then
                        _lab_err "guest did not print LANTERN-DONE within ${timeout}s (killed); see $out/serial.log"
                else
                        _lab_err "guest stopped without printing LANTERN-DONE; see $out/serial.log"
                fi
                [ -s "$run/qemu.out" ] && sed 's/^/lab: qemu: /' "$run/qemu.out" | head -20 >&2
                tail -n 15 "$out/serial.log" | sed 's/^/lab: serial: /' >&2
                rm -rf "$run"
                return 1
        fi
        grep '^LANTERN-PCR ' "$out/serial.log" | awk '{ print $2, $3, tolower($4) }' |
                sort -k1,1 -k2,2n >"$out/pcrs.txt"
        sed -n '/^LANTERN-EVENTLOG-BEGIN$/,/^LANTERN-EVENTLOG-END$/p' "$out/serial.log" |
                sed '1d;$d' | base64 -d >"$out/eventlog.bin" 2>/dev/null || rc=1
        rm -rf "$run"
        if [ "$rc" != 0 ] || [ ! -s "$out/pcrs.txt" ] || [ ! -s "$out/eventlog.bin" ]; then
                _lab_err "no PCRs or no event log in $out/serial.log"
                return 1
        fi
        echo "lab: booted in $((SECONDS - start))s" >&2
        return 0
}

# lab_osrel FILE: writes a small os-release for lab UKIs.
lab_osrel() {
        printf 'NAME="Lantern Lab"\nID=lantern-lab\nVERSION_ID=1\nPRETTY_NAME="Lantern Lab 1"\n' >"$1"
}

# lab_cmdline FILE [TEXT]: writes TEXT (default $LAB_CMDLINE_DEFAULT) to FILE without a trailing newline,
# as the UKI's .cmdline.
lab_cmdline() {
        printf '%s' "${2:-$LAB_CMDLINE_DEFAULT}" >"$1"
}

# lab_microsoft_certs DIR: extracts Microsoft's Secure Boot certificates from the KEK and db variables of OVMF's
# Microsoft-enrolled variable store (OVMF_VARS_4M.ms.fd) into DIR/KEK/*.der and DIR/db/*.der (only certificates
# whose subject names Microsoft), the layout `lantern keys enroll --microsoft DIR` reads.
lab_microsoft_certs() {
        local dir=$1
        mkdir -p "$dir/KEK" "$dir/db" || return 1
        python3 - "$LAB_OVMF_VARS_MS" "$dir" <<'PY' || { _lab_err "cannot extract Microsoft certificates"; return 1; }
import struct, subprocess, sys
store, out = open(sys.argv[1], "rb").read(), sys.argv[2]
x509 = bytes.fromhex("a159c0a5e494a74a87b5ab155c2bf072")
found = {"KEK": 0, "db": 0}
i = 0
while (i := store.find(b"\xaa\x55", i)) >= 0 and i + 60 <= len(store):
    # EDK2 AUTHENTICATED_VARIABLE_HEADER: StartId, State, Reserved, Attributes, MonotonicCount, TimeStamp,
    # PubKeyIndex, NameSize, DataSize, VendorGuid (60 bytes), then the name and the data.
    state = store[i + 2]
    nsize, dsize = struct.unpack_from("<II", store, i + 36)
    name = store[i + 60:i + 60 + nsize].decode("utf-16le", "replace").rstrip("\0")
    if state == 0x3F and name in found and 0 < dsize < 65536:
        data = store[i + 60 + nsize:i + 60 + nsize + dsize]
        p = 0
        while p + 28 <= len(data):
            lsize, hsize, ssize = struct.unpack_from("<III", data, p + 16)
            if data[p:p + 16] == x509:
                for e in range(p + 28 + hsize, p + lsize, ssize):
                    der = data[e + 16:e + ssize]
                    subj = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"], input=der,
                                          capture_output=True).stdout.decode()
                    if "Microsoft" in subj:
                        found[name] += 1
                        open(f"{out}/{name}/microsoft-{found[name]}.der", "wb").write(der)
            p += lsize
    i += 2
sys.exit(0 if found["KEK"] and found["db"] else 1)
PY
}
