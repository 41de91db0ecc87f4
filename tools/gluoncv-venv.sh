#!/usr/bin/env bash
# Builds (once) the cached Python venv with GluonCV and MXNet that the reference exports and the
# loader benchmark run in. Prints the venv's python path.
set -euo pipefail
VENV="${KINEMA_GLUONCV_VENV:-$HOME/.cache/kinema/gluoncv-venv}"
if ! "$VENV/bin/python" -c "import gluoncv, mxnet, decord" >/dev/null 2>&1; then
  echo "[venv] building $VENV (mxnet 1.9.1, gluoncv 0.10.5.post0, decord)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q mxnet==1.9.1 gluoncv==0.10.5.post0 'numpy<1.24' decord opencv-python-headless >&2
fi
echo "$VENV/bin/python"
