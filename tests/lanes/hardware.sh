#!/usr/bin/env bash
# The real-kernel lane, in two boots of the qemu guest (tests/hardware/run-in-qemu.sh) on a Debian kernel with gpio-sim,
# vivid and i2c-stub, and an ext4 disk holding the state directory:
# 1. a power cut: the Category=PowerCut test notes a WeCom message as started in the run journal, creates the link
#    secret, starts an event's clip, and resets the machine at once with sysrq b (no sync, no unmount, like a pulled
#    plug);
# 2. after it, one test run: the PowerCut test checks that the journal entry and the secret are on the disk, that a file
#    written without a sync is not (else the cut proved nothing), that the events index is intact and that ffprobe
#    plays the clip to its last complete frame, which start-up marks partial; and every Category=Hardware test
#    (gpio-sim, vivid, i2c-stub, the MQTT broker in the guest).
# One boot and one test host fewer than a lane each (the two were separate lanes until 2026-12-08: 156-178 s and
# 170-229 s). Prints the seconds each boot took. One Hardware test on its own, in one boot without the disk:
# tests/hardware/run-hardware-tests.sh --filter FullyQualifiedName~Vivid.
# lane-seconds: 190 (alone on the 2-core machine, 2026-12-08: boots of 60 s and 125 s; tests/run-all.sh reads it to start the longest chains first)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
results="${TEST_RESULTS_DIR:-$root/artifacts/test-results}"
mkdir -p "$results"
fail() { echo "hardware: FAIL: $*"; exit 1; }
command -v mkfs.ext4 >/dev/null || fail "mkfs.ext4 is not installed (tests/lanes/hardware.apt)"

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
  || fail "ffmpeg could not make a test frame (tests/lanes/hardware.apt)"

# commit=60: ext4 commits on its own only every 60 s, so nothing reaches the disk in time without a sync.
mount_disk="mkdir -p /tmp/disk && mount -t ext4 -o commit=60 /dev/vda /tmp/disk"
run_boot() { # FILTER PHASE TRX: one boot, one test run
  # The test host starts slowly under TCG on a loaded machine (seen: over vstest's default 90 s at load 38 on 2 cores);
  # the whole Hardware run took 546 s at load ~17, over run-in-qemu's 280 s default.
  HWLANE_TIMEOUT="${HWLANE_TIMEOUT:-900}" HWLANE_WORK="$work" HWLANE_DISK="$work/disk.img" \
    bash "$root/tests/hardware/run-in-qemu.sh" \
    "$mount_disk && POWERCUT_PHASE=$2 POWERCUT_DIR=/tmp/disk POWERCUT_SHARE=/tmp/hwlane/share VSTEST_CONNECTION_TIMEOUT=${VSTEST_CONNECTION_TIMEOUT:-300} dotnet test '$dll' --filter '$1' --results-directory /tmp/hwlane/results --logger 'trx;LogFileName=$3' --logger 'console;verbosity=normal'"
}

cd "$root" # the guest runs the command in the checkout (shared on its own when under /tmp)
started=$(date +%s)
set +e
run_boot Category=PowerCut cut power-cut.trx
set -e
[ -f "$work/share/cutting" ] || fail "the first boot did not reach the power cut (its console is above)"
[ -f "$work/results/power-cut.trx" ] && fail "the first boot finished its test run: the reset did not happen"
cut_s=$(( $(date +%s) - started ))

started=$(date +%s)
set +e
run_boot "Category=PowerCut|Category=Hardware" check hardware.trx
rc=$?
set -e
trx="$work/results/hardware.trx"
[ -f "$trx" ] || fail "no test results came back from the second boot (exit status $rc)"
cp "$trx" "$results/hardware-$(date +%s).trx"
counters="$(grep -o '<Counters [^>]*>' "$trx")"
# Both categories ran: the power cut's check and the Hardware tests (a filter that matched one only would still pass).
grep -q 'PowerCutTests' "$trx" || fail "the PowerCut check did not run after the cut"
grep -q 'testName="[^"]*\(Gpio\|Vivid\)' "$trx" || fail "no Hardware test ran after the cut"
echo "hardware: boot with the cut ${cut_s} s, boot after it (the check and the Hardware tests) $(( $(date +%s) - started )) s; $counters"
[ "$rc" -eq 0 ] || fail "the tests after the power cut failed (above)"
