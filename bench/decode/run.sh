#!/usr/bin/env bash
# The decode benchmark in one command: kinema side by side with decord, PyAV, OpenCV,
# torchcodec, the JPEG readers and the ffmpeg CLI, on the shared harness's corpus, every frame
# checked against the ffmpeg CLI's decode. Writes bench/decode/RESULTS.md.
#
# env: SHARED (default ../shared), BENCH_VENV (default ~/.cache/kinema/bench-venv),
#      WORK (default bench/decode/work: corpus, truth, raw results; ~2.2 GB), LIBS, VIDEOS, OPS
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SHARED=${SHARED:-$ROOT/../shared}
H=$SHARED/bench/decode
[ -f "$H/bench.py" ] || { echo "no harness at $H (set SHARED)" >&2; exit 1; }
VENV=${BENCH_VENV:-$HOME/.cache/kinema/bench-venv}
WORK=${WORK:-$ROOT/bench/decode/work}
LIBS=${LIBS:-decord,pyav,opencv,tc-exact,tc-approx,pil,cv2-imread,tv-decode_jpeg}
mkdir -p "$WORK"

bash scripts/install-deps.sh
command -v nice >/dev/null
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import decord, av, cv2, torchcodec, torchvision, PIL" 2>/dev/null; then
  echo "[bench] building the anchor venv in $VENV (torch, torchcodec, decord, PyAV, OpenCV)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch==2.15.0 torchvision==0.29.2 torchcodec==0.17.0 av \
    eva-decord==0.6.1 opencv-python-headless==5.0.0.93 pillow numpy
fi
PY=$VENV/bin/python

cargo build --release --locked -p kinema-cli
KINEMA=$ROOT/target/release/kinema

[ -f "$WORK/videos/j_long60_h264.mp4" ] || bash "$H/gen_videos.sh" "$WORK/videos"
[ -f "$WORK/truth/manifest.json" ] || nice -n 19 "$PY" "$H/make_truth.py" --videos "$WORK/videos" --truth "$WORK/truth"

ARGS=(--truth "$WORK/truth" --libs "$LIBS" --ext "ffmpeg-cli=$PY $H/ext_ffmpeg_cli.py" --ext "kinema=$KINEMA bench-decode")
[ -n "${VIDEOS:-}" ] && ARGS+=(--videos "$VIDEOS")
[ -n "${OPS:-}" ] && ARGS+=(--ops "$OPS")
"$PY" "$H/bench.py" "${ARGS[@]}" --json "$WORK/main.json" | tee "$WORK/main.md"

# seq against `ffmpeg -threads 2 ... -f rawvideo /dev/null` on a and d, interleaved runs.
"$PY" bench/decode/seq_vs_cli.py --kinema "$KINEMA" --videos "$WORK/videos" --json "$WORK/seq_vs_cli.json"

"$PY" bench/decode/report.py --main "$WORK/main.json" --seq "$WORK/seq_vs_cli.json" > bench/decode/RESULTS.md
mkdir -p bench/decode/results
cp "$WORK/main.json" "$WORK/seq_vs_cli.json" bench/decode/results/
cat bench/decode/RESULTS.md
