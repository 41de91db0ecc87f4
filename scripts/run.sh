#!/usr/bin/env bash
# The README's first command: install what is missing, build the release binary, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --locked -p kinema-cli
bash scripts/demo.sh
