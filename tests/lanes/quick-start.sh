#!/usr/bin/env bash
# The README's first command: ./Appliance/run.sh runs the appliance from source on its embedded defaults
# (Camera:Source=auto, which on a machine without a camera falls back to the synthetic one; simulated GPIO).
# Only the listening address is overridden (a free loopback port). Checks a snapshot and the status page, then
# stops it. Exit 0 = pass.
# lane-seconds: 19 (alone on the 2-core machine; tests/run-all.sh reads it to start the longest chains first)
# lane-kind: light (waits on sockets and timers; runs beside the qemu lanes)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
group=""
cleanup() {
  # dotnet run starts the app as a child: stop the whole process group.
  if [ -n "$group" ]; then kill -TERM -- "-$group" 2>/dev/null || true; sleep 1; kill -KILL -- "-$group" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "quick-start: FAIL: $*"; [ -f "$work/run.out" ] && { echo "--- run.out"; tail -30 "$work/run.out"; }; exit 1; }
source "$root/tests/lanes/lib/lane-helpers.sh"

mkdir -p "$work/etc" "$work/state"
cd "$root"
# Settings from the machine's /etc/appliance must not leak in; state goes to a temporary directory.
# run.sh builds first: under the lanes' build lock (another lane may be building beside this one), held until it listens.
exec {build_lock}>"$(build_lock_file)"
flock "$build_lock"
APPLIANCE_CONFIG_DIR="$work/etc" STATE_DIRECTORY="$work/state" setsid ./Appliance/run.sh --urls=http://127.0.0.1:0 \
  >"$work/run.out" 2>&1 {build_lock}>&- &
group=$!
url=""
for _ in $(seq 1200); do # dotnet run may build first: up to 120 s
  url="$(sed -n 's/.*Now listening on: \(http:[^ ]*\).*/\1/p' "$work/run.out" | head -1)"
  [ -n "$url" ] && break
  kill -0 "$group" 2>/dev/null || fail "run.sh exited before listening"
  sleep 0.1
done
[ -n "$url" ] || fail "not listening after 120 s"
flock -u "$build_lock"

# run.sh says what it does while it builds, and the appliance where to point a browser once it listens.
grep -q "^run.sh: building" "$work/run.out" || fail "run.sh did not say it was building"
for _ in $(seq 100); do grep -q "Ready: open $url/ in a browser" "$work/run.out" && break; sleep 0.1; done
grep -q "Ready: open $url/ in a browser" "$work/run.out" || fail "no 'Ready: open $url/' line"
curl -s --max-time 10 -o "$work/snapshot.jpg" "$url/snapshot" || fail "/snapshot"
[ "$(head -c 2 "$work/snapshot.jpg" | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "/snapshot is not a JPEG"
status="$(curl -s --max-time 10 "$url/api/status")" || fail "/api/status"
python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert s["source"], s
if s["source"] == "synthetic":
    # auto fell back: it must say which sources it skipped and why.
    assert any("v4l2" in str(x) for x in s.get("skippedSources", [])), s
assert s["gpio"]["pins"] == [], s  # no pins until configured
' "$status" || fail "status on the defaults: $status"
echo "quick start: listening at $url, camera source $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["source"])' "$status"), snapshot $(stat -c %s "$work/snapshot.jpg") bytes"
echo "quick-start: ok"
