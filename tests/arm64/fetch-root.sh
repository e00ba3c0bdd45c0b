#!/usr/bin/env bash
# Prepares a minimal Debian arm64 root (mmdebstrap from the machine's own Debian mirror) that both arm64 lanes use:
# the user-mode lane runs the arm64 binaries with `qemu-aarch64 -L ROOT` (its libc, libssl, libturbojpeg), the system
# lane boots it (an ext4 image of it, opened with snapshot=on so the cache stays untouched) with systemd as PID 1.
# Nothing on the host changes except, while building, the qemu-aarch64 binfmt registration mmdebstrap needs for the
# packages' maintainer scripts. Prints the directory holding root/ and root.img; everything else goes to stderr.
# Cached in $HWLANE_CACHE/arm64-root-SUITE (default suite: bookworm, as Raspberry Pi OS); rebuilt when the
# package list below changes or after ARM64_ROOT_MAX_DAYS (default 30) days.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${HWLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/appliance-hwlane}"
suite="${ARM64_SUITE:-bookworm}"
# What the appliance links (libc, libstdc++, libssl, zlib, libturbojpeg: the .deb's Depends), what the system lane
# drives it with (systemd, curl, jq, procps, python3 for the fake WeCom API), busybox-static (the system lane's initramfs) and the comparison streamer.
packages=(systemd systemd-sysv dbus libturbojpeg0 libssl3 libstdc++6 zlib1g ca-certificates curl jq procps iproute2
          python3 busybox-static ustreamer)
log() { echo "fetch-root: $*" >&2; }
die() { echo "fetch-root: ERROR: $*" >&2; exit 1; }

dir="$cache/arm64-root-$suite"
# One at a time: lanes running side by side (tests/run-all.sh) would otherwise build the same root at once.
mkdir -p "$cache"
exec 9>"$cache/.fetch-root-$suite.lock"
flock 9
stamp_line="$suite ${packages[*]}"
if [ -f "$dir/ready" ] && grep -qxF "$stamp_line" "$dir/ready" && [ -z "$(find "$dir/ready" -mtime +"${ARM64_ROOT_MAX_DAYS:-30}")" ]; then
  echo "$dir"; exit 0
fi
command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (tests/lanes/arm64-user.apt lists the packages)"
source "$here/../hardware/debian-mirror.sh"
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list(.d); set HWLANE_MIRROR"

# mmdebstrap runs the arm64 maintainer scripts through the kernel's binfmt_misc and qemu-user-static's interpreter.
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
    || die "cannot mount binfmt_misc (needs root)"
  conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$conf" ] || die "no $conf: install qemu-user-static"
  log "registering qemu-aarch64 with binfmt_misc"
  grep -v '^#' "$conf" > /proc/sys/fs/binfmt_misc/register || die "cannot register qemu-aarch64 with binfmt_misc"
fi

log "building an arm64 $suite root from $mirror (a few minutes, once)"
rm -rf "$dir" && mkdir -p "$dir"
started=$(date +%s)
mmdebstrap --architectures=arm64 --variant=apt --include="$(IFS=,; echo "${packages[*]}")" \
  --customize-hook='echo appliance-arm64 > "$1/etc/hostname"' \
  --customize-hook='rm -f "$1/etc/machine-id" && touch "$1/etc/machine-id"' \
  "$suite" "$dir/root" "deb $mirror $suite main" >&2 || die "mmdebstrap failed"
# The system lane's disk: an ext4 image made from the directory (owners and modes kept), with room for the packages.
size_mb=$(( $(du -sm "$dir/root" | cut -f1) + 600 ))
# Its "Creating regular file" line goes to stderr: stdout carries only the directory, which the lanes read (on a fresh
# machine that line once became part of the path and the system lane failed).
mke2fs -q -t ext4 -L arm64root -d "$dir/root" "$dir/root.img" "${size_mb}M" >&2 || die "mke2fs failed"
printf '%s\n' "$stamp_line" > "$dir/ready"
log "arm64 root ready in $dir ($(du -sh "$dir/root" | cut -f1), $(( $(date +%s) - started )) s)"
echo "$dir"
