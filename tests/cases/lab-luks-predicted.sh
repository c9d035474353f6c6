#!/bin/bash
# A LUKS key sealed to PREDICTED PCRs opens only in the generation it was predicted for, on a real boot:
#   - a two-generation NixOS profile (same kernel and initrd, different command lines, so PCR 11 differs) is
#     installed with `lantern install` onto an ESP (systemd-boot + Lantern stubs, Secure Boot off);
#   - `lantern predict --esp --eventlog` (the firmware part from the captured sd252-sdboot-sb-off boot) gives
#     generation 2's PCR 7 and 11, values that have never been in any TPM;
#   - on the host, `lantern luks enroll --pcr-values` seals a new keyslot's passphrase to them in a fresh swtpm
#     state (a systemd-tpm2 token in a small LUKS2 image);
#   - both generations boot under QEMU + OVMF with a copy of that swtpm state; the LUKS image reaches the guest
#     through QEMU's fw_cfg (it cannot be in the initrd: the initrd is measured into PCR 11). The guest's
#     initrd runs the real lantern binary (its libraries and tpm2-tss's dlopen'ed device TCTI copied in):
#     `lantern luks unlock --tcti device:/dev/tpmrm0 --test`.
# Generation 2 unlocks (exit 0) and its PCR 7 and 11 read in the guest equal the prediction; generation 1 is
# refused (exit 1, the policy mismatch named).
# A second image holds one lantern-tpm2 token sealed to generations 1 and 3 at once (a PolicyOR over their
# predicted PolicyPCR digests, from `lantern predict`'s text output; generation 3 is installed, not booted):
# generation 1 unlocks it, generation 2 is refused (exit 1, "match none of the 2 sealed generations").
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"
. "$LANTERN_TOP/tests/swtpm.sh"
. "$LANTERN_TOP/tests/lab/profile.sh"

for t in sbattach jq qemu-system-x86_64 swtpm cryptsetup; do
        command -v "$t" >/dev/null || { not_ok "needs $t"; finish; }
done
[ -f "$LANTERN_BUILD/lantern-stub-x64.efi" ] || { not_ok "needs the stub $LANTERN_BUILD/lantern-stub-x64.efi"; finish; }
W=$TEST_TMP
export TSS2_LOG=all+none
FIXTURE=$LANTERN_FIXTURES/boot/sd252-sdboot-sb-off/eventlog.bin
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }
kver=$(lab_kernel_version)
PW=lab-passphrase

# --- the guest's initrd: lantern, its libraries, the device TCTI, qemu_fw_cfg ------------------------------------
G=$W/guest
lab_initrd_add_lantern "$G"
[ -f "$G/usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0" ] || { not_ok "libtss2-tcti-device.so.0 is installed"; finish; }
cp "$(dirname "$K")/../lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko" "$G/qemu_fw_cfg.ko" ||
        { not_ok "qemu_fw_cfg.ko in the kernel package"; finish; }
cat >"$W/extra.sh" <<'EOS'
mkdir -p /run /tmp
insmod /qemu_fw_cfg.ko
cat /sys/firmware/qemu_fw_cfg/by_name/opt/lantern/luks.img/raw >/tmp/luks.img
echo "LUKS-IMAGE $(wc -c </tmp/luks.img)"
/usr/bin/lantern luks unlock --tcti device:/dev/tpmrm0 --test /tmp/luks.img >/tmp/luks.out 2>&1
echo "LUKS-RC $?"
sed 's/^/LUKS-OUT /' /tmp/luks.out
cat /sys/firmware/qemu_fw_cfg/by_name/opt/lantern/luks-or.img/raw >/tmp/luks-or.img
/usr/bin/lantern luks unlock --tcti device:/dev/tpmrm0 --test /tmp/luks-or.img >/tmp/luks-or.out 2>&1
echo "LUKSOR-RC $?"
sed 's/^/LUKSOR-OUT /' /tmp/luks-or.out
EOS
LAB_INITRD_DIR=$G lab_initrd "$W/initrd.img" "$W/extra.sh" || { not_ok "initrd"; finish; }
cp "$K" "$W/vmlinuz"
sbattach --remove "$W/vmlinuz" >/dev/null 2>&1

# --- two generations, installed ------------------------------------------------------------------------------------
R=$W/root
install_profile_init "$R"
install_generation "$R" 1 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.gen=1"
install_generation "$R" 2 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.gen=2"
install_generation "$R" 3 "$W/vmlinuz" "$W/initrd.img" "console=ttyS0 panic=-1 lantern.gen=3"
mkdir -p "$W/esp/loader" "$W/keys"
printf 'timeout 0\n' >"$W/esp/loader/loader.conf"
cp "$(lab_signing_key)" "$W/keys/db.key" && cp "$LAB_SNAKEOIL_CERT" "$W/keys/db.crt" || { not_ok "snakeoil keys"; finish; }
check "lantern install onto the ESP" "$LANTERN" install --esp "$W/esp" --root "$R" --keys "$W/keys"
for n in 1 2; do
        f=$(ls "$W/esp/EFI/Linux/" | grep "^nixos-generation-$n-")
        [ "$(wc -l <<<"$f")" = 1 ] && [ -n "$f" ] || { not_ok "one stub for generation $n on the ESP"; finish; }
        cp -a "$W/esp" "$W/esp-$n"
        printf 'timeout 0\ndefault %s\n' "$f" >"$W/esp-$n/loader/loader.conf"
done

# --- predict generation 2, seal to it on the host ------------------------------------------------------------------
"$LANTERN" predict --root "$R" --esp "$W/esp" --eventlog "$FIXTURE" --pcrs 7,11 --bank sha256 --json \
        >"$W/pred.json" 2>"$W/pred.err"
check_eq "lantern predict --esp --eventlog: exit 0" "$?" 0
pred() { jq -r ".generations[] | select(.generation == $1 and .specialisation == null) | .pcrs.sha256[\"$2\"]" "$W/pred.json"; }
for n in 1 2; do for p in 7 11; do
        [[ $(pred $n $p) =~ ^[0-9a-f]{64}$ ]] || not_ok "generation $n PCR $p is predicted"
done; done
check "the generations' predicted PCR 11 differ" test "$(pred 1 11)" != "$(pred 2 11)"
printf 'sha256 7 %s\nsha256 11 %s\n' "$(pred 2 7)" "$(pred 2 11)" >"$W/gen2.pcrs"

truncate -s 2M "$W/luks.img"
printf '%s' "$PW" | cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --luks2-metadata-size 16k --luks2-keyslots-size 512k --key-size 256 "$W/luks.img" - >/dev/null 2>&1 ||
        { not_ok "cryptsetup luksFormat"; finish; }
swtpm_start "$W/tpm" || { not_ok "swtpm starts"; finish; }
PASSWORD=$PW "$LANTERN" luks enroll --tcti "$SWTPM_TCTI" --pcrs 7,11 --pcr-values "$W/gen2.pcrs" "$W/luks.img" \
        >"$W/enroll.out" 2>"$W/enroll.err"
check_eq "lantern luks enroll --pcr-values (generation 2's prediction): exit 0" "$?" 0
check "  ... sealed to the given values" grep -q "sealed to sha256:7,11 (given values)" "$W/enroll.out"
"$LANTERN" luks unlock --tcti "$SWTPM_TCTI" --test "$W/luks.img" >/dev/null 2>&1
check_eq "  ... the host's swtpm (PCRs at reset) cannot unseal it: exit 1" "$?" 1
# Generations 1 and 3 of `lantern predict`'s text output (a '#' header per generation) in one PolicyOR token.
"$LANTERN" predict --root "$R" --esp "$W/esp" --eventlog "$FIXTURE" --pcrs 7,11 --bank sha256 --policy-pcrs 7,11 \
        >"$W/pred.txt" 2>"$W/pred.err"
awk '/^# / { keep = /generation (1|3):/ } keep' "$W/pred.txt" >"$W/gens13.txt"
check_eq "  ... generations 1 and 3 taken from lantern predict's text output" "$(grep -c '^sha256 ' "$W/gens13.txt")" 4
truncate -s 2M "$W/luks-or.img"
printf '%s' "$PW" | cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --luks2-metadata-size 16k --luks2-keyslots-size 512k --key-size 256 "$W/luks-or.img" - >/dev/null 2>&1 ||
        { not_ok "cryptsetup luksFormat"; finish; }
PASSWORD=$PW "$LANTERN" luks enroll --tcti "$SWTPM_TCTI" --pcrs 7,11 --pcr-values "$W/gens13.txt" "$W/luks-or.img" \
        >"$W/enroll.out" 2>"$W/enroll.err"
check_eq "lantern luks enroll --pcr-values (generations 1 and 3): exit 0" "$?" 0
check "  ... one lantern-tpm2 token over 2 value sets" \
        grep -q "(any of 2 value sets through a PolicyOR, lantern-tpm2 token)" "$W/enroll.out"
swtpm_stop "$W/tpm"
cp -a "$W/tpm" "$W/tpm-1"
cp -a "$W/tpm" "$W/tpm-2"

# --- boot both generations ---------------------------------------------------------------------------------------
for n in 1 2; do
        lab_boot "$W/boot-$n" "$W/esp-$n" --tpmstate "$W/tpm-$n" \
                --qemu-arg -fw_cfg --qemu-arg "name=opt/lantern/luks.img,file=$W/luks.img" \
                --qemu-arg -fw_cfg --qemu-arg "name=opt/lantern/luks-or.img,file=$W/luks-or.img" >"$W/boot-$n.log" 2>&1 &
        eval "pid$n=\$!"
done
wait "$pid1"; rc1=$?
wait "$pid2"; rc2=$?
for n in 1 2; do
        eval "rc=\$rc$n"
        if [ "$rc" = 0 ]; then ok "generation $n boots to the initrd"; else
                not_ok "generation $n boots to the initrd"; tail -20 "$W/boot-$n.log" | sed 's/^/#   /'; fi
done
S1=$W/boot-1/serial.log
S2=$W/boot-2/serial.log
check "generation 2's guest read the 2 MiB LUKS image from fw_cfg" grep -q '^LUKS-IMAGE 2097152$' "$S2"
check_eq "generation 2: lantern luks unlock --test in the guest exits 0" "$(sed -n 's/^LUKS-RC //p' "$S2")" 0
check "  ... the token unsealed the passphrase that opens keyslot 1" \
        grep -q '^LUKS-OUT /tmp/luks.img: token 0 unsealed the passphrase of keyslot 1' "$S2"
for p in 7 11; do
        check_eq "generation 2: guest PCR $p sha256 = the prediction sealed to" \
                "$(awk -v p=$p '$1 == "sha256" && $2 == p { print $3 }' "$W/boot-2/pcrs.txt")" "$(pred 2 $p)"
done
check "generation 1's guest read the LUKS image" grep -q '^LUKS-IMAGE 2097152$' "$S1"
check_eq "generation 1: lantern luks unlock --test in the guest exits 1" "$(sed -n 's/^LUKS-RC //p' "$S1")" 1
check "  ... naming the policy mismatch" grep -q '^LUKS-OUT .*do not satisfy the sealed policy' "$S1"
check "  ... and that nothing was unlocked" grep -q '^LUKS-OUT .*not unlocked: the TPM refused every token' "$S1"
check_eq "generation 1: guest PCR 11 = its own prediction (not generation 2's)" \
        "$(awk '$1 == "sha256" && $2 == 11 { print $3 }' "$W/boot-1/pcrs.txt")" "$(pred 1 11)"
check_eq "generation 1: unlock --test of the PolicyOR image (generations 1 and 3) exits 0" \
        "$(sed -n 's/^LUKSOR-RC //p' "$S1")" 0
check "  ... the lantern-tpm2 token unsealed the passphrase that opens keyslot 1" \
        grep -q '^LUKSOR-OUT /tmp/luks-or.img: token 0 unsealed the passphrase of keyslot 1' "$S1"
check_eq "generation 2: unlock --test of the PolicyOR image exits 1" "$(sed -n 's/^LUKSOR-RC //p' "$S2")" 1
check "  ... the PCRs match none of the 2 sealed generations" \
        grep -q '^LUKSOR-OUT .*the PCRs match none of the 2 sealed generations' "$S2"
finish
