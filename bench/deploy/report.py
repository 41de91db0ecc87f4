"""Turns bench/deploy/results/raw.jsonl into the RESULTS.md table (stdout).

  python report.py bench/deploy/results/raw.jsonl THREADS REPS WARMUP [ROUNDS]

Several rounds (a `round` field per line): each runner's cell is the median of its rounds'
medians, and the last column the range of kinema's ratio to the fastest other, round by round.
"""
import datetime
import json
import statistics
import sys

ORDER = [  # (kinema registry name, label)
    ("resnet50_v1b_kinetics400", "TSN-R50 (7 segments)"),
    ("i3d_resnet50_v1_kinetics400", "I3D-R50"),
    ("slowfast_4x16_resnet50_kinetics400", "SlowFast 4x16 R50"),
    ("r2plus1d_18_kinetics400", "R(2+1)D-18"),
]
OTHERS = ("mxnet_fused", "onnxruntime", "pytorch")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    path, threads, reps, warmup = sys.argv[1:5]
    rounds = sys.argv[5] if len(sys.argv) > 5 else "1"
    rows = [json.loads(line) for line in open(path) if line.strip()]

    def ok(r):
        return r is not None and "median_ms" in r and not r.get("status")

    # One row per (runner, model): the median over the rounds that ran; a failure where none did.
    got, per_round = {}, {}
    for r in rows:
        key = (r["impl"], r["model"])
        per_round.setdefault(key, {})
        if ok(r):
            per_round[key][r.get("round", 1)] = r["median_ms"]
    for r in rows:
        key = (r["impl"], r["model"])
        if ok(r):
            merged = dict(r)
            merged["median_ms"] = statistics.median(per_round[key].values())
            got[key] = merged
        elif key not in got:
            got[key] = r

    def ratio_range(model):
        ks = per_round.get(("kinema", model), {})
        ratios = []
        for rnd, k in ks.items():
            others = [per_round.get((o, model), {}).get(rnd) for o in OTHERS]
            others = [o for o in others if o]
            if others:
                ratios.append(k / min(others))
        if not ratios:
            return "–"
        lo, hi = min(ratios), max(ratios)
        return f"{lo:.2f}x" if len(ratios) == 1 else f"{lo:.2f}-{hi:.2f}x"

    def cell(r, note=""):
        if r is None:
            return "not run"
        if not ok(r):
            return r.get("status", "failed")
        return f"{r['median_ms']:.0f}{note}"

    kin = [r for r in rows if r["impl"] == "kinema" and ok(r)]
    isa = sorted({str(r.get("isa", "?")) for r in kin}) or ["n/a (kinema missing)"]
    kcpu = sorted({str(r["cpu"]) for r in kin if r.get("cpu")})
    version = lambda impl: next((r["version"] for r in rows if r["impl"] == impl and r.get("version")), "?")
    cpu = cpu_model()

    print("# Deployment FP32 forward per clip: kinema vs MXNet fused vs onnxruntime vs PyTorch\n")
    head = (f"`bash bench/deploy/run.sh`, {datetime.date.today()}, on {cpu}; kinema ISA: "
            f"{', '.join(isa)}; {threads} threads everywhere")
    if kcpu and kcpu != [cpu]:
        head += f" (kinema reports the CPU as {', '.join(kcpu)})"
    print(head + ".\n")
    print(f"{rounds} round(s), the runners interleaved; in each, the median ms of {reps} timed passes after {warmup} warm-up passes; "
          "the cells are the median over the rounds. Eval mode, FP32, random "
          f"weights, one fixed input. MXNet {version('mxnet_fused')} + oneDNN with GluonCV's models "
          f"hybridized with `backend='MKLDNN'`; onnxruntime {version('onnxruntime')} (CPU provider, "
          f"all graph optimizations) on the PyTorch models exported to ONNX (opset 17, fixed shape); "
          f"PyTorch {version('pytorch')} eager.\n")
    print("| model | input | kinema ms | MXNet fused ms | onnxruntime ms | PyTorch ms | kinema / fastest other | per round |")
    print("|---|---|---|---|---|---|---|---|")
    notes, failures = [], []
    for model, label in ORDER:
        rs = {impl: got.get((impl, model)) for impl in ("kinema",) + OTHERS}
        if not any(rs.values()):
            continue
        shape = next(r["shape"] for r in rs.values() if r)
        mark = ""
        mx = rs["mxnet_fused"]
        if ok(mx) and mx.get("note"):
            notes[:] = [mx["note"], mx.get("params", 0)]
            mark = "¹"
        best = [r["median_ms"] for impl, r in rs.items() if impl != "kinema" and ok(r)]
        ratio = f"{rs['kinema']['median_ms'] / min(best):.2f}x" if ok(rs["kinema"]) and best else "–"
        print(f"| {label} `{model}` | {'x'.join(map(str, shape))} | {cell(rs['kinema'])} | {cell(mx, mark)} | "
              f"{cell(rs['onnxruntime'])} | {cell(rs['pytorch'])} | {ratio} | {ratio_range(model)} |")
        for impl, r in rs.items():
            if r is not None and not ok(r):
                failures.append(f"{label}, {impl}: {r.get('status', 'failed')}: {r.get('reason', '?')}")
    print()
    if notes:
        print(f"¹ MXNet column: {notes[0]}, GluonCV's own variant of R(2+1)D-18 (the other columns run "
              "torchvision's r2plus1d_18). Its layers match torchvision's (45-channel (1,7,7) + (3,1,1) "
              "stem, (2+1)D basic blocks with the same mid-channel counts, 1x1x1 projections) and so does "
              f"its parameter count ({notes[1] / 1e6:.1f} M with the BatchNorm statistics); it adds a "
              "dropout before the classifier, a no-op in eval mode.\n")
    if failures:
        print("Not timed:\n")
        for f in failures:
            print(f"- {f}")
        print()
    print("Below 1.0x kinema is faster than the fastest of the other three. Raw numbers: "
          "`bench/deploy/results/raw.jsonl`.")


if __name__ == "__main__":
    main()
