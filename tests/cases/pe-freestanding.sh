#!/bin/bash
# measure/pe.c and measure/uki.c are shared with the UEFI stub: they must compile freestanding (no libc
# headers at all) and need nothing from outside but memcmp/memcpy/memset and each other.
. "$(dirname "$0")/../lib.sh"

command -v gcc >/dev/null || { not_ok "needs gcc"; finish; }
gcc_include=$(gcc -print-file-name=include)
flags=(-std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -ffreestanding -nostdinc -isystem "$gcc_include"
  -fshort-wchar -mno-red-zone -fno-stack-protector -fpic -I "$LANTERN_TOP/measure")
for f in pe uki; do
  if gcc "${flags[@]}" -c "$LANTERN_TOP/measure/$f.c" -o "$TEST_TMP/$f.o" 2>"$TEST_TMP/$f.err"; then
    ok "measure/$f.c compiles freestanding without libc headers"
  else
    not_ok "measure/$f.c compiles freestanding without libc headers"; sed 's/^/#   /' "$TEST_TMP/$f.err" | head -20
  fi
done
undefined=$(nm -u "$TEST_TMP/pe.o" "$TEST_TMP/uki.o" 2>/dev/null | awk 'NF == 2 { print $2 }' | sort -u |
  grep -vxE 'memcmp|memcpy|memset|measure_pe_[a-z_]+' | tr '\n' ' ')
check_eq "only memcmp/memcpy/memset and measure_pe_* are needed" "$undefined" ""
check_eq "the hosted fold is compiled out" "$(nm "$TEST_TMP/uki.o" | grep -c 'measure_uki_plan_fold')" 0
finish
