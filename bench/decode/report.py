#!/usr/bin/env python3
"""RESULTS.md from a harness run (bench.py --json) and seq_vs_cli.py: every library's median
time per (video, op), frame accuracy, kinema's ratio to decord, and the goals checked."""
import argparse
import datetime
import json
import platform
import subprocess

OPS = ["open", "seq", "rand32", "batch32", "tsn7", "i3d", "slowfast", "i3d_224"]
LONG_GOP = ["a", "d", "e", "f", "h", "j"]


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--main", required=True)
    ap.add_argument("--seq", required=True)
    ap.add_argument("--rerun", action="append", default=[],
                    help="a later harness JSON whose videos replace the main run's (noted in the report)")
    a = ap.parse_args()
    m = json.load(open(a.main))
    seq = json.load(open(a.seq))
    rows = m["results"]
    reruns = []
    for path in a.rerun:
        extra = json.load(open(path))["results"]
        vids = sorted({r["video"] for r in extra})
        rows = [r for r in rows if r["video"] not in vids] + extra
        reruns.append(vids)
    by = {}
    libs = []
    for r in rows:
        by[(r["lib"], r["video"], r["op"])] = r
        if r["lib"] not in libs:
            libs.append(r["lib"])
    libs = ["kinema"] + [l for l in libs if l != "kinema"]
    videos = sorted({r["video"] for r in rows})
    out = []
    p = out.append
    p("# Decode benchmark: kinema vs decord, PyAV, OpenCV, torchcodec, the ffmpeg CLI\n")
    p(f"Run {datetime.date.today().isoformat()} on {platform.node()}: {cpu_name()}, "
      f"{m['env'].get('cpus')} CPUs, {platform.platform()}.  ")
    p("Harness: `shared/bench/decode` (corpus a-j, every frame checked against the ffmpeg CLI; "
      "median of 5 repetitions after 1 warm-up, each repetition opens the video anew).  ")
    p("Reproduce: `bash bench/decode/run.sh` (or `make bench-decode`).\n")
    for vids in reruns:
        p(f"Video(s) {', '.join(vids)}: every library re-run after the main run, on the idle machine "
          "(`bench.py --videos ...`; raw JSON beside the main run's in `results/`, merged here with "
          "`report.py --rerun`).\n")

    # Goals.
    wrong = sum(r.get("acc", {}).get("bad", 0) for r in rows if r["lib"] == "kinema")
    kin_err = [f"{r['video']}/{r['op']}: {r['error']}" for r in rows if r["lib"] == "kinema" and r.get("error")]
    kin_fail = [f"{r['video']}/{r['op']}" for r in rows if r["lib"] == "kinema" and r.get("acc") and not r["acc"]["pass"]]
    slower, rand_short = [], []
    for v in videos:
        for op in OPS:
            k, d = by.get(("kinema", v, op)), by.get(("decord", v, op))
            if not k or not d or "median_ms" not in d or d.get("error"):
                continue
            if "median_ms" not in k or k["median_ms"] >= d["median_ms"]:
                slower.append(f"{v}/{op}")
            if op == "rand32" and v in LONG_GOP and k.get("median_ms", 1e18) * 3 > d["median_ms"]:
                rand_short.append(v)
    p("## Goals\n")
    p(f"- kinema frames wrong: **{wrong}** over all ops and videos; ops with errors: {kin_err or 'none'}; "
      f"ops failing the accuracy check: {kin_fail or 'none'}")
    p(f"- (op, video) pairs where kinema's median is not below decord's: **{slower or 'none'}**")
    p(f"- rand32 at least 3x faster than decord on a, d, e, f, h, j: "
      f"**{'yes' if not rand_short else 'no: ' + ', '.join(rand_short)}**")
    for v, s in seq.items():
        mm = s["median_ms"]
        p(f"- seq on {v}: kinema {mm['kinema']:.1f} ms vs `ffmpeg -threads 2 ... -f rawvideo /dev/null` "
          f"{mm['cli']:.1f} ms: **{s['ratio']:.3f}x** (kinema with 2 decoder threads: {s['ratio_2t']:.3f}x; "
          f"CLI start-up measured as its 1-frame run, {mm['cli_1frame']:.1f} ms)")
    p("")

    # Table per video.
    p("## Median ms per (video, op)\n")
    p("`x` = wrong frames (count), `err` = error or unsupported; ratio = decord / kinema.\n")
    for v in videos:
        name = next((r["video_name"] for r in rows if r["video"] == v), v)
        p(f"### {v}: {name}\n")
        present = [l for l in libs if any((l, v, op) in by for op in OPS)]
        p("| op | " + " | ".join(present) + " | decord/kinema |")
        p("|---|" + "---:|" * (len(present) + 1))
        for op in OPS:
            cells = []
            for l in present:
                r = by.get((l, v, op))
                if r is None:
                    cells.append("")
                elif r.get("error") or "median_ms" not in r:
                    cells.append("err")
                else:
                    c = f"{r['median_ms']:.1f}"
                    acc = r.get("acc")
                    if acc and not acc.get("pass", True):
                        c += f" x{acc.get('bad', '?')}"
                    cells.append(c)
            k, d = by.get(("kinema", v, op)), by.get(("decord", v, op))
            ratio = ""
            if k and d and "median_ms" in k and "median_ms" in d and not d.get("error"):
                ratio = f"{d['median_ms'] / k['median_ms']:.1f}x"
            p(f"| {op} | " + " | ".join(cells) + f" | {ratio} |")
        p("")
    errs = sorted({f"{r['lib']} {r['video']}/{r['op']}: {r['error'][:120]}" for r in rows if r.get("error")})
    if errs:
        p("## Errors and unsupported ops\n")
        for e in errs:
            p(f"- {e}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
