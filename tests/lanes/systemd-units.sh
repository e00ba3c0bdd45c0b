#!/usr/bin/env bash
# systemd-analyze verify on both units (any warning fails), and their exposure scores:
# appliance.service must stay at or below 2.5, relay.service too.
# lane-seconds: 5 (alone on the 2-core machine; tests/run-all.sh reads it to start the longest chains first)
# lane-kind: light (waits on sockets and timers; runs beside the qemu lanes)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for unit in appliance relay; do
  # verify insists that ExecStart exists: point it at a stand-in executable, change nothing else.
  mkdir -p "$work/opt/$unit"
  printf '#!/bin/sh\n' > "$work/opt/$unit/bin" && chmod 755 "$work/opt/$unit/bin"
  sed "s|^ExecStart=/usr/lib/$unit/[A-Za-z]*|ExecStart=$work/opt/$unit/bin|" "$root/systemd/$unit.service" > "$work/$unit.service"
  grep -q "^ExecStart=$work" "$work/$unit.service" || { echo "$unit.service: ExecStart not found"; exit 1; }
  if ! output="$(systemd-analyze verify --man=no "$work/$unit.service" 2>&1)" || [ -n "$output" ]; then
    echo "systemd-analyze verify $unit.service:"; echo "$output"; exit 1
  fi
  echo "verify $unit.service: clean"
  score="$(systemd-analyze security --offline=true --no-pager "$root/systemd/$unit.service" | sed -n 's/.*Overall exposure level for [a-z.]*: \([0-9.]*\).*/\1/p')"
  [ -n "$score" ] || { echo "no exposure score for $unit.service"; exit 1; }
  echo "exposure $unit.service: $score (limit 2.5)"
  awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' || { echo "$unit.service exposure $score is above 2.5"; exit 1; }
done
