#!/usr/bin/env bash
# The whole test suite: installs what it needs (tests/setup.sh), builds, runs every xunit project on real
# Kestrel/ffmpeg/Chromium, then each extra lane in tests/lanes/ (publish smoke test, real-kernel qemu lane …).
# Ends with one line "tests: N passed, N failed, N skipped". Exit status 0 only when nothing failed; a lane that exits 77
# (the machine lacks what it needs, e.g. network namespaces) is counted as skipped, never as passed.
set -uo pipefail
# Root is needed (apt installs, a private mount namespace, the qemu lane): re-run under sudo when not root.
if [ "$(id -u)" -ne 0 ]; then exec sudo --preserve-env=PATH,HOME,DOTNET_ROOT,LANES_SKIP,PACKAGE_RIDS,LANE_JOBS,LANE_LIGHT_JOBS bash "$0" "$@"; fi
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
failed_lane_names=()
passed_lanes=0
skipped_lanes=0
echo "== build"
if ! dotnet build "$root/Appliance.slnx" -c Release -warnaserror -nologo -v:q; then
  echo "tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi

# The .deb packages the lanes install and run (amd64 and arm64) are published beside the unit tests and then the lanes,
# at the lowest CPU priority: the publish takes only the CPU they leave idle (they wait on timers, sockets, child
# processes and qemu much of the time), so neither the tests' timing asserts nor the guests' waits see a difference.
# Alone it takes about 6.5 minutes (391 s; 480 s when it also ran the analyzers, 2026-12-07). Its own session, so
# the cleanup reaches every process it starts; a session is also a scheduler autogroup (kernel.sched_autogroup_enabled,
# on in Debian), inside which alone nice ranks processes, while the groups share the CPU equally: nice alone left the
# publish half the CPU (the hardware lane took 313 s beside it, 149 s alone, 2026-12-07). The group's own nice, set
# before anything runs in it, puts it below the tests. On a fresh machine the same job also builds the arm64 lanes'
# Debian root (tests/arm64/fetch-root.sh, once per machine), so that arm64-system does not spend its own time on it.
echo "== packages (published beside the unit tests; output in $results/lanes/packages.log)"
mkdir -p "$results/lanes"
packages_started=$(date +%s)
setsid bash -c '{ echo 19 > /proc/self/autogroup; } 2>/dev/null; exec nice -n 19 bash "$0"' "$here/lanes/lib/publish-packages.sh" \
  > "$results/lanes/packages.log" 2>&1 &
packages_pid=$!
trap 'kill -TERM -- "-$packages_pid" 2>/dev/null; rm -rf --one-file-system "$scratch"' EXIT

echo "== unit and functional tests"
# One test assembly at a time (-m:1): several assert timings (frames per second, answers within a second), and four
# assemblies at once on two cores would measure the machine, not the code.
dotnet test "$root/Appliance.slnx" -c Release --no-build --nologo -m:1 \
  --filter "Category!=Hardware&Category!=Load&Category!=PowerCut" \
  --results-directory "$results" --logger "trx" --logger "console;verbosity=normal" \
  --blame-hang-timeout 5m -- RunConfiguration.TestSessionTimeout=1500000
dotnet_rc=$?

# The lanes (tests/lanes/NAME.sh), one at a time unless LANE_JOBS says more. Two at a time was measured on this 2-core
# machine (2026-12-07): no faster (1 806 s for the whole suite; the qemu lanes and the arm64 publish are all CPU-bound,
# so two of them side by side each took about 2.5x as long) and the systemd-boot guest then missed its own 60 s waits.
# Lanes that only wait (relay-nginx, relay-address-change, quick-start, systemd-units) run beside the others (lane-kind:
# light). Headers in a lane script steer the order:
#   # lane-needs: RID     starts once this run's packages for RID are published (publish-packages.sh, above; the lane
#                         publishes them itself if that failed);
#   # lane-seconds: N     how long the lane takes alone on this machine: the longest start first, so that a long one
#                         does not end up running alone at the end.
#   # lane-kind: light    the lane mostly waits (sockets, timers, a few short processes) and measures nothing that a
#                         busy neighbour would upset: it runs in its own place beside the others (LANE_LIGHT_JOBS, 1),
#                         not in one of the LANE_JOBS places the CPU-bound lanes (qemu, publishes) take.
# The packages publish runs beside the lanes until it is done, outside the count (at nice 19). Builds in lanes take a lock
# (tests/lanes/lib/lane-helpers.sh) and publishes have their own obj directories (publish-arm64.sh), so lanes side by
# side do not race on obj/. Each lane's output is printed in one piece when it ends and stays in $results/lanes/.
lane_jobs="${LANE_JOBS:-1}"
light_jobs="${LANE_LIGHT_JOBS:-1}"
declare -A lane_needs=() lane_seconds=() lane_state=() lane_start=() lane_of_pid=() lane_kind=()
lane_names=()
# LANES_SKIP="NAME …" leaves lanes out (reported, never counted as passed): to time the suite without the lanes a
# change added, e.g. issue 25's "20 minutes with what the suite ran before the arm64 lanes" (docs/development.md).
lanes_skipped=()
for lane in "$here"/lanes/*.sh; do
  [ -f "$lane" ] || continue
  name="$(basename "$lane" .sh)"
  if [[ " ${LANES_SKIP:-} " == *" $name "* ]]; then lanes_skipped+=("$name"); continue; fi
  lane_names+=("$name")
  lane_needs[$name]="$(sed -n 's/^# lane-needs: *\([a-z0-9-]*\).*/\1/p' "$lane" | head -n1)"
  lane_seconds[$name]="$(sed -n 's/^# lane-seconds: *\([0-9]*\).*/\1/p' "$lane" | head -n1)"
  lane_kind[$name]="$(sed -n 's/^# lane-kind: *\(light\).*/\1/p' "$lane" | head -n1)"
  lane_kind[$name]="${lane_kind[$name]:-heavy}"
  lane_state[$name]=waiting
done
lane_ready() { # waiting, and the packages it needs (if any) are there or will not come from the publish
  local needs="${lane_needs[$1]}"
  [ "${lane_state[$1]}" = waiting ] || return 1
  [ -z "$needs" ] || [ -f "$LANE_SHARED/$needs/complete" ] || [ "${lane_state[packages]}" = ended ]
}
next_lane() { # next_lane KIND: the ready lane of KIND (heavy|light) that takes longest, if any; the last free place
  # is kept for a longer lane that waits
  local kind="$1" name best="" best_seconds=-1 waiting_seconds=-1
  for name in "${lane_names[@]}"; do
    [ "${lane_kind[$name]}" = "$kind" ] || continue
    if lane_ready "$name"; then
      if [ "${lane_seconds[$name]:-60}" -gt "$best_seconds" ]; then best="$name"; best_seconds="${lane_seconds[$name]:-60}"; fi
    elif [ "${lane_state[$name]}" = waiting ] && [ "${lane_seconds[$name]:-60}" -gt "$waiting_seconds" ]; then
      waiting_seconds="${lane_seconds[$name]:-60}"
    fi
  done
  # (systemd-boot, the longest, waits for the amd64 packages: filling the last place with a short lane just before they
  # come would start it only when that lane ends.)
  if [ "$kind" = heavy ] && [ "$lane_jobs" -gt 1 ] && [ $((lanes_running + 1)) -ge "$lane_jobs" ] \
      && [ "$waiting_seconds" -gt "$best_seconds" ]; then
    best=""
  fi
  echo "$best"
}
lane_state[packages]=running; lane_start[packages]=$packages_started; lane_of_pid[$packages_pid]=packages
lanes_running=0 light_running=0
lanes_waiting=${#lane_names[@]}
start_lane() {
  echo "== lane $1 started ($(( $(date +%s) - start )) s into the run)"
  bash "$here/lanes/$1.sh" > "$results/lanes/$1.log" 2>&1 &
  lane_of_pid[$!]="$1"; lane_start[$1]=$(date +%s); lane_state[$1]=running
  lanes_waiting=$((lanes_waiting - 1))
}
echo "== lanes: ${lane_names[*]} ($lane_jobs at a time, and $light_jobs light one beside them)"
[ ${#lanes_skipped[@]} -eq 0 ] || echo "== lanes left out (LANES_SKIP): ${lanes_skipped[*]}"
while [ "$lanes_waiting" -gt 0 ] || [ "$lanes_running" -gt 0 ] || [ "$light_running" -gt 0 ] \
    || [ "${lane_state[packages]}" = running ]; do
  while [ "$lanes_running" -lt "$lane_jobs" ]; do
    best="$(next_lane heavy)"
    [ -n "$best" ] || break
    start_lane "$best"; lanes_running=$((lanes_running + 1))
  done
  while [ "$light_running" -lt "$light_jobs" ]; do
    best="$(next_lane light)"
    [ -n "$best" ] || break
    start_lane "$best"; light_running=$((light_running + 1))
  done
  # Polled, once a second: for a lane's end (bash's `wait -n` misses a child that ended before it was called, as the
  # packages publish may during the unit tests; `wait PID` still has its status) or for packages a waiting lane needs.
  ended_pid=""
  while [ -z "$ended_pid" ]; do
    for pid in "${!lane_of_pid[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then ended_pid=$pid; break; fi
    done
    [ -n "$ended_pid" ] && break
    [ "$lanes_running" -lt "$lane_jobs" ] && [ -n "$(next_lane heavy)" ] && break
    [ "$light_running" -lt "$light_jobs" ] && [ -n "$(next_lane light)" ] && break
    sleep 1
  done
  [ -n "$ended_pid" ] || continue
  wait "$ended_pid"; lane_rc=$?
  name="${lane_of_pid[$ended_pid]}"; unset "lane_of_pid[$ended_pid]"
  if [ "$name" = packages ]; then :
  elif [ "${lane_kind[$name]}" = light ]; then light_running=$((light_running - 1))
  else lanes_running=$((lanes_running - 1)); fi
  lane_state[$name]=ended
  took=$(( $(date +%s) - lane_start[$name] ))
  if [ "$lane_rc" -eq 0 ]; then
    verdict="passed"; passed_lanes=$((passed_lanes + 1))
  elif [ "$lane_rc" -eq 77 ]; then
    verdict="SKIPPED (the machine lacks what it needs; see its output)"; skipped_lanes=$((skipped_lanes + 1))
  else
    verdict="FAILED (status $lane_rc)"; failed_lanes=$((failed_lanes + 1)); failed_lane_names+=("$name")
  fi
  echo "== lane $name: $verdict in $took s"
  sed 's/^/  /' "$results/lanes/$name.log"
  echo "== lane $name: $verdict in $took s"
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

# And the end of each failed lane's output.
for name in "${failed_lane_names[@]}"; do
  echo "FAILED: lane $name; the end of its output ($results/lanes/$name.log):"
  tail -n 15 "$results/lanes/$name.log" | sed 's/^/  /'
done

echo "== finished in $(( $(date +%s) - start )) s"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
