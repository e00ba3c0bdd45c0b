#!/usr/bin/env bash
# The whole test suite: installs what it needs (tests/setup.sh), builds, runs every xunit project on real
# Kestrel/ffmpeg/Chromium, then each extra lane in tests/lanes/ (publish smoke test, real-kernel qemu lane …).
# Ends with one line "tests: N passed, N failed, N skipped". Exit status 0 only when nothing failed; a lane that exits 77
# (the machine lacks what it needs, e.g. network namespaces) is counted as skipped, never as passed.
set -uo pipefail
# Root is needed (apt installs, a private mount namespace, the qemu lane): re-run under sudo when not root.
if [ "$(id -u)" -ne 0 ]; then exec sudo --preserve-env=PATH,HOME,DOTNET_ROOT bash "$0" "$@"; fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
results="${TEST_RESULTS_DIR:-$root/artifacts/test-results}"
rm -rf "$results" && mkdir -p "$results"
export TEST_RESULTS_DIR="$results"
start=$(date +%s)

bash "$here/setup.sh" || { echo "setup failed"; echo "tests: 0 passed, 1 failed, 0 skipped"; exit 1; }

# Everything the tests and lanes put in the temporary directory goes in one per-run directory, removed at the end,
# so repeated runs leave nothing behind in /tmp (tests make state and config directories, sockets, clips).
scratch="$(mktemp -d "${TMPDIR:-/tmp}/appliance-tests.XXXXXX")"
trap 'rm -rf --one-file-system "$scratch"' EXIT
chmod 755 "$scratch" # like /tmp for helpers that drop privileges (nginx workers run as nobody)
export TMPDIR="$scratch"
# Lanes hand each other what they built (publish-smoke's .deb packages for systemd-boot) here.
export LANE_SHARED="$scratch/lane-shared"

failed_lanes=0
passed_lanes=0
skipped_lanes=0
echo "== build"
if ! dotnet build "$root/Appliance.slnx" -c Release -warnaserror -nologo -v:q; then
  echo "tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi

echo "== unit and functional tests"
# One test assembly at a time (-m:1): several assert timings (frames per second, answers within a second), and four
# assemblies at once on two cores would measure the machine, not the code.
dotnet test "$root/Appliance.slnx" -c Release --no-build --nologo -m:1 \
  --filter "Category!=Hardware&Category!=Load&Category!=PowerCut" \
  --results-directory "$results" --logger "trx" --logger "console;verbosity=normal" \
  --blame-hang-timeout 5m -- RunConfiguration.TestSessionTimeout=1500000
dotnet_rc=$?

for lane in "$here"/lanes/*.sh; do
  [ -f "$lane" ] || continue
  name="$(basename "$lane" .sh)"
  echo "== lane $name"
  bash "$lane"; lane_rc=$?
  if [ "$lane_rc" -eq 0 ]; then
    passed_lanes=$((passed_lanes + 1))
  elif [ "$lane_rc" -eq 77 ]; then
    echo "lane $name SKIPPED (the machine lacks what it needs; see above)"
    skipped_lanes=$((skipped_lanes + 1))
  else
    echo "lane $name FAILED"
    failed_lanes=$((failed_lanes + 1))
  fi
done

# Sum the counters of every .trx (lanes that run xunit elsewhere, e.g. inside qemu, drop theirs here too).
passed=0; failed=0; total=0
while IFS= read -r counters; do
  t=$(sed -n 's/.*total="\([0-9]*\)".*/\1/p' <<<"$counters"); p=$(sed -n 's/.*passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.*failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  total=$((total + ${t:-0})); passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
done < <(find "$results" -name '*.trx' -exec grep -ho '<Counters [^>]*>' {} +)
skipped=$((total - passed - failed + skipped_lanes))
passed=$((passed + passed_lanes)); failed=$((failed + failed_lanes))
if [ "$dotnet_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

# Name every failed test, with the start of its message, just above the summary: CI shows only the tail of the log.
while IFS= read -r trx; do
  awk '/<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); print "FAILED: " substr($0, RSTART + 10, RLENGTH - 11); grab = 1; n = 0 }
       grab && /<Message>/ { inmsg = 1 }
       grab && inmsg { end = /<\/Message>/; sub(/^ *<Message>/, ""); sub(/<\/Message>.*/, ""); print "  " $0; n++; if (end || n >= 12) { inmsg = 0; grab = 0 } }' "$trx"
done < <(find "$results" -name '*.trx')

echo "== finished in $(( $(date +%s) - start )) s"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
