#!/usr/bin/env bash
# Side by side with Debian's `motion` (4.5): the appliance plays scripted 1280x720 scenes (the motion tests' ffmpeg
# lavfi scenes, with a longer still start so motion is reading before anything happens) through its file source and
# /stream; `motion` reads that same MJPEG stream (netcam_url), as a plain process with its own config in a temporary
# directory (no daemon, no system service), its on_event_start/on_event_end hooks writing the times. Per scene:
# events found by each against the scripted truth, and CPU time per analysed frame.
# Asserts the correctness targets: the appliance finds every event motion finds (start and end within 0.5 s of the
# script), and reports nothing on the light-only and noise scenes. The CPU figures are printed (a table for
# docs/events.md) and asserted only loosely (the appliance's analysis at most 1.0x motion's CPU per analysed frame over
# all scenes; the target is 0.5x): the machine is shared.
# CPU per analysed frame: motion's whole process (its stream reader decodes each JPEG in full, its loop compares) over
# the frames its loop analyses (framerate 5 x seconds); the appliance's analysis alone (the thread CPU clock around its
# scaled decode and compare, /api/status motion.analysisCpuSeconds) over motion.framesAnalysed. The appliance's whole
# process (capture from the file, the stream to two readers, the pre-roll ring) is printed beside it.
# Needs the Release build (tests/run-all.sh builds it first). Exit 0 = pass.
# lane-seconds: 110 (alone on the 2-core machine; tests/run-all.sh reads it to start the longest chains first)
# lane-kind: light (its figures are CPU times and times read from the stream itself, not wall-clock waits: four runs at
# load 15-35 passed; it runs beside the qemu lanes instead of adding its 110 s to their chain)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
appliance_dll="$root/Appliance/bin/Release/net10.0/Appliance.dll"
helper="$root/tests/lanes/lib/motion-peer.py"
work="$(mktemp -d "${TMPDIR:-/tmp}/motion-peer.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true
  done
  if [ -n "${MOTION_PEER_KEEP:-}" ]; then echo "motion-peer: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
  echo "motion-peer: FAIL: $*"
  for f in "$work"/*/appliance.out "$work"/*/motion.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  exit 1
}
[ -f "$appliance_dll" ] || fail "build Release first (dotnet build Appliance.slnx -c Release)"
for tool in motion ffmpeg python3 curl; do command -v "$tool" >/dev/null || fail "$tool is missing (tests/lanes/motion-peer.apt; tests/setup.sh installs it)"; done
source "$root/tests/lanes/lib/lane-helpers.sh"
ticks="$(getconf CLK_TCK)"
fps=5
lead=8 # seconds of still picture before anything happens: both programs are reading (and have a reference) by then

# CPU seconds (user + system) a process has used so far, from /proc/PID/stat (fields 14 and 15, in clock ticks).
cpu_seconds() { awk -v t="$ticks" '{ sub(/^.*\) /, ""); print ($12 + $13) / t }' "/proc/$1/stat"; }

# The scenes: SMPTE bars at 1280x720, 5 fps, as the motion tests (tests/Camera.Tests/Motion/MotionScenes.cs) make them.
scene() { # NAME SECONDS BACKGROUND [OVERLAY]
  local args=(-hide_banner -loglevel error -y -f lavfi -i "$3")
  [ -n "${4:-}" ] && args+=(-f lavfi -i "color=c=0x202020:size=160x160:rate=$fps" -filter_complex "$4")
  ffmpeg "${args[@]}" -t "$2" -r "$fps" -pix_fmt yuvj420p -q:v 4 -f mjpeg "$work/$1.mjpeg" || fail "ffmpeg: scene $1"
}
bars="smptehdbars=size=1280x720:rate=$fps"
move_end=$((lead + 3))
scene moving-box 30 "$bars" "[0][1]overlay=x='if(lt(t,$lead),100,if(lt(t,$move_end),100+(t-$lead)*300,1000))':y=280"
scene light-ramp 18 "$bars,eq=brightness='0.25*clip((t-$lead)/8,0,1)':contrast='1+0.3*clip((t-$lead)/8,0,1)':eval=frame"
scene light-switch 14 "$bars,eq=brightness='if(between(t,$lead,$lead+2.5),0.22,0)':contrast='if(between(t,$lead,$lead+2.5),1.25,1)':eval=frame"
scene noise 12 "$bars,noise=alls=30:allf=t+u"

# One scene: the appliance plays it, motion and the watcher read its stream from the start, until just before the file
# source loops. Leaves $work/NAME/result.json for the report.
run_scene() { # NAME SECONDS TRUTH_START TRUTH_END (or "" "" for no motion)
  local name="$1" seconds="$2" dir="$work/$1" appliance motion watcher url
  mkdir -p "$dir/etc" "$dir/state" "$dir/motion"
  APPLIANCE_CONFIG_DIR="$dir/etc" STATE_DIRECTORY="$dir/state" dotnet "$appliance_dll" --urls=http://127.0.0.1:0 \
    --Camera:Source=file --Camera:File="$work/$name.mjpeg" --Camera:Fps=$fps --Camera:IdleFps=$fps \
    --Motion:Enabled=true --Motion:Fps=$fps >"$dir/appliance.out" 2>&1 &
  appliance=$!; pids+=("$appliance")
  url="$(listening_url "$dir/appliance.out" "$appliance")" || fail "$name: the appliance did not start"

  # motion: Debian's shipped settings for detection (threshold 1500, despeckle EedDl, noise tuning, no light-switch
  # filter) with the events ending after 5 s quiet like Motion:QuietSeconds; no pictures, movies, stream or web control.
  # Its stream reader must read a little faster than the stream comes (capture_rate; without it motion reads at
  # `framerate` and fell 1.5-3 s behind the stream within 10 s), so it decodes each of the 5 frames a second.
  cat > "$dir/hook" <<EOF
#!/bin/sh
echo "\$1 \$(date +%s.%N) \$2" >> "$dir/motion-events"
EOF
  chmod +x "$dir/hook"
  cat > "$dir/motion.conf" <<EOF
daemon off
setup_mode off
log_level 6
target_dir $dir/motion
netcam_url $url/stream
netcam_params capture_rate=$((fps * 6))
width 1280
height 720
framerate $fps
threshold 1500
despeckle_filter EedDl
minimum_motion_frames 1
event_gap 5
pre_capture 0
post_capture 0
picture_output off
movie_output off
webcontrol_port 0
stream_port 0
on_event_start $dir/hook start %{fps}
on_event_end $dir/hook end %{fps}
EOF
  motion -n -c "$dir/motion.conf" -l "$dir/motion.log" >"$dir/motion.out" 2>&1 &
  motion=$!; pids+=("$motion")
  python3 "$helper" watch "$url/stream" "$work/$name.mjpeg" "$fps" "$seconds" "$dir/start" >"$dir/watch.out" 2>&1 &
  watcher=$!; pids+=("$watcher")

  # CPU from 2 s after motion reads the stream (both started, the appliance's stream paths compiled) to the scene's end.
  local a0 m0 f0 c0 t0 a1 m1 f1 c1 t1 status
  for _ in $(seq 300); do grep -q "connected" "$dir/motion.log" 2>/dev/null && break; sleep 0.1; done
  grep -q "connected" "$dir/motion.log" 2>/dev/null || fail "$name: motion did not connect to $url/stream in 30 s"
  sleep 2
  status="$(curl -s --max-time 10 "$url/api/status")" || fail "$name: /api/status"
  t0=$(date +%s.%N); a0=$(cpu_seconds "$appliance"); m0=$(cpu_seconds "$motion")
  read -r f0 c0 < <(python3 -c 'import json,sys; m=json.loads(sys.argv[1])["motion"]; print(m["framesAnalysed"], m["analysisCpuSeconds"])' "$status")
  wait "$watcher" || fail "$name: $(cat "$dir/watch.out")"
  t1=$(date +%s.%N); a1=$(cpu_seconds "$appliance"); m1=$(cpu_seconds "$motion")
  # motion stops now, before the file source loops back to the scene's first frame (a jump it would see as motion);
  # an event it ends while stopping is open at the scene's end.
  kill -0 "$motion" 2>/dev/null || fail "$name: motion exited early: $(tail -5 "$dir/motion.log" 2>/dev/null)"
  kill -TERM "$motion"
  status="$(curl -s --max-time 10 "$url/api/status")" || fail "$name: /api/status"
  read -r f1 c1 < <(python3 -c 'import json,sys; m=json.loads(sys.argv[1])["motion"]; print(m["framesAnalysed"], m["analysisCpuSeconds"])' "$status")
  curl -s --max-time 10 "$url/api/events?kind=motion" >"$dir/events.json" || fail "$name: /api/events"
  kill -TERM "$appliance" 2>/dev/null || true
  wait "$motion" "$appliance" 2>/dev/null || true

  python3 - "$dir" "$3" "$4" "$t0" "$t1" "$a0" "$a1" "$m0" "$m1" "$f0" "$f1" "$c0" "$c1" "$fps" <<'EOF'
import datetime, json, os, sys
d, ts, te = sys.argv[1], sys.argv[2], sys.argv[3]
t0, t1, a0, a1, m0, m1, f0, f1, c0, c1, fps = map(float, sys.argv[4:15])
start = float(open(os.path.join(d, "start")).read())
def seconds(iso):
    return None if iso is None else datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() - start
ours = [{"start": seconds(e["start"]), "end": seconds(e["end"])} for e in json.load(open(os.path.join(d, "events.json")))["events"]]
ours.reverse()
theirs, gap = [], 5.0  # motion's event_gap: its end hook runs that long after the last moving frame
path = os.path.join(d, "motion-events")
for line in (open(path).read().split("\n") if os.path.exists(path) else []):
    if not line.strip():
        continue
    what, at = line.split()[0], float(line.split()[1]) - start
    if at > t1 - start:
        continue  # ended by the stop: still open at the scene's end
    if what == "start":
        theirs.append({"start": at, "end": None})
    elif theirs and theirs[-1]["end"] is None:
        theirs[-1]["end"] = at - gap
frames = f1 - f0
window = t1 - t0
result = {
    "truth": None if ts == "" else [float(ts), float(te)],
    "appliance": {"events": ours, "frames": int(frames),
                  "cpuMsPerFrame": (c1 - c0) * 1000 / frames if frames else float("nan"),
                  "processMsPerFrame": (a1 - a0) * 1000 / frames if frames else float("nan")},
    # motion analyses one frame per 1/framerate (the stream brings 5 a second; it takes the newest each time).
    "motion": {"events": theirs, "frames": int(round(window * fps)),
               "cpuMsPerFrame": (m1 - m0) * 1000 / (window * fps)},
}
json.dump(result, open(os.path.join(d, "result.json"), "w"))
EOF
}

echo "motion-peer: $(motion -h 2>&1 | head -1 | cut -c1-22), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
scenes="${MOTION_PEER_SCENES:-moving-box light-ramp light-switch noise}" # a subset when trying things by hand
for name in $scenes; do
  case "$name" in
    moving-box) run_scene moving-box 30 "$lead" "$move_end" ;;
    light-ramp) run_scene light-ramp 18 "" "" ;;
    light-switch) run_scene light-switch 14 "" "" ;;
    noise) run_scene noise 12 "" "" ;;
    *) fail "no scene $name" ;;
  esac
done

echo "| scene | truth (s) | appliance events (s) | motion events (s) | appliance analysis CPU ms/frame (frames) | appliance whole process ms/frame | motion whole process ms/frame (frames) | analysis ÷ motion |"
echo "|---|---|---|---|---|---|---|---|"
ok=1
for name in $scenes; do
  python3 "$helper" report "$name" "$work/$name/result.json" || ok=0
done
python3 "$helper" summary $(for name in $scenes; do echo "$work/$name/result.json"; done) || ok=0
echo "motion-peer: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$ok" = 1 ] || fail "targets missed (above)"
echo "motion-peer: ok"
