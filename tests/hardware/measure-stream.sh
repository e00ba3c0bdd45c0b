#!/usr/bin/env bash
# On demand (not part of the test run): the streaming measurement in the qemu guest. Builds the appliance, boots
# the lane's kernel and runs measure-guest.sh. Results (JSON lines) go to stdout and $TEST_RESULTS_DIR/stream-measure.jsonl.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command -v ustreamer >/dev/null || { echo "measure: ustreamer is not installed (apt-get install ustreamer)"; exit 1; }
dotnet build "$root/Appliance/Appliance.csproj" -c Release -nologo -v:q
work=$(mktemp -d /tmp/hwmeasure.XXXXXX)
trap 'rm -rf "$work"' EXIT
HWLANE_WORK="$work" "$here/run-in-qemu.sh" "bash '$here/measure-guest.sh' | tee /tmp/hwlane/measure.jsonl"
results="${TEST_RESULTS_DIR:-$root/artifacts/test-results}"
mkdir -p "$results"
cp "$work/measure.jsonl" "$results/stream-measure.jsonl"
if [ -n "${MEASURE_KEEP_LOGS:-}" ]; then cp "$work"/*.log "$results/" 2>/dev/null || true; fi
