#!/usr/bin/env bash
# The README's first command, after the build: make videos the embedded default model never
# saw (the synthetic actions, with a seed it was not trained on), classify them with it, and
# show the reader at work on a sample video (probe + frames as PNG).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${KINEMA_BIN:-target/release/kinema}
OUT=${OUT:-samples}
mkdir -p "$OUT"
if [ ! -f "$OUT/actions/val.txt" ]; then
  echo "[demo] making $OUT/actions: 12 synthetic action videos (one per class, seed 2026)"
  "$BIN" synth --out "$OUT/actions" --classes 12 --videos-per-class 1 --val-per-class 1 --seed 2026 >/dev/null
fi
echo "[demo] classifying them with the embedded default model (kinema_motion_default):"
"$BIN" predict "$OUT"/actions/val/*/00001.mp4 --topk 3
"$BIN" eval --data "$OUT/actions/val.txt"
if [ ! -f "$OUT/sample.mp4" ]; then
  echo "[demo] making $OUT/sample.mp4 (H.264 with B-frames, 3 s, 320x240, from ffmpeg's test sources)"
  ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i "testsrc2=size=320x240:rate=30,noise=alls=8:allf=t" -t 3 \
    -c:v libx264 -g 45 -bf 2 -pix_fmt yuv420p "$OUT/tmp_sample.mp4"
  mv "$OUT/tmp_sample.mp4" "$OUT/sample.mp4"
fi
"$BIN" probe "$OUT/sample.mp4"
"$BIN" frames "$OUT/sample.mp4" --indices 0,45,89 --out "$OUT/frames"
"$BIN" frames "$OUT/sample.mp4" --indices 30 --resize 112x112 --out "$OUT/frames_112"
echo "[demo] PNG frames are in $OUT/frames and $OUT/frames_112"
