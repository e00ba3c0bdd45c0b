#!/usr/bin/env bash
# Real systemd: boots the test kernel in qemu with the host's own systemd as PID 1 (tests/systemd-boot/), installs the
# published Relay and Appliance there with their install.sh (as root, no options, as the README says) and checks the
# units under that systemd: users, hardening with the real V4L2 device, READY/watchdog, exit 78, upgrades (also
# from the old DynamicUser relay), the tunnel between the two. Uses publish-smoke's tarballs of this run when there
# are any (LANE_SHARED), else publishes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "systemd-boot: FAIL: $*"; exit 1; }

shared="${LANE_SHARED:-}"
if [ -n "$shared" ] && [ -f "$shared/appliance-linux-x64.tar.gz" ] && [ -f "$shared/relay-linux-x64.tar.gz" ]; then
  cp "$shared"/appliance-linux-x64.tar.gz "$shared"/relay-linux-x64.tar.gz "$work/"
else
  "$root/publish-arm64.sh" --rid linux-x64 --out "$work/publish" >"$work/tarballs" || fail "publish-arm64.sh failed"
  cp $(cat "$work/tarballs") "$work/"
  rm -rf "$work/publish"
fi
cp "$root/tests/systemd-boot/in-guest.sh" "$work/"
# A test CA and a certificate for the relay's own HTTPS (the guest plays certbot with them).
source "$root/tests/lanes/lib/lane-helpers.sh"
mkdir -p "$work/tls" && make_test_ca "$work/tls" "DNS:relay.test"

started=$(date +%s)
HWLANE_WORK="$work" HWLANE_INIT="$root/tests/systemd-boot/guest-init.sh" HWLANE_TIMEOUT="${SYSTEMD_BOOT_TIMEOUT:-900}" \
  bash "$root/tests/hardware/run-in-qemu.sh" true || fail "the guest failed (status $?); its console is above"
echo "systemd-boot: passed in $(( $(date +%s) - started )) s"
