#!/bin/bash
# lantern predict's digest cache and parallel hashing, on a profile under --root:
#  - a cold run reads every kernel and initrd once; a warm run opens none of them (strace -e trace=openat) and
#    a re-run after one new generation opens only that generation's new kernel; the --verbose line agrees;
#  - cached, uncached and single- or multi-threaded runs print the same values, equal to systemd-measure;
#  - a corrupt, truncated or foreign entry (another file's entry under this file's name) is ignored: the
#    file is read again and the value stays right; a file rewritten in place with its mtime restored is read
#    again (its ctime changed);
#  - $XDG_CACHE_HOME/lantern, else ~/.cache/lantern, is the default; --no-cache writes nothing; a cache that
#    cannot be created is reported and skipped; the number of entries stays bounded;
#  - with --esp, each installed kernel and initrd is read once per run, hashed ahead on --threads threads with
#    the same results as on one; a changed one is refused in any banks;
#  - a progress bar appears on stderr only when it is a terminal (script(1)) and hashing takes over a second.
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/profile.sh"

MEASURE=/usr/lib/systemd/systemd-measure
for tool in "$MEASURE" jq strace script openssl; do
        command -v "$tool" >/dev/null || { not_ok "required tool $tool is missing"; finish; }
done
W=$TEST_TMP
R=$W/root
C=$W/cache
install_profile_init "$R"
for x in k1 k2 k3 i1 i2; do head -c $((3000000 + RANDOM)) /dev/urandom >"$W/$x"; done
install_generation "$R" 1 "$W/k1" "$W/i1" "console=ttyS0 gen=1"
install_generation "$R" 2 "$W/k2" "$W/i1" "console=ttyS0 gen=2" debug "$W/k1" "$W/i2"
install_generation "$R" 3 "$W/k1" "$W/i2" "console=ttyS0 gen=3"

# run NAME ARGS...: lantern predict --root R --verbose with openat traced; stdout in W/NAME.out, the --verbose line
# in W/NAME.stat, the kernels and initrds opened in W/NAME.opened.
run() {
        local name=$1
        shift
        # LeakSanitizer cannot run under ptrace: the traced runs leave leak checking to the others.
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -e trace=openat -o "$W/$name.trace" \
                "$LANTERN" predict --root "$R" --verbose --bank sha1,sha256,sha384 "$@" >"$W/$name.out" 2>"$W/$name.err"
        local rc=$?
        grep -o "\"$R/nix/store/[^\"]*/\(bzImage\|initrd\)\"" "$W/$name.trace" | sort >"$W/$name.opened"
        grep '^lantern: digests:' "$W/$name.err" >"$W/$name.stat"
        return $rc
}
files_read() { sed -n 's/^lantern: digests: \([0-9]*\) files read.*/\1/p' "$W/$1.stat"; }
from_cache() { sed -n 's/.*, \([0-9]*\) from the cache.*/\1/p' "$W/$1.stat"; }

check "uncached run" run nocache --no-cache
check "cold run" run cold --cache "$C"
check_eq "cold: 4 distinct files read" "$(files_read cold)" 4
check_eq "cold: each opened once" "$(sort -u "$W/cold.opened" | wc -l) $(wc -l <"$W/cold.opened")" "4 4"
check_eq "cold = uncached" "$(cat "$W/cold.out")" "$(cat "$W/nocache.out")"
check_eq "cold: 4 entries in the cache" "$(ls "$C" | wc -l)" 4
check "warm run" run warm --cache "$C"
check_eq "warm: no file read" "$(files_read warm) $(from_cache warm)" "0 4"
check_eq "warm: no kernel or initrd opened" "$(cat "$W/warm.opened")" ""
check_eq "warm = uncached" "$(cat "$W/warm.out")" "$(cat "$W/nocache.out")"

# systemd-measure on every entry of a JSON prediction.
oracle() {
        local json=$1 label=$2 n i e bank args
        n=$(jq '.generations | length' "$json")
        for ((i = 0; i < n; i++)); do
                e=".generations[$i]"
                jq -j "$e.cmdline" "$json" >"$W/cmdline"
                jq -j "$e.osrel" "$json" >"$W/osrel"
                args=(--linux="$R$(jq -r "$e.kernel" "$json")" --initrd="$R$(jq -r "$e.initrd" "$json")"
                      --cmdline="$W/cmdline" --osrel="$W/osrel")
                for bank in sha1 sha256 sha384; do
                        check_eq "$label: entry $i $bank PCR 11 = systemd-measure" "$(jq -r "$e.pcrs.$bank.\"11\"" "$json")" \
                                "$("$MEASURE" calculate "${args[@]}" --bank=$bank --phase= 2>/dev/null | sed -n "s/^11:$bank=//p")"
                done
        done
}
check "warm run, JSON" run warmjson --cache "$C" --json
oracle "$W/warmjson.out" "warm"

# One new generation with a new kernel and a known initrd: only the new kernel is read.
install_generation "$R" 4 "$W/k3" "$W/i1" "console=ttyS0 gen=4"
k3=$(jq -r '."org.nixos.bootspec.v1".kernel' "$R$(readlink "$R/nix/var/nix/profiles/system-4-link")/boot.json")
check "run after a new generation" run new --cache "$C" --json
check_eq "new generation: 1 file read, 4 from the cache" "$(files_read new) $(from_cache new)" "1 4"
check_eq "new generation: only its kernel opened" "$(cat "$W/new.opened")" "\"$R$k3\""
oracle "$W/new.out" "after a new generation"

# Entries that must not be trusted. entry_for PATH: the entry holding that path (entries store it verbatim).
k1=$(jq -r '.generations[0].kernel' "$W/new.out")
i1=$(jq -r '.generations[0].initrd' "$W/new.out")
entry_for() {
        local f
        for f in "$C"/*; do grep -q --fixed-strings "$R$1" "$f" && { basename "$f"; return; }; done
}
ek1=$(entry_for "$k1")
ei1=$(entry_for "$i1")
[ -n "$ek1" ] && [ -n "$ei1" ] || not_ok "entries for kernel 1 and initrd 1 found"
"$LANTERN" predict --root "$R" --no-cache --bank sha1,sha256,sha384 >"$W/expected.out"
printf '\x01' | dd of="$C/$ek1" bs=1 seek=60 conv=notrunc status=none
check "corrupt entry" run corrupt --cache "$C"
check_eq "a corrupt entry is ignored: kernel 1 read again" "$(cat "$W/corrupt.opened")" "\"$R$k1\""
check_eq "corrupt entry: values unchanged" "$(cat "$W/corrupt.out")" "$(cat "$W/expected.out")"
truncate -s 50 "$C/$ek1"
check "truncated entry" run truncated --cache "$C"
check_eq "a truncated entry is ignored" "$(cat "$W/truncated.opened")" "\"$R$k1\""
cp "$C/$ei1" "$C/$ek1"
check "foreign entry" run foreign --cache "$C" --json
check_eq "another file's entry is never used: kernel 1 read again" "$(cat "$W/foreign.opened")" "\"$R$k1\""
oracle "$W/foreign.out" "foreign entry"
echo garbage >"$C/$ek1"
check "garbage entry" run garbage --cache "$C"
check_eq "a garbage entry is ignored" "$(cat "$W/garbage.opened")" "\"$R$k1\""

# Rewritten in place, same size, mtime restored: the ctime tells.
touch -r "$R$i1" "$W/stamp"
printf 'X' | dd of="$R$i1" bs=1 seek=1000 conv=notrunc status=none
touch -r "$W/stamp" "$R$i1"
check "rewritten file" run rewritten --cache "$C" --json
check_eq "a file rewritten with its mtime restored is read again" "$(cat "$W/rewritten.opened")" "\"$R$i1\""
oracle "$W/rewritten.out" "rewritten initrd"

# Threads: one or many, same values.
"$LANTERN" predict --root "$R" --no-cache --threads 1 --bank sha1,sha256,sha384 >"$W/t1.out"
"$LANTERN" predict --root "$R" --no-cache --threads 8 --bank sha1,sha256,sha384 >"$W/t8.out"
check_eq "--threads 1 = --threads 8" "$(cat "$W/t1.out")" "$(cat "$W/t8.out")"
check_exit "--threads 0 is refused" 2 "$LANTERN" predict --root "$R" --threads 0
check_exit "--threads x is refused" 2 "$LANTERN" predict --root "$R" --threads x

# Default directories and --no-cache.
XDG_CACHE_HOME=$W/xdg "$LANTERN" predict --root "$R" >/dev/null
check_eq "\$XDG_CACHE_HOME/lantern is the default" "$(ls "$W/xdg/lantern" | wc -l)" 5
env -u XDG_CACHE_HOME HOME="$W/home" "$LANTERN" predict --root "$R" >/dev/null
check_eq "~/.cache/lantern without XDG_CACHE_HOME" "$(ls "$W/home/.cache/lantern" | wc -l)" 5
XDG_CACHE_HOME=$W/xdg2 "$LANTERN" predict --root "$R" --no-cache >/dev/null
check "--no-cache creates nothing" test ! -e "$W/xdg2"
: >"$W/notadir"
"$LANTERN" predict --root "$R" --cache "$W/notadir/sub" >"$W/notadir.out" 2>"$W/notadir.err"
check_eq "an unusable cache directory: exit 0" "$?" 0
check "an unusable cache directory is named on stderr" grep -q "digest cache $W/notadir/sub: .*ignoring" "$W/notadir.err"

# Bounded: 5000 old entries (2020) are pruned down to three quarters of the limit once a run stores something.
mkdir -p "$W/big"
(cd "$W/big" && printf '%032x\n' $(seq 1 5000) | xargs touch -d 2020-01-01)
run prune --cache "$W/big"
n=$(ls "$W/big" | wc -l)
check "the cache is pruned to at most 3072 + the new entries ($n)" test "$n" -le 3077
check_eq "pruning keeps the newest entries" "$(run pruned --cache "$W/big"; files_read pruned)" 0

# --esp: the installed kernels and initrds are read once per run however many stubs name them, and a
# changed initrd is refused in any bank set (the stub's SHA-256 is checked even without the sha256 bank).
mkdir -p "$W/esp/loader" "$W/keys"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/keys/db.key" -out "$W/keys/db.crt" -subj /CN=lantern-test \
        -days 1 2>/dev/null
check "lantern install onto an ESP" "$LANTERN" install --esp "$W/esp" --root "$R" --keys "$W/keys" --no-systemd-boot
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -e trace=openat -o "$W/esp.trace" \
        "$LANTERN" predict --root "$R" --esp "$W/esp" --no-cache --bank sha1 --json >"$W/esp.json" 2>"$W/esp.err"
check_eq "predict --esp exits 0" "$?" 0
n_initrds=$(ls "$W"/esp/EFI/nixos/ | grep -c initrd)
check_eq "each ESP initrd opened once ($n_initrds files, 5 stubs)" \
        "$(grep -o "\"$W/esp/EFI/nixos/[^\"]*initrd[^\"]*\"" "$W/esp.trace" | sort | uniq -c | awk '{ print $1 }' | sort -u)" 1
check_eq "every entry is predicted from its stub" "$(jq '[.generations[] | select(.stub != null)] | length' "$W/esp.json")" 5
# The ESP's files are hashed ahead on several threads (--threads 3) or on the calling thread (--threads 1):
# the same predictions, and strace sees which threads open the initrds.
for t in 1 3; do
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -e trace=openat -o "$W/esp-t$t.trace" \
                "$LANTERN" predict --root "$R" --esp "$W/esp" \
                --no-cache --threads $t --bank sha1,sha256,sha384,sha512 --json >"$W/esp-t$t.json" 2>"$W/esp-t$t.err"
        check_eq "predict --esp --threads $t exits 0" "$?" 0
done
check "predict --esp: the same predictions on 1 and 3 threads" cmp "$W/esp-t1.json" "$W/esp-t3.json"
# esp_readers TRACE: how many threads other than the main one opened the ESP's initrds.
esp_readers() {
        awk -v esp="\"$W/esp/EFI/nixos/initrd" 'NR == 1 { main = $1 } index($0, esp) && $1 != main { print $1 }' "$1" |
                sort -u | wc -l
}
check_eq "predict --esp --threads 1: the ESP's initrds are read on the main thread" "$(esp_readers "$W/esp-t1.trace")" 0
check "predict --esp --threads 3: the ESP's initrds are read on other threads ($(esp_readers "$W/esp-t3.trace"))" \
        test "$(esp_readers "$W/esp-t3.trace")" -ge 1
i=$(ls "$W"/esp/EFI/nixos/*initrd* | head -1)
printf 'X' | dd of="$i" bs=1 seek=10 conv=notrunc status=none
for banks in sha1 sha256 sha1,sha384; do
        "$LANTERN" predict --root "$R" --esp "$W/esp" --cache "$C" --bank $banks >/dev/null 2>"$W/esp-bad.err"
        check_eq "a changed ESP initrd: exit 2 (--bank $banks)" "$?" 2
        check "a changed ESP initrd is named (--bank $banks)" grep -q "$i does not match the SHA-256 in the stub" "$W/esp-bad.err"
done

# Progress bar: a terminal and more than a second of hashing (sparse 300 MiB files, four banks, one thread).
R2=$W/root2
install_profile_init "$R2"
truncate -s 300M "$W/big-k"
truncate -s 300M "$W/big-i"
printf 'x' >>"$W/big-i"
install_generation "$R2" 1 "$W/big-k" "$W/big-i" "console=ttyS0"
rm -f "$W/big-k" "$W/big-i"
script -qec "'$LANTERN' predict --root '$R2' --no-cache --threads 1 --bank sha1,sha256,sha384,sha512 >'$W/tty.out'" \
        /dev/null >"$W/tty.err" </dev/null
check "a terminal gets a progress bar" grep -q 'lantern: hashing \[#*\.*\] *[0-9]*% [0-9]*/600 MiB' "$W/tty.err"
"$LANTERN" predict --root "$R2" --no-cache --threads 1 --bank sha1,sha256,sha384,sha512 >"$W/notty.out" 2>"$W/notty.err"
check_eq "no progress bar when stderr is not a terminal" "$(cat "$W/notty.err")" ""
check_eq "same values with and without the bar" "$(cat "$W/tty.out")" "$(cat "$W/notty.out")"
finish
