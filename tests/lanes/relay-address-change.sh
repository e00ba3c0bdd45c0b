#!/usr/bin/env bash
# The home's address changes under a live tunnel. The relay and the appliance run as real processes in two network
# namespaces this lane creates, joined by a veth pair (nothing touches the machine's own interfaces or routes); the
# appliance dials wss:// to the relay, which serves TLS itself from PEM files made here by openssl. Then the
# appliance's address is replaced (10.211.0.2 → 10.211.0.3) while the tunnel is up: the relay's packets to the old
# address are lost without an error, as when a router gets a new public address and its NAT mapping disappears.
# Measures the time until the appliance notices (target ≤ 20 s) and until visitors are served again, through a
# session the relay shows as coming from the new address. Needs root and the Release build. Exit 0 = pass.
# lane-seconds: 24 (alone on the 2-core machine; tests/run-all.sh reads it to start the longest chains first)
# lane-kind: light (waits on sockets and timers; runs beside the qemu lanes)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
appliance_dll="$root/Appliance/bin/Release/net10.0/Appliance.dll"
relay_dll="$root/Relay/bin/Release/net10.0/Relay.dll"
work="$(mktemp -d)"
relay_ns="relay-lane-$$"
home_ns="home-lane-$$"
pids=()
in_namespaces() { ip netns pids "$relay_ns" 2>/dev/null || true; ip netns pids "$home_ns" 2>/dev/null || true; }
cleanup() {
  # Every process in the two namespaces (the pids of the background jobs are subshells, not the programs).
  local left
  left="$(in_namespaces)"; if [ -n "$left" ]; then kill -TERM $left 2>/dev/null || true; fi
  for _ in $(seq 50); do [ -z "$(in_namespaces)" ] && break; sleep 0.1; done
  left="$(in_namespaces)"; if [ -n "$left" ]; then kill -KILL $left 2>/dev/null || true; fi
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$relay_ns" 2>/dev/null || true # takes the veth pair with it
  ip netns del "$home_ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "relay-address-change: FAIL: $*"
  for f in "$work"/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }; done
  exit 1
}
[ -f "$appliance_dll" ] && [ -f "$relay_dll" ] || fail "build Release first (dotnet build Appliance.slnx -c Release)"
source "$root/tests/lanes/lib/lane-helpers.sh"

# Two namespaces and a cable between them; loopback up in each (the processes' own HTTP ports are there).
if ! ip netns add "$relay_ns" 2>"$work/netns.err"; then
  # Exit 77: run-all.sh counts the lane as skipped (not passed) where the machine allows no network namespaces.
  echo "relay-address-change: SKIPPED: cannot create a network namespace: $(cat "$work/netns.err")"; exit 77
fi
ip netns add "$home_ns" || fail "cannot create a second network namespace"
ip -n "$relay_ns" link add vrelay type veth peer name vhome netns "$home_ns" || fail "cannot create a veth pair"
ip -n "$relay_ns" addr add 10.211.0.1/24 dev vrelay
ip -n "$home_ns" addr add 10.211.0.2/24 dev vhome
for ns in "$relay_ns" "$home_ns"; do ip -n "$ns" link set lo up; done
ip -n "$relay_ns" link set vrelay up
ip -n "$home_ns" link set vhome up
in_relay() { ip netns exec "$relay_ns" "$@"; }
in_home() { ip netns exec "$home_ns" "$@"; }

make_test_ca "$work" "IP:10.211.0.1"
name=cam
secret="0123456789abcdef-lane-secret"
password="household-pass"
mkdir -p "$work/relay-state" "$work/appliance-state" "$work/etc"

# The relay: visitors on its namespace's loopback, appliances on https://10.211.0.1:8443.
in_relay env RELAY_CONFIG_DIR="$work/etc" dotnet "$relay_dll" --urls="http://127.0.0.1:0;https://10.211.0.1:8443" \
  --Relay:Tls:CertificatePath="$work/server.pem" --Relay:Tls:KeyPath="$work/server.key" \
  --Relay:StateDirectory="$work/relay-state" --Relay:AdminPassword=admin-pass \
  --Relay:Appliances:$name:Secret="$secret" >"$work/relay.out" 2>&1 &
relay=$!; pids+=("$relay")
relay_url="$(listening_url "$work/relay.out" "$relay")" || fail "the relay did not start"

# The appliance at home, trusting the test CA only for the tunnel.
in_home env APPLIANCE_CONFIG_DIR="$work/etc" SSL_CERT_FILE="$work/ca.pem" dotnet "$appliance_dll" --urls=http://127.0.0.1:0 \
  --State:Directory="$work/appliance-state" --Camera:Source=synthetic --Camera:Width=320 --Camera:Height=240 \
  --Web:Password="$password" --Tunnel:RelayUrl="wss://10.211.0.1:8443/" --Tunnel:Name=$name --Tunnel:Secret="$secret" \
  >"$work/appliance.out" 2>&1 &
appliance=$!; pids+=("$appliance")
appliance_url="$(listening_url "$work/appliance.out" "$appliance")" || fail "the appliance did not start"

tunnel_field() { in_home curl -s --max-time 2 "$appliance_url/api/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tunnel"][sys.argv[1]])' "$1" 2>/dev/null || echo unknown; }
tunnel_state() { tunnel_field state; }
remote_at_relay() { in_relay curl -s --max-time 2 -u admin:admin-pass "$relay_url/status" \
  | python3 -c 'import json,sys; print([a for a in json.load(sys.stdin)["appliances"] if a["name"] == sys.argv[1]][0]["remote"])' "$name" 2>/dev/null || echo unknown; }
served() { [ "$(in_relay curl -s --max-time 1 -o /dev/null -w '%{http_code}' -u "family:$password" "$relay_url/$name/healthz" 2>/dev/null)" = 200 ]; }
wait_served() { # SECONDS
  local deadline=$(( $(now_ms) + $1 * 1000 ))
  until served; do [ "$(now_ms)" -lt "$deadline" ] || return 1; sleep 0.05; done
}
wait_served 20 || fail "the appliance is not served through the relay (tunnel: $(tunnel_state))"
[ "$(remote_at_relay)" = 10.211.0.2 ] || fail "the relay shows the appliance at $(remote_at_relay), expected 10.211.0.2"
echo "tunnel up (wss, relay's own TLS) from 10.211.0.2"

sessions_before="$(tunnel_field sessions)"
# The change: the old address goes, a new one comes (deleting first: a primary address takes its secondaries).
ip -n "$home_ns" addr del 10.211.0.2/24 dev vhome
ip -n "$home_ns" addr add 10.211.0.3/24 dev vhome
changed=$(now_ms); detected=""; served_again=""
# Noticed: the tunnel is down, or already up again as a new session (a reconnect can be quicker than one poll).
while [ $(( $(now_ms) - changed )) -lt 40000 ]; do
  now=$(( $(now_ms) - changed ))
  if [ -z "$detected" ] && { [ "$(tunnel_state)" != connected ] || [ "$(tunnel_field sessions)" != "$sessions_before" ]; }; then detected=$now; fi
  if [ -n "$detected" ] && served && [ "$(remote_at_relay)" = 10.211.0.3 ]; then served_again=$(( $(now_ms) - changed )); break; fi
  sleep 0.1
done
[ -n "$detected" ] || fail "the appliance did not notice in 40 s that its address changed (tunnel: $(tunnel_state))"
[ -n "$served_again" ] || fail "not served again from the new address within 40 s (tunnel: $(tunnel_state), relay sees $(remote_at_relay))"
echo "fault address change: dead link detected by the appliance after ${detected} ms; served again from 10.211.0.3 after ${served_again} ms"

[ "$detected" -le 20000 ] || fail "dead link detected after ${detected} ms (target ≤ 20 s)"
[ $(( served_again - detected )) -le 5000 ] || fail "served again $(( served_again - detected )) ms after the appliance noticed (target ≤ 5 s)"
echo "relay-address-change: ok"
