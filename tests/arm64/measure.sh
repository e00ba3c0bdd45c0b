#!/usr/bin/env bash
# On demand (not part of the test run): the streaming measurement inside the arm64 guest, side by side with µStreamer
# arm64 (the root's Debian ustreamer) on the same vivid device at 1280x720 YUYV 30 fps, 1 and 20 viewers
# (tests/hardware/measure-guest.sh). Boots the arm64 system lane's guest (kernel, root, init); the appliance is this
# run's arm64 .deb's binary (ARM64_PUBLISH_DIR to reuse a publish). Results (JSON lines) go to stdout and
# $TEST_RESULTS_DIR/arm64-stream-measure.jsonl. TCG emulation: compare the ratios, not the absolute figures.
#   tests/arm64/measure.sh [extra appliance arguments or environment as NAME=VALUE …]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d /tmp/arm64measure.XXXXXX)"
trap 'rm -rf "$work"' EXIT
fail() { echo "arm64-measure: FAIL: $*" >&2; exit 1; }
source "$root/tests/lanes/lib/arm64-packages.sh"
arm64_root="$("$root/tests/arm64/fetch-root.sh")" || fail "could not prepare the arm64 root"
mkdir -p "$work/packages"
arm64_packages "$work/packages"
for package in "$work"/packages/appliance*arm64*; do arm64_unpack "$package" "$work/unpacked"; done
cp "$(arm64_binary "$work/unpacked" Appliance)" "$work/Appliance"
rm -rf "$work/packages" "$work/unpacked"
cp "$root/tests/hardware/measure-guest.sh" "$root/tests/hardware/mjpeg-viewers.py" "$work/"
# NAME=VALUE arguments become the appliance's environment (e.g. DOTNET_GCHeapHardLimit=0x3000000), the rest its arguments.
envs=(); extra=()
for arg in "$@"; do case "$arg" in [A-Z]*=*) envs+=("$arg") ;; *) extra+=("$arg") ;; esac; done
cat > "$work/in-guest.sh" <<GUEST
#!/usr/bin/env bash
set -euo pipefail
trap 'rc=\$?; echo "\$rc" > /lane/exit-status; sync' EXIT
ip link set lo up
cp /lane/Appliance /tmp/Appliance # from tmpfs, not paged in over 9p
echo "arm64-measure: \$(uname -m), kernel \$(uname -r), ustreamer \$(ustreamer --version), appliance \$(stat -c %s /tmp/Appliance) bytes"
MEASURE_APPLIANCE="env ${envs[*]} /tmp/Appliance ${extra[*]}" MEASURE_RESOLUTION=1280x720 MEASURE_LOGS=/lane \
  bash /lane/measure-guest.sh | tee /lane/measure.jsonl
GUEST
HWLANE_ARCH=arm64 HWLANE_BUSYBOX="$arm64_root/root/bin/busybox" HWLANE_DISK="$arm64_root/root.img" HWLANE_DISK_OPTS=",snapshot=on" \
  HWLANE_WORK="$work" HWLANE_INIT="$root/tests/arm64/guest-init.sh" HWLANE_MEMORY=1024 HWLANE_TIMEOUT="${ARM64_MEASURE_TIMEOUT:-1200}" \
  bash "$root/tests/hardware/run-in-qemu.sh" true || fail "the guest failed; its console is above"
results="${TEST_RESULTS_DIR:-$root/artifacts/test-results}"
mkdir -p "$results"
cp "$work/measure.jsonl" "$results/arm64-stream-measure.jsonl"
if [ -n "${MEASURE_KEEP_LOGS:-}" ]; then cp "$work"/*.log "$results/" 2>/dev/null || true; fi
