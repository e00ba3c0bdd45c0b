#!/usr/bin/env bash
# Runs inside the arm64 guest as lane.service, with the arm64 root's own systemd as PID 1 (tests/lanes/arm64-system.sh):
# installs this run's appliance_VERSION_arm64.deb with apt as a user would, then against the guest's vivid camera and a
# gpio-sim chip checks: the unit becomes active (Type=notify), the first snapshot comes from V4L2, a doorbell press
# reaches the fake WeCom API (tests/arm64/fake-wecom.py) as text and photo, POST /api/gpio/NAME is seen on the
# gpio-sim line, `appliance doctor` passes camera and GPIO, a hung process (SIGSTOP) is restarted by the watchdog, and
# `apt purge` leaves nothing behind. Writes its exit status to /lane/exit-status; lane.service then powers off.
set -euo pipefail
lane=/lane
trap 'rc=$?; echo "$rc" > "$lane/exit-status"; sync' EXIT
# Also in the work share, where the host can follow it while the guest runs (the console shows it through journald).
exec > >(tee -a "$lane/guest.log") 2>&1
t0=$(date +%s%N)
log() { echo "arm64-system: [$(( ($(date +%s%N) - t0) / 1000000 )) ms] $*"; }
fail() {
  echo "arm64-system: FAIL: $*"
  echo "--- systemctl status appliance"; systemctl --no-pager status appliance 2>&1 | tail -n 15 || true
  echo "--- journalctl -u appliance"; journalctl --no-pager -o cat -n 40 -u appliance 2>&1 || true
  [ -f /root/wecom.log ] && { echo "--- fake WeCom calls"; cat /root/wecom.log; }
  exit 1
}
prop() { systemctl show -p "$2" --value "$1"; }
wait_for() { # WHAT SECONDS COMMAND…: until the command succeeds
  local what="$1" seconds="$2"; shift 2
  local until=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$until" ] || fail "$what: not within $seconds s"
    sleep 0.5
  done
}
api=http://127.0.0.1:8080
log "systemd $(systemctl --version | head -n1 | cut -d' ' -f2) is PID 1 ($(cat /proc/1/comm)) on $(uname -m), kernel $(uname -r), boot took $(cut -d' ' -f1 /proc/uptime) s"
[ "$(cat /proc/1/comm)" = systemd ] || fail "PID 1 is not systemd"
[ "$(uname -m)" = aarch64 ] || fail "not an arm64 guest"
ip link set lo up

# A gpio-sim chip: 8 lines, labelled as a Pi's header chip would be looked up (by label, never by number).
sim=/sys/kernel/config/gpio-sim/lane
mkdir -p "$sim/bank0"
echo 8 > "$sim/bank0/num_lines"
echo lane-header > "$sim/bank0/label"
echo 1 > "$sim/live"
chip="$(cat "$sim/bank0/chip_name")"
simfs="/sys/devices/platform/$(cat "$sim/dev_name")/$chip"
echo pull-up > "$simfs/sim_gpio6/pull" # the doorbell's button, not pressed (active low)
# What Raspberry Pi OS's udev rules do (this guest has no udev): the groups and the device nodes' owners.
for group in gpio i2c; do getent group "$group" >/dev/null || groupadd --system "$group"; done
for node in /dev/video* /dev/media*; do [ -e "$node" ] && chgrp video "$node" && chmod 660 "$node"; done
for node in /dev/gpiochip*; do chgrp gpio "$node" && chmod 660 "$node"; done
log "vivid: $(cat /sys/class/video4linux/video0/name); gpio-sim: $chip (lane-header)"

# ---------------------------------------------------------------------------------------------------------------
# 1. apt install ./appliance_VERSION_arm64.deb: the unit is enabled, started and active once READY=1 came.
deb="$(ls "$lane"/appliance_*_arm64.deb | head -n1)"
log "apt install ./$(basename "$deb")"
cp "$deb" /root/
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/root/$(basename "$deb")" > "$lane/install.out" 2>&1 \
  || { cat "$lane/install.out"; fail "apt install failed"; }
cat "$lane/install.out"
log "installed $(dpkg-query -W -f '${Package} ${Version} ${Architecture}' appliance)"
[ "$(prop appliance Type)" = notify ] || fail "the unit's Type is $(prop appliance Type)"
[ "$(systemctl is-enabled appliance)" = enabled ] || fail "the unit is not enabled"
wait_for "the unit active" 120 bash -c '[ "$(systemctl show -p ActiveState --value appliance)" = active ]'
log "appliance: active (Type=notify) as $(ps -o user= -p "$(prop appliance MainPID)"); status: $(prop appliance StatusText)"
wait_for "/api/status" 60 curl -sf "$api/api/status"
status="$(curl -sf "$api/api/status")"
[ "$(jq -r .source <<<"$status")" = v4l2 ] || fail "the camera source is not V4L2 (vivid): $status"
curl -sf -o /root/first.jpg "$api/snapshot" || fail "no snapshot"
[ "$(head -c 2 /root/first.jpg | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "the snapshot is not a JPEG"
log "first snapshot from V4L2: $(stat -c %s /root/first.jpg) bytes ($(jq -r '.resolution // .device' <<<"$status"))"

# ---------------------------------------------------------------------------------------------------------------
# 2. The household's settings, as a user edits them: GPIO on the header chip, WeCom pointed at the fake API.
python3 /lane/fake-wecom.py 18999 /root/wecom.log &
wait_for "the fake WeCom API" 30 curl -sf "http://127.0.0.1:18999/cgi-bin/gettoken"
: > /root/wecom.log
cat > /etc/appliance/appliance.json <<'JSON'
{
  "Gpio": { "Chip": "lane-header",
            "Pins": { "porch": { "Line": 1, "Mode": "Output" },
                      "doorbell": { "Line": 6, "Mode": "Input", "ActiveLow": true, "Bias": "PullUp",
                                    "OnPress": "Snapshot", "CooldownSeconds": 5 } } },
  "WeCom": { "CorpId": "ww1436e0e65a779aee", "AgentId": 1000002, "Token": "QDG6eK",
             "EncodingAesKey": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
             "ApiBaseUrl": "http://127.0.0.1:18999/", "AllowedUsers": [ "alice" ] }
}
JSON
cat > /etc/appliance/secrets.json <<'JSON'
{ "WeCom": { "Secret": "arm64-lane-secret" } }
JSON
systemctl restart appliance || fail "the appliance did not restart with GPIO and WeCom settings"
wait_for "/api/gpio" 60 curl -sf "$api/api/gpio"

# A doorbell press on the gpio-sim line: WeCom gets the text and the photo (uploaded JPEG, then an image message).
echo pull-down > "$simfs/sim_gpio6/pull"
sent() { jq -se --arg type "$1" 'map(select(.api == "/cgi-bin/message/send" and .message.msgtype == $type and .message.touser == "alice")) | length > 0' /root/wecom.log; }
wait_for "the doorbell's text at WeCom" 60 sent text
wait_for "the doorbell's photo at WeCom" 60 sent image
echo pull-up > "$simfs/sim_gpio6/pull"
jq -se 'map(select(.api == "/cgi-bin/media/upload" and .jpeg and .bytes > 1000)) | length > 0' /root/wecom.log >/dev/null \
  || fail "no JPEG upload at the fake WeCom API"
photo_id="$(jq -sr 'map(select(.message.msgtype == "image"))[0].message.image.media_id' /root/wecom.log)"
jq -se --arg id "$photo_id" 'map(select(.api == "/cgi-bin/media/upload" and .media_id == $id)) | length == 1' /root/wecom.log >/dev/null \
  || fail "the image message names media $photo_id, which was not uploaded"
log "doorbell: text and photo ($photo_id) sent to alice through the fake WeCom API: $(jq -sr 'map(select(.message.msgtype == "text"))[0].message.text.content' /root/wecom.log | head -n1)"

# POST /api/gpio/porch: the line the simulated hardware sees goes high, then low again.
[ "$(cat "$simfs/sim_gpio1/value")" = 0 ] || fail "the porch line is not low before the request"
curl -sf -X POST "$api/api/gpio/porch?action=on" > /root/porch.json || fail "POST /api/gpio/porch?action=on"
[ "$(cat "$simfs/sim_gpio1/value")" = 1 ] || fail "gpio-sim line 1 is not high after action=on: $(cat /root/porch.json)"
curl -sf -X POST "$api/api/gpio/porch?action=off" >/dev/null || fail "POST /api/gpio/porch?action=off"
[ "$(cat "$simfs/sim_gpio1/value")" = 0 ] || fail "gpio-sim line 1 is not low after action=off"
log "POST /api/gpio/porch: gpio-sim line 1 went 0 -> 1 -> 0"

# ---------------------------------------------------------------------------------------------------------------
# 3. doctor as the service's user: camera and GPIO pass, nothing fails.
doctor_rc=0
setpriv --reuid=appliance --regid=appliance --init-groups env HOME=/nonexistent appliance doctor > /root/doctor.out 2>&1 || doctor_rc=$?
cat /root/doctor.out
[ "$doctor_rc" = 0 ] || fail "doctor exited with $doctor_rc"
grep -q '✗' /root/doctor.out && fail "doctor reports a failure"
grep -q '✓ V4L2 cameras' /root/doctor.out || fail "doctor: the V4L2 camera line does not pass"
grep -q '✓ GPIO chips' /root/doctor.out || fail "doctor: the GPIO chips line does not pass"
log "doctor: camera and GPIO pass"

# ---------------------------------------------------------------------------------------------------------------
# 4. A hung appliance (SIGSTOP): no more watchdog pings, so systemd kills it after WatchdogSec and starts it again.
hung=$(prop appliance MainPID); restarts=$(prop appliance NRestarts)
kill -STOP "$hung"; stopped_at=$(date +%s)
back() { [ "$(prop appliance NRestarts)" -gt "$restarts" ] && [ "$(prop appliance MainPID)" != "$hung" ] && [ "$(prop appliance ActiveState)" = active ]; }
wait_for "the watchdog's restart" 180 back
journalctl --no-pager -u appliance | grep -q "Watchdog timeout" || fail "the journal has no watchdog timeout"
log "watchdog: the hung appliance was killed and is active again $(( $(date +%s) - stopped_at )) s after SIGSTOP"

# ---------------------------------------------------------------------------------------------------------------
# 5. apt purge: the service, its files, settings, state and user are gone.
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q appliance > /root/purge.out 2>&1 || { cat /root/purge.out; fail "apt purge failed"; }
left=""
dpkg-query -W appliance >/dev/null 2>&1 && left+=" dpkg-still-knows-it"
for path in /etc/appliance /var/lib/appliance /usr/lib/appliance /usr/bin/appliance /usr/share/doc/appliance \
    /usr/lib/systemd/system/appliance.service /etc/systemd/system/multi-user.target.wants/appliance.service; do
  [ -e "$path" ] || [ -L "$path" ] && left+=" $path"
done
getent passwd appliance >/dev/null && left+=" user:appliance"
getent group appliance >/dev/null && left+=" group:appliance"
systemctl list-units --all --no-legend 'appliance*' | grep -q . && left+=" unit:$(systemctl list-units --all --no-legend 'appliance*' | head -n1)"
stray="$(find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /lane -o -path /root \) -prune -o -iname '*appliance*' -print 2>/dev/null | grep -v '^/etc/hostname$' || true)"
[ -n "$stray" ] && left+=" $(tr '\n' ' ' <<<"$stray")"
[ -z "$left" ] || fail "apt purge left:$left"
log "apt purge: nothing left (files, settings, state, user, unit)"
log "PASS"
