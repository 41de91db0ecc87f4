#!/usr/bin/env bash
# Side-by-side eval-mode FP32 forward per clip of TSN-R50 (7 x 224), I3D-R50 (32 x 224), SlowFast
# 4x16 R50 (32 + 4 x 224) and R(2+1)D-18 (16 x 112): kinema (`kinema bench`), MXNet 1.9.1 + oneDNN
# fused (GluonCV's models, hybridize backend='MKLDNN'), onnxruntime (the PyTorch models exported to
# ONNX) and PyTorch CPU eager, one after the other in one run, same thread count. Writes one JSON
# line per (model, runner) to bench/deploy/results/raw.jsonl and the table to bench/deploy/RESULTS.md.
# Each timed job waits for an idle CPU first (bench/forward/wait_idle.py).
#
# ROUNDS times over (default 3), the runners interleaved, so that a slow spell of the shared
# machine hits every runner alike; the table gives the median of the rounds' medians and the
# range of kinema's per-round ratio.
#
# env: THREADS (default 2), REPS (timed passes, default 5), WARMUP (untimed passes, default 2),
#      ROUNDS (default 3),
#      KINEMA_BUILD=1 (rebuild kinema even if target/release/kinema exists),
#      KINEMA_BIN (time another kinema binary instead; never built),
#      MODELS (space-separated kinema registry names, default all four),
#      RUNNERS (subset of "kinema mxnet onnx torch", default all), WAIT_IDLE (0 skips the idle wait),
#      BENCH_VENV (torch venv, default ~/.cache/kinema/bench-venv),
#      KINEMA_GLUONCV_VENV (MXNet venv, see tools/gluoncv-venv.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-2}
REPS=${REPS:-5}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
RUNNERS=${RUNNERS:-kinema mxnet onnx torch}
WAIT_IDLE=${WAIT_IDLE:-1}
VENV=${BENCH_VENV:-$HOME/.cache/kinema/bench-venv}
KBIN=${KINEMA_BIN:-target/release/kinema}
OUT=bench/deploy/results
LOG=$OUT/run.log

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import torch, torchvision" 2>/dev/null; then
  echo "[deploy] building the anchor venv in $VENV (torch, torchvision)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch==2.15.0 torchvision==0.29.2 numpy
fi
if ! "$VENV/bin/python" -c "import onnxruntime, onnx" 2>/dev/null; then
  echo "[deploy] installing onnxruntime and onnx into $VENV" >&2
  "$VENV/bin/pip" install -q onnxruntime==1.32.0 onnx==1.23.2
fi
MXPY=$(bash tools/gluoncv-venv.sh)

if [ -z "${KINEMA_BIN:-}" ] && { [ ! -x "$KBIN" ] || [ "${KINEMA_BUILD:-0}" = 1 ]; }; then
  cargo build --release --locked -p kinema-cli ||
    echo "[deploy] building kinema failed: its column will say missing or failed" >&2
fi

mkdir -p "$OUT"
: > "$OUT/raw.jsonl"
: > "$LOG"
export OMP_NUM_THREADS=$THREADS MXNET_CPU_WORKER_NTHREADS=$THREADS RAYON_NUM_THREADS=$THREADS
idle() { if [ "$WAIT_IDLE" != 0 ]; then "$VENV/bin/python" bench/forward/wait_idle.py; fi; }
# job IMPL MODEL CMD...: waits for idle, runs CMD, appends its last stdout line, or a failure line
# if that is not a JSON object (the scripts print one even when a runner fails).
job() {
  local impl=$1 model=$2 line
  shift 2
  idle
  echo "[deploy] $model: $impl" >&2
  echo "=== $model $impl" >> "$LOG"
  line=$("$@" 2>>"$LOG" | tail -n1) || true
  case "$line" in
    \{*\}) python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r["round"] = int(sys.argv[2]); print(json.dumps(r))' \
            "$line" "$ROUND" >> "$OUT/raw.jsonl" ;;
    *) echo "{\"impl\": \"$impl\", \"model\": \"$model\", \"status\": \"failed\", \"reason\": \"no result line, see $LOG\"}" >> "$OUT/raw.jsonl" ;;
  esac
}
COMMON=(--threads "$THREADS" --reps "$REPS" --warmup "$WARMUP")
for ROUND in $(seq 1 "$ROUNDS"); do
while read -r MODEL SHAPE; do
  case " ${MODELS:-$MODEL} " in *" $MODEL "*) ;; *) continue ;; esac
  for R in $RUNNERS; do
    case $R in
      kinema) job kinema "$MODEL" "$VENV/bin/python" bench/deploy/kinema_bench.py --bin "$KBIN" \
                --model "$MODEL" --shape "$SHAPE" "${COMMON[@]}" ;;
      mxnet) job mxnet_fused "$MODEL" "$MXPY" bench/deploy/anchors.py --runner mxnet \
               --model "$MODEL" --shape "$SHAPE" "${COMMON[@]}" ;;
      onnx) job onnxruntime "$MODEL" "$VENV/bin/python" bench/deploy/anchors.py --runner onnx \
              --model "$MODEL" --shape "$SHAPE" "${COMMON[@]}" ;;
      torch) job pytorch "$MODEL" "$VENV/bin/python" bench/deploy/anchors.py --runner torch \
               --model "$MODEL" --shape "$SHAPE" "${COMMON[@]}" ;;
      *) echo "[deploy] unknown runner $R (kinema mxnet onnx torch)" >&2; exit 2 ;;
    esac
  done
done <<'MODELS'
resnet50_v1b_kinetics400 7,3,224,224
i3d_resnet50_v1_kinetics400 1,3,32,224,224
slowfast_4x16_resnet50_kinetics400 1,3,36,224,224
r2plus1d_18_kinetics400 1,3,16,112,112
MODELS
done
"$VENV/bin/python" bench/deploy/report.py "$OUT/raw.jsonl" "$THREADS" "$REPS" "$WARMUP" "$ROUNDS" | tee bench/deploy/RESULTS.md
