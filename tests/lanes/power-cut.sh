#!/usr/bin/env bash
# A power cut on a real kernel: the Category=PowerCut test boots the qemu guest with an ext4 disk (the state
# directory on it), notes a WeCom message as started in the run journal, creates the link secret, and resets the
# machine at once with sysrq b (no sync, no unmount, like a pulled plug); a second boot checks that both are on the disk
# and that a file written without a sync is not (else the cut proved nothing). The cut also comes while an event's clip
# is being written: after it the events index is intact and ffprobe plays the clip to its last complete frame, which
# start-up marks partial. Prints the seconds each boot took.
# lane-seconds: 148 (alone on the 2-core machine; tests/run-all.sh reads it to start the longest chains first)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
results="${TEST_RESULTS_DIR:-$root/artifacts/test-results}"
mkdir -p "$results"
fail() { echo "power-cut: FAIL: $*"; exit 1; }
command -v mkfs.ext4 >/dev/null || fail "mkfs.ext4 is not installed (tests/lanes/power-cut.apt)"

project="$root/tests/Hardware.Tests/Hardware.Tests.csproj"
source "$root/tests/lanes/lib/lane-helpers.sh"
lane_build "$project"
dll="$root/tests/Hardware.Tests/bin/Release/net10.0/Hardware.Tests.dll"
[ -f "$dll" ] || fail "$dll was not built"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The state directory exists on the disk from the start, as the package's /var/lib/appliance does.
mkdir -p "$work/disk-root/state"
truncate -s 64M "$work/disk.img"
mkfs.ext4 -q -F -d "$work/disk-root" "$work/disk.img"
mkdir -p "$work/share"
# The frame the clip part records (made here: ffmpeg under TCG would cost seconds).
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc=size=160x120:rate=1 -frames:v 1 "$work/share/frame.jpg" \
  || fail "ffmpeg could not make a test frame (tests/lanes/power-cut.apt)"

# commit=60: ext4 commits on its own only every 60 s, so nothing reaches the disk in time without a sync.
mount_disk="mkdir -p /tmp/disk && mount -t ext4 -o commit=60 /dev/vda /tmp/disk"
run_phase() {
  HWLANE_WORK="$work" HWLANE_DISK="$work/disk.img" bash "$root/tests/hardware/run-in-qemu.sh" \
    "$mount_disk && POWERCUT_PHASE=$1 POWERCUT_DIR=/tmp/disk POWERCUT_SHARE=/tmp/hwlane/share dotnet test '$dll' --filter Category=PowerCut --results-directory /tmp/hwlane/results --logger 'trx;LogFileName=power-cut-$1.trx' --logger 'console;verbosity=normal'"
}

cd "$root"
started=$(date +%s)
set +e
run_phase cut
set -e
[ -f "$work/share/cutting" ] || fail "the first boot did not reach the power cut (its console is above)"
[ -f "$work/results/power-cut-cut.trx" ] && fail "the first boot finished its test run: the reset did not happen"
cut_s=$(( $(date +%s) - started ))

started=$(date +%s)
set +e
run_phase check
rc=$?
set -e
trx="$work/results/power-cut-check.trx"
[ -f "$trx" ] || fail "no test results came back from the second boot (exit status $rc)"
cp "$trx" "$results/power-cut-$(date +%s).trx"
counters="$(grep -o '<Counters [^>]*>' "$trx")"
total=$(sed -n 's/.*total="\([0-9]*\)".*/\1/p' <<<"$counters")
[ "${total:-0}" -gt 0 ] || fail "no PowerCut test ran"
echo "power-cut: boot with the cut ${cut_s} s, boot after it $(( $(date +%s) - started )) s; $counters"
[ "$rc" -eq 0 ] || fail "the check after the power cut failed (above)"
