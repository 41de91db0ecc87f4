#!/usr/bin/env bash
# kinema's oneDNN layer against the 3.x C API: fetches oneDNN 3.2 (PyPI's onednn-cpu-gomp and
# onednn-devel-cpu-gomp wheels, pinned) into target/onednn3, builds kinema-dnnl and kinema-models
# against its headers (cfg dnnl_v3) in target/onednn3/build, and runs kinema-dnnl's tests and the
# engine test (every family against burn's ops) on that library. Not part of scripts/test.sh:
# a second full build (about 20 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/onednn3
ver=2023.2.0
mkdir -p "$dir"
if [ ! -f "$dir/include/oneapi/dnnl/dnnl.h" ] || [ ! -f "$dir/lib/libdnnl.so.3" ]; then
  python3 -m pip download -q --no-deps --disable-pip-version-check -d "$dir/wheels" \
    "onednn-cpu-gomp==$ver" "onednn-devel-cpu-gomp==$ver"
  python3 - "$dir" <<'PY'
import glob, os, shutil, sys, zipfile
d = sys.argv[1]
for w in glob.glob(os.path.join(d, "wheels", "*.whl")):
    zipfile.ZipFile(w).extractall(os.path.join(d, "x"))
for sub in ("include", "lib"):
    for src in glob.glob(os.path.join(d, "x", "*.data", "data", sub)):
        shutil.copytree(src, os.path.join(d, sub), dirs_exist_ok=True, symlinks=True)
PY
fi
export DNNL_INCLUDE_DIR="$PWD/$dir/include" KINEMA_DNNL_LIB="$PWD/$dir/lib/libdnnl.so.3"
CARGO_TARGET_DIR="$dir/build" cargo test --locked -p kinema-dnnl -p kinema-models --lib --test engine
