#!/bin/bash
# lantern predict on malformed and unsupported bootspec documents: exit 2 and a message naming the file
# and the JSON path (or byte offset), never a crash. Also the shared fixtures through the command line.
. "$(dirname "$0")/../lib.sh"

F=$LANTERN_FIXTURES/bootspec
D=$TEST_TMP

# expect NAME FILE MESSAGE: exit 2, stderr is exactly "lantern: MESSAGE".
expect() {
  local name=$1 file=$2 want=$3 rc
  "$LANTERN" predict "$file" >"$D/out" 2>"$D/err"
  rc=$?
  check_eq "$name: exit 2" "$rc" 2
  check_eq "$name: message" "$(cat "$D/err")" "lantern: $want"
  check_eq "$name: nothing on stdout" "$(wc -c <"$D/out")" 0
}

V1='"init":"/i","kernel":"/k","label":"L","system":"x86_64-linux","toplevel":"/t"'

printf '{"org.nixos.bootspec.v1":{%s,"kernelParams":["quiet","ro",3]}}' "$V1" >"$D/p.json"
expect "kernelParams[2]" "$D/p.json" "$D/p.json: \$.\"org.nixos.bootspec.v1\".kernelParams[2]: expected a string, got a number"

printf '{"org.nixos.bootspec.v1":{%s,"kernelParams":[]},"org.nixos.specialisation.v1":{"gpu":{"org.nixos.bootspec.v1":{%s,"kernelParams":{}}}}}' "$V1" "$V1" >"$D/s.json"
expect "specialisation kernelParams" "$D/s.json" "$D/s.json: \$.\"org.nixos.specialisation.v1\".gpu.\"org.nixos.bootspec.v1\".kernelParams: expected an array of strings, got an object"

printf '{"org.nixos.bootspec.v1":{"kernelParams":[]}}' >"$D/m.json"
expect "missing label" "$D/m.json" "$D/m.json: \$.\"org.nixos.bootspec.v1\": missing required field \"label\""

printf '{"org.nixos.bootspec.v1":{%s,"kernelParams":[]' "$V1" >"$D/t.json"
expect "truncated" "$D/t.json" "$D/t.json: offset $(wc -c <"$D/t.json"): unexpected end of JSON text"

printf '{"org.nixos.bootspec.v1":{%s,"kernelParams":[]}} ,' "$V1" >"$D/g.json"
expect "trailing garbage" "$D/g.json" "$D/g.json: offset $(($(wc -c <"$D/g.json") - 1)): invalid JSON: unexpected character"

printf '{"org.nixos.bootspec.v1":{%s,"kernelParams":["caf\xe9"]}}' "$V1" >"$D/u.json"
check_exit "invalid UTF-8: exit 2" 2 "$LANTERN" predict "$D/u.json"
check "invalid UTF-8: offset named" grep -q "^lantern: $D/u.json: offset [0-9]*: invalid JSON" <("$LANTERN" predict "$D/u.json" 2>&1)

expect "pre-RFC fixture" "$F/legacy-prerfc-bootspec-secureboot-21.11-specialisations.json" \
  "$F/legacy-prerfc-bootspec-secureboot-21.11-specialisations.json: \$: pre-RFC 0125 bootspec (has \"schemaVersion\"), not supported: expected an object with \"org.nixos.bootspec.v1\""

head -c 5000000 /dev/zero | tr '\0' ' ' >"$D/big.json"
expect "size cap" "$D/big.json" "$D/big.json: file is 5000000 bytes, more than the limit of 4194304"

: >"$D/empty.json"
expect "empty file" "$D/empty.json" "$D/empty.json: offset 0: unexpected end of JSON text"

expect "missing file" "$D/nope.json" "$D/nope.json: cannot open: No such file or directory"

# The shared fixtures that are valid parse; their store paths do not exist here, so prediction stops at
# the kernel with the path named.
for f in nixos-15.09-synthesized-null-initrdsecrets nixos-18.09-synthesized-plain \
         nixos-21.11-synthesized-with-specialisation rfc0125-example-with-specialisation-and-extension; do
  "$LANTERN" predict --root "$D" "$F/$f.json" >/dev/null 2>"$D/err"
  check_eq "$f: exit 2 without the store" "$?" 2
  check "$f: parsed, then the kernel is missing" grep -q "^lantern: $F/$f.json (.*): kernel: /nix/store/.*: cannot resolve" "$D/err"
done

# A malformed boot.json inside a profile stops the whole prediction.
R=$D/root
mkdir -p "$R/nix/store/t1" "$R/nix/var/nix/profiles"
printf '{"org.nixos.bootspec.v1":{%s,"kernelParams":[null]}}' "$V1" >"$R/nix/store/t1/boot.json"
ln -s /nix/store/t1 "$R/nix/var/nix/profiles/system-1-link"
"$LANTERN" predict --root "$R" >"$D/out" 2>"$D/err"
check_eq "profile with a bad boot.json: exit 2" "$?" 2
check_eq "profile with a bad boot.json: message" "$(cat "$D/err")" \
  "lantern: profile system generation 1: $R/nix/store/t1/boot.json: \$.\"org.nixos.bootspec.v1\".kernelParams[0]: expected a string, got null"

# A profile without generations, and usage errors.
mkdir -p "$D/empty-root/nix/var/nix/profiles"
check_exit "no generations: exit 2" 2 "$LANTERN" predict --root "$D/empty-root"
check_exit "unknown bank: exit 2" 2 "$LANTERN" predict --bank md5 "$D/p.json"
check_exit "unknown option: exit 2" 2 "$LANTERN" predict --frobnicate
check_exit "--help: exit 0" 0 "$LANTERN" predict --help
finish
