#!/usr/bin/env bash
# One training epoch end to end, data loading included: `kinema train` (release) against a
# PyTorch CPU eager script (torch.utils.data over decord, bench/train_epoch/torch_epoch.py) on
# the same synthetic setting file, clip spec, batch, optimizer and thread count, one after the
# other in one run. Models: R(2+1)D-18 (8 frames at stride 2, 112 px crops) and TSN ResNet-18
# (8 segments, 112 px crops). Prints clips/s over the epoch and each side's peak memory, and
# writes bench/train_epoch/RESULTS.md.
#
# env: BENCH_VENV (default ~/.cache/kinema/bench-venv: torch, torchvision, decord), VIDEOS
#      (training videos per class, default 8; 6 classes), BATCH (default 4), WORKERS (loader
#      workers on both sides, default 2), THREADS (compute threads, default the CPU count)
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${BENCH_VENV:-$HOME/.cache/kinema/bench-venv}
VIDEOS=${VIDEOS:-8}
BATCH=${BATCH:-4}
WORKERS=${WORKERS:-2}
THREADS=${THREADS:-$(nproc)}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, torchvision, decord" 2>/dev/null; then
  echo "[bench] building the anchor venv in $VENV (torch, torchvision, decord)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch==2.15.0 torchvision==0.29.2 decord==0.6.0 numpy
fi
PY=$VENV/bin/python
cargo build --release --locked -p kinema-cli
KINEMA=$PWD/target/release/kinema
WORK=target/bench-train-epoch
OUT=bench/train_epoch/results
mkdir -p "$WORK" "$OUT"
DATA=$WORK/data-$VIDEOS
if [ ! -f "$DATA/train.txt" ]; then
  "$KINEMA" synth --out "$DATA" --classes 6 --videos-per-class "$VIDEOS" --val-per-class 1 \
    --min-size 128 --max-size 160 --min-frames 40 --max-frames 64 --seed 5
fi
: > "$OUT/raw.jsonl"
# name, kinema model, torch model, segments, new_length, new_step
ROWS="r2plus1d_resnet18 r2plus1d_resnet18_custom r2plus1d_18 1 8 2
tsn_resnet18 resnet18_v1b_custom tsn_resnet18 8 1 1"
while read -r NAME KM TM SEG LEN STEP; do
  echo "[bench] $NAME: kinema train" >&2
  RUN=$WORK/run-$NAME
  rm -rf "$RUN"
  cat > "$WORK/$NAME.toml" <<EOF
model = "$KM"
out = "run-$NAME"
seed = 0

[data]
root = "data-$VIDEOS"
train = "data-$VIDEOS/train.txt"
classes = "data-$VIDEOS/classes.txt"
num_segments = $SEG
new_length = $LEN
new_step = $STEP
new_width = 128
new_height = 128
input_size = 112
num_workers = $WORKERS

[train]
epochs = 1
batch_size = $BATCH
optimizer = "sgd"
lr = 0.01
momentum = 0.9
wd = 1e-4
lr_mode = "constant"
log_interval = 1000000
EOF
  # The epoch's seconds from kinema's own epochs.jsonl (the training loop, loading included;
  # not the final checkpoint); peak memory of the process (loader threads are in it).
  "$PY" - "$KINEMA" "$WORK/$NAME.toml" "$RUN" "$NAME" "$BATCH" "$THREADS" "$WORKERS" "$DATA/train.txt" >> "$OUT/raw.jsonl" <<'PY'
import json, os, resource, subprocess, sys
kinema, config, run, name, batch, threads, workers, setting = sys.argv[1:]
env = dict(os.environ, RAYON_NUM_THREADS=threads, OMP_NUM_THREADS=threads)
subprocess.run([kinema, "train", config], check=True, env=env, stdout=subprocess.DEVNULL)
epoch = [json.loads(l) for l in open(os.path.join(run, "epochs.jsonl"))][-1]
lines = sum(1 for l in open(setting) if l.strip())
clips = lines // int(batch) * int(batch)
print(json.dumps({"impl": "kinema", "model": name, "threads": int(threads), "workers": int(workers), "clips": clips,
                  "seconds": epoch["seconds"], "clips_per_s": clips / epoch["seconds"], "train_loss": epoch["train_loss"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
PY
  echo "[bench] $NAME: PyTorch" >&2
  "$PY" bench/train_epoch/torch_epoch.py --setting "$DATA/train.txt" --root "$DATA" --model "$TM" --nclass 6 \
    --batch "$BATCH" --num-segments "$SEG" --new-length "$LEN" --new-step "$STEP" --new-width 128 --new-height 128 \
    --input-size 112 --workers "$WORKERS" --threads "$THREADS" >> "$OUT/raw.jsonl"
done <<< "$ROWS"
"$PY" - "$OUT/raw.jsonl" "$VIDEOS" "$BATCH" <<'PY' | tee bench/train_epoch/RESULTS.md
import datetime, json, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
k = {r["model"]: r for r in rows if r["impl"] == "kinema"}
t = [r for r in rows if r["impl"] == "pytorch"]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
names = {"r2plus1d_18": "r2plus1d_resnet18", "tsn_resnet18": "tsn_resnet18"}
print("# One training epoch, data loading included: `kinema train` vs PyTorch CPU eager\n")
print(f"`bash bench/train_epoch/run.sh`, {datetime.date.today()}, on {cpu}, {t[0]['threads']} compute threads and "
      f"{t[0]['workers']} loader workers on both sides, PyTorch {t[0]['version']} with torch.utils.data over decord. "
      f"The synthetic set (6 classes x {sys.argv[2]} H.264 videos, 128-160 px, `kinema synth --seed 5`), batch {sys.argv[3]}, "
      "SGD (momentum 0.9, weight decay 1e-4), random-init models, one epoch (the last partial batch dropped on both sides). "
      "Peak memory: resident high-water mark of the training process (kinema's loader threads are inside it; "
      "PyTorch's loader workers are processes of their own, given apart).\n")
print("| model | input | clips | kinema clips/s | PyTorch clips/s | kinema / PyTorch | kinema peak MB | PyTorch peak MB (+ workers) |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for b in t:
    a = k[names[b["model"]]]
    print(f"| {a['model']} | {b['shape']} | {a['clips']} | {a['clips_per_s']:.2f} | {b['clips_per_s']:.2f} | "
          f"{a['clips_per_s'] / b['clips_per_s']:.2f}x | {a['peak_rss_mb']:.0f} | {b['peak_rss_mb']:.0f} (+{b['workers_peak_rss_mb']:.0f}) |")
print("\nAbove 1.0x kinema is faster. Raw numbers: `bench/train_epoch/results/raw.jsonl`.")
PY
