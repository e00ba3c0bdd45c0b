#!/usr/bin/env bash
# On demand (not part of the test run): the published (trimmed, single-file) appliance's RSS with two sensors running
# vs none, in the qemu guest on i2c-stub (measure-sensors-guest.sh). Usage: measure-sensors.sh [appliance .deb]
# (default: publishes one for this machine's RID with publish-arm64.sh). JSON lines to stdout and
# $TEST_RESULTS_DIR/sensors-measure.jsonl.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work=$(mktemp -d /tmp/hwmeasure.XXXXXX)
trap 'rm -rf "$work"' EXIT
deb="${1:-}"
[ -n "$deb" ] || deb=$("$root/publish-arm64.sh" --rid linux-x64 --only appliance --out "$work/publish")
dpkg-deb -x "$deb" "$work/pkg"
HWLANE_WORK="$work" "$here/run-in-qemu.sh" "bash '$here/measure-sensors-guest.sh' /tmp/hwlane/pkg/usr/lib/appliance/Appliance | tee /tmp/hwlane/measure.jsonl"
results="${TEST_RESULTS_DIR:-$root/artifacts/test-results}"
mkdir -p "$results"
cp "$work/measure.jsonl" "$results/sensors-measure.jsonl"
