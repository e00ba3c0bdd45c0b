#!/usr/bin/env bash
# Real systemd: boots the test kernel in qemu with the host's own systemd as PID 1 (tests/systemd-boot/), installs the
# relay and appliance .deb packages there with apt as the README says (sudo apt install ./NAME_VERSION_amd64.deb) and
# checks what a VPS (amd64) runs: the relay's maintainer scripts and unit (user, settings mode, Type=notify), its
# upgrade to a second version (conffile kept, restarted, queued callback kept), the tunnel from the appliance (on the
# guest's V4L2 device under its unit's hardening), the relay's own HTTPS on 443, apt remove and apt purge of the relay.
# The appliance's own install path (groups, modes, exit 78, upgrade, watchdog, remove, purge) is checked on arm64, what
# the Pi runs: tests/lanes/arm64-system.sh. Uses the amd64 packages of this run (tests/lanes/lib/packages.sh).
# lane-seconds: 426 (alone on the 2-core machine, clean clone 2026-12-07; tests/run-all.sh reads it to start the longest chains first)
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
# The relay's upgrade's "next version": the same package repacked with a higher version (VERSION+lane1), as a release
# would be (the appliance's upgrade is tested on arm64: tests/lanes/arm64-system.sh).
for deb in "$work"/relay_*_amd64.deb; do
  unpacked="$work/repack" && rm -rf "$unpacked" && dpkg-deb -R "$deb" "$unpacked"
  next="$(dpkg-deb -f "$deb" Version)+lane1"
  sed -i "s/^Version: .*/Version: $next/" "$unpacked/DEBIAN/control"
  dpkg-deb --root-owner-group -Znone --build "$unpacked" "$work/$(dpkg-deb -f "$deb" Package)_${next}_amd64.deb" >/dev/null
  rm -rf "$unpacked"
done
cp "$root/tests/systemd-boot/in-guest.sh" "$work/"
# dpkg's database for the guest: the host's, with each files list cut to the directories these packages share
# (tests/systemd-boot/dpkg-database.py), so that dpkg in the guest does not read 150 000 paths on every run.
python3 "$root/tests/systemd-boot/dpkg-database.py" /var/lib/dpkg "$work/dpkg" "$work"/*.deb || fail "could not copy dpkg's database"
# The guest's /etc (the host's) and that database in one tarball (tests/systemd-boot/guest-init.sh unpacks it): one
# file over 9p instead of thousands. Only root may read it (it holds /etc/shadow), as the directory it is made in.
(umask 077 && tar -C / -cf "$work/root.tar" etc \
  && tar -C "$work" -rf "$work/root.tar" --transform 's,^dpkg,var/lib/dpkg,' dpkg) || fail "could not pack the guest's /etc"
rm -rf "$work/dpkg"
# A test CA and a certificate for the relay's own HTTPS (the guest plays certbot with them).
mkdir -p "$work/tls" && make_test_ca "$work/tls" "DNS:relay.test"

started=$(date +%s)
HWLANE_WORK="$work" HWLANE_INIT="$root/tests/systemd-boot/guest-init.sh" HWLANE_TIMEOUT="${SYSTEMD_BOOT_TIMEOUT:-1800}" \
  bash "$root/tests/hardware/run-in-qemu.sh" true || fail "the guest failed (status $?); its console is above"
echo "systemd-boot: passed in $(( $(date +%s) - started )) s"
