#!/bin/bash
# Which sections are measured, and how names are matched, follows the stub version read from the UKI's
# .sdmagic: systemd-stub 252 (Debian's; prefix match, last wins; no .uname/.sbat), 254 (adds .uname and the
# stub's own .sbat), 257 (exact names, first wins), lantern-stub (256's set minus .sbat, exact names), none
# (252 rules, with a notice), and one older than 252 (refused). Oracles: systemd-measure 252 and a fold done
# in the shell with sha256sum and xxd over sections cut out with objdump's offsets.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

SM=/usr/lib/systemd/systemd-measure
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
need_files "$SM" "$STUB"
need_tools objcopy objdump xxd sha1sum sha256sum od dd pesign
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }


cd "$TEST_TMP"
printf 'NAME="Lantern"\nID=lantern\n' >osrel
printf 'console=ttyS0' >cmdline
head -c 50001 /dev/urandom >initrd
head -c 100003 /dev/urandom >kernel
head -c 4099 /dev/urandom >linuxh # a section whose name starts with ".linux"
head -c 1001 /dev/urandom >ucode
printf '6.1.0-lantern' >uname

sm() { "$SM" calculate "$@" --bank=sha256 --phase= 2>/dev/null | sed -n 's/^11:sha256=/sha256 11 /p'; }
measure() { "$LANTERN" uki measure --bank sha256 "$@"; }
# The Debian stub's own .sbat as it is in memory (objdump's Size is VirtualSize, below SizeOfRawData here).
read -r off size < <(objdump -h -w "$STUB" | awk '$2 == ".sbat" { print $6, $3 }')
dd if="$STUB" of=sbat bs=1 skip=$((0x$off)) count=$((0x$size)) status=none
check "the Debian stub carries an .sbat section" test -s sbat
# stub_with OUT TEXT: the Debian stub with its .sdmagic replaced by TEXT (NUL-terminated).
stub_with() {
  printf '%s\0' "$2" >"$1.sdmagic"
  objcopy --remove-section .sdmagic "$STUB" "$1.tmp"
  lab_uki_sections "$1" "$1.tmp" .sdmagic="$1.sdmagic"
}
SECTIONS=(.osrel=osrel .cmdline=cmdline .initrd=initrd .ucode=ucode .uname=uname .linux=kernel .linuxh=linuxh)

# 252 as shipped: ".linuxh" matches ".linux" by prefix and, later in the table, wins; no .ucode/.uname/.sbat.
lab_uki_sections u252.efi "$STUB" "${SECTIONS[@]}"
check_eq "systemd-stub 252: prefix match, last wins (equals systemd-measure --linux=<.linuxh>)" \
  "$(measure u252.efi 2>stderr)" "$(sm --linux=linuxh --osrel=osrel --cmdline=cmdline --initrd=initrd)"
check_eq "systemd-stub 252: no notice" "$(cat stderr)" ""
check_eq "systemd-stub 252: stub in JSON" \
  "$("$LANTERN" uki measure --json u252.efi | jq -r '"\(.stub.ident)|\(.stub.rules)|\(.stub.match)|\(.stub.assumed)"')" \
  "$(grep -a -o '#### LoaderInfo: [^#]* ####' "$STUB" | sed 's/^#### LoaderInfo: \(.*\) ####$/\1/')|252|prefix-last|false"

# No .sdmagic: 252 rules, and a notice saying so.
objcopy --remove-section .sdmagic "$STUB" nomagic.stub
lab_uki_sections none.efi nomagic.stub "${SECTIONS[@]}"
check_eq "no .sdmagic: 252 rules" "$(measure none.efi 2>stderr)" \
  "$(sm --linux=linuxh --osrel=osrel --cmdline=cmdline --initrd=initrd)"
check "no .sdmagic: notice on stderr" grep -q "none.efi: no stub version found.*assuming systemd-stub 252" stderr

# Something else in .sdmagic (systemd-boot's): 252 rules, and the notice names it.
stub_with boot.stub "#### LoaderInfo: systemd-boot 252 ####"
lab_uki_sections boot.efi boot.stub "${SECTIONS[@]}"
check_eq "unknown .sdmagic: 252 rules" "$(measure boot.efi 2>stderr)" \
  "$(sm --linux=linuxh --osrel=osrel --cmdline=cmdline --initrd=initrd)"
check "unknown .sdmagic: notice names it" grep -q "names no known stub ('systemd-boot 252')" stderr

# 254: .uname and the stub's own .sbat are measured, after .dtb; names still by prefix.
stub_with s254.stub "#### LoaderInfo: systemd-stub 254.5 ####"
lab_uki_sections u254.efi s254.stub "${SECTIONS[@]}"
check_eq "systemd-stub 254: adds .uname and .sbat" "$(measure u254.efi)" \
  "sha256 11 $(lab_fold_pcr11 sha256 .linux=linuxh .osrel=osrel .cmdline=cmdline .initrd=initrd .uname=uname .sbat=sbat)"

# 257: exact names, first wins; .ucode (256+) between .initrd and .splash.
stub_with s257.stub "#### LoaderInfo: systemd-stub 257.2 ####"
lab_uki_sections u257.efi s257.stub "${SECTIONS[@]}"
check_eq "systemd-stub 257: exact match, adds .ucode" "$(measure u257.efi)" \
  "sha256 11 $(lab_fold_pcr11 sha256 .linux=kernel .osrel=osrel .cmdline=cmdline .initrd=initrd .ucode=ucode .uname=uname .sbat=sbat)"
check_eq "systemd-stub 257: match rule in JSON" "$("$LANTERN" uki measure --json u257.efi | jq -r .stub.match)" exact-first

# lantern-stub: 256's set minus .sbat, exact names. There a .linuxh section is the thin layout's SHA-256 of
# the kernel file (tests/cases/uki-thin.sh), so one that is not 32 bytes is refused, as the stub refuses it.
stub_with lantern.stub "#### LoaderInfo: lantern-stub 0.1 ####"
lab_uki_sections lantern.efi lantern.stub "${SECTIONS[@]:0:6}"
check_eq "lantern-stub: 256 set without .sbat" "$(measure lantern.efi)" \
  "sha256 11 $(lab_fold_pcr11 sha256 .linux=kernel .osrel=osrel .cmdline=cmdline .initrd=initrd .ucode=ucode .uname=uname)"
lab_uki_sections lantern-h.efi lantern.stub "${SECTIONS[@]}"
check_exit "lantern-stub: a 4099-byte .linuxh is refused" 2 "$LANTERN" uki measure lantern-h.efi
check_eq "lantern-stub: kind in JSON" "$("$LANTERN" uki measure --json lantern.efi | jq -r '"\(.stub.kind) \(.stub.rules)"')" \
  "lantern-stub 256"

# Older than 252: nothing goes to PCR 11, so there is nothing to predict.
stub_with s250.stub "#### LoaderInfo: systemd-stub 250 ####"
lab_uki_sections u250.efi s250.stub "${SECTIONS[@]}"
out=$("$LANTERN" uki measure u250.efi 2>&1); rc=$?
check_eq "systemd-stub 250: exit 2" "$rc" 2
check "systemd-stub 250: says why" grep -q "older than 252" <<<"$out"
finish
