#!/bin/bash
# Installs the Debian 12 packages Lantern needs to build, test, benchmark and run its demo.
# Idempotent: apt-get skips what is already installed.
set -euo pipefail
PKGS=(
  build-essential meson ninja-build pkg-config git ca-certificates curl xxd
  clang-14 libfuzzer-14-dev libclang-rt-14-dev llvm-14
  libssl-dev libjson-c-dev libtss2-dev tpm2-tools
  libcurl4-openssl-dev libmicrohttpd-dev libsqlite3-dev libpq-dev libcryptsetup-dev cryptsetup-bin
  swtpm swtpm-tools qemu-system-x86 ovmf gnu-efi systemd-boot-efi systemd
  pesign sbsigntool osslsigncode mtools dosfstools busybox-static cpio kmod zstd
  binutils hyperfine efitools jq nix-bin strace
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
