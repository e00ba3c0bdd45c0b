#!/usr/bin/env bash
# arm64 user-mode smoke test: the linux-arm64 Appliance and Relay this run published (publish-arm64.sh; shared with
# the other arm64 lane through $LANE_SHARED) run here under qemu-user (qemu-aarch64) on the arm64 libraries of a
# private Debian arm64 root (tests/arm64/fetch-root.sh: libc, libssl, libturbojpeg from Debian's arm64 packages;
# nothing is installed on the host as :arm64). Checks: the binaries are aarch64; the appliance signals READY=1 to a
# fake systemd, serves a JPEG snapshot and an MJPEG stream ffprobe reads; `doctor` passes; the trimmed appliance
# through the trimmed relay's tunnel serves a snapshot and answers a WeCom callback signed and encrypted by
# @wecom/crypto; SIGTERM stops both cleanly (exit 0, STOPPING=1).
# lane-seconds: 67 (alone on the 2-core machine; tests/run-all.sh reads it to start the longest chains first)
# lane-needs: linux-arm64 (the arm64 packages, which tests/run-all.sh publishes second; run alone, the lane publishes them)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "arm64-user: FAIL: $*"; for f in "$work"/*.out "$work"/*.notify; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
source "$root/tests/lanes/lib/lane-helpers.sh"
source "$root/tests/lanes/lib/arm64-packages.sh"
started=$(date +%s)
command -v qemu-aarch64 >/dev/null || fail "qemu-aarch64 is missing (tests/lanes/arm64-user.apt)"

sysroot="$("$root/tests/arm64/fetch-root.sh")/root" || fail "could not prepare the arm64 root"
[ -d "$sysroot/usr" ] || fail "tests/arm64/fetch-root.sh did not print the directory of the arm64 root (got '$sysroot')"
mkdir -p "$work/packages"
arm64_packages "$work/packages"
for package in "$work"/packages/appliance*arm64* "$work"/packages/relay*arm64*; do arm64_unpack "$package" "$work/unpacked"; done
appliance="$(arm64_binary "$work/unpacked" Appliance)"; relay="$(arm64_binary "$work/unpacked" Relay)"
[ -n "$appliance" ] && [ -n "$relay" ] || fail "no Appliance or Relay executable in the packages"
for binary in "$appliance" "$relay"; do
  file -L "$binary" | grep -q 'ELF 64-bit LSB.*ARM aarch64' || fail "$binary is not an arm64 executable: $(file -L "$binary")"
done
# Every arm64 process runs through qemu-aarch64 explicitly, with the arm64 root as its library prefix.
arm64() { qemu-aarch64 -L "$sysroot" "$@"; }
echo "arm64 binaries: Appliance $(stat -c %s "$appliance") bytes, Relay $(stat -c %s "$relay") bytes; root $sysroot"

# The version the package names is the one the binary reports.
deb="$(ls "$work"/packages/appliance_*_arm64.deb 2>/dev/null | head -n1 || true)"
if [ -n "$deb" ]; then
  version="$(dpkg-deb -f "$deb" Version)"
  reported="$(arm64 "$appliance" --version 2>&1)" || fail "Appliance --version failed: $reported"
  grep -qF "$version" <<<"$reported" || fail "Appliance --version says '$reported', the package is $version"
  echo "Appliance --version: $reported"
fi

started_url() { # LOG PID: the address the process listens on; emulated .NET starts take long on a busy machine (120 s)
  for _ in $(seq 12); do
    listening_url "$1" "$2" && return 0
    kill -0 "$2" 2>/dev/null || return 1
  done
  return 1
}
wait_grep() { # SECONDS PATTERN FILE
  for _ in $(seq $(( $1 * 10 ))); do grep -q "$2" "$3" && return 0; sleep 0.1; done
  return 1
}
stop_cleanly() { # PID NAME NOTIFYLOG: SIGTERM, exit 0 within 15 s (emulated), STOPPING=1
  local stop_ns rc; stop_ns=$(date +%s%N)
  kill -TERM "$1"
  for _ in $(seq 150); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$1" 2>/dev/null && fail "$2 still runs 15 s after SIGTERM"
  wait "$1" && rc=0 || rc=$?
  [ "$rc" = 0 ] || fail "$2: exit status $rc after SIGTERM"
  grep -q 'STOPPING=1' "$3" || fail "$2: no STOPPING=1"
  echo "$2: SIGTERM to exit $(( ($(date +%s%N) - stop_ns) / 1000000 )) ms, status 0"
}

# 1. The appliance on the synthetic camera under a fake systemd: READY=1, snapshot, stream.
fake_systemd "$work/notify.sock" "$work/appliance.notify"
start_ns=$(date +%s%N)
APPLIANCE_CONFIG_DIR="$work/none" NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=10000000 JOURNAL_STREAM=8:1 \
  qemu-aarch64 -L "$sysroot" "$appliance" --urls=http://127.0.0.1:0 --State:Directory="$work/state" \
  --Camera:Source=synthetic --Camera:Width=640 --Camera:Height=480 --Camera:Fps=15 >"$work/appliance.out" 2>&1 &
app=$!; pids+=($app)
url="$(started_url "$work/appliance.out" "$app")" || fail "the arm64 appliance did not start"
code=""
for _ in $(seq 300); do
  code="$(curl -s -o "$work/snapshot.jpg" -w '%{http_code}' "$url/snapshot" || true)"
  [ "$code" = 200 ] && break; kill -0 "$app" 2>/dev/null || fail "the appliance exited"; sleep 0.1
done
[ "$code" = 200 ] || fail "/snapshot answered $code"
echo "appliance: start to first snapshot $(( ($(date +%s%N) - start_ns) / 1000000 )) ms under qemu-aarch64"
[ "$(head -c 2 "$work/snapshot.jpg" | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "/snapshot is not a JPEG"
wait_grep 60 'READY=1' "$work/appliance.notify" || fail "no READY=1 on NOTIFY_SOCKET"
wait_grep 30 'WATCHDOG=1' "$work/appliance.notify" || fail "no WATCHDOG=1 within 30 s (WATCHDOG_USEC=10 s)"
# ffprobe reads 10 frames of the MJPEG stream and reports their codec and size.
probe="$(timeout 60 ffprobe -v error -f mpjpeg -read_intervals '%+#10' -count_frames -select_streams v:0 \
  -show_entries stream=codec_name,width,height,nb_read_frames -of csv=p=0 "$url/stream" 2>"$work/ffprobe.out")" \
  || fail "ffprobe on /stream: $(tail -3 "$work/ffprobe.out")"
[ "$probe" = "mjpeg,640,480,10" ] || fail "ffprobe read '$probe' from /stream, expected mjpeg,640,480,10"
echo "appliance: ffprobe read 10 frames of /stream ($probe)"
stop_cleanly "$app" appliance "$work/appliance.notify"

# 2. doctor: every check passes (or is skipped/warned) with the arm64 libturbojpeg and libssl.
arm64 "$appliance" doctor --State:Directory="$work/state" --Camera:Source=synthetic >"$work/doctor.out" 2>&1 \
  || fail "doctor failed: $(cat "$work/doctor.out")"
grep -q '✗' "$work/doctor.out" && fail "doctor reports a failure: $(cat "$work/doctor.out")"
grep -q '✓.*[Tt]urbo' "$work/doctor.out" || fail "doctor has no passing libturbojpeg line: $(cat "$work/doctor.out")"
echo "doctor: $(tail -n1 "$work/doctor.out")"

# 3. The trimmed appliance through the trimmed relay's tunnel, WeCom on: a snapshot and an encrypted callback reply.
secret="0123456789abcdef-arm64-secret"; token="QDG6eK"; aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"; corp_id="ww1436e0e65a779aee"
fake_systemd "$work/relay-notify.sock" "$work/relay.notify"
# WATCHDOG_USEC as the relay's unit sets it (WatchdogSec=30s): without one the relay sends no STOPPING=1 (reported).
RELAY_CONFIG_DIR="$work/none" NOTIFY_SOCKET="$work/relay-notify.sock" WATCHDOG_USEC=30000000 \
  qemu-aarch64 -L "$sysroot" "$relay" --urls=http://127.0.0.1:0 --Relay:StateDirectory="$work/relay-state" \
  --Relay:Appliances:cam:Secret="$secret" --Relay:Appliances:cam:WeComToken="$token" >"$work/relay.out" 2>&1 &
relay_pid=$!; pids+=($relay_pid)
rurl="$(started_url "$work/relay.out" "$relay_pid")" || fail "the arm64 relay did not start"
wait_grep 60 'READY=1' "$work/relay.notify" || fail "relay: no READY=1"
fake_systemd "$work/tunnelled-notify.sock" "$work/tunnelled.notify"
APPLIANCE_CONFIG_DIR="$work/none" NOTIFY_SOCKET="$work/tunnelled-notify.sock" \
  qemu-aarch64 -L "$sysroot" "$appliance" --urls=http://127.0.0.1:0 --Camera:Source=synthetic \
  --Camera:Width=320 --Camera:Height=240 --State:Directory="$work/tunnelled-state" --Web:Password=arm64-pass \
  --Tunnel:RelayUrl="ws://127.0.0.1:${rurl##*:}/" --Tunnel:Name=cam --Tunnel:Secret="$secret" \
  --WeCom:CorpId=$corp_id --WeCom:Token=$token --WeCom:EncodingAesKey=$aes_key --WeCom:Secret=arm64-secret \
  --WeCom:AgentId=1000002 --WeCom:ApiBaseUrl=http://127.0.0.1:9/ --WeCom:AllowedUsers:0=alice >"$work/tunnelled.out" 2>&1 &
tunnelled=$!; pids+=($tunnelled)
for _ in $(seq 1800); do
  [ "$(curl -s -o "$work/tunnel-snapshot.jpg" -w '%{http_code}' -u family:arm64-pass "$rurl/cam/snapshot")" = 200 ] && break
  kill -0 "$tunnelled" 2>/dev/null || fail "the tunnelled appliance exited"; sleep 0.1
done
[ "$(head -c 2 "$work/tunnel-snapshot.jpg" 2>/dev/null | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "no JPEG snapshot through the relay's tunnel"
# A first callback warms the emulated callback path up: under qemu-user on a busy machine its first answer can miss
# the relay's passive-reply budget (the relay then answers WeCom an empty 200 and replays it, as designed).
node "$root/tests/node/wecom-oracle.mjs" post "$rurl/cam" $token $aes_key $corp_id alice help >/dev/null || true
reply="$(node "$root/tests/node/wecom-oracle.mjs" post "$rurl/cam" $token $aes_key $corp_id alice help)" || fail "wecom oracle: $reply"
python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["status"] == 200 and r.get("signatureValid") is True and "photo" in (r.get("content") or ""), r
' "$reply" || fail "WeCom callback through the arm64 relay and appliance: $reply"
echo "tunnel: snapshot through the arm64 relay, WeCom callback answered with an encrypted, signed reply"
stop_cleanly "$tunnelled" "tunnelled appliance" "$work/tunnelled.notify"
stop_cleanly "$relay_pid" relay "$work/relay.notify"
echo "arm64-user: ok in $(( $(date +%s) - started )) s"
