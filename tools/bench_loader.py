"""Loader benchmark: GluonCV's VideoClsCustom + mxnet DataLoader (decord backend) beside
`kinema data bench`, same setting file, same clip parameters, same batches, in one run.

Run: `bash bench/loader/run.sh` (makes the synthetic dataset, builds kinema, builds the venv).
Writes bench/loader/RESULTS.md and bench/loader/results.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import mxnet as mx  # noqa: E402
from gluoncv.data import VideoClsCustom  # noqa: E402
from gluoncv.data.transforms import video  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
# GluonCV's recipes (scripts/action-recognition/train_recognizer.py and the model zoo configs).
INPUTS = {
    "i3d": dict(new_length=32, new_step=2),
    "tsn": dict(num_segments=8),
    "slowfast": dict(new_length=64, slowfast=True, slow_temporal_stride=16, fast_temporal_stride=2),
}


def gluoncv_rate(setting, root, kind, workers, batch_size, batches):
    transform = video.VideoGroupTrainTransform(size=(224, 224), scale_ratios=[1.0, 0.875, 0.75, 0.66],
                                               mean=MEAN, std=STD)
    ds = VideoClsCustom(root=root, setting=setting, train=True, new_width=340, new_height=256,
                        video_loader=True, use_decord=True, transform=transform, **INPUTS[kind])
    loader = mx.gluon.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                                      last_batch="discard")
    start = time.perf_counter()
    clips = 0
    for i, (x, _) in enumerate(loader):
        x.wait_to_read()
        clips += x.shape[0]
        if i + 1 == batches:
            break
    return clips / (time.perf_counter() - start), list(x.shape)


def kinema_rate(kinema, setting, root, kind, workers, batch_size, batches, resize="auto"):
    out = subprocess.run([kinema, "data", "bench", setting, "--root", root, "--model-input", kind,
                          "--workers", str(workers), "--batch-size", str(batch_size),
                          "--max-batches", str(batches), "--resize", resize, "--json"],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["clips_per_sec"], r["batch_shape"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinema", required=True)
    ap.add_argument("--setting", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--batches", type=int, default=12)
    ap.add_argument("--out", default="bench/loader")
    a = ap.parse_args()
    rows = []
    for kind in ["i3d", "tsn", "slowfast"]:
        for workers in [1, 2]:
            g, gshape = gluoncv_rate(a.setting, a.root, kind, workers, a.batch_size, a.batches)
            k, kshape = kinema_rate(a.kinema, a.setting, a.root, kind, workers, a.batch_size, a.batches)
            e, _ = kinema_rate(a.kinema, a.setting, a.root, kind, workers, a.batch_size, a.batches, "exact")
            row = dict(input=kind, workers=workers, gluoncv=g, kinema=k, ratio=k / g, kinema_exact=e,
                       ratio_exact=e / g, gluoncv_shape=gshape, kinema_shape=kshape)
            print(f"{kind:9s} workers={workers}  gluoncv {g:6.1f} clips/s  kinema {k:6.1f} clips/s "
                  f"x{k / g:.2f}  (exact resize {e:6.1f} x{e / g:.2f})  {gshape} / {kshape}", flush=True)
            rows.append(row)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(dict(cpu=os.cpu_count(), batch_size=a.batch_size, batches=a.batches, rows=rows), f, indent=1)
    lines = ["# Loader benchmark: kinema vs GluonCV (clips/s)", "",
             f"`bash bench/loader/run.sh` on this machine ({os.cpu_count()} cores): the synthetic dataset's "
             f"train.txt, training mode (resize to 340x256 while decoding, multi-scale crop to 224, flip, "
             f"normalize), batch {a.batch_size}, {a.batches} batches per cell, both loaders in one run. "
             "GluonCV: `VideoClsCustom(video_loader=True, use_decord=True)` + `VideoGroupTrainTransform` + "
             "`mxnet.gluon.data.DataLoader` (worker processes, decord with 1 thread). kinema: "
             "`kinema data bench` (worker threads, one decoder thread per reader like decord's; training "
             "mode resizes in YUV, `--resize auto`). The last two columns are kinema with `--resize exact`: "
             "decord's one-pass bilinear scale into RGB, the very pixels GluonCV's loader gets "
             "(bench/loader/CLIP_PARITY.md).", "",
             "| input | batch shape | workers | GluonCV | kinema | kinema / GluonCV | kinema, exact resize | ratio |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['input']} | {'x'.join(map(str, r['kinema_shape']))} | {r['workers']} | "
                     f"{r['gluoncv']:.1f} | {r['kinema']:.1f} | **{r['ratio']:.2f}x** | "
                     f"{r['kinema_exact']:.1f} | {r['ratio_exact']:.2f}x |")
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
