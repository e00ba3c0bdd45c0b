#!/usr/bin/env python3
"""The table of tests/arm64/measure-vs-ustreamer.sh: µStreamer vs the Appliance per viewer count (the median of the
rounds when there are several), each with the Appliance's ratio and the issue's target; one table per appliance variant.
   measure-table.py RESULTS.jsonl"""
import json, statistics, sys

runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]


def median(server, viewers, pick):
    values = [pick(r) for r in runs if r["server"] == server and r["viewers"] == viewers]
    return statistics.median(values) if values else None


def verdict(ok):
    return "met" if ok else "**missed**"


rows = [
    # (what, pick, format, target: (description, test of appliance vs ustreamer))
    ("first served frame (s)", lambda r: r["firstFrameMs"] / 1000, "{:.2f}",
     ("≤ 2×", lambda a, u: a <= 2 * u)),
    ("VmRSS after the window (MB)", lambda r: r["rssKb"] / 1024, "{:.1f}", ("≤ 60 MB", lambda a, u: a <= 60)),
    ("VmHWM, peak (MB)", lambda r: r["rssPeakKb"] / 1024, "{:.1f}", ("≤ 60 MB", lambda a, u: a <= 60)),
    ("CPU per delivered frame (ms)", lambda r: r["cpuMsPerDeliveredFrame"], "{:.2f}",
     ("≤ 1.0×", lambda a, u: a <= u)),
    ("fps per viewer, min", lambda r: r["result"]["fpsPerViewerMin"], "{:.1f}", ("≥ µStreamer's", lambda a, u: a >= u)),
    ("fps per viewer, mean", lambda r: r["result"]["fpsPerViewerMean"], "{:.1f}", None),
    ("server CPU (cores)", lambda r: r["cpuMs"] / 1000 / r["result"]["seconds"], "{:.2f}", None),
    ("viewers refused (not 200)", lambda r: r["result"].get("refused", 0), "{:.0f}", ("none", lambda a, u: a == 0)),
]
rounds = max((r.get("round", 1) for r in runs), default=0)
appliances = ["appliance"] + sorted({r["server"] for r in runs if r["server"].startswith("appliance:")})
print(f"µStreamer vs Appliance, arm64 guest (TCG), vivid 1280x720 YUYV 30 fps; {rounds} round(s), median")
for appliance in appliances:
    print()
    if appliance != "appliance":
        print(f"Variant {appliance} (the appliance with extra environment, same boot):")
        print()
    print(f"| viewers | measure | µStreamer | {appliance} | ratio | target |")
    print("|---|---|---|---|---|---|")
    for viewers in sorted({r["viewers"] for r in runs}):
        for what, pick, fmt, target in rows:
            u, a = median("ustreamer", viewers, pick), median(appliance, viewers, pick)
            if u is None or a is None:
                continue
            ratio = f"{a / u:.2f}×" if u else "—"
            goal = f"{target[0]}: {verdict(target[1](a, u))}" if target else ""
            print(f"| {viewers} | {what} | {fmt.format(u)} | {fmt.format(a)} | {ratio} | {goal} |")
