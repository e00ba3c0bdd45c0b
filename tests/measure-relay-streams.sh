#!/usr/bin/env bash
# Issue 21, finding 8 (not part of CI: about a minute): one leaked view link against the relay. The relay and the
# appliance run as real processes on loopback (Release build: `dotnet build Appliance.slnx -c Release` first); the
# relay trusts X-Forwarded-For from loopback, as behind the probe's stand-in proxy, and each of ATTEMPTS (default
# 2000) stream requests with the same signed /stream link comes from its own address. All of them are held open at
# once; the script prints how many were answered 200 / 429 / 503 / otherwise, the relay's log lines about refused
# streams, and the relay's RSS before, with everything held open, and after they are closed.
#   tests/measure-relay-streams.sh [RELAY SETTINGS…]   e.g. --Relay:MaxStreamsPerLink=4
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
appliance_dll="$root/Appliance/bin/Release/net10.0/Appliance.dll"
relay_dll="$root/Relay/bin/Release/net10.0/Relay.dll"
attempts="${ATTEMPTS:-2000}"
fail() { echo "FAIL: $*" >&2; exit 1; }
# shellcheck source=lanes/lib/lane-helpers.sh
. "$root/tests/lanes/lib/lane-helpers.sh"
[ -f "$relay_dll" ] && [ -f "$appliance_dll" ] || fail "build Release first"
ulimit -n 16384 # 2,000 client sockets here and 2,000 in the relay
work="$(mktemp -d /tmp/relay-streams.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
name=cam
secret="measure-secret-0123456789abcdef"
password="household-pass"
mkdir -p "$work/etc" "$work/relay-state" "$work/appliance-state"

RELAY_CONFIG_DIR="$work/etc" dotnet "$relay_dll" --urls=http://127.0.0.1:0 --Relay:StateDirectory="$work/relay-state" \
  --Relay:TrustProxyHeaders=true --Relay:Appliances:$name:Secret="$secret" "$@" >"$work/relay.out" 2>&1 &
relay=$!; pids+=("$relay")
relay_url="$(listening_url "$work/relay.out" "$relay")" || fail "the relay did not start: $(cat "$work/relay.out")"
relay_port="${relay_url##*:}"

APPLIANCE_CONFIG_DIR="$work/etc" dotnet "$appliance_dll" --urls=http://127.0.0.1:0 --State:Directory="$work/appliance-state" \
  --Camera:Source=synthetic --Camera:Width=320 --Camera:Height=240 --Camera:Fps=30 --Web:Password="$password" \
  --Tunnel:RelayUrl="ws://127.0.0.1:$relay_port/" --Tunnel:Name=$name --Tunnel:Secret="$secret" >"$work/appliance.out" 2>&1 &
appliance=$!; pids+=("$appliance")
listening_url "$work/appliance.out" "$appliance" >/dev/null || fail "the appliance did not start"
for _ in $(seq 400); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$relay_url/$name/healthz")" = 200 ] && break; sleep 0.1
done
[ "$(curl -s --max-time 5 "$relay_url/$name/healthz")" = ok ] || fail "the appliance is not served through the relay"

link="$(curl -sS --max-time 20 -u "family:$password" -X POST "$relay_url/$name/api/links?path=/stream&minutes=30" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["link"])')" || fail "could not mint a link"
# Warm-up: one stream for 2 s (JIT, pools), then the baseline.
curl -s -o /dev/null --max-time 2 "$relay_url$link" || true
sleep 3

timeout 600 python3 - "$relay_port" "$link" "$attempts" "$relay" "$work/relay.out" <<'PY'
import asyncio, collections, sys, time
port, link, attempts, relay_pid, relay_log = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")

def refusal_lines():
    with open(relay_log, errors="replace") as f:
        return [l.rstrip() for l in f if "Stream refused" in l or "connections are open" in l]

held, drains, counts = [], [], collections.Counter()
streamed = collections.Counter()

async def drain(i, reader):
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            streamed[i] += len(chunk)
    except (ConnectionError, asyncio.CancelledError):
        return

async def attempt(i, gate):
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        except (OSError, asyncio.TimeoutError) as e:
            counts[f"connect failed ({type(e).__name__})"] += 1
            return
        address = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255 or 1}"
        writer.write(f"GET {link} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Forwarded-For: {address}\r\n\r\n".encode())
        try:
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), 30)
        except (OSError, asyncio.TimeoutError) as e:
            counts[f"no answer ({type(e).__name__})"] += 1
            held.append(writer)
            return
        code = status.split()[1].decode() if len(status.split()) > 1 else "closed unanswered"
        counts[code] += 1
        held.append(writer)
        if code == "200":
            drains.append(asyncio.create_task(drain(i, reader)))

async def main():
    before = rss_mb(relay_pid)
    lines_before = len(refusal_lines())
    gate = asyncio.Semaphore(100)
    started = time.monotonic()
    await asyncio.gather(*(attempt(i, gate) for i in range(attempts)))
    opened = time.monotonic() - started
    await asyncio.sleep(5)  # everything held open; the accepted streams keep flowing
    peak = rss_mb(relay_pid)
    flowing = sum(1 for v in streamed.values() if v > 0)
    for w in held:
        w.close()
    for t in drains:
        t.cancel()
    await asyncio.gather(*drains, return_exceptions=True)
    await asyncio.sleep(10)
    after = rss_mb(relay_pid)
    lines = refusal_lines()[lines_before:]
    print(f"attempts: {attempts} with one link, each from its own X-Forwarded-For address, all held open ({opened:.1f} s to open)")
    print("answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print(f"streams that received frames: {flowing}")
    print(f"relay log lines about refusals: {len(lines)}")
    for l in lines[:5]:
        print("  " + l)
    print(f"relay RSS: before {before:.1f} MB, with all {attempts} held open {peak:.1f} MB, 10 s after closing {after:.1f} MB")

asyncio.run(main())
PY
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
