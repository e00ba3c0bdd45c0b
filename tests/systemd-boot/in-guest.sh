#!/usr/bin/env bash
# Runs inside the systemd-boot guest as lane.service, with systemd as PID 1: installs the published Relay and
# Appliance with their own install.sh exactly as the README says (as root, no options), then checks what only a real
# systemd shows: the units start as their users under the full hardening, READY and the watchdog (which restarts a
# hung appliance), the appliance on the guest's real V4L2 device (vivid) through DevicePolicy/DeviceAllow, the tunnel
# between the two services (also over the relay's own HTTPS on 443), a bad setting (exit 78) not restarted, an
# upgrade that keeps settings, journald priorities, and the upgrade of a relay installed with the old DynamicUser unit
# (its state directory must move back with the queued WeCom callback). Writes its exit status to /lane/exit-status;
# lane.service then powers the guest off.
set -euo pipefail
lane=/lane
trap 'rc=$?; echo "$rc" > "$lane/exit-status"; sync' EXIT
t0=$(date +%s%N)
log() { echo "systemd-boot: [$(( ($(date +%s%N) - t0) / 1000000 )) ms] $*"; }
fail() {
  echo "systemd-boot: FAIL: $*"
  for unit in relay appliance; do
    echo "--- systemctl status $unit"; systemctl --no-pager status "$unit" 2>&1 | tail -n 15 || true
    echo "--- journalctl -u $unit"; journalctl --no-pager -o cat -n 40 -u "$unit" 2>&1 || true
  done
  exit 1
}
prop() { systemctl show -p "$2" --value "$1"; }
# Waits up to $2 s for command $3… to succeed.
wait_for() {
  local what="$1" seconds="$2"; shift 2
  local until=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$until" ] || fail "$what: not within $seconds s"
    sleep 0.5
  done
}
relay_url=http://127.0.0.1:8443
admin=(-u "admin:lane-admin-password")
family=(-u "family:lane-household-password")

log "systemd $(systemctl --version | head -n1 | cut -d' ' -f2) is PID 1 ($(cat /proc/1/comm)); kernel $(uname -r)"
[ "$(cat /proc/1/comm)" = systemd ] || fail "PID 1 is not systemd"
mkdir -p /root/dist
for tarball in "$lane"/*.tar.gz; do tar -C /root/dist -xzf "$tarball"; done

# The distribution's udev rules give these device nodes to their groups; this guest has no udev, so do the same
# once install.sh has created the groups (below).
device_groups() {
  for node in /dev/video* /dev/media*; do [ -e "$node" ] && chgrp video "$node" && chmod 660 "$node"; done
  for node in /dev/gpiochip*; do [ -e "$node" ] && chgrp gpio "$node" && chmod 660 "$node"; done
  for node in /dev/i2c-*; do [ -e "$node" ] && chgrp i2c "$node" && chmod 660 "$node"; done
  return 0
}

# ---------------------------------------------------------------------------------------------------------------
# 1. A relay installed by the previous install.sh: DynamicUser unit, no relay user, state in /var/lib/private/relay.
log "relay: installing as the old DynamicUser unit"
# What the previous install.sh left: the binary in /opt/relay, a DynamicUser unit, no relay user. (Its settings were
# unreadable to that unit, the bug that made the change; here the old relay gets settings it can read.)
install -d /opt/relay /etc/relay
install -m 755 /root/dist/relay-linux-x64/Relay /opt/relay/Relay
for file in /root/dist/relay-linux-x64/*.so /root/dist/relay-linux-x64/appsettings.json; do install -m 644 "$file" /opt/relay/; done
sed -e 's/^User=relay$/DynamicUser=yes/' -e '/^Group=relay$/d' /root/dist/relay-linux-x64/relay.service > /etc/systemd/system/relay.service
grep -q '^DynamicUser=yes' /etc/systemd/system/relay.service || fail "could not make the old unit"
cat > /etc/relay/relay.json <<'JSON'
{ "Relay": { "AdminPassword": "lane-admin-password",
             "Appliances": { "cam": { "Secret": "lane-tunnel-secret-0123456789abcdef", "WeComToken": "QDG6eK" } } } }
JSON
chmod 644 /etc/relay/relay.json
systemctl daemon-reload
systemctl enable --now relay.service >/dev/null 2>&1 || fail "the old relay unit did not start"
grep -q '^relay:' /etc/passwd && fail "a relay user exists before the upgrade"
[ -L /var/lib/relay ] && [ -d /var/lib/private/relay ] || fail "the DynamicUser state directory is not in /var/lib/private"
wait_for "old relay healthy" 60 curl -sf "$relay_url/healthz"

# A WeCom callback for the offline appliance: stored in the state directory's SQLite database.
ts=$(date +%s); nonce=lane1; enc=lane-callback-encrypted  # signed now: the relay refuses one signed over Relay:MaxClockSkew ago
sig=$(printf '%s\n' QDG6eK "$ts" "$nonce" "$enc" | LC_ALL=C sort | tr -d '\n' | sha1sum | cut -d' ' -f1)
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/xml' \
  --data "<xml><ToUserName><![CDATA[corp]]></ToUserName><Encrypt><![CDATA[$enc]]></Encrypt><AgentID>1</AgentID></xml>" \
  "$relay_url/cam/wecom/callback?msg_signature=$sig&timestamp=$ts&nonce=$nonce")
[ "$code" = 200 ] || fail "the old relay answered the callback with $code"
queued() { curl -sf "${admin[@]}" "$relay_url/status" | jq -e '.appliances[] | select(.name == "cam") | .queuedCallbacks == 1'; }
queued >/dev/null || fail "the old relay did not queue the callback"
log "relay: old unit running as $(ps -o user= -p "$(prop relay MainPID)"), callback queued in /var/lib/private/relay"

# ---------------------------------------------------------------------------------------------------------------
# 2. The upgrade with today's install.sh (as the README says: sudo ./install.sh).
log "relay: upgrading with install.sh"
/root/dist/relay-linux-x64/install.sh > /root/relay-install.out 2>&1 || { cat /root/relay-install.out; fail "install.sh (relay upgrade) failed"; }
cat /root/relay-install.out
grep -q "stopping the relay to move it from a dynamic user" /root/relay-install.out || fail "install.sh did not stop the DynamicUser relay first"
grep -q "relay is running" /root/relay-install.out || fail "install.sh did not report the relay running"
[ "$(stat -c '%U:%G %a' /etc/relay)" = "root:relay 750" ] || fail "/etc/relay is $(stat -c '%U:%G %a' /etc/relay)"
[ "$(stat -c '%U:%G %a' /etc/relay/relay.json)" = "root:relay 640" ] || fail "relay.json is $(stat -c '%U:%G %a' /etc/relay/relay.json)"
grep -q lane-tunnel-secret /etc/relay/relay.json || fail "the upgrade replaced relay.json"
[ "$(ps -o user= -p "$(prop relay MainPID)")" = relay ] || fail "the relay runs as $(ps -o user= -p "$(prop relay MainPID)")"
[ -d /var/lib/relay ] && [ ! -L /var/lib/relay ] || fail "systemd did not move the state directory back to /var/lib/relay"
[ "$(stat -c %U /var/lib/relay)" = relay ] || fail "/var/lib/relay is owned by $(stat -c %U /var/lib/relay)"
wait_for "upgraded relay healthy" 60 curl -sf "$relay_url/healthz"
queued >/dev/null || fail "the queued callback was lost in the upgrade"
[ "$(prop relay Type)" = notify ] && [ "$(prop relay ActiveState)" = active ] || fail "relay: $(prop relay Type) $(prop relay ActiveState)"
log "relay: upgraded; runs as relay, state moved to /var/lib/relay with the callback, status: $(prop relay StatusText)"

# ---------------------------------------------------------------------------------------------------------------
# 3. The appliance, fresh: install.sh creates the user and groups, starts it on its defaults (Camera:Source=auto).
log "appliance: install.sh"
# Groups first, so the nodes can be given to them before the appliance's first start (udev would have done it at boot).
for group in video gpio i2c; do getent group "$group" >/dev/null || groupadd --system "$group"; done
device_groups
/root/dist/appliance-linux-x64/install.sh > /root/appliance-install.out 2>&1 || { cat /root/appliance-install.out; fail "install.sh (appliance) failed"; }
cat /root/appliance-install.out
grep -q "appliance is running" /root/appliance-install.out || fail "install.sh did not report the appliance running"
[ "$(ps -o user= -p "$(prop appliance MainPID)")" = appliance ] || fail "the appliance does not run as appliance"
[ "$(stat -c '%U:%G %a' /etc/appliance/secrets.json)" = "root:appliance 640" ] || fail "secrets.json is $(stat -c '%U:%G %a' /etc/appliance/secrets.json)"
status=$(curl -sf http://127.0.0.1:8080/api/status) || fail "no /api/status on 8080"
source=$(jq -r .source <<<"$status")
[ "$source" = v4l2 ] || fail "Camera:Source=auto chose '$source' under the unit's DevicePolicy, not the guest's vivid camera: $status"
curl -sf -o /root/snap.jpg http://127.0.0.1:8080/snapshot || fail "no snapshot"
[ "$(head -c 2 /root/snap.jpg | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "the snapshot is not a JPEG"
log "appliance: running as appliance on $(jq -r '.device // .resolution' <<<"$status") ($source), $(stat -c %s /root/snap.jpg)-byte snapshot; status: $(prop appliance StatusText)"

# READY=1 came (active, not activating) and the watchdog is fed: its timestamp moves within one WatchdogSec.
[ "$(prop appliance WatchdogUSec)" = 30s ] || fail "WatchdogUSec is $(prop appliance WatchdogUSec)"
first=$(prop appliance WatchdogTimestampMonotonic)
wait_for "a watchdog ping" 40 bash -c "[ \"\$(systemctl show -p WatchdogTimestampMonotonic --value appliance)\" != '$first' ]"
log "appliance: watchdog pinged ($(prop appliance WatchdogTimestamp))"

# journald: one entry per line with its priority (the app's <N> prefix), nothing at the default level 6 mislabelled.
journalctl --no-pager -o json -u appliance | jq -r '.PRIORITY' | sort | uniq -c > /root/priorities
grep -q . /root/priorities || fail "nothing from the appliance in the journal"
journalctl --no-pager -o cat -u appliance | grep -q '^<[0-7]>' && fail "journal lines still carry a <N> prefix"
log "appliance: journal priorities $(tr -s ' \n' ' ' < /root/priorities)"

# ---------------------------------------------------------------------------------------------------------------
# 4. The tunnel between the two services: settings as the README shows them, then restart.
log "appliance: tunnel to the relay"
cat > /etc/appliance/appliance.json <<'JSON'
// lane settings
{ "Tunnel": { "RelayUrl": "ws://127.0.0.1:8443/", "Name": "cam" } }
JSON
cat > /etc/appliance/secrets.json <<'JSON'
{ "Web": { "Password": "lane-household-password" }, "Tunnel": { "Secret": "lane-tunnel-secret-0123456789abcdef" } }
JSON
systemctl restart appliance || fail "the appliance did not restart with the tunnel settings"
online() { curl -sf "${admin[@]}" "$relay_url/status" | jq -e '.appliances[] | select(.name == "cam") | .online'; }
wait_for "appliance online at the relay" 60 online
curl -sf "${family[@]}" -o /root/relayed.jpg "$relay_url/cam/snapshot" || fail "no snapshot through the relay"
[ "$(head -c 2 /root/relayed.jpg | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "the relayed snapshot is not a JPEG"
log "tunnel: appliance online at the relay, snapshot through the relay ($(stat -c %s /root/relayed.jpg) bytes)"

# ---------------------------------------------------------------------------------------------------------------
# 4b. The relay serving HTTPS itself on 443, set up as the README shows: certbot's root-only files copied to
# /etc/relay/tls by a deploy hook; the unit's only capability binds 443 as the relay user; the appliance dials wss://.
log "relay: its own HTTPS on 443"
install -d -m 700 /etc/letsencrypt/live/relay.test /etc/letsencrypt/renewal-hooks/deploy
install -m 600 "$lane/tls/server.pem" /etc/letsencrypt/live/relay.test/fullchain.pem
install -m 600 "$lane/tls/server.key" /etc/letsencrypt/live/relay.test/privkey.pem
# The README's commands, verbatim but for the domain.
install -d -m 750 -o root -g relay /etc/relay/tls
tee /etc/letsencrypt/renewal-hooks/deploy/relay.sh >/dev/null <<'HOOK'
#!/bin/sh
install -m 640 -o root -g relay "$RENEWED_LINEAGE/fullchain.pem" "$RENEWED_LINEAGE/privkey.pem" /etc/relay/tls/
HOOK
chmod 755 /etc/letsencrypt/renewal-hooks/deploy/relay.sh
RENEWED_LINEAGE=/etc/letsencrypt/live/relay.test /etc/letsencrypt/renewal-hooks/deploy/relay.sh
cat > /etc/relay/relay.json <<'JSON'
{ "Urls": "https://0.0.0.0:443",
  "Relay": { "Tls": { "CertificatePath": "/etc/relay/tls/fullchain.pem", "KeyPath": "/etc/relay/tls/privkey.pem" },
             "AdminPassword": "lane-admin-password",
             "Appliances": { "cam": { "Secret": "lane-tunnel-secret-0123456789abcdef", "WeComToken": "QDG6eK" } } } }
JSON
# The appliance trusts the test CA through the system store, as it would trust Let's Encrypt.
cat "$lane/tls/ca.pem" >> /etc/ssl/certs/ca-certificates.crt
sed -i 's|"RelayUrl": "ws://127.0.0.1:8443/"|"RelayUrl": "wss://relay.test/"|' /etc/appliance/appliance.json
echo "127.0.0.1 relay.test" >> /etc/hosts
systemctl restart relay || fail "the relay did not restart with its own HTTPS on 443"
systemctl restart appliance || fail "the appliance did not restart with wss://"
relay_url=https://relay.test
curl_tls=(--cacert "$lane/tls/ca.pem")
online() { curl -sf "${curl_tls[@]}" "${admin[@]}" "$relay_url/status" | jq -e '.appliances[] | select(.name == "cam") | .online'; }
wait_for "appliance online at https://relay.test" 60 online
curl -sf "${curl_tls[@]}" "${family[@]}" -o /root/relayed-tls.jpg "$relay_url/cam/snapshot" || fail "no snapshot through the relay over https"
[ "$(ps -o user= -p "$(prop relay MainPID)")" = relay ] || fail "the relay on 443 does not run as relay"
log "relay: https on 443 as user relay with the hook's certificate; the appliance online over wss, snapshot $(stat -c %s /root/relayed-tls.jpg) bytes"

# ---------------------------------------------------------------------------------------------------------------
# 5. A bad setting: exit 78, and systemd does not restart it (RestartPreventExitStatus=78).
log "appliance: a bad setting"
cp /etc/appliance/appliance.json /root/appliance.json.good
echo '{ "Camera": { "Fps": 0 } }' > /etc/appliance/appliance.json
systemctl restart appliance && fail "the appliance started with Camera:Fps=0"
sleep 7 # past RestartSec=5s
[ "$(prop appliance ExecMainStatus)" = 78 ] || fail "exit status $(prop appliance ExecMainStatus), not 78"
[ "$(prop appliance NRestarts)" = 0 ] || fail "systemd restarted it $(prop appliance NRestarts) times"
[ "$(prop appliance ActiveState)" = failed ] || fail "state $(prop appliance ActiveState)"
journalctl --no-pager -o cat -p err -u appliance | grep -q 'Camera:Fps' || fail "no entry at priority err or above names Camera:Fps"
log "appliance: exit 78, not restarted, the journal names Camera:Fps at priority err"
cp /root/appliance.json.good /etc/appliance/appliance.json
systemctl reset-failed appliance

# ---------------------------------------------------------------------------------------------------------------
# 6. Upgrade the appliance with install.sh: settings kept, service restarted and back online through the tunnel.
log "appliance: upgrade with install.sh"
/root/dist/appliance-linux-x64/install.sh > /root/appliance-upgrade.out 2>&1 || { cat /root/appliance-upgrade.out; fail "install.sh (appliance upgrade) failed"; }
grep -q "appliance is running" /root/appliance-upgrade.out || fail "not running after the upgrade"
grep -q lane-household-password /etc/appliance/secrets.json || fail "the upgrade replaced secrets.json"
wait_for "appliance online again after the upgrade" 60 online
curl -sf "${curl_tls[@]}" "${family[@]}" -o /dev/null "$relay_url/cam/snapshot" || fail "no snapshot through the relay after the upgrade"

# 7. A hung appliance (SIGSTOP): no more watchdog pings, so systemd kills it after WatchdogSec=30s and restarts it.
log "appliance: hung (SIGSTOP), waiting for the watchdog"
hung=$(prop appliance MainPID); restarts=$(prop appliance NRestarts)
kill -STOP "$hung"; stopped_at=$(date +%s)
back() { [ "$(prop appliance NRestarts)" -gt "$restarts" ] && [ "$(prop appliance MainPID)" != "$hung" ] && [ "$(prop appliance ActiveState)" = active ]; }
wait_for "the watchdog's restart" 150 back
journalctl --no-pager -u appliance | grep -q "Watchdog timeout" || fail "the journal has no watchdog timeout"
log "appliance: restarted by the watchdog, active again $(( $(date +%s) - stopped_at )) s after it hung"

# 8. A clean stop: STOPPING=1 and exit within TimeoutStopSec, no kill.
log "both: stop"
systemctl stop appliance relay
for unit in appliance relay; do
  [ "$(prop $unit Result)" = success ] || fail "$unit stopped with result $(prop $unit Result)"
done
log "PASS"
