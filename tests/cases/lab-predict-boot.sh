#!/bin/bash
# Real boots against `lantern predict --esp --eventlog`: a NixOS profile under --root, installed onto an ESP
# with `lantern install --keys` (OVMF's snakeoil pair as db.key/db.crt), booted through systemd-boot and the
# Lantern stub under QEMU + OVMF + swtpm with Secure Boot off and on. The profile:
#   kernel a  Debian's vmlinuz with its signature removed (sbattach --remove);
#   kernel b  kernel a with 64 KiB of random bytes appended after its last section (a second, distinct
#             kernel file that still boots: the PE loader ignores trailing data);
#   initrd a, initrd b  two busybox initrds that differ by a marker line, each shared by several generations;
#   generation 1  no boot.json (synthesised from kernel, initrd, kernel-params, nixos-version), kernel a +
#                 initrd a;
#   generation 2  kernel a + initrd a, kernelParams with quotes, "=" inside a value and non-ASCII UTF-8;
#   generation 3  kernel a + initrd b, with specialisation "debug" on kernel b + initrd b;
#   generation 4  kernel b + initrd a.
# Every command line carries console=ttyS0 panic=-1. loader.conf's `default` selects the entry. Six boots, two
# at a time, so that every entry boots at least once and each Secure Boot state boots three entries:
#   Secure Boot off: generation 2, generation 3's specialisation, generation 4;
#   Secure Boot on:  generation 1, generation 3, generation 3's specialisation (booted in both states).
# For each boot, PCR 4, 7, 9, 11 and 12 read in the guest equal `lantern predict --esp ESP --eventlog LOG` in
# sha1, sha256, sha384 and sha512, where LOG is the event log of ANOTHER boot with the same Secure Boot state
# (the next one of its three, in a cycle: the firmware part is reused, the entry's part predicted).
# The guest's /proc/cmdline equals the predicted command line, the initrd that ran is the entry's, and PCR 11
# equals systemd-measure calculate over the ESP's kernel and initrd with the predicted cmdline and osrel.
# Time on 2 cores: the six boots (three pairs) 58-84 s, the whole test 64-92 s (40-44 s with four boots).
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

MEASURE=/usr/lib/systemd/systemd-measure
CERT=$LAB_SNAKEOIL_CERT
BANKS="sha1 sha256 sha384 sha512"
for t in sbattach jq qemu-system-x86_64 swtpm tpm2_eventlog "$MEASURE"; do
        command -v "$t" >/dev/null || { not_ok "needs $t"; finish; }
done
[ -f "$LANTERN_BUILD/lantern-stub-x64.efi" ] || { not_ok "needs the stub $LANTERN_BUILD/lantern-stub-x64.efi"; finish; }
W=$TEST_TMP
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }

cp "$K" "$W/vmlinuz-a"
sbattach --remove "$W/vmlinuz-a" >/dev/null 2>&1 || { not_ok "sbattach --remove"; finish; }
{ cat "$W/vmlinuz-a"; head -c 65536 /dev/urandom; } >"$W/vmlinuz-b"
for x in a b; do
        printf 'echo LANTERN-INITRD %s\necho "LANTERN-CMDLINE $(cat /proc/cmdline)"\n' "$x" >"$W/extra-$x.sh"
        lab_initrd "$W/initrd-$x" "$W/extra-$x.sh" || { not_ok "initrd $x"; finish; }
done

# --- the profile -------------------------------------------------------------------------------------------
R=$W/root
P=$R/nix/var/nix/profiles
mkdir -p "$P"
# store FILE NAME: copies FILE into a store path named after its content, prints the in-store file path.
store() {
        local h p
        h=$(sha256sum "$1" | cut -c1-32)
        p=/nix/store/$h-$2
        mkdir -p "$R$p"
        cp "$1" "$R$p/${2%%-*}"
        echo "$p/${2%%-*}"
}
KA=$(store "$W/vmlinuz-a" bzImage-linux-a)
KB=$(store "$W/vmlinuz-b" bzImage-linux-b)
IA=$(store "$W/initrd-a" initrd-linux-a)
IB=$(store "$W/initrd-b" initrd-linux-b)
OSR=/nix/store/ccccccccccccccccccccccccccccccc1-etc
mkdir -p "$R$OSR/etc"
printf 'NAME=NixOS\nID=nixos\nVERSION="24.05 (Uakari)"\nVERSION_ID="24.05"\nPRETTY_NAME="NixOS 24.05 (Uakari)"\n' \
        >"$R$OSR/etc/os-release"
# toplevel ID: an empty system closure with etc/os-release.
toplevel() {
        local t=/nix/store/ddddddddddddddddddddddddddddd$1-nixos-system-lab
        mkdir -p "$R$t"
        ln -s "$OSR/etc" "$R$t/etc"
        echo "$t"
}
# bootspec TOPLEVEL KERNEL INITRD LABEL PARAMS_JSON: the org.nixos.bootspec.v1 object.
bootspec() {
        printf '{"init":"%s/init","initrd":"%s","kernel":"%s","kernelParams":%s,"label":"%s","system":"x86_64-linux","toplevel":"%s"}' \
                "$1" "$3" "$2" "$5" "$4" "$1"
}

# Generation 1: no boot.json.
T1=$(toplevel 01)
MODS=/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee1-kernel-modules
mkdir -p "$R$MODS/lib/modules/6.1.0-lab"
ln -s "$MODS" "$R$T1/kernel-modules"
ln -s "$KA" "$R$T1/kernel"
ln -s "$IA" "$R$T1/initrd"
printf '23.05.1.lab' >"$R$T1/nixos-version"
printf 'x86_64-linux' >"$R$T1/system"
printf 'console=ttyS0 panic=-1 lantern.gen=1' >"$R$T1/kernel-params"

# Generation 2: quotes, "=" inside a value, non-ASCII UTF-8.
T2=$(toplevel 02)
printf '{"org.nixos.bootspec.v1":%s,"org.nixos.specialisation.v1":{}}' \
        "$(bootspec "$T2" "$KA" "$IA" "NixOS Lab 2" \
        '["console=ttyS0","panic=-1","lantern.gen=2","lantern.motd=\"hello = world\"","lantern.opt=a=b,c=d","lantern.name=Grüße→✓"]')" \
        >"$R$T2/boot.json"

# Generation 3 and its specialisation "debug".
T3=$(toplevel 03)
T3D=$(toplevel 3d)
printf '{"org.nixos.bootspec.v1":%s,"org.nixos.specialisation.v1":{"debug":{"org.nixos.bootspec.v1":%s}}}' \
        "$(bootspec "$T3" "$KA" "$IB" "NixOS Lab 3" '["console=ttyS0","panic=-1","lantern.gen=3"]')" \
        "$(bootspec "$T3D" "$KB" "$IB" "NixOS Lab 3 debug" '["console=ttyS0","panic=-1","lantern.gen=3","lantern.spec=debug"]')" \
        >"$R$T3/boot.json"

# Generation 4.
T4=$(toplevel 04)
printf '{"org.nixos.bootspec.v1":%s}' \
        "$(bootspec "$T4" "$KB" "$IA" "NixOS Lab 4" '["console=ttyS0","panic=-1","lantern.gen=4"]')" >"$R$T4/boot.json"

for n in 1 2 3 4; do
        eval "ln -s \$T$n $P/system-$n-link"
done
ln -s system-4-link "$P/system"

# --- install -----------------------------------------------------------------------------------------------
mkdir -p "$W/keys" "$W/esp/loader"
cp "$(lab_signing_key)" "$W/keys/db.key" && cp "$CERT" "$W/keys/db.crt" || { not_ok "snakeoil keys"; finish; }
printf 'timeout 0\n' >"$W/esp/loader/loader.conf"
check "lantern install --keys onto the ESP" "$LANTERN" install --esp "$W/esp" --root "$R" --keys "$W/keys"
"$LANTERN" install --esp "$W/esp" --root "$R" --keys "$W/keys" --status --json >"$W/status.json" 2>"$W/status.err"
check_eq "the ESP holds 5 entries (4 generations and a specialisation)" "$(jq '.entries | length' "$W/status.json")" 5

# entry_file GEN SPEC: the stub's file name under EFI/Linux/ for generation GEN (SPEC: "" or a name).
entry_file() {
        local f
        if [ -z "$2" ]; then
                f=$(ls "$W/esp/EFI/Linux/" | grep "^nixos-generation-$1-" | grep -v -- '-specialisation-')
        else
                f=$(ls "$W/esp/EFI/Linux/" | grep "^nixos-generation-$1-specialisation-$2")
        fi
        [ "$(wc -l <<<"$f")" = 1 ] && [ -n "$f" ] && echo "$f"
}

# --- boots -------------------------------------------------------------------------------------------------
# prepare NAME GEN SPEC: an ESP copy whose loader.conf default is that entry.
prepare() {
        local f
        f=$(entry_file "$2" "$3") || { not_ok "entry file of generation $2 $3 on the ESP"; return 1; }
        cp -a "$W/esp" "$W/esp-$1"
        printf 'timeout 0\ndefault %s\n' "$f" >"$W/esp-$1/loader/loader.conf"
}
# boot_pair NAME1:SB1 NAME2:SB2: boots both ESP copies at once (SB: off or on).
boot_pair() {
        local x n pids=() rc sbopt
        for x in "$@"; do
                n=${x%%:*}
                sbopt=()
                [ "${x#*:}" = on ] && sbopt=(--secureboot)
                lab_boot "$W/$n" "$W/esp-$n" "${sbopt[@]}" >"$W/$n.log" 2>&1 &
                pids+=($!)
        done
        for x in "$@"; do
                n=${x%%:*}
                wait "${pids[0]}"; rc=$?
                pids=("${pids[@]:1}")
                if [ "$rc" = 0 ]; then
                        ok "boot $n reached the initrd"
                else
                        not_ok "boot $n reached the initrd"
                        sed 's/^/#   /' "$W/$n.log" | tail -20
                fi
        done
}
prepare off-g2 2 "" && prepare off-g3d 3 debug && prepare off-g4 4 "" &&
        prepare on-g1 1 "" && prepare on-g3 3 "" && prepare on-g3d 3 debug || finish
start=$SECONDS
boot_pair off-g2:off off-g3d:off
boot_pair off-g4:off on-g1:on
boot_pair on-g3:on on-g3d:on
echo "# 6 boots in $((SECONDS - start)) s"

# expect BOOT OTHER GEN SPEC SBSTATE: checks boot BOOT (generation GEN, specialisation SPEC or null) against
# the prediction made from OTHER's event log.
expect() {
        local b=$1 other=$2 gen=$3 spec=$4 sb=$5 sel pred bank pcr want got k i
        [ -s "$W/$b/pcrs.txt" ] && [ -s "$W/$other/eventlog.bin" ] || { not_ok "$b: no boot output to check"; return; }
        lab_assert_secureboot "$b" "$W/$b" "$sb"
        check "$b: tpm2_eventlog replays the log to the guest's PCRs" lab_check_replay "$W/$b/eventlog.bin" "$W/$b/pcrs.txt"
        "$LANTERN" predict --root "$R" --esp "$W/esp" --eventlog "$W/$other/eventlog.bin" \
                --bank sha1,sha256,sha384,sha512 --json >"$W/$b.pred.json" 2>"$W/$b.pred.err"
        check_eq "$b: lantern predict --esp --eventlog (log of $other) exits 0" "$?" 0
        sel=".generations[] | select(.profile == \"system\" and .generation == $gen and .specialisation == $spec)"
        pred=$(jq -c "$sel" "$W/$b.pred.json")
        check "$b: the prediction names the entry's stub" grep -q '"stub":"[^"]*EFI/Linux/nixos-generation-' <<<"$pred"
        check_eq "$b: the guest's /proc/cmdline is the predicted command line" \
                "$(sed -n 's/^LANTERN-CMDLINE //p' "$W/$b/serial.log")" "$(jq -r .cmdline <<<"$pred")"
        for bank in $BANKS; do
                for pcr in 4 7 9 11 12; do
                        want=$(jq -r ".pcrs.${bank}[\"$pcr\"]" <<<"$pred")
                        got=$(awk -v b=$bank -v p=$pcr '$1 == b && $2 == p { print $3 }' "$W/$b/pcrs.txt")
                        [[ $want =~ ^[0-9a-f]{40,128}$ ]] || not_ok "$b: PCR $pcr $bank is predicted (got '$want')"
                        check_eq "$b: PCR $pcr $bank read in the guest = lantern predict" "$got" "$want"
                done
        done
        # PCR 11 against systemd-measure over the ESP files the stub names.
        jq -j .cmdline <<<"$pred" >"$W/$b.cmdline"
        jq -j .osrel <<<"$pred" >"$W/$b.osrel"
        k=$(jq -r .kernel <<<"$pred")
        i=$(jq -r .initrd <<<"$pred")
        for bank in $BANKS; do
                want=$("$MEASURE" calculate --linux="$k" --initrd="$i" --cmdline="$W/$b.cmdline" --osrel="$W/$b.osrel" \
                        --bank="$bank" --phase= 2>/dev/null | sed -n "s/^11:$bank=//p")
                [ -n "$want" ] || not_ok "$b: systemd-measure calculate printed PCR 11 $bank"
                got=$(awk -v b=$bank '$1 == b && $2 == 11 { print $3 }' "$W/$b/pcrs.txt")
                check_eq "$b: PCR 11 $bank = systemd-measure calculate over the ESP files" "$got" "$want"
        done
}
expect off-g2 off-g3d 2 null off
expect off-g3d off-g4 3 '"debug"' off
expect off-g4 off-g2 4 null off
expect on-g1 on-g3 1 null on
expect on-g3 on-g3d 3 null on
expect on-g3d on-g1 3 '"debug"' on
for x in off-g2:a off-g3d:b off-g4:a on-g1:a on-g3:b on-g3d:b; do
        check_eq "${x%%:*}: initrd ${x#*:} booted" "$(sed -n 's/^LANTERN-INITRD //p' "$W/${x%%:*}/serial.log")" "${x#*:}"
done
check "kernel b (trailing bytes) booted the specialisation" grep -q 'lantern.spec=debug' "$W/on-g3d/serial.log"
check "kernel b (trailing bytes) booted generation 4" grep -q '^LANTERN-CMDLINE .*lantern.gen=4' "$W/off-g4/serial.log"
check_eq "PCR 12 differs between Secure Boot off and on for the same entry" \
        "$([ "$(awk '$1 == "sha256" && $2 == 12' "$W/off-g3d/pcrs.txt")" != "$(awk '$1 == "sha256" && $2 == 12' "$W/on-g3d/pcrs.txt")" ] && echo yes)" yes
finish
