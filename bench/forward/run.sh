#!/usr/bin/env bash
# Eval-mode FP32 forward per clip of TSN-R50 (7 segments x 224), I3D-R50 (32 x 224) and SlowFast
# 4x16 R50 (32 + 4 frames x 224): kinema (`kinema bench`: the oneDNN engine, and burn's ops), PyTorch CPU eager
# (faithful ports, bench/forward/torch_forward.py) and MXNet 1.9.1 + oneDNN (GluonCV's models,
# plain and fused hybridization), one after the other in one run, same thread count; prints the
# table and writes bench/forward/RESULTS.md. Each timed job waits for an idle CPU first.
#
# env: THREADS (default 2), REPS (default 3), BENCH_VENV (torch venv, default
#      ~/.cache/kinema/bench-venv), KINEMA_GLUONCV_VENV (MXNet venv, see tools/gluoncv-venv.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-2}
REPS=${REPS:-3}
VENV=${BENCH_VENV:-$HOME/.cache/kinema/bench-venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  echo "[bench] building the anchor venv in $VENV (torch, torchvision)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch==2.15.0 torchvision==0.29.2 numpy
fi
MXPY=$(bash tools/gluoncv-venv.sh)
cargo build --release --locked -p kinema-cli
# kinema bench's JSON as this table's rows: the oneDNN engine is "folded", burn's ops "unfolded".
kbench() { # MODEL SHAPE ENGINE FOLDED
  target/release/kinema bench "$1" --input-shape "$2" --threads "$THREADS" --reps "$REPS" --warmup 1 --engine "$3" --json 2>/dev/null |
    tail -n1 | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); r.update(impl="kinema", folded=sys.argv[1]=="1"); print(json.dumps(r))' "$4"
}
OUT=bench/forward/results
mkdir -p "$OUT"
: > "$OUT/raw.jsonl"
export OMP_NUM_THREADS=$THREADS MXNET_CPU_WORKER_NTHREADS=$THREADS RAYON_NUM_THREADS=$THREADS
idle() { "$VENV/bin/python" bench/forward/wait_idle.py; }
while read -r GLUON TORCH SHAPE SEG; do
  echo "[bench] $GLUON $SHAPE" >&2
  idle; kbench "$GLUON" "$SHAPE" onednn 1 >> "$OUT/raw.jsonl"
  idle; kbench "$GLUON" "$SHAPE" burn 0 >> "$OUT/raw.jsonl"
  idle; "$VENV/bin/python" bench/forward/torch_forward.py --model "$TORCH" --threads "$THREADS" --reps "$REPS" >> "$OUT/raw.jsonl"
  idle; "$MXPY" bench/forward/mxnet_forward.py --model "$GLUON" --shape "$SHAPE" --num-segments "$SEG" --reps "$REPS" 2>/dev/null >> "$OUT/raw.jsonl"
done <<'MODELS'
resnet50_v1b_kinetics400 resnet50_v1b 7,3,224,224 7
i3d_resnet50_v1_kinetics400 i3d_resnet50_v1 1,3,32,224,224 1
slowfast_4x16_resnet50_kinetics400 slowfast_4x16_resnet50 1,3,36,224,224 1
MODELS
"$VENV/bin/python" bench/forward/report.py "$OUT/raw.jsonl" "$THREADS" | tee bench/forward/RESULTS.md
