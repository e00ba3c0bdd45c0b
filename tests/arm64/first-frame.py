#!/usr/bin/env python3
"""Polls http://127.0.0.1:PORT/snapshot until it serves a camera frame: a JPEG of WIDTHxHEIGHT that is not a
placeholder (the appliance marks its "no camera" picture with X-Camera-State: unavailable; µStreamer serves its
own 640x480 "no signal" picture with X-UStreamer-Online: false). Prints the milliseconds from START_NS (the server's
start, `date +%s%N`) to that response; exits 1 after TIMEOUT seconds.
   first-frame.py PORT START_NS WIDTH HEIGHT TIMEOUT"""
import http.client, sys, time

port, start_ns, width, height, timeout = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                          float(sys.argv[5]))


def jpeg_size(data):
    """(width, height) from the JPEG's first SOF marker, or None."""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker, length = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        i += 2 + length
    return None


deadline = time.monotonic() + timeout
last = "nothing listened"
while time.monotonic() < deadline:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/snapshot")
        response = connection.getresponse()
        body = response.read()
        stamp = time.time_ns()
        connection.close()
        placeholder = (response.getheader("X-Camera-State") == "unavailable"
                       or response.getheader("X-UStreamer-Online") == "false")
        size = jpeg_size(body)
        if response.status == 200 and not placeholder and size == (width, height):
            print((stamp - start_ns) // 1_000_000)
            sys.exit(0)
        last = f"HTTP {response.status}, {len(body)} bytes, JPEG size {size}, placeholder {placeholder}"
    except (OSError, http.client.HTTPException) as error:
        last = str(error) or type(error).__name__
    time.sleep(0.05)
print(f"first-frame: no {width}x{height} camera frame on port {port} within {timeout:.0f} s (last: {last})",
      file=sys.stderr)
sys.exit(1)
