#!/usr/bin/env bash
# One command: synthetic dataset + release build + GluonCV venv, then the side-by-side loader run.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-deps.sh
cargo build --release --locked -p kinema-cli
DATA=bench/loader/work/synthetic
[ -f "$DATA/train.txt" ] || ./target/release/kinema synth --out "$DATA" --classes 10 --videos-per-class 60 --seed 0
PY=$(bash tools/gluoncv-venv.sh)
"$PY" tools/bench_loader.py --kinema ./target/release/kinema --setting "$DATA/train.txt" --root "$DATA" "$@"
