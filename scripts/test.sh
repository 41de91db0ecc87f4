#!/usr/bin/env bash
# The README's test command: install what is missing, then build and run every test: the Rust
# workspace, then the Python package (built by maturin, tested by pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
# One build from scratch gains nothing from incremental caches, which cost GiBs of disk.
export CARGO_INCREMENTAL=0
bash scripts/install-deps.sh
cargo test --workspace --exclude kinema-python --locked "$@"
# The GPU backends compile (no GPU here to run them): burn's wgpu and CUDA runtimes behind
# features. cubecl-cuda's build script downloads an LLVM bundle from outside the package
# registries; DOCS_RS skips that native set-up, which a type check does not need.
cargo check --locked -p kinema-cli --features wgpu
# A kinema without MPI builds too (and refuses to run as one of several ranks).
cargo check --locked -p kinema-cli --no-default-features
DOCS_RS=1 cargo check --locked -p kinema-cli --features cuda
bash scripts/test-python.sh
# The reader on real videos from public packages (tools/realworld), every frame against the CLI.
bash scripts/test-realworld.sh
