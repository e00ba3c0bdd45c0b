#!/usr/bin/env bash
# tests/run-all.sh runs this beside the unit tests (at the lowest CPU priority, so it takes only what they leave idle):
# the amd64 and arm64 packages of this run, into $LANE_SHARED/linux-x64 and $LANE_SHARED/linux-arm64, for the lanes
# that install or run them (publish-smoke, systemd-boot, arm64-user, arm64-system), and the arm64 lanes' Debian root.
# Exit 0 when the packages are there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
: "${LANE_SHARED:?set LANE_SHARED}"
fail() { echo "publish-packages: FAIL: $*"; exit 1; }
source "$root/tests/lanes/lib/packages.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "publish-packages: nice $(nice), scheduler group $(cat /proc/self/autogroup 2>/dev/null || echo 'none (no autogroups)')"
rids="${PACKAGE_RIDS:-linux-x64 linux-arm64}"
# The arm64 lanes' Debian root (tests/arm64/fetch-root.sh): on a fresh machine mmdebstrap builds it once (226-303 s on
# the 2-core machine, 2026-12-08), mostly downloading and unpacking; here, beside the publishes, instead of in
# arm64-system's own time. Cached, it is a check of a stamp. A lane that needs it first waits on its lock; should it
# fail here, the lane tries again and says why.
root_pid=""
if [[ " $rids " == *" linux-arm64 "* ]]; then
  "$root/tests/arm64/fetch-root.sh" > "$work/arm64-root" 2> "$work/arm64-root.log" &
  root_pid=$!
fi
# PACKAGE_RIDS narrows it (e.g. to linux-x64 when LANES_SKIP leaves out the arm64 lanes, tests/run-all.sh).
for rid in $rids; do
  lane_packages "$rid" "$work/$rid"
  rm -rf "$work/$rid"
done
if [ -n "$root_pid" ]; then
  if wait "$root_pid"; then
    echo "publish-packages: arm64 root: $(tail -n1 "$work/arm64-root.log" | grep . || echo "cached in $(cat "$work/arm64-root")")"
  else echo "publish-packages: the arm64 root could not be prepared (the arm64 lanes try again):"; tail -n 5 "$work/arm64-root.log"; fi
fi
