#!/usr/bin/env bash
# The README's test command: install what is missing, then build and run every test: the Rust
# workspace, then the Python package (built by maturin, tested by pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --workspace --exclude kinema-python --locked "$@"
bash scripts/test-python.sh
