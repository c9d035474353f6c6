#!/bin/bash
# nix/module.nix parses (Debian's nix-bin: nix-instantiate --parse) and wires `lantern install` in as
# boot.loader.external.installHook with the options `lantern install` knows.
. "$(dirname "$0")/../lib.sh"
command -v nix-instantiate >/dev/null || { not_ok "needs nix-instantiate (nix-bin)"; finish; }
M=$LANTERN_TOP/nix/module.nix
export NIX_CONFIG="build-users-group ="
out=$(nix-instantiate --parse "$M" 2>&1); rc=$?
check_eq "nix-instantiate --parse nix/module.nix exits 0" "$rc" 0
[ "$rc" = 0 ] || echo "$out" | sed 's/^/#   /' | head
check "the parsed module is a function of config, lib, pkgs" grep -q '^({ config, lib, pkgs' <<<"$out"
check "it sets boot.loader.external.installHook" grep -q 'installHook' "$M"
for opt in --esp --keys --stub --systemd-boot --configuration-limit --timeout; do
  check "lantern install knows $opt, which the module passes" \
    bash -c "grep -q -- '\"$opt\"' '$M' && '$LANTERN' install --help | grep -q -- '$opt'"
done
finish
