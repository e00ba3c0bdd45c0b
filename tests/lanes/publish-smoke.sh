#!/usr/bin/env bash
# Publish smoke test: the amd64 .deb packages publish-arm64.sh --rid linux-x64 builds (this run's, tests/lanes/lib/packages.sh); check their names, control
# fields, conffiles and maintainer scripts, run lintian on them (any error fails), unpack them into a temporary root
# (dpkg-deb -x; the systemd-boot lane installs them with apt under a real systemd), verify the unit, check
# --version, start the installed binary (on the package's own settings file) with the synthetic camera on a loopback
# port under a fake systemd (a real NOTIFY_SOCKET, JOURNAL_STREAM), fetch /snapshot and /healthz, stop it with
# SIGTERM and require a clean exit within 5 s. Then the same for the Relay (also over https from PEM files), the
# trimmed appliance through the trimmed relay's tunnel with WeCom on (snapshot, a signed callback), the doctor on a
# broken settings file, and both programs run as an unprivileged user on settings they cannot read. First, publish-arm64.sh
# refuses bad options (exit 64, a message naming the option, nothing on stdout) and says which packages a missing arm64
# C library needs (exit 69).
# lane-seconds: 68 (alone on the 2-core machine; tests/run-all.sh reads it to start the longest chains first)
# lane-needs: linux-x64 (the amd64 packages, which tests/run-all.sh publishes first; run alone, the lane publishes them)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "publish-smoke: FAIL: $*"; for f in "$work"/*.out "$work"/*.notify; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
source "$root/tests/lanes/lib/lane-helpers.sh"

refused() { # WHAT STATUS MESSAGE: the publish-arm64.sh run just made (its output in bad.out, bad.err) was refused with
  # STATUS and MESSAGE, and printed nothing on stdout (where scripts read the packages' paths)
  [ "$rc" = "$2" ] || fail "publish-arm64.sh $1: exit status $rc, expected $2: $(cat "$work/bad.err")"
  grep -qF "$3" "$work/bad.err" || fail "publish-arm64.sh $1: no clear message: $(cat "$work/bad.err")"
  [ ! -s "$work/bad.out" ] || fail "publish-arm64.sh $1 printed on stdout: $(cat "$work/bad.out")"
}
# Bad options: exit 64 and a message naming the option, before anything is built.
for bad in "--xz-level 12|--xz-level takes 0 to 9, not '12'" "--xz-level=x|--xz-level takes 0 to 9, not 'x'" \
    "--jobs 0|--jobs takes a number" "--only foo|--only takes appliance or relay, not 'foo'" \
    "--xz-level|--xz-level needs a value" "--rid|--rid needs a value" "--bogus|unknown option '--bogus'"; do
  args="${bad%%|*}" expected="${bad#*|}"
  "$root/publish-arm64.sh" $args >"$work/bad.out" 2>"$work/bad.err" && rc=0 || rc=$?
  refused "$args" 64 "publish-arm64.sh: $expected"
done
echo "publish-arm64.sh: bad options refused with exit status 64 and a message"
# The arm64 C library missing (a fresh machine whose apt left out the cross gcc's Recommends, as tests/setup.sh's did):
# exit 69 before the five-minute compile, naming the package. Hidden in a private mount namespace (the suite runs as root).
empty="$work/empty" && mkdir -p "$empty"
unshare -m bash -c 'for d in /usr/aarch64-linux-gnu/lib /usr/lib/aarch64-linux-gnu; do [ ! -d "$d" ] || mount --bind "$1" "$d"; done
  exec "$2/publish-arm64.sh" --rid linux-arm64 --only appliance' _ "$empty" "$root" >"$work/bad.out" 2>"$work/bad.err" && rc=0 || rc=$?
refused "without arm64's C library" 69 "sudo apt install gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
echo "publish-arm64.sh: without arm64's C library, exit status 69 and the packages to install"

source "$root/tests/lanes/lib/packages.sh"
lane_packages linux-x64 "$work/publish"
echo "packages: $(for d in $(cat "$work/publish/debs"); do printf '%s %s; ' "$(basename "$d")" "$(du -h "$d" | cut -f1)"; done)"

# The packages: one version (Directory.Build.props'), the names apt expects, the settings as conffiles.
version="$(sed -n 's|.*<Version>\([^<]*\)</Version>.*|\1|p' "$root/Directory.Build.props" | head -n1)"
prefix="$work/root"
for name in appliance relay; do
  deb="$work/publish/${name}_${version}_amd64.deb"
  grep -qx "$deb" "$work/publish/debs" || fail "publish-arm64.sh did not make $deb: $(cat "$work/publish/debs")"
  [ "$(dpkg-deb -f "$deb" Package Version Architecture | tr '\n' ' ')" = "Package: $name Version: $version Architecture: amd64 " ] \
    || fail "$name: control fields $(dpkg-deb -f "$deb" Package Version Architecture)"
  dpkg-deb -e "$deb" "$work/control-$name"
  [ "$(cat "$work/control-$name/conffiles")" = "/etc/$name/$name.json" ] || fail "$name: conffiles $(cat "$work/control-$name/conffiles")"
  for script in postinst prerm postrm; do
    [ -x "$work/control-$name/$script" ] || fail "$name: no executable $script"
    grep -q '@[A-Z_]*@' "$work/control-$name/$script" && fail "$name: $script has unfilled placeholders"
    sh -n "$work/control-$name/$script" || fail "$name: $script is not valid sh"
  done
  dpkg-deb -x "$deb" "$prefix"
done
dpkg-deb -f "$work/publish/appliance_${version}_amd64.deb" Depends | grep -q 'libturbojpeg0' || fail "the appliance does not depend on libturbojpeg0"
[ "$(dpkg-deb -f "$work/publish/appliance_${version}_amd64.deb" Recommends)" = ffmpeg ] || fail "the appliance does not recommend ffmpeg"

# lintian: no errors (the warnings that remain, and why, are in docs/packaging.md).
lintian_started=$(date +%s)
lintian --fail-on error --tag-display-limit 0 $(cat "$work/publish/debs") > "$work/lintian.out" 2>&1 && rc=0 || rc=$?
cat "$work/lintian.out"
[ "$rc" = 0 ] || fail "lintian reported errors (status $rc, above)"
echo "lintian: no errors ($(grep -c '^W: ' "$work/lintian.out" || true) warnings) in $(( $(date +%s) - lintian_started )) s"

# Layout; the /usr/bin entries run the binaries, which print the packages' version.
[ -x "$prefix/usr/lib/appliance/Appliance" ] || fail "no $prefix/usr/lib/appliance/Appliance"
[ -x "$prefix/usr/lib/relay/Relay" ] || fail "no relay binary"
[ -f "$prefix/usr/lib/systemd/system/appliance.service" ] && [ -f "$prefix/usr/lib/systemd/system/relay.service" ] || fail "no units"
[ "$("$prefix/usr/bin/appliance" --version)" = "Appliance $version" ] || fail "appliance --version: $("$prefix/usr/bin/appliance" --version 2>&1)"
[ "$("$prefix/usr/bin/relay" --version)" = "Relay $version" ] || fail "relay --version: $("$prefix/usr/bin/relay" --version 2>&1)"
echo "binary: $(stat -c %s "$prefix/usr/lib/appliance/Appliance") bytes (appliance), $(stat -c %s "$prefix/usr/lib/relay/Relay") bytes (relay); --version: $version"
mkdir -p "$prefix/var/lib/appliance"

# The installed unit verifies against the installed binary.
sed "s|^ExecStart=/usr/lib/appliance/Appliance|ExecStart=$prefix/usr/lib/appliance/Appliance|" "$prefix/usr/lib/systemd/system/appliance.service" > "$work/appliance.service"
out="$(systemd-analyze verify --man=no "$work/appliance.service" 2>&1)" && [ -z "$out" ] || fail "verify: $out"

notify="$work/notify.sock"
fake_systemd "$notify" "$work/appliance.notify"

start_ns=$(date +%s%N)
APPLIANCE_CONFIG_DIR="$prefix/etc/appliance" NOTIFY_SOCKET="$notify" WATCHDOG_USEC=2000000 JOURNAL_STREAM=8:1 \
  "$prefix/usr/lib/appliance/Appliance" --urls=http://127.0.0.1:0 --Camera:Source=synthetic --Camera:Width=640 --Camera:Height=480 \
  --State:Directory="$prefix/var/lib/appliance" >"$work/appliance.out" 2>&1 &
app=$!; pids+=($app)
url=""
for _ in $(seq 100); do
  url="$(sed -n 's/.*Now listening on: \(http:[^ ]*\).*/\1/p' "$work/appliance.out" | head -1)"
  [ -n "$url" ] && break; kill -0 "$app" 2>/dev/null || fail "the appliance exited"; sleep 0.05
done
[ -n "$url" ] || fail "no listening address in the log"
for _ in $(seq 100); do
  code="$(curl -s -o "$work/snapshot.jpg" -w '%{http_code}' "$url/snapshot" || true)"
  [ "$code" = 200 ] && break; sleep 0.05
done
[ "$code" = 200 ] || fail "/snapshot answered $code"
echo "cold start to first snapshot: $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"
[ "$(head -c 2 "$work/snapshot.jpg" | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "/snapshot is not a JPEG"
[ "$(curl -s "$url/healthz")" = ok ] || fail "/healthz is not ok"
for _ in $(seq 50); do grep -q 'READY=1' "$work/appliance.notify" && break; sleep 0.1; done
grep -q 'READY=1' "$work/appliance.notify" || fail "no READY=1 on NOTIFY_SOCKET"
for _ in $(seq 30); do grep -q 'WATCHDOG=1' "$work/appliance.notify" && break; sleep 0.1; done
grep -q 'WATCHDOG=1' "$work/appliance.notify" || fail "no WATCHDOG=1 within 3 s (WATCHDOG_USEC=2 s)"
grep -q '^<6>' "$work/appliance.out" || fail "logs are not in journald format"
grep -v '^<[0-7]>' "$work/appliance.out" && fail "a log line without a priority prefix (multi-line entry?)"

kill -TERM "$app"
stop_ns=$(date +%s%N)
for _ in $(seq 50); do kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
kill -0 "$app" 2>/dev/null && fail "still running 5 s after SIGTERM"
wait "$app" && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
echo "SIGTERM to exit: $(( ($(date +%s%N) - stop_ns) / 1000000 )) ms"
grep -q 'STOPPING=1' "$work/appliance.notify" || fail "no STOPPING=1"

# The relay, on http and on https from PEM files (the trimmed binary must still carry Kestrel's HTTPS and PEM loading).
# Under the same fake systemd as the appliance: READY=1, WATCHDOG=1, journald-format logs, STOPPING=1.
make_test_ca "$work" "IP:127.0.0.1"
rnotify="$work/relay-notify.sock"
fake_systemd "$rnotify" "$work/relay.notify"
secret="0123456789abcdef-smoke-secret"; token="QDG6eK"; aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"; corp_id="ww1436e0e65a779aee"
RELAY_CONFIG_DIR="$work/none" NOTIFY_SOCKET="$rnotify" WATCHDOG_USEC=2000000 JOURNAL_STREAM=8:1 \
  "$prefix/usr/lib/relay/Relay" --urls="http://127.0.0.1:0;https://127.0.0.1:0" \
  --Relay:Tls:CertificatePath="$work/server.pem" --Relay:Tls:KeyPath="$work/server.key" \
  --Relay:StateDirectory="$work/relay-state" --Relay:Appliances:cam:Secret="$secret" --Relay:Appliances:cam:WeComToken="$token" \
  >"$work/relay.out" 2>&1 &
relay=$!; pids+=($relay)
rurl="$(listening_url "$work/relay.out" "$relay")" || fail "the relay did not start"
for _ in $(seq 50); do grep -q 'READY=1' "$work/relay.notify" && break; sleep 0.1; done
grep -q 'READY=1' "$work/relay.notify" || fail "relay: no READY=1 on NOTIFY_SOCKET"
for _ in $(seq 30); do grep -q 'WATCHDOG=1' "$work/relay.notify" && break; sleep 0.1; done
grep -q 'WATCHDOG=1' "$work/relay.notify" || fail "relay: no WATCHDOG=1 within 3 s (WATCHDOG_USEC=2 s)"
grep -q '^<6>' "$work/relay.out" || fail "relay: logs are not in journald format"
[ "$(curl -s "$rurl/healthz")" = ok ] || fail "relay /healthz"
for _ in $(seq 100); do
  rsurl="$(sed -n 's/.*Now listening on: \(https:[^ ]*\).*/\1/p' "$work/relay.out" | head -1)"; [ -n "$rsurl" ] && break; sleep 0.05
done
[ -n "$rsurl" ] || fail "the relay does not listen on https"
[ "$(curl -s --cacert "$work/ca.pem" "$rsurl/healthz")" = ok ] || fail "relay /healthz over https with the test CA"

# The trimmed appliance through the trimmed relay's tunnel (HTTP/2 over the WebSocket into its own Kestrel), with its
# WeCom feature on: a snapshot, and a callback signed and encrypted by @wecom/crypto answered with an encrypted reply.
APPLIANCE_CONFIG_DIR="$work/none" "$prefix/usr/lib/appliance/Appliance" --urls=http://127.0.0.1:0 --Camera:Source=synthetic \
  --Camera:Width=320 --Camera:Height=240 --State:Directory="$work/tunnelled-state" --Web:Password=smoke-pass \
  --Tunnel:RelayUrl="ws://127.0.0.1:${rurl##*:}/" --Tunnel:Name=cam --Tunnel:Secret="$secret" \
  --WeCom:CorpId=$corp_id --WeCom:Token=$token --WeCom:EncodingAesKey=$aes_key --WeCom:Secret=smoke-secret \
  --WeCom:AgentId=1000002 --WeCom:ApiBaseUrl=http://127.0.0.1:9/ --WeCom:AllowedUsers:0=alice >"$work/tunnelled.out" 2>&1 &
tunnelled=$!; pids+=($tunnelled)
for _ in $(seq 200); do
  [ "$(curl -s -o "$work/tunnel-snapshot.jpg" -w '%{http_code}' -u family:smoke-pass "$rurl/cam/snapshot")" = 200 ] && break; sleep 0.1
done
[ "$(head -c 2 "$work/tunnel-snapshot.jpg" 2>/dev/null | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "no JPEG snapshot through the relay's tunnel"
reply="$(node "$root/tests/node/wecom-oracle.mjs" post "$rurl/cam" $token $aes_key $corp_id alice help)" || fail "wecom oracle: $reply"
python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["status"] == 200 and r.get("signatureValid") is True and "photo" in (r.get("content") or ""), r
' "$reply" || fail "WeCom callback through the trimmed relay and appliance: $reply"
echo "trimmed binaries: snapshot through the tunnel, WeCom callback answered with an encrypted reply"
kill -TERM "$tunnelled"
kill -TERM "$relay"
for _ in $(seq 50); do kill -0 "$relay" 2>/dev/null || break; sleep 0.1; done
wait "$relay" && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "relay exit status $rc after SIGTERM"
grep -q 'STOPPING=1' "$work/relay.notify" || fail "relay: no STOPPING=1"

# The doctor on a broken settings file names it and exits non-zero; the service exits 78.
printf '{ "Camera": { "Fps": 30 \n' > "$prefix/etc/appliance/appliance.json"
APPLIANCE_CONFIG_DIR="$prefix/etc/appliance" "$prefix/usr/lib/appliance/Appliance" doctor --State:Directory="$prefix/var/lib/appliance" >"$work/doctor.out" 2>&1 && fail "doctor passed a broken file"
grep -q "✗ Configuration: Failed to load configuration from file '$prefix/etc/appliance/appliance.json'" "$work/doctor.out" || fail "doctor did not name the file: $(cat "$work/doctor.out")"
APPLIANCE_CONFIG_DIR="$prefix/etc/appliance" "$prefix/usr/lib/appliance/Appliance" --urls=http://127.0.0.1:0 >/dev/null 2>&1 && rc=0 || rc=$?
[ "$rc" = 78 ] || fail "broken settings: exit status $rc, expected 78"

# Settings files the service's user cannot read (here: a directory only root may enter, read as user nobody) stop both
# programs with exit 78 and a message naming the file, instead of being skipped as if absent.
chmod 755 "$work" # nobody must reach the installed binaries; the locked directory below stays root-only
mkdir -m 700 "$work/locked"
printf '{}\n' > "$work/locked/relay.json"; printf '{}\n' > "$work/locked/appliance.json"
as_nobody() { # a regression would start the program, so each run is bounded (timeout 20 below)
  (cd / && setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/nonexistent "$@"); }
out="$(as_nobody timeout 20 env RELAY_CONFIG_DIR="$work/locked" "$prefix/usr/lib/relay/Relay" --urls=http://127.0.0.1:0 2>&1)" && rc=0 || rc=$?
[ "$rc" = 78 ] || fail "relay with an unreadable relay.json: exit status $rc, expected 78: $out"
grep -q "the settings file $work/locked/relay.json is there but this process (user nobody) cannot read it" <<<"$out" \
  || fail "the relay did not name its unreadable settings file: $out"
out="$(as_nobody timeout 20 env APPLIANCE_CONFIG_DIR="$work/locked" "$prefix/usr/lib/appliance/Appliance" --urls=http://127.0.0.1:0 2>&1)" && rc=0 || rc=$?
[ "$rc" = 78 ] || fail "appliance with an unreadable appliance.json: exit status $rc, expected 78: $out"
grep -q "the settings file $work/locked/appliance.json is there but this process (user nobody) cannot read it" <<<"$out" \
  || fail "the appliance did not name its unreadable settings file: $out"
echo "unreadable settings files: both programs stop with exit status 78, naming the file"
echo "publish-smoke: ok"
