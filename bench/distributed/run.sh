#!/usr/bin/env bash
# Data-parallel scaling: kinema's training step on 1 and 2 MPI ranks of this box (one thread
# each, the same global batch), with the all-reduce time and bytes of a step; the all-reduce
# itself over shared memory and over TCP between network namespaces (root only: a plain link and
# one shaped to 1 Gb/s); then model.py predicts N = 2/4/8/16 machines at 10/25/100 Gb/s from
# these measurements (ring all-reduce) beside GluonCV's published scaling, and writes
# bench/distributed/RESULTS.md.
#
# env: MODELS ("model:global_batch" list, default "i3d_resnet50_v1_custom:32
#      r2plus1d_resnet18_custom:8"), FRAMES (8), SIZE (112), STEPS (4; the first is a warm-up)
set -euo pipefail
cd "$(dirname "$0")/../.."
MODELS=${MODELS:-"i3d_resnet50_v1_custom:32 r2plus1d_resnet18_custom:8"}
FRAMES=${FRAMES:-8}
SIZE=${SIZE:-112}
STEPS=${STEPS:-4}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Containers often forbid the cross-memory attach of shared-memory transfers.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
cargo build --release --locked -p kinema-cli
cargo build --release --locked -p kinema-dist --features mpi --example allreduce
K=$PWD/target/release/kinema
AR=$PWD/target/release/examples/allreduce
OUT=bench/distributed/results
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$K" synth --out "$WORK/syn" --classes 4 --videos-per-class 16 --val-per-class 1 --seed 1 \
  --min-frames 24 --max-frames 30 >/dev/null
for spec in $MODELS; do
  IFS=: read -r model batch <<< "$spec"
  cat > "$WORK/$model.toml" <<TOML
model = "$model"
seed = 1
[data]
root = "syn"
train = "syn/train.txt"
classes = "syn/classes.txt"
new_length = $FRAMES
new_step = 2
new_width = $((SIZE * 8 / 7))
new_height = $((SIZE * 8 / 7))
input_size = $SIZE
num_workers = 0
[train]
epochs = 1
batch_size = $batch
lr = 0.01
log_interval = 1
TOML
  echo "[bench] $model, global batch $batch x $FRAMES x ${SIZE}px: 1 rank" >&2
  "$K" train "$WORK/$model.toml" --out "$WORK/$model-1" --threads 1 --max-steps "$STEPS" --json > "$OUT/$model-1.json"
  echo "[bench] $model: 2 ranks" >&2
  mpirun -np 2 --bind-to none "$K" train "$WORK/$model.toml" --out "$WORK/$model-2" --threads 1 \
    --max-steps "$STEPS" --json > "$OUT/$model-2.json"
done

echo "[bench] all-reduce over shared memory" >&2
mpirun -np 2 --bind-to none "$AR" > "$OUT/allreduce-shm.jsonl"
rm -f "$OUT/allreduce-tcp.jsonl" "$OUT/allreduce-tcp-1gbit.jsonl"
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
  echo "[bench] all-reduce over TCP between two network namespaces" >&2
  bash scripts/netns-mpi.sh --hosts 2 -- "$AR" > "$OUT/allreduce-tcp.jsonl"
  echo "[bench] all-reduce over TCP, link shaped to 1 Gb/s" >&2
  bash scripts/netns-mpi.sh --hosts 2 --rate 1gbit -- "$AR" $((64 << 20)) > "$OUT/allreduce-tcp-1gbit.jsonl"
fi
python3 bench/distributed/model.py "$OUT" | tee bench/distributed/RESULTS.md
