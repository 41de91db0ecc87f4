#!/usr/bin/env bash
# Issue 19's GPU checks as one script, for a lent GPU machine (the device tool runs it in the
# repository root): a CUDA build of kinema trains the synthetic set on the GPU next to the same
# run on the CPU (the loss must fall and validation top-1 reach the CPU's), then times a
# training step and an eval forward of I3D-R50, R(2+1)D-18 and TSN-R50 on the GPU, next to
# PyTorch CUDA at the same shapes when the machine has a CUDA PyTorch. Every part has a time
# limit and goes on after a failure; everything lands in $OUT (default bench/gpu/results).
#
# Here, before: cargo build --release --locked -p kinema-cli --features cuda
# There: bash bench/gpu/run.sh, carrying target/release/kinema. The binary links the system's
# FFmpeg, oneDNN and OpenMPI libraries; the first lines report any the GPU machine lacks.
# env: KINEMA (default target/release/kinema), OUT, EPOCHS (default 12)
set -uo pipefail
cd "$(dirname "$0")/../.."
K=${KINEMA:-target/release/kinema}
OUT=${OUT:-bench/gpu/results}
EPOCHS=${EPOCHS:-12}
mkdir -p "$OUT"
LOG=$OUT/log.txt
: > "$LOG"
say() { echo "[gpu] $*" | tee -a "$LOG" >&2; }
run() { # run LIMIT_S NAME CMD...: time-limited, output to $OUT/NAME.out, failure noted
  local limit=$1 name=$2; shift 2
  say "$name: $*"
  timeout "$limit" "$@" > "$OUT/$name.out" 2>&1
  local rc=$?
  [ $rc -eq 0 ] || say "$name FAILED (exit $rc): $(tail -3 "$OUT/$name.out" | tr '\n' ' ')"
  return $rc
}

nvidia-smi -L 2>&1 | tee -a "$LOG"
ldd "$K" | grep "not found" | sed 's/^/[gpu] missing library: /' | tee -a "$LOG"
# NVRTC: from a CUDA toolkit, or the nvidia-cuda-nvrtc wheel of a CUDA PyTorch.
for d in /usr/local/cuda/lib64 $(python3 -c 'import glob, site; print(" ".join(glob.glob(site.getsitepackages()[0] + "/nvidia/*/lib")))' 2>/dev/null); do
  ls "$d"/libnvrtc.so* > /dev/null 2>&1 && export LD_LIBRARY_PATH=$d:${LD_LIBRARY_PATH:-} && say "NVRTC from $d"
done

# 1. Does a CUDA device run at all (a named error otherwise).
run 300 probe "$K" --device cuda bench kinema_motion_custom --nclass 3 --reps 3 --warmup 1 --json

# 2. The synthetic set, trained on the CPU and on the GPU from the same config.
W=$OUT/work
mkdir -p "$W"
run 300 synth "$K" synth --out "$W/syn" --classes 6 --videos-per-class 16 --val-per-class 6 --min-size 80 --max-size 96 --seed 1
for dev in cpu cuda; do
  cat > "$W/$dev.toml" <<EOF
model = "kinema_motion_custom"
out = "run-$dev"
seed = 0
[data]
root = "syn"
train = "syn/train.txt"
val = "syn/val.txt"
classes = "syn/classes.txt"
new_length = 8
new_step = 3
new_width = 80
new_height = 80
input_size = 64
flip = false
num_workers = 4
[train]
epochs = $EPOCHS
batch_size = 8
lr = 0.01
lr_mode = "cosine"
warmup_epochs = 1
EOF
  rm -rf "$W/run-$dev"
  run 600 "train-$dev" "$K" --device "$dev" train "$W/$dev.toml" && cp "$W/run-$dev/epochs.csv" "$OUT/epochs-$dev.csv"
done

# 3. A training step and an eval forward on the GPU, kinema and PyTorch CUDA.
TORCH=0
python3 -c 'import torch, torchvision; assert torch.cuda.is_available()' 2>/dev/null && TORCH=1
[ $TORCH = 1 ] || say "no CUDA PyTorch here: kinema's GPU timings only"
: > "$OUT/steps.jsonl"
while read -r KM TM B T S G SHAPE; do
  run 300 "step-$KM-$B" "$K" --device cuda bench "$KM" --nclass 400 --train --batch-shape "$SHAPE" --reps 5 --warmup 2 --json &&
    cat "$OUT/step-$KM-$B.out" >> "$OUT/steps.jsonl"
  run 300 "forward-$KM-$B" "$K" --device cuda bench "$KM" --nclass 400 --batch-shape "$SHAPE" --reps 5 --warmup 2 --json &&
    cat "$OUT/forward-$KM-$B.out" >> "$OUT/steps.jsonl"
  if [ $TORCH = 1 ]; then
    run 300 "torch-$TM-$B" python3 bench/train_step/torch_step.py --device cuda --model "$TM" --batch "$B" --frames "$T" --size "$S" --segments "$G" --steps 5 --warmup 2 &&
      cat "$OUT/torch-$TM-$B.out" >> "$OUT/steps.jsonl"
  fi
done <<'ROWS'
i3d_resnet50_v1_custom i3d_resnet50_v1 8 8 112 1 8,3,8,112,112
r2plus1d_resnet18_custom r2plus1d_resnet18 8 8 112 1 8,3,8,112,112
resnet50_v1b_custom tsn_resnet50 4 1 224 7 28,3,224,224
ROWS
say "done: $OUT"
