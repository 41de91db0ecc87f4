#!/usr/bin/env bash
# Builds (once) the cached Python venv with torch and torchvision that the torchvision and
# GluonCV-PyTorch-port parity exports and the benchmarks run in (the same one
# bench/train_step/run.sh builds). Prints the venv's python path.
set -euo pipefail
VENV="${BENCH_VENV:-$HOME/.cache/kinema/bench-venv}"
if ! "$VENV/bin/python" -c "import torch, torchvision, numpy" >/dev/null 2>&1; then
  echo "[venv] building $VENV (torch 2.15.0, torchvision 0.29.2)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q torch==2.15.0 torchvision==0.29.2 numpy >&2
fi
# GluonCV's PyTorch port, for its model files only (tools/gluoncv_torch_fixtures.py): without
# its dependencies, which would pull in a second copy of much of the above.
if ! "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('gluoncv') is None)" >/dev/null 2>&1; then
  echo "[venv] adding gluoncv 0.10.5.post0 (no dependencies) to $VENV" >&2
  "$VENV/bin/pip" install -q --no-deps gluoncv==0.10.5.post0 >&2
fi
echo "$VENV/bin/python"
