#!/bin/bash
# Malformed PEs: truncations of a real stub at many offsets, broken e_lfanew, absurd counts, sections past
# the end of the file or overlapping, a broken certificate table. Each must exit 2 with a message naming the
# file and the offset of the bad field (offsets found here from the raw headers with od), never crash, and be
# clean under ASan/UBSan (the sanitizer pass runs this script too).
. "$(dirname "$0")/../lib.sh"
. "$LANTERN_TOP/tests/lab/lab.sh"

STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
need_files "$STUB"
K=$(lab_kernel) || { not_ok "fetch the Debian kernel"; finish; }

# refused NAME FILE OFFSET TEXT [VERB...]: exit 2, stderr "FILE: offset OFFSET: ...TEXT", no sanitizer report.
refused() {
  local name=$1 file=$2 off=$3 text=$4 rc err
  shift 4
  [ $# -gt 0 ] || set -- pe sections
  err=$("$LANTERN" "$@" "$file" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -ne 2 ]; then
    not_ok "$name: exit $rc, want 2"; echo "#   $err" | head -5; return
  fi
  if grep -qE 'Sanitizer|runtime error' <<<"$err"; then
    not_ok "$name: sanitizer report"; echo "$err" | head -20 | sed 's/^/#   /'; return
  fi
  if [ -n "$off" ] && ! grep -qF "$file: offset $(printf 0x%x "$off"): " <<<"$err"; then
    not_ok "$name: message names file and offset $(printf 0x%x "$off")"; echo "#   got: $err"; return
  fi
  if ! grep -qF -- "$text" <<<"$err"; then
    not_ok "$name: message says '$text'"; echo "#   got: $err"; return
  fi
  ok "$name"
}

cd "$TEST_TMP"
cp "$STUB" stub.efi
size=$(stat -c %s stub.efi)
pe=$(lab_u32 stub.efi 60)
coff=$((pe + 4))
opt=$((coff + 20))
optsize=$(lab_u16 stub.efi $((coff + 16)))
table=$((opt + optsize))
dirs=$((opt + 112)) # PE32+
check_eq "the stub is PE32+" "$(lab_u16 stub.efi "$opt")" $((0x20b))
nsec=$(lab_u16 stub.efi $((coff + 2)))
last_end=0
for ((i = 0; i < nsec; i++)); do
  e=$(($(lab_u32 stub.efi $((table + 40 * i + 20))) + $(lab_u32 stub.efi $((table + 40 * i + 16)))))
  ((e > last_end)) && last_end=$e
done
headers=$(lab_u32 stub.efi $((opt + 60)))
check "the unmodified stub parses" "$LANTERN" pe hash stub.efi

# Truncations: every 4th byte through the headers, then through the section data. Beyond the last section's
# data only the COFF symbol table is cut, which leaves a valid PE.
bad=0 n=0
for ((cut = 0; cut < last_end; cut += (cut < headers + 64 ? 4 : 1999))); do
  head -c "$cut" stub.efi >cut.efi
  n=$((n + 1))
  verbs=("pe sections")
  ((n % 8 == 0)) && verbs+=("pe hash" "uki measure")
  for v in "${verbs[@]}"; do
    err=$("$LANTERN" $v cut.efi 2>&1 >/dev/null); rc=$?
    if [ "$rc" -ne 2 ] || grep -qE 'Sanitizer|runtime error' <<<"$err" || ! grep -q "cut.efi: offset 0x" <<<"$err"; then
      bad=$((bad + 1)); echo "# truncated at $cut, $v: exit $rc: $err" | head -3
    fi
  done
done
check_eq "$n truncations before the end of the section data: each exits 2 naming file and offset" "$bad" 0
head -c $((last_end + 7)) stub.efi >cut.efi
check "truncation inside the trailing symbol table still parses" "$LANTERN" pe hash cut.efi
check_eq "... and its hash equals pesign's" "$("$LANTERN" pe hash cut.efi)" "$(pesign -h -i cut.efi 2>/dev/null | sed -n 's/^hash: //p')"
for cut in 1 $((headers - 1)) $((last_end - 1)); do
  head -c "$cut" stub.efi >cut.efi
  refused "truncated at $cut: uki measure" cut.efi "" "not a valid PE file" uki measure
done

m() { cp stub.efi "$1"; }
m a.efi; lab_put_le a.efi 0 2 0x5858
refused "no MZ" a.efi 0 "no MZ signature"
m a.efi; lab_put_le a.efi 60 4 16
refused "e_lfanew into the DOS header" a.efi 60 "e_lfanew points into the DOS header"
m a.efi; lab_put_le a.efi 60 4 $((0xfffffff0))
refused "e_lfanew far past the end" a.efi 60 "e_lfanew points past the end of the file"
m a.efi; lab_put_le a.efi 60 4 $((size - 10))
refused "e_lfanew near the end" a.efi 60 "e_lfanew points past the end of the file"
m a.efi; lab_put_le a.efi "$pe" 4 0x00004551
refused "no PE signature" a.efi "$pe" "no PE signature"
m a.efi; lab_put_le a.efi $((coff + 2)) 2 0xffff
refused "NumberOfSections 65535" a.efi $((coff + 2)) "NumberOfSections is larger than 96" pe hash
m a.efi; lab_put_le a.efi $((coff + 2)) 2 97
refused "NumberOfSections 97" a.efi $((coff + 2)) "larger than 96" uki measure
m a.efi; lab_put_le a.efi $((coff + 2)) 2 96
refused "NumberOfSections 96 beyond SizeOfHeaders" a.efi $((opt + 60)) "SizeOfHeaders does not cover the section table"
m a.efi; lab_put_le a.efi $((coff + 16)) 2 1
refused "SizeOfOptionalHeader 1" a.efi $((coff + 16)) "SizeOfOptionalHeader is too small"
m a.efi; lab_put_le a.efi $((coff + 16)) 2 100
refused "SizeOfOptionalHeader below PE32+'s" a.efi $((coff + 16)) "too small for its magic"
m a.efi; lab_put_le a.efi $((coff + 16)) 2 $((0xffff))
refused "SizeOfOptionalHeader 65535" a.efi "" "not a valid PE file"
head -c $((opt + 200)) stub.efi >a.efi; lab_put_le a.efi $((coff + 16)) 2 $((0xf000))
refused "optional header past the end" a.efi $((coff + 16)) "optional header extends past the end of the file"
m a.efi; lab_put_le a.efi "$opt" 2 0x999
refused "unknown optional header magic" a.efi "$opt" "unknown optional header magic"
m a.efi; lab_put_le a.efi $((opt + 108)) 4 $((0x7fffffff))
refused "NumberOfRvaAndSizes huge" a.efi $((opt + 108)) "NumberOfRvaAndSizes is larger than 16"
m a.efi; lab_put_le a.efi $((opt + 60)) 4 $((0xffffffff))
refused "SizeOfHeaders past the end" a.efi $((opt + 60)) "SizeOfHeaders is larger than the file"
s=$((table + 40 * (nsec - 1))) # the last section header
m a.efi; lab_put_le a.efi $((s + 16)) 4 $((0x100000))
refused "last section's data past the end" a.efi $((s + 16)) "section data extends past the end of the file" pe hash
m a.efi; lab_put_le a.efi $((s + 20)) 4 $((0xfffffff0))
refused "PointerToRawData near 4 GiB" a.efi $((s + 16)) "section data extends past the end of the file"
m a.efi; lab_put_le a.efi $((s + 20)) 4 16
refused "section data inside the headers" a.efi $((s + 20)) "section data overlaps the headers"
s1=$((table + 40)) # section 1 (.reloc)
m a.efi; lab_put_le a.efi $((s1 + 20)) 4 "$(lab_u32 stub.efi $((table + 20)))"
refused "section data overlapping section 0's" a.efi $((s1 + 20)) "section data overlaps an earlier section's data" uki measure
m a.efi; lab_put_le a.efi $((s1 + 12)) 4 "$(($(lab_u32 stub.efi $((table + 12))) + 16))"
refused "sections overlapping in memory" a.efi $((s1 + 12)) "section overlaps an earlier section in memory"
m a.efi; lab_put_le a.efi $((s1 + 8)) 4 $((0xffffffff))
refused "VirtualAddress + VirtualSize overflows" a.efi $((s1 + 8)) "overflows"
m a.efi; lab_put_le a.efi $((s1 + 12)) 4 16
refused "VirtualAddress inside the headers" a.efi $((s1 + 12)) "VirtualAddress lies inside the headers"
m a.efi; lab_put_le a.efi $((dirs + 32)) 4 "$last_end"; lab_put_le a.efi $((dirs + 36)) 4 $((0x100000))
refused "certificate table past the end" a.efi $((dirs + 32)) "certificate table extends past the end of the file" pe hash
m a.efi; lab_put_le a.efi $((dirs + 32)) 4 "$(lab_u32 stub.efi $((table + 20)))"; lab_put_le a.efi $((dirs + 36)) 4 16
refused "certificate table over section data" a.efi $((dirs + 32)) "certificate table overlaps section data"
m a.efi; lab_put_le a.efi $((dirs + 32)) 4 8; lab_put_le a.efi $((dirs + 36)) 4 16
refused "certificate table over the headers" a.efi $((dirs + 32)) "certificate table overlaps the headers"

# The signed Debian kernel, cut short: its certificate table now runs past the end.
ksize=$(stat -c %s "$K")
head -c $((ksize - 100)) "$K" >k.efi
kpe=$(lab_u32 k.efi 60)
refused "signed kernel missing its last 100 bytes" k.efi $((kpe + 24 + 112 + 32)) "certificate table extends past the end of the file" pe hash

# Not PEs at all.
: >empty.efi
refused "empty file" empty.efi 0 "file too short for a DOS header"
printf 'MZ' >mz.efi
refused "two bytes" mz.efi 2 "file too short for a DOS header"
head -c 100000 /dev/urandom >random.efi; lab_put_le random.efi 0 2 0x5a4d
refused "random bytes after MZ" random.efi "" "not a valid PE file" uki measure
echo "hello" >text.efi
refused "a text file" text.efi 6 "file too short"
finish
