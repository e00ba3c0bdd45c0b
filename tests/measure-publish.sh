#!/usr/bin/env bash
# Figures for the published appliance (not part of CI: it takes over a minute):
#   binary size, cold start to the first served /snapshot (median of 5), RSS after 60 s serving one /stream viewer.
# Targets on the 2-core CI machine: start <= 2 s, RSS <= 80 MB.
#   tests/measure-publish.sh [DEB]      (the appliance's .deb; default: publishes with --rid linux-x64 first)
# Uses loopback port ${PORT:-19210}. Camera: synthetic at its defaults (1280x720, 30 fps) unless you pass
# settings in SETTINGS, e.g. SETTINGS="--Camera:Width=640 --Camera:Height=480".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${PORT:-19210}"
work="$(mktemp -d)"
app=""
cleanup() { if [ -n "$app" ]; then { kill -KILL "$app" && wait "$app"; } 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT
deb="${1:-}"
if [ -z "$deb" ]; then
  deb="$("$root/publish-arm64.sh" --rid linux-x64 --only appliance --out "$work/publish")"
fi
dpkg-deb -x "$deb" "$work/root"
binary="$work/root/usr/lib/appliance/Appliance"
mkdir -p "$work/etc" "$work/state"
run() {
  APPLIANCE_CONFIG_DIR="$work/etc" "$binary" --urls="http://127.0.0.1:$port" --Camera:Source=synthetic \
    --State:Directory="$work/state" --Logging:LogLevel:Default=Warning ${SETTINGS:-} >"$work/out" 2>&1 &
  app=$!
}
stop() { kill -TERM "$app"; wait "$app" || true; app=""; }

echo "binary size: $(stat -c %s "$binary") bytes ($(du -h "$binary" | cut -f1)); package $(du -h "$deb" | cut -f1)"
starts=()
for i in 1 2 3 4 5; do
  begin=$(date +%s%N)
  run
  until curl -s -o /dev/null -f "http://127.0.0.1:$port/snapshot"; do
    kill -0 "$app" 2>/dev/null || { cat "$work/out"; exit 1; }
    sleep 0.01
  done
  starts+=($(( ($(date +%s%N) - begin) / 1000000 )))
  stop
done
sorted=($(printf '%s\n' "${starts[@]}" | sort -n))
echo "cold start to first snapshot: median ${sorted[2]} ms (runs: ${starts[*]} ms; target <= 2000)"

run
until curl -s -o /dev/null -f "http://127.0.0.1:$port/healthz"; do sleep 0.05; done
curl -s -o /dev/null --max-time 60 "http://127.0.0.1:$port/stream" || true
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$app/status")
hwm_kb=$(awk '/^VmHWM/ {print $2}' "/proc/$app/status")
status="$(curl -s "http://127.0.0.1:$port/api/status" | tr -d '\n ' | grep -o '"deliveredFps":[0-9.]*' || true)"
echo "RSS after 60 s serving one viewer: $((rss_kb / 1024)) MB (peak $((hwm_kb / 1024)) MB; target <= 80 MB); $status"
stop
