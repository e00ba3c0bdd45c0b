#!/usr/bin/env bash
# arm64 system lane: what the Pi runs, on its own architecture under a real systemd. Boots qemu-system-aarch64
# (-M virt -cpu max -smp 2, TCG) on Debian's arm64 kernel (the x86 lane's source: tests/hardware/fetch-kernel.sh with
# HWLANE_ARCH=arm64) with a minimal Debian arm64 root (tests/arm64/fetch-root.sh, cached; the guest's writes are
# discarded) and its own systemd as PID 1, installs this run's appliance_VERSION_arm64.deb with apt as a user would and
# checks the package and its unit on vivid and gpio-sim (tests/arm64/in-guest.sh): maintainer scripts, READY/watchdog,
# V4L2 snapshot, doorbell -> fake WeCom text and photo, POST /api/gpio on the gpio-sim line, doctor, exit 78, upgrade,
# hung process restarted, apt remove and purge. The appliance's install path is checked here only (the x86
# systemd-boot lane keeps the relay and the tunnel).
# lane-seconds: 430 (alone on the 2-core machine, clean clone 2026-12-07; 960 s beside another qemu guest at load 25-50; tests/run-all.sh reads it to start the longest chains first)
# lane-needs: linux-arm64 (the arm64 packages, which tests/run-all.sh publishes second; run alone, the lane publishes them)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "arm64-system: FAIL: $*"; exit 1; }
source "$root/tests/lanes/lib/arm64-packages.sh"
started=$(date +%s)

arm64_root="$("$root/tests/arm64/fetch-root.sh")" || fail "could not prepare the arm64 root"
[ -f "$arm64_root/root.img" ] || fail "tests/arm64/fetch-root.sh printed '$arm64_root', not the directory of the arm64 root"
mkdir -p "$work/packages"
arm64_packages "$work/packages"
deb="$(ls "$work"/packages/appliance_*_arm64.deb 2>/dev/null | head -n1)"
[ -n "$deb" ] || fail "publish-arm64.sh made no appliance_VERSION_arm64.deb"
cp "$deb" "$root/tests/arm64/in-guest.sh" "$root/tests/arm64/fake-wecom.py" "$work/"
# The upgrade's "next version": the same package repacked with a higher version (VERSION+lane1), as a release would
# be. Repacked uncompressed: the guest's dpkg then does not spend a minute of emulated CPU on xz a second time
# (the first install unpacks the xz package exactly as a user's apt does).
unpacked="$work/repack" && dpkg-deb -R "$deb" "$unpacked"
next="$(dpkg-deb -f "$deb" Version)+lane1"
sed -i "s/^Version: .*/Version: $next/" "$unpacked/DEBIAN/control"
dpkg-deb --root-owner-group -Znone --build "$unpacked" "$work/appliance_${next}_arm64.deb" >/dev/null
rm -rf "$unpacked" "$work/packages"

booted=$(date +%s)
HWLANE_ARCH=arm64 HWLANE_BUSYBOX="$arm64_root/root/bin/busybox" HWLANE_DISK="$arm64_root/root.img" HWLANE_DISK_OPTS=",snapshot=on" \
  HWLANE_WORK="$work" HWLANE_INIT="$root/tests/arm64/guest-init.sh" HWLANE_MEMORY="${ARM64_GUEST_MEMORY:-1024}" \
  HWLANE_TIMEOUT="${ARM64_SYSTEM_TIMEOUT:-1800}" bash "$root/tests/hardware/run-in-qemu.sh" true \
  || fail "the guest failed (status $?); its console is above"
echo "arm64-system: passed in $(( $(date +%s) - started )) s (guest $(( $(date +%s) - booted )) s)"
