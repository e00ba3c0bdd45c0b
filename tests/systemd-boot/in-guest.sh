#!/usr/bin/env bash
# Runs inside the systemd-boot guest as lane.service, with systemd as PID 1: installs the relay and appliance .deb
# packages with apt exactly as the README says (sudo apt install ./NAME_VERSION_amd64.deb), then checks what a VPS
# (amd64) runs and only a real systemd shows: the relay's maintainer scripts (user, settings mode, conffile), its unit
# as its user (Type=notify), its upgrade to a second version (conffile kept, restarted, the queued WeCom callback
# kept), the appliance on the guest's real V4L2 device (vivid) through DevicePolicy/DeviceAllow, the tunnel between
# the two services (also over the relay's own HTTPS on 443), and the relay's apt remove (stopped, settings kept) and
# apt purge (nothing left). The appliance's own package checks (groups, modes, exit 78, upgrade, watchdog, journal
# priorities, remove, purge) run on arm64, what the Pi runs: tests/arm64/in-guest.sh. Writes its exit status to
# /lane/exit-status; lane.service then powers the guest off.
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
# The packages: this version, and the same repacked as a later version for the upgrades (systemd-boot.sh makes them).
mkdir -p /root/dist && cp "$lane"/*.deb /root/dist/
deb() { ls /root/dist/"$1"_*_amd64.deb | grep "${@:2}" | head -n1; }
relay_deb=$(deb relay -v '+lane'); relay_next=$(deb relay '+lane')
appliance_deb=$(deb appliance -v '+lane')
version=$(dpkg-deb -f "$appliance_deb" Version); next=$(dpkg-deb -f "$relay_next" Version)
log "packages: $(cd /root/dist && ls *.deb | tr '\n' ' ')"
# As a user types it (apt, not dpkg, so Depends are resolved); no terminal, so apt does not ask.
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"; }
version_of() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null; }
main_pid() { prop "$1" MainPID; }

# The distribution's udev rules give these device nodes to their groups; this guest has no udev, so do the same
# once the package has created the groups (below).
device_groups() {
  for node in /dev/video* /dev/media*; do [ -e "$node" ] && chgrp video "$node" && chmod 660 "$node"; done
  for node in /dev/gpiochip*; do [ -e "$node" ] && chgrp gpio "$node" && chmod 660 "$node"; done
  for node in /dev/i2c-*; do [ -e "$node" ] && chgrp i2c "$node" && chmod 660 "$node"; done
  return 0
}

# ---------------------------------------------------------------------------------------------------------------
# 1. The relay, fresh: sudo apt install ./relay_VERSION_amd64.deb
log "relay: apt install ./$(basename "$relay_deb")"
apt_install "$relay_deb" > "$lane/relay-install.out" 2>&1 || { cat "$lane/relay-install.out"; fail "apt install (relay) failed"; }
grep -q "relay is running" "$lane/relay-install.out" || { cat "$lane/relay-install.out"; fail "the relay's postinst did not report it running"; }
[ "$(version_of relay)" = "$version" ] || fail "relay: dpkg says version '$(version_of relay)'"
getent passwd relay >/dev/null || fail "no relay user"
[ "$(stat -c '%U:%G %a' /etc/relay)" = "root:relay 750" ] || fail "/etc/relay is $(stat -c '%U:%G %a' /etc/relay)"
[ "$(stat -c '%U:%G %a' /etc/relay/relay.json)" = "root:relay 640" ] || fail "relay.json is $(stat -c '%U:%G %a' /etc/relay/relay.json)"
grep -qx /etc/relay/relay.json /var/lib/dpkg/info/relay.conffiles || fail "relay.json is not a conffile"
[ "$(prop relay Type)" = notify ] && [ "$(prop relay ActiveState)" = active ] || fail "relay: $(prop relay Type) $(prop relay ActiveState)"
[ "$(prop relay UnitFileState)" = enabled ] || fail "relay.service is $(prop relay UnitFileState), not enabled"
[ "$(ps -o user= -p "$(main_pid relay)")" = relay ] || fail "the relay runs as $(ps -o user= -p "$(main_pid relay)")"
[ "$(relay --version)" = "Relay $version" ] || fail "relay --version: $(relay --version)"
log "relay: installed, active as user relay (Type=notify), status: $(prop relay StatusText)"

# Settings in the conffile, then a WeCom callback for the offline appliance: stored in the state directory's SQLite.
cat > /etc/relay/relay.json <<'JSON'
{ "Relay": { "AdminPassword": "lane-admin-password",
             "Appliances": { "cam": { "Secret": "lane-tunnel-secret-0123456789abcdef", "WeComToken": "QDG6eK" } } } }
JSON
systemctl restart relay || fail "the relay did not restart with its settings"
wait_for "relay healthy" 60 curl -sf "$relay_url/healthz"
ts=$(date +%s); nonce=lane1; enc=lane-callback-encrypted  # signed now: the relay refuses one signed over Relay:MaxClockSkew ago
sig=$(printf '%s\n' QDG6eK "$ts" "$nonce" "$enc" | LC_ALL=C sort | tr -d '\n' | sha1sum | cut -d' ' -f1)
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/xml' \
  --data "<xml><ToUserName><![CDATA[corp]]></ToUserName><Encrypt><![CDATA[$enc]]></Encrypt><AgentID>1</AgentID></xml>" \
  "$relay_url/cam/wecom/callback?msg_signature=$sig&timestamp=$ts&nonce=$nonce")
[ "$code" = 200 ] || fail "the relay answered the callback with $code"
queued() { curl -sf "${admin[@]}" "$relay_url/status" | jq -e '.appliances[] | select(.name == "cam") | .queuedCallbacks == 1'; }
queued >/dev/null || fail "the relay did not queue the callback"

# ---------------------------------------------------------------------------------------------------------------
# 2. The relay's upgrade to the next version: relay.json (changed by the admin) kept with its mode, service restarted,
# the queued callback still there.
log "relay: upgrade to $next"
before=$(main_pid relay)
apt_install "$relay_next" > "$lane/relay-upgrade.out" 2>&1 || { cat "$lane/relay-upgrade.out"; fail "apt install (relay upgrade) failed"; }
[ "$(version_of relay)" = "$next" ] || fail "relay: dpkg says version '$(version_of relay)' after the upgrade"
grep -q lane-tunnel-secret /etc/relay/relay.json || fail "the upgrade replaced relay.json"
[ ! -e /etc/relay/relay.json.dpkg-new ] && [ ! -e /etc/relay/relay.json.dpkg-dist ] || fail "dpkg left a relay.json.dpkg-* beside it"
[ "$(stat -c '%U:%G %a' /etc/relay/relay.json)" = "root:relay 640" ] || fail "after the upgrade relay.json is $(stat -c '%U:%G %a' /etc/relay/relay.json)"
# postinst restarts it; under TCG on a loaded machine the start may outlast TimeoutStartSec and be retried: wait.
restarted() { [ "$(main_pid "$1")" != 0 ] && [ "$(main_pid "$1")" != "$2" ] && [ "$(prop "$1" ActiveState)" = active ]; }
wait_for "the upgrade's restart of the relay" 240 restarted relay "$before"
wait_for "upgraded relay healthy" 60 curl -sf "$relay_url/healthz"
queued >/dev/null || fail "the queued callback was lost in the upgrade"
log "relay: upgraded to $next and restarted (pid $before -> $(main_pid relay)); relay.json kept (root:relay 640), callback still queued"

# ---------------------------------------------------------------------------------------------------------------
# 3. The appliance, fresh, for the tunnel: started on its defaults (Camera:Source=auto) on the camera node, which
# udev gives to the group video at boot (this guest has no udev). Its maintainer scripts are checked on arm64.
log "appliance: apt install ./$(basename "$appliance_deb")"
for node in /dev/video* /dev/media*; do [ -e "$node" ] && chgrp video "$node" && chmod 660 "$node"; done
apt_install "$appliance_deb" > "$lane/appliance-install.out" 2>&1 || { cat "$lane/appliance-install.out"; fail "apt install (appliance) failed"; }
cat "$lane/appliance-install.out" | grep -v '^\(Reading\|Building\|Note\)' || true
grep -q "appliance is running" "$lane/appliance-install.out" || fail "the appliance's postinst did not report it running"
[ "$(prop appliance Type)" = notify ] && [ "$(prop appliance ActiveState)" = active ] || fail "appliance: $(prop appliance Type) $(prop appliance ActiveState)"
[ "$(ps -o user= -p "$(main_pid appliance)")" = appliance ] || fail "the appliance does not run as appliance"
status=$(curl -sf http://127.0.0.1:8080/api/status) || fail "no /api/status on 8080"
[ "$(jq -r .version <<<"$status")" = "$version" ] || fail "/api/status version '$(jq -r .version <<<"$status")', the package is $version"
source=$(jq -r .source <<<"$status")
[ "$source" = v4l2 ] || fail "Camera:Source=auto chose '$source' under the unit's DevicePolicy, not the guest's vivid camera: $status"
curl -sf -o /root/snap.jpg http://127.0.0.1:8080/snapshot || fail "no snapshot"
[ "$(head -c 2 /root/snap.jpg | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "the snapshot is not a JPEG"
log "appliance: $version running as appliance on $(jq -r '.device // .resolution' <<<"$status") ($source), $(stat -c %s /root/snap.jpg)-byte snapshot; status: $(prop appliance StatusText)"

# ---------------------------------------------------------------------------------------------------------------
# 4. The tunnel between the two services: settings as the README shows them, then restart.
log "appliance: tunnel to the relay"
cat > /etc/appliance/appliance.json <<'JSON'
// lane settings. ConnectTimeout: under TCG on a loaded machine the just-started appliance's first TLS handshake with
// the relay (below, wss://) took over the default 10 s on every try (2026-12-07, load average 35).
{ "Tunnel": { "RelayUrl": "ws://127.0.0.1:8443/", "Name": "cam", "ConnectTimeout": "00:01:00" } }
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
wait_for "appliance online at https://relay.test" 180 online
curl -sf "${curl_tls[@]}" "${family[@]}" -o /root/relayed-tls.jpg "$relay_url/cam/snapshot" || fail "no snapshot through the relay over https"
[ "$(ps -o user= -p "$(prop relay MainPID)")" = relay ] || fail "the relay on 443 does not run as relay"
log "relay: https on 443 as user relay with the hook's certificate; the appliance online over wss, snapshot $(stat -c %s /root/relayed-tls.jpg) bytes"

# 5. apt remove of the relay (the appliance's: tests/arm64/in-guest.sh): stopped cleanly (STOPPING=1, no kill), the
# program gone, settings, state and user kept.
log "relay: apt remove"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q relay > /root/remove.out 2>&1 || { cat /root/remove.out; fail "apt remove failed"; }
for unit in relay; do
  [ "$(prop $unit ActiveState)" = inactive ] || fail "$unit is $(prop $unit ActiveState) after apt remove"
  [ "$(prop $unit Result)" = success ] || fail "$unit stopped with result $(prop $unit Result)"
  pgrep -u "$unit" >/dev/null && fail "a process of user $unit still runs after apt remove"
  [ -e "/usr/lib/$unit" ] || [ -e "/usr/bin/$unit" ] && fail "/usr/lib/$unit or /usr/bin/$unit is still there after apt remove"
  [ -f "/etc/$unit/$unit.json" ] && getent passwd "$unit" >/dev/null || fail "apt remove took $unit's settings or user (only purge may)"
done
[ -d /var/lib/relay ] || fail "apt remove took the relay's state"
log "relay: removed and stopped (result success); settings, state and user kept"

# 6. apt purge of the relay: nothing left: settings, state, user and group, unit, systemd's enablement records.
log "relay: apt purge"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q relay > /root/purge.out 2>&1 || { cat /root/purge.out; fail "apt purge failed"; }
systemctl daemon-reload
for name in relay; do
  [ -z "$(version_of "$name")" ] || dpkg-query -W -f '${db:Status-Status}' "$name" | grep -qx not-installed || fail "dpkg still knows $name: $(dpkg -l "$name" | tail -n1)"
  for path in "/etc/$name" "/var/lib/$name" "/var/lib/private/$name" "/usr/lib/$name" "/usr/bin/$name" \
              "/usr/share/doc/$name" "/usr/lib/systemd/system/$name.service"; do
    [ -e "$path" ] || [ -L "$path" ] && fail "$path is still there after apt purge"
  done
  getent passwd "$name" >/dev/null && fail "user $name is still there after apt purge"
  getent group "$name" >/dev/null && fail "group $name is still there after apt purge"
  left=$(find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
         -name "$name.service*" 2>/dev/null || true)
  [ -z "$left" ] || fail "systemd records left after apt purge: $left"
  [ "$(prop "$name" LoadState)" = not-found ] || fail "$name.service is still $(prop "$name" LoadState)"
done
log "relay: purged; no settings, state, user, group or unit left"
log "PASS"
