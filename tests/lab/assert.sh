# Assertions shared by the live boot tests (tests/cases/lab-*.sh): each compares what a booted guest saw
# with an outside oracle or with `lantern`, and prints TAP lines through tests/lib.sh (source lib.sh and
# tests/lab/lab.sh first). Every function takes a label for the boot it checks.

# lab_assert_replay LABEL DIR: for a lab_boot output directory DIR:
#   tpm2_eventlog's replay of DIR/eventlog.bin equals DIR/pcrs.txt in every bank;
#   `lantern eventlog replay` prints exactly the (bank, PCR) pairs tpm2_eventlog replays, with the guest's values;
#   `lantern eventlog verify --pcrs` exits 0 on the guest's PCRs, and 1 when one PCR value is altered.
lab_assert_replay() {
        local label=$1 dir=$2 ref got want keys_ref keys_got
        check "tpm2_eventlog replays the log to the guest's PCRs, every bank ($label)" \
                lab_check_replay "$dir/eventlog.bin" "$dir/pcrs.txt"
        ref=$(lab_eventlog_pcrs "$dir/eventlog.bin")
        got=$("$LANTERN" eventlog replay "$dir/eventlog.bin" 2>"$dir/lantern-replay.err" | sort -k1,1 -k2,2n)
        keys_ref=$(awk '{ print $1, $2 }' <<<"$ref")
        keys_got=$(awk '{ print $1, $2 }' <<<"$got")
        check_eq "lantern eventlog replay covers the PCRs the log extends, every bank ($label)" "$keys_got" "$keys_ref"
        want=$(awk 'NR == FNR { v[$1 " " $2] = $3; next } { print $1, $2, v[$1 " " $2] }' \
                "$dir/pcrs.txt" <(echo "$keys_got"))
        check_eq "lantern eventlog replay equals the guest's PCRs ($label)" "$got" "$want"
        check_exit "lantern eventlog verify --pcrs accepts the guest's PCRs ($label)" 0 \
                "$LANTERN" eventlog verify "$dir/eventlog.bin" --pcrs "$dir/pcrs.txt"
        awk '$1 == "sha256" && $2 == 11 { $3 = substr($3, 1, 63) (substr($3, 64, 1) == "0" ? "1" : "0") } { print }' \
                "$dir/pcrs.txt" >"$dir/pcrs-altered.txt"
        check_exit "lantern eventlog verify --pcrs rejects an altered PCR 11 with exit 1 ($label)" 1 \
                "$LANTERN" eventlog verify "$dir/eventlog.bin" --pcrs "$dir/pcrs-altered.txt"
}

# lab_assert_pcr11 LABEL DIR UKI KERNEL INITRD CMDLINE OSREL: in every bank of DIR/pcrs.txt, the guest's PCR 11
# equals `systemd-measure calculate --phase=` on the UKI's inputs and `lantern uki measure --bank B UKI`.
lab_assert_pcr11() {
        local label=$1 dir=$2 uki=$3 k=$4 i=$5 c=$6 o=$7 bank guest sm got
        for bank in $(awk '{ print $1 }' "$dir/pcrs.txt" | sort -u); do
                guest=$(awk -v b="$bank" '$1 == b && $2 == 11 { print $3 }' "$dir/pcrs.txt")
                sm=$(/usr/lib/systemd/systemd-measure calculate --linux="$k" --initrd="$i" --cmdline="$c" \
                        --osrel="$o" --bank="$bank" --phase= 2>/dev/null | sed -n "s/^11:$bank=//p" | tr A-F a-f)
                check_eq "guest PCR 11 $bank equals systemd-measure calculate ($label)" "$guest" "$sm"
                got=$("$LANTERN" uki measure --bank "$bank" "$uki" 2>&1)
                check_eq "lantern uki measure --bank $bank equals the guest's PCR 11 ($label)" "$got" "$bank 11 $guest"
        done
}

# lab_assert_pcr4 LABEL DIR FILE...: the log's PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION sha256 digests (read
# with tpm2_eventlog) are exactly `pesign -h` of FILE..., in order; and `lantern pe hash --bank B FILE` equals
# the log's digest of each FILE in every bank of the log.
lab_assert_pcr4() {
        local label=$1 dir=$2 f want got bank n=0 ev
        shift 2
        ev=$(lab_eventlog_digests "$dir/eventlog.bin" | awk '$2 == 4 && $3 == "EV_EFI_BOOT_SERVICES_APPLICATION"')
        want=$(for f in "$@"; do pesign -h -i "$f" | awk '{ print tolower($2) }'; done)
        got=$(awk '$4 == "sha256" { print $5 }' <<<"$ev")
        check_eq "PCR 4 applications are pesign -h of $(for f in "$@"; do basename "$f"; done | tr '\n' ' ')in order ($label)" \
                "$(echo $got)" "$(echo $want)"
        for f in "$@"; do
                n=$((n + 1))
                want=$(pesign -h -i "$f" | awk '{ print tolower($2) }')
                got=$("$LANTERN" pe hash --bank sha256 "$f" 2>&1 | awk 'NR == 1 { print tolower($NF) }')
                check_eq "lantern pe hash --bank sha256 $(basename "$f") equals pesign -h ($label)" "$got" "$want"
                for bank in $(awk '{ print $4 }' <<<"$ev" | sort -u); do
                        want=$(awk -v b="$bank" '$4 == b { print $5 }' <<<"$ev" | sed -n "${n}p")
                        got=$("$LANTERN" pe hash --bank "$bank" "$f" 2>&1 | awk 'NR == 1 { print tolower($NF) }')
                        check_eq "lantern pe hash --bank $bank $(basename "$f") equals PCR 4 application event $n ($label)" \
                                "$got" "$want"
                done
        done
}

# lab_assert_secureboot LABEL DIR STATE: the SecureBoot variable measured into PCR 7 is 01 for STATE "on",
# 00 for "off" (tpm2_eventlog's decoding).
lab_assert_secureboot() {
        local label=$1 dir=$2 want got
        want=$([ "$3" = on ] && echo 01 || echo 00)
        got=$(tpm2_eventlog "$dir/eventlog.bin" 2>/dev/null |
                awk '/UnicodeName: SecureBoot$/ { f = 1; next } f && /VariableData:/ { gsub(/"/, "", $2); print $2; exit }')
        check_eq "SecureBoot variable in the log is $want ($label)" "$got" "$want"
}
