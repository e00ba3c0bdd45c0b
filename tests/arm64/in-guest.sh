#!/usr/bin/env bash
# Runs inside the arm64 guest as lane.service, with the arm64 root's own systemd as PID 1 (tests/lanes/arm64-system.sh):
# installs this run's appliance_VERSION_arm64.deb with apt as a user would, then against the guest's vivid camera and a
# gpio-sim chip checks: the unit becomes active (Type=notify), the first snapshot comes from V4L2, a doorbell press
# reaches the fake WeCom API (tests/arm64/fake-wecom.py) as text and photo, POST /api/gpio/NAME is seen on the
# gpio-sim line, `appliance doctor` passes camera and GPIO, a bad setting exits 78 and is not restarted, the upgrade to
# VERSION+lane1 keeps appliance.json and secrets.json and restarts it, a hung process (SIGSTOP) is restarted by the
# watchdog, `apt remove` stops it and keeps settings and state, `apt purge` leaves nothing behind. The maintainer
# scripts (user, groups, modes, conffile, secrets.json) are checked here, the only lane that installs the appliance
# package. apt install is timed in parts (apt, dpkg unpack, postinst, unit start) from dpkg.log and systemd.
# Writes its exit status to /lane/exit-status; lane.service then powers off.
set -euo pipefail
lane=/lane
trap 'rc=$?; echo "$rc" > "$lane/exit-status"; sync' EXIT
# A command that fails outside a check says which (set -e would end the script without a word).
trap 'echo "arm64-system: FAIL: line $LINENO: $BASH_COMMAND exited with $?"' ERR
# Also in the work share, where the host can follow it while the guest runs (the console shows it through journald).
exec > >(tee -a "$lane/guest.log") 2>&1
t0=$(date +%s%N)
log() { echo "arm64-system: [$(( ($(date +%s%N) - t0) / 1000000 )) ms] $*"; }
fail() {
  echo "arm64-system: FAIL: $*"
  echo "--- systemctl status appliance"; systemctl --no-pager status appliance 2>&1 | tail -n 15 || true
  echo "--- journalctl -u appliance"; journalctl --no-pager -o cat -n 40 -u appliance 2>&1 || true
  echo "--- crashes in the journal"; journalctl --no-pager -o cat -u appliance 2>&1 | grep -B 3 -A 30 -E 'Unhandled exception|Process terminated|Fatal error|status=6/ABRT' | head -n 80 || true
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
# What udev rules do at boot (this guest has no udev): cameras to the group video (Debian's base has it). The groups
# gpio and i2c are Raspberry Pi OS's, not Debian's: the package must create them (checked below), then the GPIO nodes
# get theirs as udev would.
for group in gpio i2c; do if getent group "$group" >/dev/null; then groupdel "$group"; fi; done
for node in /dev/video* /dev/media*; do [ -e "$node" ] && chgrp video "$node" && chmod 660 "$node"; done
log "vivid: $(cat /sys/class/video4linux/video0/name); gpio-sim: $chip (lane-header)"

# ---------------------------------------------------------------------------------------------------------------
# 1. apt install ./appliance_VERSION_arm64.deb: the unit is enabled, started and active once READY=1 came.
deb="$(ls "$lane"/appliance_*_arm64.deb | grep -v '+lane' | head -n1)"
next_deb="$(ls "$lane"/appliance_*_arm64.deb | grep '+lane' | head -n1)"
version="$(dpkg-deb -f "$deb" Version)"; next="$(dpkg-deb -f "$next_deb" Version)"
log "apt install ./$(basename "$deb")"
cp "$deb" "$next_deb" /root/
: > /var/log/dpkg.log
apt_started=$(date +%s)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/root/$(basename "$deb")" > "$lane/install.out" 2>&1 \
  || { cat "$lane/install.out"; fail "apt install failed"; }
apt_ended=$(date +%s)
cat "$lane/install.out"
# Where the install's time went: dpkg.log stamps each step (seconds); systemd the unit's start (postinst waits for it).
stamp() { date -d "$(grep -m1 "$1" /var/log/dpkg.log | cut -d' ' -f1,2)" +%s; }
unpack_at=$(stamp ' install appliance'); unpacked_at=$(stamp ' status unpacked appliance'); configure_at=$(stamp ' configure appliance')
installed_at=$(stamp ' status installed appliance')
sed -n "/ appliance/p" /var/log/dpkg.log
mono_s() { echo $(( $(prop appliance "$1") / 1000000 )); }
unit_start_s=$(( $(mono_s ActiveEnterTimestampMonotonic) - $(mono_s ExecMainStartTimestampMonotonic) ))
log "apt install took $(( apt_ended - apt_started )) s: apt (lists, dependencies) before dpkg $(( unpack_at - apt_started )) s, dpkg unpack (xz) $(( unpacked_at - unpack_at )) s, configure (postinst, waiting for the unit) $(( installed_at - configure_at )) s, of which the unit's start to READY=1 $unit_start_s s, after dpkg $(( apt_ended - installed_at )) s"
grep -q "appliance is running" "$lane/install.out" || fail "the postinst did not report the appliance running"
[ "$(dpkg-query -W -f '${Version}' appliance)" = "$version" ] || fail "dpkg says version $(dpkg-query -W -f '${Version}' appliance)"
log "installed $(dpkg-query -W -f '${Package} ${Version} ${Architecture}' appliance)"
# The maintainer scripts: user and groups (gpio and i2c created), settings and secrets modes, state, the conffile.
for group in video gpio i2c; do
  id -nG appliance | tr ' ' '\n' | grep -qx "$group" || fail "appliance is not in group $group ($(id -nG appliance))"
done
[ "$(stat -c '%U:%G %a' /etc/appliance)" = "root:appliance 750" ] || fail "/etc/appliance is $(stat -c '%U:%G %a' /etc/appliance)"
[ "$(stat -c '%U:%G %a' /etc/appliance/secrets.json)" = "root:appliance 640" ] || fail "secrets.json is $(stat -c '%U:%G %a' /etc/appliance/secrets.json)"
[ "$(stat -c '%U:%G %a' /var/lib/appliance)" = "appliance:appliance 750" ] || fail "/var/lib/appliance is $(stat -c '%U:%G %a' /var/lib/appliance)"
grep -qx /etc/appliance/appliance.json /var/lib/dpkg/info/appliance.conffiles || fail "appliance.json is not a conffile"
grep -qx /etc/appliance/secrets.json /var/lib/dpkg/info/appliance.list && fail "secrets.json belongs to the package (dpkg would replace it)"
[ "$(prop appliance Type)" = notify ] || fail "the unit's Type is $(prop appliance Type)"
[ "$(prop appliance UnitFileState)" = enabled ] || fail "the unit is $(prop appliance UnitFileState), not enabled"
[ "$(prop appliance ActiveState)" = active ] || fail "the unit is $(prop appliance ActiveState) after apt install (READY=1 not within TimeoutStartSec)"
[ "$(ps -o user= -p "$(prop appliance MainPID)")" = appliance ] || fail "the appliance does not run as appliance"
[ "$(appliance --version)" = "Appliance $version" ] || fail "appliance --version: $(appliance --version)"
log "appliance: active (Type=notify) as $(ps -o user= -p "$(prop appliance MainPID)"); status: $(prop appliance StatusText)"
for node in /dev/gpiochip*; do chgrp gpio "$node" && chmod 660 "$node"; done
wait_for "/api/status" 60 curl -sf "$api/api/status"
status="$(curl -sf "$api/api/status")"
[ "$(jq -r .version <<<"$status")" = "$version" ] || fail "/api/status version '$(jq -r .version <<<"$status")', the package is $version"
[ "$(jq -r .source <<<"$status")" = v4l2 ] || fail "Camera:Source=auto chose '$(jq -r .source <<<"$status")' under the unit's DevicePolicy, not vivid: $status"
curl -sf -o /root/first.jpg "$api/snapshot" || fail "no snapshot"
[ "$(head -c 2 /root/first.jpg | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "the snapshot is not a JPEG"
log "first snapshot from V4L2: $(stat -c %s /root/first.jpg) bytes ($(jq -r '.resolution // .device' <<<"$status"))"

# READY=1 came (active, not activating) and the watchdog is fed: its timestamp moves within one WatchdogSec.
[ "$(prop appliance WatchdogUSec)" = 30s ] || fail "WatchdogUSec is $(prop appliance WatchdogUSec)"
first=$(prop appliance WatchdogTimestampMonotonic)
wait_for "a watchdog ping" 40 bash -c "[ \"\$(systemctl show -p WatchdogTimestampMonotonic --value appliance)\" != '$first' ]"
# journald: one entry per line with its priority (the app's <N> prefix), nothing at the default level mislabelled.
journalctl --no-pager -o json -u appliance | jq -r '.PRIORITY' | sort | uniq -c > /root/priorities
grep -q . /root/priorities || fail "nothing from the appliance in the journal"
journalctl --no-pager -o cat -u appliance | grep -q '^<[0-7]>' && fail "journal lines still carry a <N> prefix"
log "watchdog pinged ($(prop appliance WatchdogTimestamp)); journal priorities $(tr -s ' \n' ' ' < /root/priorities)"

# ---------------------------------------------------------------------------------------------------------------
# 2. The household's settings, as a user edits them: GPIO on the header chip, WeCom pointed at the fake API.
python3 /lane/fake-wecom.py 18999 /root/wecom.log &
wait_for "the fake WeCom API" 120 curl -sf "http://127.0.0.1:18999/cgi-bin/gettoken"
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
# 3b. A bad setting: exit 78, and systemd does not restart it (RestartPreventExitStatus=78).
cp /etc/appliance/appliance.json /root/appliance.json.good
echo '{ "Camera": { "Fps": 0 } }' > /etc/appliance/appliance.json
systemctl restart appliance && fail "the appliance started with Camera:Fps=0"
sleep 7 # past RestartSec=5s
[ "$(prop appliance ExecMainStatus)" = 78 ] || fail "exit status $(prop appliance ExecMainStatus), not 78"
[ "$(prop appliance NRestarts)" = 0 ] || fail "systemd restarted it $(prop appliance NRestarts) times"
[ "$(prop appliance ActiveState)" = failed ] || fail "state $(prop appliance ActiveState)"
journalctl --no-pager -o cat -p err -u appliance | grep -q 'Camera:Fps' || fail "no entry at priority err or above names Camera:Fps"
log "bad setting: exit 78, not restarted, the journal names Camera:Fps at priority err"
cp /root/appliance.json.good /etc/appliance/appliance.json
systemctl reset-failed appliance

# 3c. The upgrade to the next version (the appliance is stopped after the bad setting; an upgrade starts it again as
# postinst's restart does): appliance.json (the household's) and secrets.json kept with their modes, the unit active.
log "upgrade to $next"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "/root/$(basename "$next_deb")" > /root/upgrade.out 2>&1 \
  || { cat /root/upgrade.out; fail "apt install (upgrade) failed"; }
[ "$(dpkg-query -W -f '${Version}' appliance)" = "$next" ] || fail "dpkg says version '$(dpkg-query -W -f '${Version}' appliance)' after the upgrade"
grep -q lane-header /etc/appliance/appliance.json || fail "the upgrade replaced appliance.json"
[ ! -e /etc/appliance/appliance.json.dpkg-new ] && [ ! -e /etc/appliance/appliance.json.dpkg-dist ] || fail "dpkg left an appliance.json.dpkg-* beside it"
grep -q arm64-lane-secret /etc/appliance/secrets.json || fail "the upgrade replaced secrets.json"
[ "$(stat -c '%U:%G %a' /etc/appliance/secrets.json)" = "root:appliance 640" ] || fail "after the upgrade secrets.json is $(stat -c '%U:%G %a' /etc/appliance/secrets.json)"
wait_for "the upgraded appliance active" 120 bash -c '[ "$(systemctl show -p ActiveState --value appliance)" = active ]'
wait_for "/api/gpio after the upgrade" 60 curl -sf "$api/api/gpio"
log "upgraded to $next: settings and secrets kept, active again"

# Until now nothing may have crashed (the watchdog's SIGABRT below is the first expected one).
if journalctl --no-pager -o cat -u appliance | grep -qE 'Unhandled exception|Process terminated|code=(killed|dumped), status=6/ABRT|Failed with result .(signal|watchdog|core-dump).'; then
  fail "the appliance crashed or was killed before the watchdog step"
fi

# ---------------------------------------------------------------------------------------------------------------
# 4. A hung appliance (SIGSTOP): no more watchdog pings, so systemd kills it after WatchdogSec and starts it again.
hung=$(prop appliance MainPID); restarts=$(prop appliance NRestarts)
kill -STOP "$hung"; stopped_at=$(date +%s)
back() { [ "$(prop appliance NRestarts)" -gt "$restarts" ] && [ "$(prop appliance MainPID)" != "$hung" ] && [ "$(prop appliance ActiveState)" = active ]; }
wait_for "the watchdog's restart" 180 back
journalctl --no-pager -u appliance | grep -q "Watchdog timeout" || fail "the journal has no watchdog timeout"
log "watchdog: the hung appliance was killed and is active again $(( $(date +%s) - stopped_at )) s after SIGSTOP"

# ---------------------------------------------------------------------------------------------------------------
# 5. apt remove: stopped cleanly (STOPPING=1, no kill), the program gone, settings, secrets, state and user kept.
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q appliance > /root/remove.out 2>&1 || { cat /root/remove.out; fail "apt remove failed"; }
[ "$(prop appliance ActiveState)" = inactive ] || fail "the appliance is $(prop appliance ActiveState) after apt remove"
[ "$(prop appliance Result)" = success ] || fail "the appliance stopped with result $(prop appliance Result)"
pgrep -u appliance >/dev/null && fail "a process of user appliance still runs after apt remove"
[ -e /usr/lib/appliance ] || [ -e /usr/bin/appliance ] && fail "/usr/lib/appliance or /usr/bin/appliance is still there after apt remove"
[ -f /etc/appliance/appliance.json ] && [ -f /etc/appliance/secrets.json ] && [ -d /var/lib/appliance ] && getent passwd appliance >/dev/null \
  || fail "apt remove took the settings, secrets, state or user (only purge may)"
log "apt remove: stopped (result success); settings, secrets, state and user kept"

# 6. apt purge: the service, its files, settings, state and user are gone.
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q appliance > /root/purge.out 2>&1 || { cat /root/purge.out; fail "apt purge failed"; }
cat /root/purge.out
systemctl daemon-reload || fail "systemctl daemon-reload after apt purge"
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
left+=" $(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked -name 'appliance.service*' 2>/dev/null | tr '\n' ' ' || true)" # a directory purge emptied may be gone
[ "$(prop appliance LoadState)" = not-found ] || left+=" unit-load-state:$(prop appliance LoadState)"
left="${left%% }"; left="${left## }"
[ -z "${left// /}" ] || fail "apt purge left: $left"
log "apt purge: nothing left (files, settings, state, user, unit)"
log "PASS"
