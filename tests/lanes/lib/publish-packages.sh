#!/usr/bin/env bash
# tests/run-all.sh runs this beside the unit tests (at the lowest CPU priority, so it takes only what they leave idle):
# the amd64 and arm64 packages of this run, into $LANE_SHARED/linux-x64 and $LANE_SHARED/linux-arm64, for the lanes
# that install or run them (publish-smoke, systemd-boot, arm64-user). Exit 0 when both are there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
: "${LANE_SHARED:?set LANE_SHARED}"
fail() { echo "publish-packages: FAIL: $*"; exit 1; }
source "$root/tests/lanes/lib/packages.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "publish-packages: nice $(nice), scheduler group $(cat /proc/self/autogroup 2>/dev/null || echo 'none (no autogroups)')"
# PACKAGE_RIDS narrows it (e.g. to linux-x64 when LANES_SKIP leaves out the arm64 lanes, tests/run-all.sh).
for rid in ${PACKAGE_RIDS:-linux-x64 linux-arm64}; do
  lane_packages "$rid" "$work/$rid"
  rm -rf "$work/$rid"
done
