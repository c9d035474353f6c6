# Sourced by the installer's and the predictor's tests, the benchmark and scripts/demo.sh: builds NixOS system
# profiles under a root directory.
#
#   install_profile_init ROOT
#   install_generation ROOT N KERNEL INITRD [PARAMS] [SPEC_NAME SPEC_KERNEL SPEC_INITRD]
#       copies KERNEL and INITRD (host files) into content-named store paths (reused when equal), writes a
#       toplevel with boot.json (bootspec v1, optionally one specialisation) and etc/os-release, and links
#       ROOT/nix/var/nix/profiles/system-N-link to it.
#   install_secrets_script ROOT N TEXT   gives generation N an initrdSecrets script appending TEXT.
# Store paths are derived from content, so the same inputs give the same tree.

install_profile_init() {
  mkdir -p "$1/nix/store" "$1/nix/var/nix/profiles"
}

# install_store_file ROOT SRC NAME: prints the in-root store path of a copy of SRC in <hash>-NAME/.
install_store_file() {
  local root=$1 src=$2 name=$3 h p
  h=$(sha256sum "$src" | cut -c1-32)
  p=/nix/store/$h-$name
  if [ ! -e "$root$p/${name%%-*}" ]; then
    mkdir -p "$root$p"
    cp "$src" "$root$p/${name%%-*}"
  fi
  echo "$p/${name%%-*}"
}

install_generation() {
  local root=$1 n=$2 kernel=$3 initrd=$4 params=${5:-console=ttyS0 panic=-1}
  local sname=${6:-} skernel=${7:-} sinitrd=${8:-}
  local kv=6.1.0-lab k i t spec="{}" sk si st
  k=$(install_store_file "$root" "$kernel" "bzImage-linux-$kv")
  i=$(install_store_file "$root" "$initrd" "initrd-initrd-linux-$kv")
  t=/nix/store/$(printf '%s' "$n$kernel$initrd$params$sname" | sha256sum | cut -c1-32)-nixos-system-lab-$n
  json_params=$(printf '%s\n' $params | sed 's/.*/"&"/' | paste -sd, -)
  if [ -n "$sname" ]; then
    sk=$(install_store_file "$root" "$skernel" "bzImage-linux-$kv")
    si=$(install_store_file "$root" "$sinitrd" "initrd-initrd-linux-$kv")
    st=$t-$sname
    mkdir -p "$root$st/etc"
    spec="{\"$sname\": {\"org.nixos.bootspec.v1\": {\"init\": \"$st/init\", \"initrd\": \"$si\", \"kernel\": \"$sk\",
      \"kernelParams\": [$json_params, \"lantern.spec=$sname\"], \"label\": \"NixOS Lab $n ($sname)\",
      \"system\": \"x86_64-linux\", \"toplevel\": \"$st\"}}}"
  fi
  mkdir -p "$root$t/etc"
  printf 'NAME=NixOS\nID=nixos\nVERSION_ID="24.05"\nPRETTY_NAME="NixOS 24.05 (Uakari)"\n' >"$root$t/etc/os-release"
  cat >"$root$t/boot.json" <<EOJ
{
  "org.nixos.bootspec.v1": {
    "init": "$t/init",
    "initrd": "$i",
    "kernel": "$k",
    "kernelParams": [$json_params],
    "label": "NixOS Lab $n",
    "system": "x86_64-linux",
    "toplevel": "$t"
  },
  "org.nixos.specialisation.v1": $spec
}
EOJ
  ln -sfn "$t" "$root/nix/var/nix/profiles/system-$n-link"
  ln -sfn "system-$n-link" "$root/nix/var/nix/profiles/system"
}

install_secrets_script() {
  local root=$1 n=$2 text=$3 t
  t=$(readlink "$root/nix/var/nix/profiles/system-$n-link")
  printf '#!/bin/sh\nprintf "%%s" "%s" >>"$1"\n' "$text" >"$root$t/append-initrd-secrets"
  chmod +x "$root$t/append-initrd-secrets"
  sed -i "s|\"label\": \"NixOS Lab $n\",|\"label\": \"NixOS Lab $n\", \"initrdSecrets\": \"$t/append-initrd-secrets\",|" "$root$t/boot.json"
}
