"""Whole-pipeline check: the val/test clip tensors GluonCV's VideoClsCustom (decord backend,
GluonCV's val transforms) makes beside `kinema data sample --save` on the same setting file.

Run: `"$(bash tools/gluoncv-venv.sh)" tools/gluoncv_clip_parity.py --kinema target/release/kinema
--setting bench/loader/work/synthetic/val.txt --root bench/loader/work/synthetic`

Prints, per configuration and sample, how far the tensors are apart (in 8-bit levels) and
whether decord itself returned the right frames (its frames at native size against the ffmpeg
CLI's). decord is not frame-exact on every stream (it can return a frame two later after a
seek into a B-frame GOP); kinema is. Exits non-zero if a clip differs where decord was right.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")
import numpy as np  # noqa: E402
from gluoncv.data import VideoClsCustom  # noqa: E402
from gluoncv.data.transforms import video  # noqa: E402
import decord  # noqa: E402  (after mxnet: imported first it aborts on some machines)

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
CONFIGS = {
    "tsn_val": (dict(num_segments=8), "val", 1),
    "i3d_val": (dict(new_length=32, new_step=2), "val", 1),
    "slowfast_val": (dict(new_length=64, slowfast=True, slow_temporal_stride=16, fast_temporal_stride=2), "val", 1),
    "i3d_test_3crop": (dict(new_length=16, new_step=2, num_segments=2, new_width=340, new_height=256), "test", 3),
}


def flags(params):
    out = []
    for k, v in params.items():
        out += ["--" + k.replace("_", "-"), str(v).lower() if isinstance(v, bool) else str(v)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinema", required=True)
    ap.add_argument("--setting", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--samples", type=int, default=6)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    worst = 0.0
    truths = {}
    bad = 0
    for name, (params, mode, crops) in CONFIGS.items():
        size = 256 if crops == 3 else 224
        if crops == 3:
            transform = video.VideoThreeCrop(size)
            tail = [video.VideoToTensor(), video.VideoNormalize(MEAN, STD)]
        else:
            transform = video.VideoGroupValTransform(size=size, mean=MEAN, std=STD)
            tail = []
        ds = VideoClsCustom(root=a.root, setting=a.setting, train=False, test_mode=(mode == "test"),
                            video_loader=True, use_decord=True, num_crop=crops, target_width=size,
                            target_height=size, transform=lambda c: _chain(c, transform, tail), **params)
        for k in range(min(a.samples, len(ds))):
            g, _ = ds[k]
            g = g.asnumpy()
            out = os.path.join(tmp, f"{name}_{k}.npy")
            cmd = [a.kinema, "data", "sample", a.setting, "--root", a.root, "--line", str(k), "--mode", mode,
                   "--num-crop", str(crops), "--target-width", str(size), "--target-height", str(size),
                   "--resize", "exact", "--save", out, "--json"] + flags(params)
            info = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            kt = np.load(out)
            if kt.shape != g.shape:
                print(f"{name} sample {k}: shape {kt.shape} vs GluonCV {g.shape}")
                worst = float("inf")
                continue
            levels = np.abs(kt - g) * np.array(STD).reshape(1, 3, *([1] * (g.ndim - 2))) * 255
            diff = float(levels.max())
            same = float((levels < 0.01).mean())
            path = info["path"]
            if path not in truths:
                truths[path] = cli_frames(path)
            ids = info["frame_indices"]
            dn = decord.VideoReader(path, num_threads=1).get_batch(ids).asnumpy()
            wrong = [i for j, i in enumerate(ids) if not (dn[j] == truths[path][i]).all()]
            verdict = "decord exact" if not wrong else f"decord returned wrong frames for ids {sorted(set(wrong))}"
            if not wrong:
                worst = max(worst, diff)
                bad += diff > 0.01
            print(f"{name:15s} sample {k}: {same:7.2%} of values equal, max difference {diff:6.2f} levels; {verdict}")
    print(f"largest difference where decord was exact: {worst:.2f} levels")
    return 1 if bad else 0


def cli_frames(path):
    """Every frame at native size, as the ffmpeg CLI decodes them."""
    vr = decord.VideoReader(path)
    h, w, _ = vr[0].shape
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough",
                          "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


def _chain(clips, transform, tail):
    clips = transform(clips)
    for t in tail:
        clips = t(clips)
    return clips


if __name__ == "__main__":
    sys.exit(main())
