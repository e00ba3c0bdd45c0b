#!/usr/bin/env python3
"""Opens N MJPEG viewers on http://127.0.0.1:PORT/stream for D seconds (after W seconds of warm-up) and prints
one JSON line: frames per viewer, fps per viewer, capture-to-header latency (from the part's X-Timestamp: Unix
seconds for the appliance, CLOCK_MONOTONIC seconds for uStreamer, told apart by size)."""
import json, socket, sys, threading, time

port, viewers, duration, warmup = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
start_at = time.monotonic() + warmup
end_at = start_at + duration
results = [None] * viewers


def viewer(index):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    buffer = b""
    frames = 0
    latencies = []
    while True:
        now = time.monotonic()
        if now >= end_at:
            break
        data = sock.recv(1 << 18)
        if not data:
            break
        buffer += data
        while True:
            part = buffer.find(b"Content-Type: image/jpeg")
            if part < 0:
                buffer = buffer[-64:]
                break
            end = buffer.find(b"\r\n\r\n", part)
            if end < 0:
                buffer = buffer[part:]
                break
            headers = buffer[part:end]
            buffer = buffer[end + 4:]
            if time.monotonic() < start_at:
                continue
            frames += 1
            for line in headers.split(b"\r\n"):
                if line.startswith(b"X-Timestamp: "):
                    stamp = float(line[13:])
                    arrived = time.time() if stamp > 1e9 else time.monotonic()
                    latencies.append(arrived - stamp)
    sock.close()
    results[index] = (frames, latencies)


threads = [threading.Thread(target=viewer, args=(i,)) for i in range(viewers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
frames = [r[0] for r in results]
latencies = sorted(l for r in results for l in r[1])
pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else None
print(json.dumps({
    "viewers": viewers,
    "seconds": duration,
    "framesTotal": sum(frames),
    "fpsPerViewerMin": round(min(frames) / duration, 1),
    "fpsPerViewerMean": round(sum(frames) / viewers / duration, 1),
    "latencyMsP50": pick(0.5),
    "latencyMsP95": pick(0.95),
}))
