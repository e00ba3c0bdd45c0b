#!/usr/bin/env bash
# On demand (not a lane): the arm64 appliance's RSS with two sensors against none, under qemu-aarch64 user mode on
# the arm64 lane's Debian root (tests/arm64/fetch-root.sh). Three runs of the published linux-arm64 binary, synthetic
# camera, no viewer:
#   none     no sensors;
#   absent   two I2C sensors (Bme280 0x76, Sht3x 0x44) on a bus that does not exist: reported and retried every second;
#   w1       two DS18B20 on the kernel's 1-Wire sysfs layout (in a private mount namespace, as OneWireSensorTests
#            makes it; needs root and unshare), read through the binding every second.
# Prints VmRSS of each (the qemu-aarch64 process: the guest's memory plus qemu's own and its translated code) after
# SETTLE seconds (default 40) from the port opening, and what /api/status says of the sensors.
#   tests/arm64/measure-sensors-rss.sh [appliance_…_arm64.deb]   # default: artifacts/publish/appliance_*_arm64.deb
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/tests/lanes/lib/lane-helpers.sh"
deb="${1:-$(ls "$root"/artifacts/publish/appliance_*_arm64.deb | head -n1)}"
settle="${SETTLE:-40}"
work="$(mktemp -d)"; chmod 755 "$work"
pid=""
cleanup() { [ -n "$pid" ] && { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"; }
trap cleanup EXIT
sysroot="$("$root/tests/arm64/fetch-root.sh")/root"
dpkg-deb -x "$deb" "$work/unpacked"
appliance="$(find "$work/unpacked" -type f -name Appliance -perm -u+x | head -n1)"
echo "package $(basename "$deb") $(stat -c %s "$deb") bytes; binary $(stat -c %s "$appliance") bytes; load $(cut -d' ' -f1-3 /proc/loadavg)"

id=28-00000a1b2c3d
reading='58 01 4b 46 7f ff 08 10 f9 : crc=f9 YES\n58 01 4b 46 7f ff 08 10 f9 t=21500\n'
w1_layout="real=\$(mktemp -d) && mount -t sysfs sysfs \"\$real\" && mount -t tmpfs tmpfs /sys && mkdir -p /sys/devices/system /sys/bus/w1/devices && mount --bind \"\$real/devices/system\" /sys/devices/system && mkdir -p /sys/devices/w1_bus_master1/$id && printf '$id\\n' > /sys/devices/w1_bus_master1/w1_master_slaves && printf '$reading' > /sys/devices/w1_bus_master1/$id/w1_slave && ln -s ../../../devices/w1_bus_master1 /sys/bus/w1/devices/w1_bus_master1 && ln -s ../../../devices/w1_bus_master1/$id /sys/bus/w1/devices/$id"

run() { # NAME SETTINGS…: start, wait for the port and SETTLE s, print VmRSS and the sensors
  local name="$1"; shift
  local log="$work/$name.out" state="$work/state-$name"
  local command="exec qemu-aarch64 -L '$sysroot' '$appliance' --urls=http://127.0.0.1:0 --State:Directory='$state' --Camera:Source=synthetic --Camera:Width=640 --Camera:Height=480 --Camera:Fps=15 --Web:TrustLoopback=true $*"
  if [ "$name" = w1 ]; then command="$w1_layout && $command"; fi
  APPLIANCE_CONFIG_DIR="$work/none" unshare -m --propagation private sh -c "$command" >"$log" 2>&1 &
  pid=$!
  local url=""
  for _ in $(seq 24); do url="$(listening_url "$log" "$pid")" && break; kill -0 "$pid" 2>/dev/null || break; done
  [ -n "$url" ] || { echo "$name: the appliance did not start"; tail -20 "$log"; exit 1; }
  sleep "$settle"
  local rss; rss="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
  local sensors; sensors="$(curl -s "$url/api/status" | jq -c '[.sensors[]? | {name, values: [.values[]? | "\(.value) \(.unit)"], problem}]')"
  echo "$name: VmRSS $rss kB; sensors $sensors"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

run none
run absent --Sensors:indoor:Type=Bme280 --Sensors:indoor:Bus=7 --Sensors:indoor:Address=118 --Sensors:indoor:IntervalSeconds=1 \
  --Sensors:outdoor:Type=Sht3x --Sensors:outdoor:Bus=7 --Sensors:outdoor:Address=68 --Sensors:outdoor:IntervalSeconds=1
run w1 --Sensors:tank:Type=Ds18b20 --Sensors:tank:Device=$id --Sensors:tank:IntervalSeconds=1 \
  --Sensors:first:Type=Ds18b20 --Sensors:first:Bus=1 --Sensors:first:IntervalSeconds=1
