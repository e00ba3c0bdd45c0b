#!/usr/bin/env bash
# Runs inside the qemu guest (see measure-stream.sh): the appliance's V4L2 path vs uStreamer (CPU encoder) on
# vivid 640x480 YUYV 30 fps, with 1 and 20 viewers. Prints one JSON line per run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${MEASURE_SECONDS:-15}"
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wait_port() {
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "measure: nothing listens on port $1" >&2; return 1
}

measure() { # name pid port viewers warmup
  local name=$1 pid=$2 port=$3 viewers=$4 warmup=$5
  sleep "$warmup"
  local before; before=$(cpu_ticks "$pid")
  local result; result=$(python3 "$here/mjpeg-viewers.py" "$port" "$viewers" "$seconds" 1)
  local after; after=$(cpu_ticks "$pid")
  local frames; frames=$(sed -n 's/.*"framesTotal": \([0-9]*\).*/\1/p' <<<"$result")
  # The CPU window includes the 1 s viewer warm-up; scale it to the measured seconds.
  local cpu_ms; cpu_ms=$(( (after - before) * 1000 / hz * seconds / (seconds + 1) ))
  echo "{\"server\": \"$name\", \"cpuMs\": $cpu_ms, \"cpuMsPerDeliveredFrame\": $(awk -v c="$cpu_ms" -v f="$frames" 'BEGIN { printf "%.2f", f ? c / f : 0 }'), \"result\": $result}"
}

for viewers in 1 20; do
  ustreamer --device /dev/video0 --format YUYV --resolution 640x480 --desired-fps 30 --encoder CPU --quality 80 \
    --host 127.0.0.1 --port 19310 --log-level 0 > /tmp/hwlane/ustreamer.log 2>&1 &
  pid=$!
  wait_port 19310
  measure ustreamer "$pid" 19310 "$viewers" 4
  kill "$pid"; wait "$pid" 2>/dev/null || true

  dotnet "$root/Appliance/bin/Release/net10.0/Appliance.dll" --urls=http://127.0.0.1:19320 --State:Directory=/tmp/appliance-state \
    --Camera:Source=v4l2 --Camera:Device=/dev/video0 --Camera:Width=640 --Camera:Height=480 --Camera:Fps=30 --Camera:Quality=80 \
    --Logging:LogLevel:Default=Warning > /tmp/hwlane/appliance.log 2>&1 &
  pid=$!
  wait_port 19320
  # JIT under TCG is slow: give the appliance a longer warm-up with a viewer attached.
  python3 "$here/mjpeg-viewers.py" 19320 1 8 4 > /dev/null || true
  measure appliance "$pid" 19320 "$viewers" 0
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
