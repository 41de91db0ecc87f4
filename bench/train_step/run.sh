#!/usr/bin/env bash
# One training step (forward + backward + SGD with momentum and weight decay) of I3D ResNet-50,
# R(2+1)D-18 and TSN ResNet-50 (8 segments), each at two shapes: kinema (release; convolutions
# and BatchNorm fused on the CPU) and PyTorch CPU eager, one after the other in one run, on the
# same machine and thread count; prints the table (time and peak memory of each process) and
# writes bench/train_step/RESULTS.md.
#
# env: BENCH_VENV (default ~/.cache/kinema/bench-venv: torch + torchvision, shared with the
#      decode benchmark), ROWS (lines "kinema_model torch_model batch frames size segments",
#      default below), STEPS (default 3), WARMUP (default 1), ROUNDS (default 2: each row runs
#      kinema then PyTorch this many times, and each side's best median counts, so that a burst
#      of load from elsewhere on a shared machine does not decide a row)
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${BENCH_VENV:-$HOME/.cache/kinema/bench-venv}
ROWS=${ROWS:-"i3d_resnet50_v1_custom i3d_resnet50_v1 2 8 112 1
i3d_resnet50_v1_custom i3d_resnet50_v1 1 16 112 1
r2plus1d_resnet18_custom r2plus1d_resnet18 2 8 112 1
r2plus1d_resnet18_custom r2plus1d_resnet18 1 16 112 1
resnet50_v1b_custom tsn_resnet50 1 1 224 8
resnet50_v1b_custom tsn_resnet50 2 1 112 8"}
STEPS=${STEPS:-3}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-2}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  echo "[bench] building the anchor venv in $VENV (torch, torchvision)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch==2.15.0 torchvision==0.29.2 numpy
fi
PY=$VENV/bin/python
cargo build --release --locked -p kinema-train --example train_step
KSTEP=target/release/examples/train_step
OUT=bench/train_step/results
mkdir -p "$OUT"
: > "$OUT/raw.jsonl"
while read -r KM TM B T S G; do
  [ -n "$KM" ] || continue
  for ROUND in $(seq "$ROUNDS"); do
    echo "[bench] $TM batch $B, $T frames, ${S}px, $G segments (round $ROUND of $ROUNDS)" >&2
    "$KSTEP" --model "$KM" --batch "$B" --frames "$T" --size "$S" --segments "$G" --steps "$STEPS" --warmup "$WARMUP" 2>/dev/null | sed "s/\"impl\"/\"anchor_model\":\"$TM\",\"impl\"/" >> "$OUT/raw.jsonl"
    "$PY" bench/train_step/torch_step.py --model "$TM" --batch "$B" --frames "$T" --size "$S" --segments "$G" --steps "$STEPS" --warmup "$WARMUP" >> "$OUT/raw.jsonl"
  done
done <<< "$ROWS"
"$PY" - "$OUT/raw.jsonl" <<'PY' | tee bench/train_step/RESULTS.md
import json, platform, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# One entry per (side, row): the round with the best median (its profile with it), the peak
# memory of the worst round, every round's median.
def best(side, name):
    groups = {}
    for r in rows:
        if r["impl"] == side:
            groups.setdefault((r[name], tuple(r["shape"])), []).append(r)
    out = []
    for g in groups.values():
        b = dict(min(g, key=lambda r: r["median_s"]))
        b["peak_rss_mb"] = max(r.get("peak_rss_mb", 0) for r in g)
        b["rounds"] = [r["median_s"] for r in g]
        out.append(b)
    return out
k = best("kinema", "anchor_model")
t = best("pytorch", "model")
rounds = len(k[0]["rounds"])
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
print("# One training step: kinema vs PyTorch CPU eager\n")
import datetime
print(f"`bash bench/train_step/run.sh`, {datetime.date.today()}, on {cpu} ({t[0]['cpus']} CPUs, PyTorch {t[0]['version']}, "
      f"{t[0]['threads']} threads; kinema release: burn autodiff, convolutions on oneDNN, BatchNorm fused). A step: forward, "
      "cross-entropy, backward, SGD (momentum 0.9, weight decay 1e-4), on one random batch; median of the timed steps after "
      f"warm-up. Each row ran kinema then PyTorch {rounds} time(s), alternating; each side's best median counts (all of them in "
      "the last columns). Peak memory: each process's resident high-water mark (kinema: VmHWM; PyTorch: ru_maxrss), libraries included.\n")
print("| model | input | kinema s/step | PyTorch s/step | PyTorch / kinema | kinema peak MB | PyTorch peak MB | kinema rounds | PyTorch rounds |")
print("|---|---|---|---|---|---|---|---|---|")
for a, b in zip(k, t):
    print(f"| {b['model']} | {b['shape']} | {a['median_s']:.3f} | {b['median_s']:.3f} | {b['median_s'] / a['median_s']:.2f}x "
          f"| {a.get('peak_rss_mb', 0):.0f} | {b.get('peak_rss_mb', 0):.0f} "
          f"| {' '.join(f'{m:.3f}' for m in a['rounds'])} | {' '.join(f'{m:.3f}' for m in b['rounds'])} |")
print("\nAbove 1.0x kinema is faster. Raw numbers: `bench/train_step/results/raw.jsonl`.")
print("\n## Where kinema's step goes (seconds, the last timed step of the best round)\n")
print("Forward and backward are burn's autodiff; inside them, oneDNN's convolution passes (reorders "
      "included) and the fused BatchNorm are timed on their own; the rest is burn's ops (ReLU, pooling, "
      "residual sums, the head, the loss) and allocation.\n")
cols = ["forward_s", "conv_forward_s", "batchnorm_forward_s", "backward_s", "conv_backward_data_s",
        "conv_backward_weights_s", "batchnorm_backward_s", "optimizer_s"]
print("| model | input | " + " | ".join(c[:-2].replace("_", " ") for c in cols) + " | rest of forward | rest of backward |")
print("|---|---|" + "---|" * (len(cols) + 2))
for a in k:
    p = a.get("profile", {})
    if not p:
        continue
    rf = p["forward_s"] - p["conv_forward_s"] - p["batchnorm_forward_s"]
    rb = p["backward_s"] - p["conv_backward_data_s"] - p["conv_backward_weights_s"] - p["batchnorm_backward_s"]
    print(f"| {a['model']} | {a['shape']} | " + " | ".join(f"{p[c]:.3f}" for c in cols) + f" | {rf:.3f} | {rb:.3f} |")
PY
