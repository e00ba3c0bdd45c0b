#!/usr/bin/env bash
# Runs inside the arm64 guest as lane.service (copied to /lane/in-guest.sh by tests/arm64/measure-vs-ustreamer.sh):
# µStreamer (the root's Debian ustreamer 4.9, arm64) and then the published arm64 Appliance on the same vivid device
# at WIDTHxHEIGHT YUYV FPS, each started afresh for each viewer count: milliseconds from start to the first served
# camera frame, CPU time per delivered frame over the measured window, fps per viewer, VmRSS and VmHWM after the window.
# One JSON line per run in /lane/measure.jsonl. Settings in /lane/measure.conf (written by the host script).
# /lane/variants (may be empty) adds runs of the appliance with extra environment, one "NAME ENV=VALUE …" a line.
# Writes its exit status to /lane/exit-status; lane.service then powers off.
set -euo pipefail
lane=/lane
trap 'rc=$?; echo "$rc" > "$lane/exit-status"; sync' EXIT
trap 'echo "arm64-measure: FAIL: line $LINENO: $BASH_COMMAND exited with $?"' ERR
exec > >(tee -a "$lane/guest.log") 2>&1
source "$lane/measure.conf" # MEASURE_SECONDS, MEASURE_WARMUP, MEASURE_WIDTH, MEASURE_HEIGHT, MEASURE_FPS, MEASURE_QUALITY, MEASURE_VIEWERS, MEASURE_ROUNDS
log() { echo "arm64-measure: [$(cut -d' ' -f1 /proc/uptime) s] $*"; }
ip link set lo up
[ "$(uname -m)" = aarch64 ] || { log "not an arm64 guest"; exit 1; }

# The appliance as the package installs it (its files from the .deb, the unit's environment), run by this script.
mkdir -p /usr/lib/appliance /tmp/appliance-config /tmp/appliance-state
cp "$lane/appliance/usr/lib/appliance/"* /usr/lib/appliance/ # from the disk, not paged in over 9p
cp "$lane/appliance/etc/appliance/appliance.json" /tmp/appliance-config/ 2>/dev/null || true
# Another publish to compare with in the same boot (the host's MEASURE_COMPARE_PUBLISH_DIR): server appliance:before.
if [ -d "$lane/compare" ]; then
  mkdir -p /usr/lib/appliance-before && cp "$lane/compare/usr/lib/appliance/"* /usr/lib/appliance-before/
fi
for node in /dev/video*; do chmod 666 "$node"; done
log "$(uname -m), kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo); vivid: $(cat /sys/class/video4linux/video0/name)"
log "ustreamer $(ustreamer --version) ($(dpkg-query -W -f '${Version} ${Architecture}' ustreamer)); appliance $(/usr/lib/appliance/Appliance --version 2>/dev/null | head -n1), binary $(stat -c %s /usr/lib/appliance/Appliance) bytes"
log "appliance environment (the unit's, plus the run's): $(tr '\n' ' ' < "$lane/appliance.env")"

rss_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"; }
pid=""
stop() { # stops the server started last; how long SIGTERM took
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

run() { # SERVER VIEWERS ROUND: one fresh start, first frame, warm-up, measured window
  local server=$1 viewers=$2 round=$3 port start first result variant_env="" binary=/usr/lib/appliance/Appliance
  # appliance:NAME is the appliance with the variant NAME's extra environment (/lane/variants: "NAME ENV=VALUE …").
  if [[ "$server" == appliance:* ]]; then
    variant_env="$(awk -v name="${server#appliance:}" '$1 == name { $1 = ""; print }' "$lane/variants")"
  fi
  [ "$server" = appliance:before ] && binary=/usr/lib/appliance-before/Appliance
  port=$(( 19300 + RANDOM % 500 ))
  start=$(date +%s%N)
  case "$server" in
    ustreamer)
      ustreamer --device /dev/video0 --format YUYV --resolution "${MEASURE_WIDTH}x${MEASURE_HEIGHT}" \
        --desired-fps "$MEASURE_FPS" --encoder CPU --quality "$MEASURE_QUALITY" --host 127.0.0.1 --port "$port" \
        --log-level 0 > "$lane/ustreamer-$viewers-$round.log" 2>&1 &
      ;;
    appliance*)
      # Its log keeps the appliance's own Information lines (which features started); the rest at Warning.
      # All viewers come from 127.0.0.1: the default of 8 streams per client address (Web:MaxStreamsPerClient) would
      # refuse 12 of 20 with 429 (what the runs before 2026-12-07 14:00 read as "one viewer got no frame").
      env $(cat "$lane/appliance.env") $variant_env APPLIANCE_CONFIG_DIR=/tmp/appliance-config \
        Logging__LogLevel__Appliance=Information "$binary" \
        --urls="http://127.0.0.1:$port" --State:Directory=/tmp/appliance-state --Camera:Source=v4l2 \
        --Camera:Device=/dev/video0 --Camera:Width="$MEASURE_WIDTH" --Camera:Height="$MEASURE_HEIGHT" \
        --Camera:Fps="$MEASURE_FPS" --Camera:Quality="$MEASURE_QUALITY" --Logging:LogLevel:Default=Warning \
        --Web:MaxStreamsPerClient=64 > "$lane/${server/:/-}-$viewers-$round.log" 2>&1 &
      ;;
  esac
  pid=$!
  log "$server, $viewers viewer(s), round $round: started at $(date -d "@${start:0:10}.${start:10:3}" +%T.%3N) as PID $pid on port $port"
  first=$(python3 "$lane/first-frame.py" "$port" "$start" "$MEASURE_WIDTH" "$MEASURE_HEIGHT" 300) \
    || { log "$server: no first frame; its log:"; tail -n 30 "$lane/${server/:/-}-$viewers-$round.log"; exit 1; }
  local after_first_kb; after_first_kb=$(rss_kb "$pid" VmRSS)
  # The same warm-up for both: one viewer for MEASURE_WARMUP s (the appliance's tiered JIT settles; µStreamer's
  # encoder workers start), then the measured window with VIEWERS viewers, CPU read at its edges.
  python3 "$lane/mjpeg-viewers.py" "$port" 1 "$MEASURE_WARMUP" 0 > /dev/null
  result=$(python3 "$lane/mjpeg-viewers.py" "$port" "$viewers" "$MEASURE_SECONDS" 1 "$pid")
  local rss hwm cpu frames
  rss=$(rss_kb "$pid" VmRSS); hwm=$(rss_kb "$pid" VmHWM)
  local anon file; anon=$(rss_kb "$pid" RssAnon); file=$(rss_kb "$pid" RssFile)
  # Where the resident pages are, by mapping (the binary, the runtime's libraries, anonymous: heaps, JIT, stacks).
  awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6 ? $6 : "[anonymous]") } /^Rss:/ { rss[name] += $2 }
       END { for (n in rss) if (rss[n] >= 256) printf "%8d kB %s\n", rss[n], n }' "/proc/$pid/smaps" | sort -rn \
    > "$lane/${server/:/-}-$viewers-$round.smaps" || true
  cpu=$(sed -n 's/.*"serverCpuMs": \([0-9]*\).*/\1/p' <<<"$result")
  frames=$(sed -n 's/.*"framesTotal": \([0-9]*\).*/\1/p' <<<"$result")
  stop
  local line
  line="{\"server\": \"$server\", \"viewers\": $viewers, \"round\": $round, \"firstFrameMs\": $first, \"rssAfterFirstKb\": $after_first_kb, \"rssKb\": $rss, \"rssPeakKb\": $hwm, \"rssAnonKb\": $anon, \"rssFileKb\": $file, \"cpuMs\": $cpu, \"cpuMsPerDeliveredFrame\": $(awk -v c="$cpu" -v f="$frames" 'BEGIN { printf "%.3f", f ? c / f : 0 }'), \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"result\": $result}"
  echo "$line" >> "$lane/measure.jsonl"
  log "$line"
}

for round in $(seq 1 "$MEASURE_ROUNDS"); do
  for server in ustreamer appliance $([ -d "$lane/compare" ] && echo appliance:before) $(awk '{ print "appliance:" $1 }' "$lane/variants"); do
    for viewers in $MEASURE_VIEWERS; do run "$server" "$viewers" "$round"; done
  done
done
log "done"
