#!/bin/bash
# Remote attestation from a booted guest: a two-generation NixOS profile installed with `lantern install` and
# booted (generation 1, through systemd-boot and the Lantern stub) under QEMU + OVMF with a swtpm manufactured by
# swtpm_setup (EK certificate in NV). The initrd runs the real `lantern attest --verifier http://10.0.2.2:PORT`
# against lanternd on the host (loopback, pid file, stopped by that pid), whose golden values are the output of
# `lantern predict --esp --eventlog` (the firmware part from a captured boot log).
#   boot 1: golden values = both generations: pass, naming generation 1, the registered secret released; the
#           machine enrolled from the guest by credential activation;
#   boot 2: golden values changed to generation 2 only: fail, the reason naming PCR 11 with both values.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"
. "$LANTERN_TOP/tests/lab/profile.sh"
. "$LANTERN_TOP/tests/swtpm.sh"
. "$LANTERN_TOP/tests/lanternd.sh"

for t in sbattach qemu-system-x86_64 swtpm swtpm_setup curl jq; do
  command -v "$t" >/dev/null || { not_ok "needs $t"; finish; }
done
LANTERND=$LANTERN_BUILD/lanternd
[ -x "$LANTERND" ] || { not_ok "lanternd is built"; finish; }
export TSS2_LOG=all+none
W=$TEST_TMP
FIRMWARE_LOG=$LANTERN_FIXTURES/boot/sd252-sdboot-sb-off/eventlog.bin
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }

# --- lanternd on the host --------------------------------------------------------------------------------------
TOKEN=$(openssl rand -hex 24)
printf '%s\n' "$TOKEN" >"$W/token"
lanternd_start "$W" "$W/token" || { not_ok "lanternd starts"; cat "$W/lanternd.log"; finish; }
PORT=$LANTERND_PORT
ok "lanternd listens on 127.0.0.1:$PORT"
URL=http://127.0.0.1:$PORT

# --- the TPM: manufactured, its machine id read on the host -----------------------------------------------------
mkdir -p "$W/tpm"
swtpm_setup --tpm2 --tpmstate "$W/tpm" --create-ek-cert --overwrite >"$W/setup.log" 2>&1 || { not_ok "swtpm_setup"; finish; }
swtpm_start "$W/tpm" || { not_ok "swtpm on the state"; finish; }
ID=$("$LANTERN" attest id --tcti "$SWTPM_TCTI")
swtpm_stop "$W/tpm"
[[ $ID =~ ^[0-9a-f]{64}$ ]] && ok "machine id $ID" || { not_ok "machine id"; finish; }

# --- the guest: lantern and what it needs in the initrd ---------------------------------------------------------
R=$W/initrd-root
[ -f "$LAB_TCTI_DEVICE" ] || { not_ok "libtss2-tcti-device"; finish; }
lab_initrd_add_lantern "$R" || { not_ok "copy lantern"; finish; }
lab_initrd_add_virtio_net "$R" || { not_ok "virtio_net modules"; finish; }
cat >"$W/extra.sh" <<EOS
. /lab-net.sh
/usr/bin/lantern attest --verifier http://10.0.2.2:$PORT --tcti device:/dev/tpmrm0 >/attest.out 2>/attest.err
echo "ATTEST-RC \$?"
sed 's/^/ATTEST-OUT /' /attest.out
sed 's/^/ATTEST-ERR /' /attest.err
EOS
LAB_INITRD_DIR=$R lab_initrd "$W/initrd.img" "$W/extra.sh" || { not_ok "initrd"; finish; }
cp "$K" "$W/vmlinuz"
sbattach --remove "$W/vmlinuz" >/dev/null 2>&1

# --- the profile, installed ------------------------------------------------------------------------------------
P=$W/profile
install_profile_init "$P"
install_generation "$P" 1 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.gen=1"
install_generation "$P" 2 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.gen=2"
mkdir -p "$W/esp/loader"
"$LANTERN" keys create --subject "Lantern Attest Test" "$W/keys" >/dev/null || { not_ok "keys create"; finish; }
check "lantern install onto the ESP" "$LANTERN" install --esp "$W/esp" --root "$P" --keys "$W/keys"
g1=$(ls "$W/esp/EFI/Linux/" | grep '^nixos-generation-1-')
printf 'timeout 0\ndefault %s\n' "$g1" >"$W/esp/loader/loader.conf"

"$LANTERN" predict --root "$P" --esp "$W/esp" --eventlog "$FIRMWARE_LOG" --bank sha256 --json >"$W/golden.json" \
  2>"$W/predict.err"
check_eq "lantern predict --esp --eventlog: exit 0" "$?" 0
check_eq "the prediction has two generations with PCRs 4, 7, 9, 11, 12" \
  "$(jq -c '[.generations[] | .pcrs.sha256 | keys]' "$W/golden.json")" '[["11","12","4","7","9"],["11","12","4","7","9"]]'
jq -c '{generations: [.generations[] | select(.generation == 2)]}' "$W/golden.json" >"$W/golden-2.json"

api() { curl -s -o "$W/api.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" --data-binary "@$2" "$URL$1"; }
check_eq "golden values (both generations) registered" "$(api "/v1/machines/$ID/golden" "$W/golden.json")" 200
SECRET=$(openssl rand -base64 32)
printf '{"secret":"%s"}' "$SECRET" >"$W/secret.json"
check_eq "secret registered" "$(api "/v1/machines/$ID/secret" "$W/secret.json")" 200

# No boot index anywhere: OVMF's default order (the empty DVD drive, then the ESP disk, then the NIC's PXE
# options) gives the firmware part of PCR 4 the captured log has. No option ROM on the NIC (its PCR 2 only).
NET=(--qemu-arg -netdev --qemu-arg "user,id=n0" --qemu-arg -device --qemu-arg "virtio-net-pci,netdev=n0,romfile=")
# --- boot 1: pass ------------------------------------------------------------------------------------------------
if lab_boot "$W/b1" "$W/esp" --tpmstate "$W/tpm" "${NET[@]}" >"$W/b1.log" 2>&1; then
  ok "boot 1 reached the initrd"
else
  not_ok "boot 1 reached the initrd"
  sed 's/^/#   /' "$W/b1.log" | tail -20
fi
S=$W/b1/serial.log
check "boot 1: generation 1 booted" grep -q 'lantern.gen=1' "$S"
check_eq "boot 1: lantern attest exit 0" "$(sed -n 's/^ATTEST-RC //p' "$S")" 0
check "boot 1: the guest enrolled its AK" grep -q "^ATTEST-OUT machine $ID (enrolled now)$" "$S"
check "boot 1: verdict pass" grep -q '^ATTEST-OUT verdict pass$' "$S"
check "boot 1: the verdict names generation 1" \
  grep -q '^ATTEST-OUT reason the quoted PCRs are those predicted for generation 1 of profile system, "NixOS Lab 1"$' "$S"
check_eq "boot 1: the secret is released to the guest" "$(sed -n 's/^ATTEST-OUT secret //p' "$S")" "$SECRET"
for pcr in 4 7 9 11 12; do
  check_eq "boot 1: PCR $pcr read in the guest = lantern predict (the golden value)" \
    "$(awk -v p=$pcr '$1 == "sha256" && $2 == p { print $3 }' "$W/b1/pcrs.txt")" \
    "$(jq -r ".generations[] | select(.generation == 1) | .pcrs.sha256[\"$pcr\"]" "$W/golden.json")"
done
grep '^ATTEST-ERR' "$S" | sed 's/^/# /'

# --- boot 2: golden values changed -> fail -------------------------------------------------------------------------
check_eq "golden values changed to generation 2 only" "$(api "/v1/machines/$ID/golden" "$W/golden-2.json")" 200
if lab_boot "$W/b2" "$W/esp" --tpmstate "$W/tpm" "${NET[@]}" >"$W/b2.log" 2>&1; then
  ok "boot 2 reached the initrd"
else
  not_ok "boot 2 reached the initrd"
  sed 's/^/#   /' "$W/b2.log" | tail -20
fi
S=$W/b2/serial.log
want11=$(jq -r '.generations[] | select(.generation == 2) | .pcrs.sha256["11"]' "$W/golden.json")
got11=$(awk '$1 == "sha256" && $2 == 11 { print $3 }' "$W/b2/pcrs.txt")
check_eq "boot 2: lantern attest exit 1" "$(sed -n 's/^ATTEST-RC //p' "$S")" 1
check "boot 2: no new enrollment (the same AK)" bash -c "! grep -q 'enrolled now' '$S'"
check "boot 2: verdict fail" grep -q '^ATTEST-OUT verdict fail$' "$S"
reason=$(sed -n 's/^ATTEST-OUT reason //p' "$S")
check "boot 2: the reason names the closest generation, 2" grep -qF \
  "no golden generation matches the quoted PCRs; closest is generation 2 of profile system, \"NixOS Lab 2\":" <<<"$reason"
check "boot 2: the reason gives PCR 11's golden and quoted value" grep -qF "PCR 11 expected $want11, quoted $got11" <<<"$reason"
differ=""
for pcr in 4 7 9 11 12; do
  [ "$(jq -r ".generations[] | select(.generation == 2) | .pcrs.sha256[\"$pcr\"]" "$W/golden.json")" != \
    "$(awk -v p=$pcr '$1 == "sha256" && $2 == p { print $3 }' "$W/b2/pcrs.txt")" ] && differ="$differ $pcr"
done
check_eq "boot 2: the reason lists exactly the PCRs where the guest's differ from generation 2's prediction" \
  "$(grep -o 'PCR [0-9]* expected' <<<"$reason" | awk '{ printf " %s", $2 }')" "$differ"
check "boot 2: no secret released" bash -c "! grep -q '^ATTEST-OUT secret' '$S'"
grep '^ATTEST-ERR' "$S" | sed 's/^/# /'

pid=$(cat "$W/lanternd.pid")
lanternd_stop "$W"
check "lanternd stopped by its pid" test ! -e "/proc/$pid"
finish
