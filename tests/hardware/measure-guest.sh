#!/usr/bin/env bash
# Runs inside a qemu guest (x86: measure-stream.sh; arm64: tests/arm64/measure.sh): the appliance's V4L2 path vs
# uStreamer (CPU encoder) on vivid YUYV 30 fps, with 1 and 20 viewers. Prints one JSON line per run: time from start to
# the first served snapshot, CPU per delivered frame, fps per viewer, RSS (now and peak) after the run.
# MEASURE_RESOLUTION (default 640x480); MEASURE_APPLIANCE: the appliance's command (default: the Release build's dll
# under dotnet); MEASURE_LOGS: where the servers' logs go (default /tmp/hwlane).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${MEASURE_SECONDS:-15}"
resolution="${MEASURE_RESOLUTION:-640x480}"
appliance_cmd="${MEASURE_APPLIANCE:-dotnet $root/Appliance/bin/Release/net10.0/Appliance.dll}"
logs="${MEASURE_LOGS:-/tmp/hwlane}"
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"; }

# Milliseconds from $2 (ns, the process's start) until port $1 serves a JPEG snapshot.
first_frame_ms() {
  for _ in $(seq 1 1200); do
    if curl -sf -m 5 -o /tmp/first.jpg "http://127.0.0.1:$1/snapshot" 2>/dev/null \
        && [ "$(head -c 2 /tmp/first.jpg | od -An -tx1 | tr -d ' ')" = ffd8 ]; then
      echo $(( ($(date +%s%N) - $2) / 1000000 )); return 0
    fi
    sleep 0.1
  done
  echo "measure: no snapshot on port $1" >&2; return 1
}

measure() { # name pid port viewers warmup first_ms
  local name=$1 pid=$2 port=$3 viewers=$4 warmup=$5 first=$6
  sleep "$warmup"
  local before; before=$(cpu_ticks "$pid")
  local result; result=$(python3 "$here/mjpeg-viewers.py" "$port" "$viewers" "$seconds" 1)
  local after; after=$(cpu_ticks "$pid")
  local frames; frames=$(sed -n 's/.*"framesTotal": \([0-9]*\).*/\1/p' <<<"$result")
  # The CPU window includes the 1 s viewer warm-up; scale it to the measured seconds.
  local cpu_ms; cpu_ms=$(( (after - before) * 1000 / hz * seconds / (seconds + 1) ))
  echo "{\"server\": \"$name\", \"resolution\": \"$resolution\", \"firstFrameMs\": $first, \"rssKb\": $(rss_kb "$pid" VmRSS), \"rssPeakKb\": $(rss_kb "$pid" VmHWM), \"cpuMs\": $cpu_ms, \"cpuMsPerDeliveredFrame\": $(awk -v c="$cpu_ms" -v f="$frames" 'BEGIN { printf "%.2f", f ? c / f : 0 }'), \"result\": $result}"
}

for viewers in 1 20; do
  start_ns=$(date +%s%N)
  ustreamer --device /dev/video0 --format YUYV --resolution "$resolution" --desired-fps 30 --encoder CPU --quality 80 \
    --host 127.0.0.1 --port 19310 --log-level 0 > "$logs/ustreamer.log" 2>&1 &
  pid=$!
  first=$(first_frame_ms 19310 "$start_ns")
  measure ustreamer "$pid" 19310 "$viewers" 4 "$first"
  kill "$pid"; wait "$pid" 2>/dev/null || true

  start_ns=$(date +%s%N)
  $appliance_cmd --urls=http://127.0.0.1:19320 --State:Directory=/tmp/appliance-state \
    --Camera:Source=v4l2 --Camera:Device=/dev/video0 --Camera:Width="${resolution%x*}" --Camera:Height="${resolution#*x}" \
    --Camera:Fps=30 --Camera:Quality=80 --Logging:LogLevel:Default=Warning > "$logs/appliance.log" 2>&1 &
  pid=$!
  first=$(first_frame_ms 19320 "$start_ns")
  # JIT under TCG is slow: give the appliance a longer warm-up with a viewer attached.
  python3 "$here/mjpeg-viewers.py" 19320 1 8 4 > /dev/null || true
  measure appliance "$pid" 19320 "$viewers" 0 "$first"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
