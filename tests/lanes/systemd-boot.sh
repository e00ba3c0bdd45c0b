#!/usr/bin/env bash
# Real systemd: boots the test kernel in qemu with the host's own systemd as PID 1 (tests/systemd-boot/), installs the
# relay and appliance .deb packages there with apt as the README says (sudo apt install ./NAME_VERSION_amd64.deb) and
# checks the maintainer scripts and the units under that systemd: users, groups, settings and secrets modes,
# hardening with the real V4L2 device, READY/watchdog, exit 78, upgrades to a second version (conffiles and secrets
# kept, restarted), the tunnel between the two, apt remove and apt purge. Uses the amd64 packages of this
# run (tests/lanes/lib/packages.sh).
# lane-seconds: 634 (alone on the 2-core machine; tests/run-all.sh reads it to start the longest chains first)
# lane-needs: linux-x64 (the amd64 packages, which tests/run-all.sh publishes first; run alone, the lane publishes them)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "systemd-boot: FAIL: $*"; exit 1; }

source "$root/tests/lanes/lib/lane-helpers.sh"
source "$root/tests/lanes/lib/packages.sh"
lane_packages linux-x64 "$work/packages"
cp "$work"/packages/appliance_*_amd64.deb "$work"/packages/relay_*_amd64.deb "$work/" || fail "no amd64 packages"
rm -rf "$work/packages"
# The upgrade's "next version": the same package repacked with a higher version (VERSION+lane1), as a release would be.
for deb in "$work"/appliance_*_amd64.deb "$work"/relay_*_amd64.deb; do
  unpacked="$work/repack" && rm -rf "$unpacked" && dpkg-deb -R "$deb" "$unpacked"
  next="$(dpkg-deb -f "$deb" Version)+lane1"
  sed -i "s/^Version: .*/Version: $next/" "$unpacked/DEBIAN/control"
  dpkg-deb --root-owner-group -Znone --build "$unpacked" "$work/$(dpkg-deb -f "$deb" Package)_${next}_amd64.deb" >/dev/null
  rm -rf "$unpacked"
done
cp "$root/tests/systemd-boot/in-guest.sh" "$work/"
# A test CA and a certificate for the relay's own HTTPS (the guest plays certbot with them).
mkdir -p "$work/tls" && make_test_ca "$work/tls" "DNS:relay.test"

started=$(date +%s)
HWLANE_WORK="$work" HWLANE_INIT="$root/tests/systemd-boot/guest-init.sh" HWLANE_TIMEOUT="${SYSTEMD_BOOT_TIMEOUT:-1800}" \
  bash "$root/tests/hardware/run-in-qemu.sh" true || fail "the guest failed (status $?); its console is above"
echo "systemd-boot: passed in $(( $(date +%s) - started )) s"
