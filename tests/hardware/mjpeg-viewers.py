#!/usr/bin/env python3
"""Opens N MJPEG viewers on http://127.0.0.1:PORT/stream for D seconds (after W seconds of warm-up) and prints
one JSON line: frames per viewer, fps per viewer, capture-to-header latency (from the part's X-Timestamp: Unix
seconds for the appliance, CLOCK_MONOTONIC seconds for uStreamer, told apart by size), and how many viewers the
server refused (an HTTP status other than 200: the appliance's per-address stream limit answers 429).
An optional fifth argument, the server's PID, adds its CPU time (utime + stime from /proc/PID/stat) over exactly the
measured window: serverCpuMs."""
import json, os, socket, sys, threading, time

port, viewers, duration, warmup = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
server_pid = int(sys.argv[5]) if len(sys.argv) > 5 else None
start_at = time.monotonic() + warmup
end_at = start_at + duration
results = [None] * viewers
statuses = [None] * viewers


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
        try:
            data = sock.recv(1 << 18)
        except socket.timeout:  # a server that stalls for 10 s: this viewer's count ends there
            break
        if not data:
            break
        if statuses[index] is None and buffer == b"":
            statuses[index] = data[9:12].decode("ascii", "replace")  # "HTTP/1.1 200 OK"
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


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


threads = [threading.Thread(target=viewer, args=(i,)) for i in range(viewers)]
for t in threads:
    t.start()
cpu_window = None
if server_pid is not None:
    time.sleep(max(0.0, start_at - time.monotonic()))
    before = cpu_ticks(server_pid)
    time.sleep(max(0.0, end_at - time.monotonic()))
    cpu_window = (cpu_ticks(server_pid) - before) * 1000 // os.sysconf("SC_CLK_TCK")
for t in threads:
    t.join()
frames = [r[0] for r in results]
latencies = sorted(l for r in results for l in r[1])
pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else None
print(json.dumps({
    "viewers": viewers,
    "seconds": duration,
    "framesTotal": sum(frames),
    "refused": sum(1 for s in statuses if s != "200"),
    "fpsPerViewerMin": round(min(frames) / duration, 1),
    "fpsPerViewerMean": round(sum(frames) / viewers / duration, 1),
    "latencyMsP50": pick(0.5),
    "latencyMsP95": pick(0.95),
    **({"serverCpuMs": cpu_window} if cpu_window is not None else {}),
}))
