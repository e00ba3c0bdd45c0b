#!/usr/bin/env bash
# Prepares a Debian kernel that has gpio-sim, vivid and i2c-stub (and ext4 for the hardware lane's power cut) as modules, without touching the host's /boot:
# apt-get download with a private apt state directory (mirror taken from the machine's own apt sources), dpkg -x,
# depmod, then keeps only vmlinuz and the decompressed modules the lane loads (busybox insmod cannot read .xz).
# Prints the prepared directory on stdout; everything else goes to stderr. Cached in $HWLANE_CACHE.
set -euo pipefail
cache="${HWLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/appliance-hwlane}"
suites="${HWLANE_SUITES:-trixie-backports sid}"
# HWLANE_ARCH=arm64: the Pi's architecture for qemu-system-aarch64 (tests/arm64/); that kernel has no i2c-stub.
arch="${HWLANE_ARCH:-amd64}"
# Module load order comes from modprobe --show-depends, so dependencies (netfs, videobuf2 …) come along.
# virtio_blk and ext4: the hardware lane's disk (the power cut). overlay: the systemd-boot lane's writable /usr for dpkg.
modules=(9pnet_virtio 9p configfs gpio-sim vivid i2c-stub i2c-dev virtio_blk ext4 overlay)
# The arm64 lane boots its own root from a disk (tests/arm64/).
[ "$arch" = amd64 ] || modules=(9pnet_virtio 9p configfs gpio-sim vivid virtio_blk ext4)
log() { echo "fetch-kernel: $*" >&2; }
die() { echo "fetch-kernel: ERROR: $*" >&2; exit 1; }

apt_dir="$cache/apt"; [ "$arch" = amd64 ] || apt_dir="$cache/apt-$arch"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache/kernels"
# One at a time: lanes running side by side (tests/run-all.sh) would otherwise download and unpack into the same cache.
exec 9>"$cache/.fetch-kernel-$arch.lock"
flock 9

source "$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh"
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list(.d); set HWLANE_MIRROR"

sources="$apt_dir/sources.list"
: > "$sources.new"
for suite in $suites; do echo "deb $mirror $suite main" >> "$sources.new"; done
mv "$sources.new" "$sources"
touch "$apt_dir/status"
apt_opts=(-o "Dir::Etc::SourceList=$sources" -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State=$apt_dir"
          -o "Dir::State::status=$apt_dir/status" -o "Dir::Cache=$apt_dir" -o "Dir::Cache::archives=$apt_dir/archives"
          -o APT::Architecture=$arch -o APT::Architectures::=$arch -o Acquire::Languages=none -o Debug::NoLocking=1 -o APT::Sandbox::User=root)

# A prepared kernel's ready file names its release and the modules kept; another list prepares it again.
stamp_line="${modules[*]}"
newest_cached() {
  for ready in $(ls -1 "$cache"/kernels/*/ready 2>/dev/null | sort -rV); do
    if grep -qxF "$stamp_line" "$ready"; then dirname "$ready"; return; fi
  done
}

# Refresh the package index at most once a day; when the mirror is unreachable fall back to a prepared kernel.
stamp="$apt_dir/updated"
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ] || ! grep -qx "$mirror $suites" "$stamp"; then
  log "updating package index for $suites from $mirror"
  if apt-get "${apt_opts[@]}" -q update >&2; then
    echo "$mirror $suites" > "$stamp"
  else
    cached=$(newest_cached)
    [ -n "$cached" ] || die "apt-get update failed for '$suites' at $mirror and no kernel is cached in $cache"
    log "WARNING: apt-get update failed; using cached kernel $cached"
    echo "$cached"; exit 0
  fi
fi

# Highest linux-image-$arch across the suites, then the versioned image package it depends on.
version=$(apt-cache "${apt_opts[@]}" madison linux-image-$arch | awk -F'|' '{gsub(/ /,"",$2); print $2}' | sort -V | tail -n1)
[ -n "$version" ] || die "linux-image-$arch is not in '$suites' at $mirror (mirror unreachable? see the apt-get update output above)"
image=$(apt-cache "${apt_opts[@]}" show "linux-image-$arch=$version" | sed -n "s/^Depends:.*\(linux-image-[0-9][^ ,]*-$arch\).*/\1/p" | head -n1)
[ -n "$image" ] || die "cannot resolve the kernel package of linux-image-$arch $version"
krel="${image#linux-image-}"
# One directory per module list, so a checkout with another list (a branch, a teammate's worktree on the same
# machine) does not replace the kernel another one is booting.
dir="$cache/kernels/$krel-$(printf '%s' "$stamp_line" | cksum | cut -d' ' -f1)"
if [ -f "$dir/ready" ] && grep -qxF "$stamp_line" "$dir/ready"; then echo "$dir"; exit 0; fi

log "preparing kernel $krel ($version)"
rm -rf "$dir" && mkdir -p "$dir/download" "$dir/tree" "$dir/modules"
packages=("$image=$version")
# Kernels >= 7 split the image into base/binary/modules packages.
for part in linux-base linux-binary linux-modules; do
  if apt-cache "${apt_opts[@]}" show "$part-$krel=$version" >/dev/null 2>&1; then packages+=("$part-$krel=$version"); fi
done
(cd "$dir/download" && apt-get "${apt_opts[@]}" -q download "${packages[@]}" >&2) || die "apt-get download ${packages[*]} failed"
for deb in "$dir"/download/*.deb; do dpkg-deb -x "$deb" "$dir/tree"; done
base="$dir/tree"; [ -d "$base/usr/lib/modules/$krel" ] && base="$dir/tree/usr"
[ -d "$base/lib/modules/$krel" ] || die "no modules for $krel in the packages"
vmlinuz=""
for candidate in "$base/lib/modules/$krel/vmlinuz" "$dir/tree/boot/vmlinuz-$krel"; do
  if [ -f "$candidate" ]; then vmlinuz="$candidate"; break; fi
done
[ -n "$vmlinuz" ] || die "no vmlinuz for $krel in the packages"
cp "$vmlinuz" "$dir/vmlinuz"
depmod -b "$base" "$krel"

: > "$dir/modules/order"
for module in "${modules[@]}"; do
  deps=$(modprobe -d "$base" -S "$krel" --show-depends "$module" 2>&1) || die "kernel $krel lacks module $module: $deps"
  while read -r verb path _; do
    [ "$verb" = insmod ] || continue
    name=$(basename "$path"); name="${name%.xz}"; name="${name%.zst}"
    grep -qx "$name" "$dir/modules/order" && continue
    case "$path" in
      *.xz) xz -dc "$path" > "$dir/modules/$name" ;;
      *.zst) zstd -qdc "$path" > "$dir/modules/$name" ;;
      *) cp "$path" "$dir/modules/$name" ;;
    esac
    echo "$name" >> "$dir/modules/order"
  done <<< "$deps"
done
rm -rf "$dir/tree" "$dir/download"
printf '%s\n%s\n' "$krel" "$stamp_line" > "$dir/ready"
log "kernel $krel ready in $dir"
echo "$dir"
