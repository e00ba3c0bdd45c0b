#!/usr/bin/env bash
# arm64 system lane (on demand until it has passed end to end on this machine; then it belongs in tests/lanes/):
# boots qemu-system-aarch64 (-M virt -cpu max -smp 2, TCG) on Debian's arm64 kernel (the x86
# lane's source: tests/hardware/fetch-kernel.sh with HWLANE_ARCH=arm64) with a Debian arm64 root
# (tests/arm64/fetch-root.sh, cached; the guest's writes are discarded) and its own systemd as PID 1, installs this
# run's appliance_VERSION_arm64.deb with apt there and checks it on vivid and gpio-sim (tests/arm64/in-guest.sh).
# Publishes the arm64 packages when no earlier lane of this run did ($LANE_SHARED/arm64) and leaves them there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "arm64-system: FAIL: $*"; exit 1; }
source "$root/tests/lanes/lib/arm64-packages.sh"
started=$(date +%s)

arm64_root="$("$root/tests/arm64/fetch-root.sh")" || fail "could not prepare the arm64 root"
mkdir -p "$work/packages"
arm64_packages "$work/packages"
ls "$work"/packages/appliance_*_arm64.deb >/dev/null 2>&1 || fail "publish-arm64.sh made no appliance_VERSION_arm64.deb"
cp "$work"/packages/appliance_*_arm64.deb "$root/tests/arm64/in-guest.sh" "$root/tests/arm64/fake-wecom.py" "$work/"
rm -rf "$work/packages"

booted=$(date +%s)
HWLANE_ARCH=arm64 HWLANE_BUSYBOX="$arm64_root/root/bin/busybox" HWLANE_DISK="$arm64_root/root.img" HWLANE_DISK_OPTS=",snapshot=on" \
  HWLANE_WORK="$work" HWLANE_INIT="$root/tests/arm64/guest-init.sh" HWLANE_MEMORY="${ARM64_GUEST_MEMORY:-1024}" \
  HWLANE_TIMEOUT="${ARM64_SYSTEM_TIMEOUT:-1800}" bash "$root/tests/hardware/run-in-qemu.sh" true \
  || fail "the guest failed (status $?); its console is above"
echo "arm64-system: passed in $(( $(date +%s) - started )) s (guest $(( $(date +%s) - booted )) s)"
