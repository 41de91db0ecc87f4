#!/usr/bin/env bash
# The README's test command: install what is missing, then build and run every test: the Rust
# workspace, then the Python package (built by maturin, tested by pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
# One build from scratch gains nothing from incremental caches, which cost GiBs of disk.
export CARGO_INCREMENTAL=0
bash scripts/install-deps.sh
# Built with burn's CUDA backend (a real build: kernels are compiled by NVRTC at run time, so no
# CUDA toolkit and no download is needed; see docs/models.md, "Backends"). No GPU here runs it:
# on a machine without one, `--device cuda` is a named error, which a test checks.
cargo test --workspace --exclude kinema-python --locked --features kinema-cli/cuda "$@"
# burn's wgpu backend compiles too, and so does a kinema without MPI (which refuses to run as
# one of several ranks): one type check for both, so the burn stack is checked once more, not twice.
cargo check --locked -p kinema-cli --no-default-features --features wgpu
bash scripts/test-python.sh
# The reader on real videos from public packages (tools/realworld), every frame against the CLI.
bash scripts/test-realworld.sh
