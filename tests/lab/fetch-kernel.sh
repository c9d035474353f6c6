#!/bin/bash
# Downloads Debian's current amd64 kernel package once into the lab cache and prints the path of the
# extracted tree (containing boot/vmlinuz-* and lib/modules/*). Cache: $LANTERN_LAB_CACHE or .cache/lab.
# The version is resolved from the linux-image-amd64 meta package each time the cache is empty; it is
# never hard-coded.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${LANTERN_LAB_CACHE:-$top/.cache/lab}
mkdir -p "$cache"
exec 9>"$cache/.kernel.lock"
flock 9
if [ -f "$cache/kernel/.done" ]; then
  echo "$cache/kernel"
  exit 0
fi
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || { echo "fetch-kernel: cannot resolve linux-image-amd64" >&2; exit 1; }
tmp=$(mktemp -d "$cache/dl.XXXXXX")
(cd "$tmp" && apt-get download -q "$pkg" >&2)
rm -rf "$cache/kernel"
mkdir -p "$cache/kernel"
dpkg -x "$tmp"/*.deb "$cache/kernel"
rm -rf "$tmp"
ls "$cache"/kernel/boot/vmlinuz-* >/dev/null
touch "$cache/kernel/.done"
echo "$cache/kernel"
