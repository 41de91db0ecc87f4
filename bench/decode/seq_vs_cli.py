#!/usr/bin/env python3
"""kinema's sequential decode vs the ffmpeg CLI with 2 decoder threads, on videos a and d.

Both decode every frame to RGB24: `ffmpeg -threads 2 -i V -map 0:v:0 -pix_fmt rgb24 -f rawvideo
-y /dev/null` (wall time of the process) and `kinema bench-decode V seq all` (its own timing of
open + decode + convert; process start-up excluded, which favours neither: the CLI's start-up is
~20 ms here, so the ratio is also given against the CLI minus its `-frames:v 1` run). Runs are
interleaved, median of --reps, under the harness's lock.
"""
import argparse
import fcntl
import json
import os
import statistics
import subprocess
import tempfile
import time

VIDEOS = {"a": "a_kinetics_h264.mp4", "d": "d_720p_h264.mp4"}


def cli(path, frames=None):
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-threads", "2", "-i", path,
           "-map", "0:v:0", "-pix_fmt", "rgb24"]
    if frames:
        cmd += ["-frames:v", str(frames)]
    cmd += ["-f", "rawvideo", "-y", "/dev/null"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return (time.perf_counter() - t0) * 1e3


def kinema(binary, path, threads):
    out = subprocess.run([binary, "bench-decode", path, "seq", "all", "--reps", "1", "--warmup", "0",
                          "--threads", str(threads)], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["times_ms"][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinema", required=True)
    ap.add_argument("--videos", required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", required=True)
    ap.add_argument("--lock", default=os.environ.get("BENCH_LOCK", os.path.join(tempfile.gettempdir(), "bench.lock")))
    a = ap.parse_args()
    res = {}
    fd = os.open(a.lock, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        for vid, name in VIDEOS.items():
            path = os.path.join(a.videos, name)
            cli(path), kinema(a.kinema, path, 0)  # warm-up
            t = {"cli": [], "cli_1frame": [], "kinema": [], "kinema_2t": []}
            for _ in range(a.reps):
                t["cli"].append(cli(path))
                t["cli_1frame"].append(cli(path, 1))
                t["kinema"].append(kinema(a.kinema, path, 0))
                t["kinema_2t"].append(kinema(a.kinema, path, 2))
            med = {k: statistics.median(v) for k, v in t.items()}
            res[vid] = {"times_ms": t, "median_ms": med,
                        "ratio": med["kinema"] / med["cli"],
                        "ratio_2t": med["kinema_2t"] / med["cli"],
                        "ratio_vs_cli_minus_startup": med["kinema"] / (med["cli"] - med["cli_1frame"])}
            print(vid, json.dumps(res[vid]["median_ms"]), "ratio %.3f" % res[vid]["ratio"], flush=True)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
    json.dump(res, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
