"""Runs `kinema bench MODEL --input-shape SHAPE --threads T --reps R --warmup W --json` and prints
its result as one JSON line in bench/deploy's format: the kinema half of bench/deploy/run.sh.

kinema's own last stdout line is a JSON object with at least median_ms, min_ms, cpu and isa; this
adds impl/model/shape and keeps every field kinema wrote. When the binary or its `bench`
subcommand is missing the line says {"status": "missing", "reason": ...}; when it runs and
fails, {"status": "failed", ...}. The wrapper does no timing of its own.

  python kinema_bench.py --bin target/release/kinema --model i3d_resnet50_v1_kinetics400 \\
      --shape 1,3,32,224,224 --threads 2 --reps 5 --warmup 2
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/kinema")
    ap.add_argument("--model", required=True)
    ap.add_argument("--shape", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    base = dict(impl="kinema", model=a.model, shape=[int(v) for v in a.shape.split(",")],
                warmup=a.warmup, reps=a.reps)

    def emit(**kw):
        print(json.dumps({**base, **kw}), flush=True)

    if not os.access(a.bin, os.X_OK):
        return emit(status="missing", reason=f"no executable {a.bin}")
    cmd = [a.bin, "bench", a.model, "--input-shape", a.shape, "--threads", str(a.threads),
           "--reps", str(a.reps), "--warmup", str(a.warmup), "--json"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sys.stderr.write(p.stderr)
    err = p.stderr.strip().splitlines()
    if p.returncode != 0:
        text = " ".join(err[:2])[:300]
        if "unrecognized subcommand" in p.stderr or "unrecognized subcommand" in p.stdout:
            return emit(status="missing", reason=f"{a.bin} has no `bench` subcommand")
        return emit(status="failed", reason=f"exit {p.returncode}: {text}")
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    try:
        res = json.loads(lines[-1])
        float(res["median_ms"])
    except (IndexError, ValueError, KeyError, TypeError) as e:
        return emit(status="failed", reason=f"last stdout line is not a JSON result with median_ms ({e!r})")
    if not isinstance(res, dict):
        return emit(status="failed", reason="last stdout line is not a JSON object")
    if "shape" in res:  # kept, under another name, beside ours
        res["kinema_shape"] = res.pop("shape")
    print(json.dumps({**res, **base}), flush=True)


if __name__ == "__main__":
    main()
