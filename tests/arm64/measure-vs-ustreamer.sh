#!/usr/bin/env bash
# On demand, not part of tests/run-all.sh (a measurement, ~15-25 min under TCG): the arm64 Appliance side by side with
# µStreamer arm64 inside the arm64 system lane's guest (qemu-system-aarch64 -M virt -cpu max -smp 2, Debian's arm64
# kernel with vivid, the cached root of tests/arm64/fetch-root.sh whose Debian ustreamer 4.9 is arm64, unpacked by
# mmdebstrap into the root, never installed on the host). On the same vivid device at 1280x720 YUYV 30 fps, first
# µStreamer and then the published arm64 Appliance (its .deb's files and the unit's Environment=), each started afresh
# with 1 and with 20 viewers inside the guest (tests/hardware/mjpeg-viewers.py): time from start to the first served
# camera frame, VmRSS/VmHWM, CPU time (utime+stime) per delivered frame, fps per viewer. Prints a table with the
# ratios against µStreamer and the issue's targets; JSON lines in $TEST_RESULTS_DIR/arm64-vs-ustreamer.jsonl.
# TCG emulation on a shared machine: compare the ratios, not the absolute figures.
#
#   PUBLISH_DIR_linux_arm64=DIR tests/arm64/measure-vs-ustreamer.sh   # reuse a publish (else publish-arm64.sh runs, minutes)
#   MEASURE_APPLIANCE_ENV="DOTNET_GCgen0size=0x100000 …"                # extra environment for the appliance (experiments)
#   MEASURE_APPLIANCE_VARIANTS="tc0:DOTNET_TieredCompilation=0 hard:DOTNET_GCHeapHardLimit=0x2000000+DOTNET_GCgen0size=0x100000"
#                                  # more appliance runs in the same boot, each with its extra environment (appliance:NAME)
#   MEASURE_COMPARE_PUBLISH_DIR=DIR   # also that publish's appliance (appliance:before, its own binary, same environment)
#   MEASURE_SECONDS (20) MEASURE_WARMUP (8) MEASURE_ROUNDS (1) MEASURE_VIEWERS ("1 20") ARM64_GUEST_MEMORY (1024 MB)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d /tmp/arm64-vs-ustreamer.XXXXXX)"
trap 'rm -rf "$work"' EXIT
fail() { echo "arm64-vs-ustreamer: FAIL: $*" >&2; exit 1; }
source "$root/tests/lanes/lib/packages.sh"
started=$(date +%s)
echo "arm64-vs-ustreamer: $(date -u '+%Y-%m-%d %H:%M UTC'), host $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

arm64_root="$("$root/tests/arm64/fetch-root.sh")" || fail "could not prepare the arm64 root"
[ -x "$arm64_root/root/usr/bin/ustreamer" ] || fail "the arm64 root has no ustreamer (tests/arm64/fetch-root.sh lists it)"
lane_packages linux-arm64 "$work/packages"
deb="$(ls "$work"/packages/appliance_*_arm64.deb 2>/dev/null | head -n1)"
[ -n "$deb" ] || fail "no appliance_VERSION_arm64.deb in the publish"
dpkg-deb -x "$deb" "$work/appliance"
rm -rf "$work/packages"
if [ -n "${MEASURE_COMPARE_PUBLISH_DIR:-}" ]; then # another publish (e.g. before a change), measured in the same boot
  compare_deb="$(ls "$MEASURE_COMPARE_PUBLISH_DIR"/appliance_*_arm64.deb 2>/dev/null | head -n1)"
  [ -n "$compare_deb" ] || fail "no appliance_VERSION_arm64.deb in MEASURE_COMPARE_PUBLISH_DIR=$MEASURE_COMPARE_PUBLISH_DIR"
  dpkg-deb -x "$compare_deb" "$work/compare"
fi
[ -x "$work/appliance/usr/lib/appliance/Appliance" ] || fail "$(basename "$deb") has no usr/lib/appliance/Appliance"
# The environment the unit gives the service (e.g. DOTNET_GCgen0size), then the run's own.
unit="$(find "$work/appliance" -name appliance.service | head -n1)"
[ -n "$unit" ] || fail "$(basename "$deb") has no appliance.service"
sed -n 's/^Environment=//p' "$unit" | tr ' ' '\n' | grep . > "$work/appliance.env" || true
for setting in ${MEASURE_APPLIANCE_ENV:-}; do echo "$setting" >> "$work/appliance.env"; done
# Variants measured in the same boot after the appliance as configured: "NAME:ENV=VALUE+ENV=VALUE …".
: > "$work/variants"
for variant in ${MEASURE_APPLIANCE_VARIANTS:-}; do
  [[ "$variant" == *:*=* ]] || fail "MEASURE_APPLIANCE_VARIANTS: '$variant' is not NAME:ENV=VALUE[+ENV=VALUE…]"
  echo "${variant%%:*} ${variant#*:}" | tr '+' ' ' >> "$work/variants"
done

cat > "$work/measure.conf" <<CONF
MEASURE_SECONDS=${MEASURE_SECONDS:-20}
MEASURE_WARMUP=${MEASURE_WARMUP:-8}
MEASURE_ROUNDS=${MEASURE_ROUNDS:-1}
MEASURE_VIEWERS="${MEASURE_VIEWERS:-1 20}"
MEASURE_WIDTH=1280
MEASURE_HEIGHT=720
MEASURE_FPS=30
MEASURE_QUALITY=80
CONF
cp "$root/tests/arm64/measure-in-guest.sh" "$work/in-guest.sh" # what guest-init.sh's lane.service runs
cp "$root/tests/arm64/first-frame.py" "$root/tests/hardware/mjpeg-viewers.py" "$work/"
echo "arm64-vs-ustreamer: $(basename "$deb"), appliance environment: $(tr '\n' ' ' < "$work/appliance.env")"

HWLANE_ARCH=arm64 HWLANE_BUSYBOX="$arm64_root/root/bin/busybox" HWLANE_DISK="$arm64_root/root.img" HWLANE_DISK_OPTS=",snapshot=on" \
  HWLANE_WORK="$work" HWLANE_INIT="$root/tests/arm64/guest-init.sh" HWLANE_MEMORY="${ARM64_GUEST_MEMORY:-1024}" \
  HWLANE_TIMEOUT="${ARM64_MEASURE_TIMEOUT:-3000}" bash "$root/tests/hardware/run-in-qemu.sh" true \
  || { [ -f "$work/guest.log" ] && tail -n 40 "$work/guest.log"; fail "the guest failed; its console is above"; }

results="${TEST_RESULTS_DIR:-$root/artifacts/test-results}"
mkdir -p "$results"
cp "$work/measure.jsonl" "$results/arm64-vs-ustreamer.jsonl"
cp "$work"/*.log "$results/" 2>/dev/null || true
echo "arm64-vs-ustreamer: done in $(( $(date +%s) - started )) s, load average now $(cut -d' ' -f1-3 /proc/loadavg); $results/arm64-vs-ustreamer.jsonl"
python3 "$root/tests/arm64/measure-table.py" "$results/arm64-vs-ustreamer.jsonl"
