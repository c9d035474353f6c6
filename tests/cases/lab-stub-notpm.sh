#!/bin/bash
# Without a TPM the stub boots anyway, says so once on the console, and does not claim measurements:
# StubPcrKernelImage stays unset while StubInfo is set. QEMU runs here without a TPM device (lab_boot
# always attaches swtpm), stopped by its pid file on timeout.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

STUB=$LANTERN_BUILD/lantern-stub-x64.efi
[ -e "$STUB" ] || { not_ok "needs $STUB"; finish; }
command -v qemu-system-x86_64 >/dev/null || { not_ok "needs qemu-system-x86_64"; finish; }

W=$TEST_TMP
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }
kver=$(lab_kernel_version)
VENDOR=4a67b082-0a4c-41cf-b6c7-440b29bb8c4f
mkdir -p "$W/root"
cp "$(dirname "$K")/../lib/modules/$kver/kernel/fs/efivarfs/efivarfs.ko" "$W/root/efivarfs.ko"
cat >"$W/extra.sh" <<EOS
insmod /efivarfs.ko
mount -t efivarfs efivarfs /sys/firmware/efi/efivars
for v in StubInfo StubPcrKernelImage; do
  f=/sys/firmware/efi/efivars/\$v-$VENDOR
  if [ -e "\$f" ]; then echo "LANTERN-VAR \$v \$(od -An -tx1 "\$f" | tr -d ' \n')"; else echo "LANTERN-VAR \$v none"; fi
done
EOS
LAB_INITRD_DIR=$W/root lab_initrd "$W/initrd.img" "$W/extra.sh" || { not_ok "initrd"; finish; }
lab_cmdline "$W/cmdline"
lab_osrel "$W/osrel"
lab_uki "$W/uki.efi" "$STUB" "$K" "$W/initrd.img" "$W/cmdline" "$W/osrel" || { not_ok "Lantern UKI"; finish; }
lab_esp "$W/esp" "$W/uki.efi"
cp "$LAB_OVMF_VARS" "$W/vars.fd"

qemu-system-x86_64 -machine q35,accel=tcg -m 512 -smp 1 \
  -drive if=pflash,format=raw,readonly=on,file="$LAB_OVMF_CODE" -drive if=pflash,format=raw,file="$W/vars.fd" \
  -drive format=raw,file=fat:rw:"$W/esp" -nographic -monitor none -serial file:"$W/serial.raw" -no-reboot \
  -net none -pidfile "$W/qemu.pid" </dev/null >"$W/qemu.out" 2>&1 &
qpid=$!
start=$SECONDS
while kill -0 "$qpid" 2>/dev/null; do
  if [ $((SECONDS - start)) -ge 180 ]; then
    [ -s "$W/qemu.pid" ] && kill "$(cat "$W/qemu.pid")" 2>/dev/null
    break
  fi
  sleep 1
done
wait "$qpid" 2>/dev/null
tr -d '\r' <"$W/serial.raw" >"$W/serial.log"

check "the guest booted to the initrd without a TPM" grep -q '^LANTERN-DONE' "$W/serial.log"
check_eq "the console says once that there is no TPM" \
  "$(grep -o 'lantern-stub: No TPM 2.0 found: booting without measurements.' "$W/serial.log" | wc -l)" 1
var() { sed -n "s/^LANTERN-VAR $1 //p" "$W/serial.log"; }
check_eq "StubPcrKernelImage unset (nothing was measured)" "$(var StubPcrKernelImage)" "none"
check "StubInfo set" bash -c "[ -n '$(var StubInfo)' ] && [ '$(var StubInfo)' != none ]"
finish
