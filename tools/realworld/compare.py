#!/usr/bin/env python3
"""kinema against decord on the real-world corpus: exactness and speed, as a markdown table.

    python tools/realworld/compare.py [DEST] [--files a,b] [--reps 3] [--timeout 120]
                                      [--kinema-python PY] [--decord-python PY]

DEST defaults like check.py (${KINEMA_CACHE:-~/.cache/kinema}/realworld). Runs under one
interpreter that has both packages (`target/pyenv/bin/python -m pip install eva-decord==0.6.1`);
--kinema-python / --decord-python run that library's half under another interpreter instead.

Every piece of work on a file runs in a fresh subprocess of this script (`--worker`) that imports
only the one library, prints JSON and is killed after --timeout seconds, so a hang or a crash in
a library costs one cell of the table, and the two libraries' bundled FFmpeg builds never share a
process.

Truth is check.py's: `ffmpeg -i F -map 0:N -fps_mode passthrough -pix_fmt rgb24 -f framemd5`,
N the stream kinema reads (the first video stream when kinema refuses the file). decord always
reads FFmpeg's best video stream and does not say which; it is checked against the same truth.
"exact" = len(vr) equals the CLI's frame count and frame i's RGB24 md5 equals the CLI's frame i
for every i; otherwise the first differing frame (an index past the CLI's last frame counts as
differing), "count" when all frames agree but there are fewer of them, or the error.

Timings (ms, median of --reps runs, each opening the file anew), only on files both open:
  seq    = open + every frame in order, `vr.get_batch(list(range(i, i + CHUNK))).asnumpy()` in
           chunks of CHUNK frames (the same call for both libraries)
  rand32 = open + 32 single-frame reads `vr[i].asnumpy()` at the same indices for both,
           random.Random(SEED).randrange(min(len)) 32 times
Both libraries run with their default threads (num_threads=0).
"""

import argparse
import csv
import hashlib
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import describe  # noqa: E402  (the corpus's ffprobe helpers)
from check import cli_md5  # noqa: E402  (the CLI's truth, as check.py makes it)
CHUNK = 16
SEED = 0
NRAND = 32
LONG = 200
MARK = "@@compare-json "


# ---------------------------------------------------------------------------------------------
# worker: runs in a subprocess, imports one library, prints one JSON line


def _short(e):
    """First meaningful line of an exception, without decord's `[time] file.cc:line:` prefix."""
    s = str(e).strip() or type(e).__name__
    lines = [l.strip() for l in s.splitlines() if l.strip() and not l.strip().startswith("Stack trace")]
    line = lines[0] if lines else s
    if line.startswith("[") and "] " in line:
        line = line.split("] ", 1)[1]
        if ": " in line and (".cc:" in line.split(": ", 1)[0] or ".h:" in line.split(": ", 1)[0]):
            line = line.split(": ", 1)[1]
    return line[:160]


def _open(lib, path):
    if lib == "kinema":
        import kinema as mod
    else:
        import decord as mod
    return mod.VideoReader(path)


def worker_check(lib, path):
    """len, stream, and the md5 of every frame in order (get_batch in chunks, then frame by frame
    inside a chunk that fails, to name the frame)."""
    try:
        vr = _open(lib, path)
    except Exception as e:
        return {"opened": False, "error": _short(e)}
    n = len(vr)
    out = {"opened": True, "len": n, "md5": [], "error": None, "error_at": None}
    if lib == "kinema":
        out["stream"] = vr.stream_index()
    for a in range(0, n, CHUNK):
        idx = list(range(a, min(a + CHUNK, n)))
        try:
            batch = vr.get_batch(idx).asnumpy()
            out["md5"] += [hashlib.md5(batch[k].tobytes()).hexdigest() for k in range(len(idx))]
            continue
        except Exception as e:
            first = e
        # locate the failing frame with a fresh reader
        try:
            vr = _open(lib, path)
            for i in idx:
                out["md5"].append(hashlib.md5(vr[i].asnumpy().tobytes()).hexdigest())
        except Exception as e:
            out["error"], out["error_at"] = _short(e), len(out["md5"])
            return out
        out["error"], out["error_at"] = "get_batch: " + _short(first), a  # batch failed, frames did not
        return out
    out.update(worker_semantics(vr, n))
    return out


def worker_semantics(vr, n):
    """What decord's API says about the file: every frame's timestamps, the key frames, the last
    frame by a negative index, and what reading one past the end raises."""
    import numpy as np

    out = {}
    try:
        out["ts"] = np.asarray(vr.get_frame_timestamp(list(range(n))), dtype=float).reshape(-1, 2).tolist()
    except Exception as e:
        out["ts_error"] = _short(e)
    try:
        out["keys"] = [int(k) for k in vr.get_key_indices()]
    except Exception as e:
        out["keys_error"] = _short(e)
    try:
        out["neg"] = hashlib.md5(vr[-1].asnumpy().tobytes()).hexdigest() if n else None
    except Exception as e:
        out["neg"] = "error: " + _short(e)
    try:
        vr[n]
        out["past_end"] = "no error"
    except Exception as e:
        out["past_end"] = type(e).__name__
    return out


def worker_time(lib, path, reps, indices):
    def seq():
        t = time.perf_counter()
        vr = _open(lib, path)
        n = len(vr)
        for a in range(0, n, CHUNK):
            vr.get_batch(list(range(a, min(a + CHUNK, n)))).asnumpy()
        t = time.perf_counter() - t
        del vr
        return t * 1e3

    def rand():
        t = time.perf_counter()
        vr = _open(lib, path)
        for i in indices:
            vr[i].asnumpy()
        t = time.perf_counter() - t
        del vr
        return t * 1e3

    out = {}
    for key, f in (("seq", seq), ("rand", rand)):
        try:
            out[key] = [f() for _ in range(reps)]
        except Exception as e:
            out[key + "_error"] = _short(e)
    return out


def worker_main(argv):
    lib, mode, path = argv[:3]
    if mode == "check":
        res = worker_check(lib, path)
    else:
        res = worker_time(lib, path, int(argv[3]), json.loads(argv[4]))
    text = json.dumps(res).replace(json.dumps(path)[1:-1], os.path.basename(path))
    sys.stdout.write("\n" + MARK + text + "\n")
    sys.stdout.flush()
    return 0


# ---------------------------------------------------------------------------------------------
# parent


def run_worker(python, args, timeout):
    """The worker's JSON, or {"crash": text} when it hangs, dies or prints none."""
    cmd = [python, os.path.abspath(__file__), "--worker"] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"crash": f"timeout {timeout:g} s"}
    for line in reversed(p.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    if p.returncode < 0:
        return {"crash": f"crash (signal {-p.returncode})"}
    tail = [l for l in p.stderr.splitlines() if l.strip()]
    return {"crash": f"exit {p.returncode}: " + (_short(tail[-1]) if tail else "no output")}


def probe(path, stream):
    """(codec, container) of the stream read (the first video stream if None), as describe.py
    labels them."""
    info = describe.probe(path)
    fmt = (info.get("format") or {}).get("format_name", "?")
    streams = info.get("streams", [])
    vs = [s for s in streams if s.get("index") == stream] if stream is not None else []
    vs = vs or [s for s in streams if s.get("codec_type") == "video"]
    if not vs:
        return "none", fmt
    return describe.codec_label(vs[0]), fmt


def verdict(res, truth):
    """'yes', 'refused', 'frame i', 'count', 'error at i: ...', or the crash."""
    if "crash" in res:
        return res["crash"]
    if not res["opened"]:
        return "refused: " + res["error"]
    md5 = res["md5"]
    for i, h in enumerate(md5):
        if i >= len(truth) or h != truth[i]:
            return f"frame {i}"
    if res["error"]:
        return f"error at {res['error_at']}: {res['error']}"
    if res["len"] != len(truth):
        return "count"
    if not truth:
        return "0 frames, not refused"
    return "yes"


def semantics(k, d):
    """decord's API on both readers, where both open the file: the largest difference of frame
    start times over the frames both have, key frame lists, vr[-1], and what vr[len] raises."""
    if not (k.get("opened") and d.get("opened")):
        return None
    out = {}
    kt, dt = k.get("ts"), d.get("ts")
    if kt is not None and dt is not None:
        m = min(len(kt), len(dt))
        out["ts"] = max((abs(kt[i][0] - dt[i][0]) for i in range(m)), default=0.0)
        out["ts0"] = (kt[0][0] if kt else None, dt[0][0] if dt else None)
    else:
        out["ts"] = k.get("ts_error") or d.get("ts_error")
    out["keys"] = ("same" if k.get("keys") == d.get("keys")
                   else f"kinema {len(k.get('keys') or [])}, decord {len(d.get('keys') or [])}")

    def neg(x):
        v = x.get("neg")
        if v is None:
            return "-"
        if v.startswith("error"):
            return v
        return "yes" if v == (x.get("md5") or [None])[-1] else "differs from its last frame"

    out["neg"] = (neg(k), neg(d))
    out["past_end"] = (k.get("past_end") or "-", d.get("past_end") or "-")
    return out


def esc(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def median(v):
    return statistics.median(v) if v else None


def fmt_ms(v):
    return "-" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dest", nargs="?", default=os.path.expanduser(
        os.path.join(os.environ.get("KINEMA_CACHE", "~/.cache/kinema"), "realworld")))
    ap.add_argument("--files", help="comma-separated file names (default: every manifest file in DEST)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=120, help="seconds per worker subprocess")
    ap.add_argument("--kinema-python", default=sys.executable)
    ap.add_argument("--decord-python", default=sys.executable)
    a = ap.parse_args(argv)

    manifest = list(csv.reader(open(os.path.join(HERE, "manifest.tsv")), delimiter="\t"))[1:]
    pkg = {r[0]: f"{r[1]}:{r[2]}=={r[3]}" for r in manifest}
    derived = [l.split("\t") for l in open(os.path.join(HERE, "derived.tsv")).read().splitlines()
               if l.strip() and not l.startswith("#")]
    pkg.update({r[0]: "made from " + r[1].replace(",", ", ") for r in derived})
    names = [r[0] for r in manifest] + [r[0] for r in derived]
    if a.files:
        want = [f.strip() for f in a.files.split(",") if f.strip()]
        unknown = [f for f in want if f not in pkg]
        if unknown:
            sys.exit(f"not in manifest.tsv: {', '.join(unknown)}")
        names = want
    missing = [n for n in names if not os.path.isfile(os.path.join(a.dest, n))]
    names = [n for n in names if n not in missing]

    def version(py, mod):
        code = (f"import {mod}, importlib.metadata as m\n"
                f"for d in {('eva-decord', 'decord') if mod == 'decord' else ('kinema',)!r}:\n"
                f"    try: print(d + '==' + m.version(d)); break\n"
                f"    except m.PackageNotFoundError: pass\n"
                f"else: print({mod!r} + ' ' + {mod}.__version__)")
        r = subprocess.run([py, "-c", code], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    kv, dv = version(a.kinema_python, "kinema"), version(a.decord_python, "decord")
    if kv is None or dv is None:
        sys.exit("cannot import " + " and ".join(m for m, v in (("kinema", kv), ("decord", dv)) if v is None)
                 + " (pip install eva-decord==0.6.1, or pass --kinema-python / --decord-python)")

    rows = []
    for name in names:
        path = os.path.join(a.dest, name)
        print(f"{name} ...", file=sys.stderr, flush=True)
        k = run_worker(a.kinema_python, ["kinema", "check", path], a.timeout)
        stream = k.get("stream") if k.get("opened") else None
        truth = cli_md5(path, stream if stream is not None else "v:0")
        d = run_worker(a.decord_python, ["decord", "check", path], a.timeout)
        codec, container = probe(path, stream)
        r = {"name": name, "pkg": pkg[name], "codec": codec, "container": container, "cli": len(truth),
             "k_len": k.get("len", "-") if k.get("opened") else "-", "k_ok": verdict(k, truth),
             "d_len": d.get("len", "-") if d.get("opened") else "-", "d_ok": verdict(d, truth)}
        r["sem"] = semantics(k, d)
        if k.get("opened") and d.get("opened") and min(k["len"], d["len"]) > 0:
            n = min(k["len"], d["len"])
            rng = random.Random(SEED)
            idx = [rng.randrange(n) for _ in range(NRAND)]
            for lib, py in (("k", a.kinema_python), ("d", a.decord_python)):
                t = run_worker(py, ["kinema" if lib == "k" else "decord", "time", path, a.reps, json.dumps(idx)],
                               a.timeout)
                r[lib + "_seq"] = median(t.get("seq"))
                r[lib + "_rand"] = median(t.get("rand"))
                r[lib + "_terr"] = t.get("crash") or t.get("seq_error") or t.get("rand_error")
        rows.append(r)

    # ---- table
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {kv} vs {dv} on the real-world corpus\n")
    print(f"Truth: `ffmpeg -map 0:N -fps_mode passthrough -pix_fmt rgb24 -f framemd5` (ffmpeg "
          f"{ffmpeg_version()}), N = the stream kinema reads (decord reads its own default best stream, "
          f"compared against the same truth).  ")
    print(f"exact: every frame i in 0..len read with `get_batch` in chunks of {CHUNK} equals the CLI's frame i "
          f"and len equals the CLI's count; otherwise the first differing frame, `count` (frames agree, fewer "
          f"of them), or the error.  ")
    print(f"seq = open + `vr.get_batch(list(range(i, i+{CHUNK}))).asnumpy()` over all frames (both libraries); "
          f"rand32 = open + {NRAND} × `vr[i].asnumpy()` at the same indices "
          f"(`random.Random({SEED}).randrange(min(len))`); ms, median of {a.reps}, each opening anew; "
          f"default threads; {os.cpu_count()} CPUs, load {load:.1f} at the end; ratio = decord / kinema "
          f"(> 1: kinema faster). Timings only where both libraries open the file.\n")
    print("| file | package | codec | container | CLI frames | kinema frames | kinema exact | decord frames "
          "| decord exact | kinema seq ms | decord seq ms | kinema rand32 ms | decord rand32 ms "
          "| seq ratio | rand32 ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def cut(s, n=90):
        return s if len(s) <= n else s[:n - 3] + "..."

    def ratio(r, key):
        kk, dd = r.get("k_" + key), r.get("d_" + key)
        return dd / kk if kk and dd else None

    for r in rows:
        cells = [r["name"], r["pkg"], r["codec"], r["container"], r["cli"], r["k_len"],
                 "yes" if r["k_ok"] == "yes" else "refused" if r["k_ok"].startswith("refused") else
                 "no (" + cut(r["k_ok"]) + ")", r["d_len"], cut(r["d_ok"])]
        timed = "k_seq" in r
        for key in ("seq", "rand"):
            for lib in ("k", "d"):
                v = r.get(f"{lib}_{key}")
                cells.append(fmt_ms(v) if v is not None else ("error" if timed and r.get(lib + "_terr") else "-"))
        for key in ("seq", "rand"):
            q = ratio(r, key)
            cells.append("-" if q is None else f"{q:.2f}")
        print("| " + " | ".join(esc(c) for c in cells) + " |")
    errs = [(r["name"], lib, r[lib + "_terr"]) for r in rows for lib in ("k", "d") if r.get(lib + "_terr")]
    if errs:
        print("\nTiming errors: " + "; ".join(f"{n} ({'kinema' if l == 'k' else 'decord'}): {esc(e)}"
                                               for n, l, e in errs))

    # ---- summary
    nfiles = len(rows)
    cli0 = sum(r["cli"] == 0 for r in rows)

    def tally(key):
        ex = sum(r[key] == "yes" for r in rows)
        ref = [r for r in rows if r[key].startswith("refused")]
        return f"{ex} exactly, refuses {len(ref)} ({sum(r['cli'] == 0 for r in ref)} of them files the CLI decodes no frame from)"

    print(f"\n**Summary:** {nfiles} files, {cli0} of which the CLI decodes no frame from. "
          f"kinema reads {tally('k_ok')}; decord reads {tally('d_ok')}.  ")

    def geomean(key, sel):
        qs = [ratio(r, key) for r in sel]
        qs = [q for q in qs if q]
        return (math.exp(sum(map(math.log, qs)) / len(qs)), len(qs)) if qs else (None, 0)

    long_rows = [r for r in rows if r["cli"] >= LONG]
    for label, sel in ((f"long files (CLI frames >= {LONG})", long_rows), ("all timed files", rows)):
        gr, nr = geomean("rand", sel)
        gs, ns = geomean("seq", sel)
        if nr:
            print(f"Geomean decord/kinema on {label}: rand32 {gr:.2f} ({nr} files), seq {gs:.2f} ({ns} files).  ")
    if missing:
        print(f"\nNot in {a.dest} (run fetch.sh): {', '.join(missing)}")

    # ---- decord's API
    print("\n## decord's API on both readers\n")
    print("Where both open the file: the largest difference between the frame start times "
          "`get_frame_timestamp(i)[0]` over the frames both have (seconds), the first frame's start "
          "time (kinema, decord), whether `get_key_indices()` agree, whether `vr[-1]` is the library's "
          "own last frame, and what `vr[len(vr)]` raises.\n")
    print("| file | max start-time difference | frame 0 starts at (kinema, decord) | key frames | vr[-1] (kinema, decord) "
          "| vr[len] raises (kinema, decord) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        sm = r.get("sem")
        if not sm:
            continue
        ts = sm["ts"]
        ts0 = sm.get("ts0") or (None, None)
        f0 = ", ".join("-" if v is None else f"{v:.3f}" for v in ts0)
        ts = "-" if ts is None else esc(ts) if isinstance(ts, str) else f"{ts:.3f}"
        print(f"| {r['name']} | {ts} | {f0} | {esc(sm['keys'])} "
              f"| {', '.join(esc(v) for v in sm['neg'])} | {', '.join(str(v) for v in sm['past_end'])} |")

    # ---- decord's len vs the CLI
    diff = [r for r in rows if r["d_len"] != "-" and r["d_len"] != r["cli"]]
    print(f"\n## Files where decord's len differs from the CLI's frame count\n")
    if diff:
        print("| file | CLI frames | decord len | kinema len |")
        print("|---|---|---|---|")
        for r in diff:
            print(f"| {r['name']} | {r['cli']} | {r['d_len']} | {r['k_len']} |")
    else:
        print("None.")
    return 0


def ffmpeg_version():
    try:
        out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout
        return out.split()[2]
    except Exception:
        return "?"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        sys.exit(worker_main(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
