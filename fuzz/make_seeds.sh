#!/usr/bin/env bash
# Seeds for the open_decode fuzz target: tiny videos in every container/codec the reader tests.
set -euo pipefail
OUT=${1:-corpus/open_decode}
mkdir -p "$OUT"
FF=(ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i "testsrc2=size=32x32:rate=10" -t 1)
"${FF[@]}" -c:v libx264 -bf 2 -g 4 -pix_fmt yuv420p "$OUT/h264.mp4"
"${FF[@]}" -c:v libx264 -g 4 -pix_fmt yuv420p "$OUT/h264.mkv"
"${FF[@]}" -c:v libx265 -x265-params log-level=error:keyint=4 "$OUT/hevc.mp4"
"${FF[@]}" -c:v libvpx-vp9 -g 4 -deadline realtime "$OUT/vp9.webm"
"${FF[@]}" -c:v libvpx -g 4 "$OUT/vp8.webm"
"${FF[@]}" -c:v mpeg4 -g 4 "$OUT/mpeg4.avi"
"${FF[@]}" -c:v mpeg2video -g 4 "$OUT/mpeg2.ts"
"${FF[@]}" -c:v mjpeg "$OUT/mjpeg.avi"
"${FF[@]}" -c:v libaom-av1 -cpu-used 8 -g 4 "$OUT/av1.mkv"
ls -la "$OUT"
