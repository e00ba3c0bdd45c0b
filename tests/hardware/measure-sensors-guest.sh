#!/usr/bin/env bash
# Runs inside the qemu guest (see measure-sensors.sh): the published appliance's RSS with no sensor and with two
# Bme280 sensors (both on i2c-stub's 0x76, each its own I2cDevice and binding), after the same settle time.
# Prints one JSON line per run.
set -euo pipefail
binary="$1"
settle="${MEASURE_SECONDS:-40}"
bus=""
for dir in /sys/class/i2c-dev/*; do
  if [ "$(cat "$dir/name")" = "SMBus stub driver" ]; then bus="${dir##*/i2c-}"; fi
done
[ -n "$bus" ] || { echo "measure: no i2c-stub bus" >&2; exit 1; }

# A BME280's id, the datasheet's calibration words and raw readings, written through I2C_SMBUS byte-data transfers
# (i2c-stub is SMBus only).
python3 - "$bus" <<'PY'
import ctypes, fcntl, os, sys
I2C_SLAVE, I2C_SMBUS, WRITE, BYTE_DATA = 0x0703, 0x0720, 0, 2
class Args(ctypes.Structure):
    _fields_ = [("read_write", ctypes.c_uint8), ("command", ctypes.c_uint8), ("size", ctypes.c_uint32), ("data", ctypes.c_void_p)]
fd = os.open(f"/dev/i2c-{sys.argv[1]}", os.O_RDWR)
fcntl.ioctl(fd, I2C_SLAVE, 0x76)
words = [27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000]
regs = {0xD0: 0x60, 0xF3: 0, 0xF4: 0, 0xA1: 75, 0xE1: 362 & 0xFF, 0xE2: 362 >> 8, 0xE3: 0, 0xE4: 324 >> 4,
        0xE5: (324 & 0x0F) | ((50 & 0x0F) << 4), 0xE6: 50 >> 4, 0xE7: 30}
for i, w in enumerate(words):
    regs[0x88 + 2 * i] = w & 0xFF
    regs[0x89 + 2 * i] = (w & 0xFFFF) >> 8
adc_p, adc_t, adc_h = 415148, 519888, 30000
regs.update({0xF7: adc_p >> 12, 0xF8: (adc_p >> 4) & 0xFF, 0xF9: (adc_p & 0xF) << 4, 0xFA: adc_t >> 12,
             0xFB: (adc_t >> 4) & 0xFF, 0xFC: (adc_t & 0xF) << 4, 0xFD: adc_h >> 8, 0xFE: adc_h & 0xFF})
for reg, value in regs.items():
    data = ctypes.create_string_buffer(bytes([value]) + bytes(33))
    fcntl.ioctl(fd, I2C_SMBUS, Args(WRITE, reg, BYTE_DATA, ctypes.cast(data, ctypes.c_void_p).value))
os.close(fd)
PY

wait_port() {
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "measure: nothing listens on port $1" >&2; return 1
}

run() { # name port settings...
  local name=$1 port=$2; shift 2
  "$binary" --urls="http://127.0.0.1:$port" --State:Directory="/tmp/state-$name" --Camera:Source=synthetic \
    --Web:TrustLoopback=true --Logging:LogLevel:Default=Warning "$@" > "/tmp/hwlane/sensors-$name.log" 2>&1 &
  local pid=$!
  wait_port "$port"
  sleep "$settle"
  local status; status=$(exec 3<>"/dev/tcp/127.0.0.1/$port"; printf 'GET /api/status HTTP/1.0\r\nHost: x\r\n\r\n' >&3; cat <&3 | tr -d '\r' | sed '1,/^$/d')
  local rss; rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  local hwm; hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local sensors; sensors=$(python3 -c 'import json,sys; s=json.loads(sys.stdin.read()); print(json.dumps(s.get("sensors")))' <<<"$status" 2>/dev/null || echo null)
  echo "{\"run\": \"$name\", \"rssKb\": $rss, \"hwmKb\": $hwm, \"settleSeconds\": $settle, \"sensors\": $sensors}"
}

run none 19330
run two 19331 --Sensors:indoor:Type=Bme280 --Sensors:indoor:Bus="$bus" --Sensors:indoor:Address=118 --Sensors:indoor:IntervalSeconds=1 \
  --Sensors:outdoor:Type=Bme280 --Sensors:outdoor:Bus="$bus" --Sensors:outdoor:Address=118 --Sensors:outdoor:IntervalSeconds=1
