"""decord vs kinema from Python: the decode benchmark's ops, both libraries in one run.

    python bench/python/bench.py [--videos DIR] [--reps 5] [--json OUT]

Ops as in ../shared/bench/decode (same index draws): open, seq, rand32, batch32, tsn7, i3d,
slowfast, i3d_224. Each repetition opens the video anew and ends with numpy arrays; the two
libraries alternate repetition by repetition so machine noise hits both alike. The table shows
medians in ms and decord / kinema (above 1: kinema faster). Every kinema batch is also
compared with decord's frames (`same` = frames byte-equal to decord's).
Without --videos, three videos shaped like the harness's a, c and e are made with the ffmpeg
CLI (H.264 340x256 keyint 250 with B-frames, MPEG-4 part 2 320x240 in AVI, VP9 640x360).
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np

import decord
import kinema

OPS = ["open", "seq", "rand32", "batch32", "tsn7", "i3d", "slowfast", "i3d_224"]
SOURCE = "mandelbrot=size={s}:rate={r},format=yuv420p,noise=alls=10:allf=t"
VIDEOS = {
    "a_h264.mp4": ("340x256", 30, 300, "-c:v libx264 -preset medium -crf 23 -g 250 -bf 3"),
    "c_mpeg4.avi": ("320x240", 25, 175, "-c:v mpeg4 -q:v 4 -g 300"),
    "e_vp9.webm": ("640x360", 30, 300, "-c:v libvpx-vp9 -crf 32 -b:v 0 -g 250 -row-mt 1"),
}


def make_videos(d):
    os.makedirs(d, exist_ok=True)
    for name, (size, rate, n, opts) in VIDEOS.items():
        p = os.path.join(d, name)
        if not os.path.exists(p):
            src = SOURCE.format(s=size, r=rate)
            subprocess.run(f"ffmpeg -v error -y -f lavfi -i {src} -frames:v {n} {opts} {p}",
                           shell=True, check=True)
    return [os.path.join(d, n) for n in VIDEOS]


def indices(op, n, seed, vid):
    """The harness's draws (bench.py make_indices)."""
    if op in ("open", "seq"):
        return None
    base = "i3d" if op == "i3d_224" else op
    rng = random.Random(f"{seed}:{vid}:{base}")
    if op == "rand32":
        return rng.sample(range(n), min(32, n))
    if op == "batch32":
        return sorted(rng.sample(range(n), min(32, n)))
    if op == "tsn7":
        avg = n // 7
        return [k * avg + rng.randrange(avg) for k in range(7)]
    if base == "i3d":
        start = rng.randrange(0, n - 64 + 1)
        return [start + 2 * k for k in range(32)]
    start = rng.randrange(0, n - 64 + 1)
    return list(range(start, start + 64))


def run_op(lib, path, op, idx):
    size = (224, 224) if op == "i3d_224" else (-1, -1)
    vr = lib.VideoReader(path, ctx=lib.cpu(0), width=size[0], height=size[1])
    if op == "open":
        len(vr)
        return None
    if op == "seq":
        out = []
        while True:
            try:
                out.append(vr.next().asnumpy())
            except StopIteration:
                return np.stack(out)
    if op == "rand32":
        return np.stack([vr[i].asnumpy() for i in idx])
    return vr.get_batch(idx).asnumpy()


def rust_ms(kinema_bin, path, op, idx, reps):
    """Median ms of the Rust reader on the same op (the decode harness's external protocol)."""
    ids = "all" if op == "seq" else ("" if idx is None else ",".join(map(str, idx)))
    cmd = [kinema_bin, "bench-decode", path, op, ids, "--reps", str(reps), "--warmup", "1"]
    if op == "i3d_224":
        cmd += ["--resize", "224x224"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return statistics.median(json.loads(out.strip().splitlines()[-1])["times_ms"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", help="folder of videos (default: make three in bench/python/work)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--json")
    ap.add_argument("--rust", metavar="KINEMA",
                    help="also time the Rust reader through `KINEMA bench-decode` (same ops and "
                         "indices) to show what the Python binding costs")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    if a.videos:
        paths = sorted(os.path.join(a.videos, f) for f in os.listdir(a.videos))
    else:
        paths = make_videos(os.path.join(here, "work"))
    libs = {"decord": decord, "kinema": kinema}
    rows = []
    print(f"decord {decord.__version__}, kinema {kinema.__version__} ({kinema.ffmpeg_versions()})")
    rust_col = f" {'rust ms':>9} {'py/rust':>7}" if a.rust else ""
    print(f"{'video':<14} {'op':<9} {'decord ms':>10} {'kinema ms':>10} {'ratio':>6}{rust_col}  same")
    for path in paths:
        vid = os.path.basename(path)
        n = len(kinema.VideoReader(path))
        if n < 64:
            continue
        for op in a.ops.split(","):
            idx = indices(op, n, 0, vid[0])
            times = {k: [] for k in libs}
            outs, failed = {}, {}
            for rep in range(a.reps + 1):  # first repetition warms up
                order = list(libs) if rep % 2 == 0 else list(libs)[::-1]
                for name in order:
                    if name in failed:
                        continue
                    t = time.perf_counter()
                    try:
                        outs[name] = run_op(libs[name], path, op, idx)
                    except Exception as e:  # decord cannot open AV1 or frame folders
                        failed[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
                        continue
                    if rep:
                        times[name].append((time.perf_counter() - t) * 1e3)
            med = {k: statistics.median(v) if v else float("nan") for k, v in times.items()}
            if failed or outs.get("kinema") is None:
                same = "-"
            else:
                same = ("yes" if outs["decord"].shape == outs["kinema"].shape
                        and np.array_equal(outs["decord"], outs["kinema"]) else "no")
            ratio = med["decord"] / med["kinema"]
            rows.append({"video": vid, "op": op, "decord_ms": med["decord"],
                         "kinema_ms": med["kinema"], "ratio": ratio, "same_as_decord": same,
                         "failed": failed})
            note = "  " + "; ".join(f"{k} failed ({v})" for k, v in failed.items()) if failed else ""
            rust = ""
            if a.rust:
                r = rust_ms(a.rust, path, op, idx, a.reps)
                rows[-1]["rust_ms"] = r
                rust = f" {r:>9.1f} {med['kinema'] / r:>7.2f}"
            print(f"{vid:<14} {op:<9} {med['decord']:>10.1f} {med['kinema']:>10.1f} {ratio:>6.2f}{rust}  {same}{note}",
                  flush=True)
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    sys.exit(main())
