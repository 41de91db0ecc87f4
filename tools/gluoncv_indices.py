"""Exports the frame ids and crop boxes GluonCV's VideoClsCustom and video transforms pick, for
kinema-data's parity test (crates/kinema-data/tests/data/gluoncv_reference.json).

Run: `$(tools/gluoncv-venv.sh) tools/gluoncv_indices.py crates/kinema-data/tests/data/gluoncv_reference.json`

GluonCV's own code makes every number: the dataset's `_sample_{val,test}_indices` and its decord
batch loaders (fed a recording stand-in for decord's reader), and the crop transforms applied to a
frame whose pixels encode their coordinates.
"""
import itertools
import json
import sys
import warnings

warnings.filterwarnings("ignore")
import numpy as np  # noqa: E402
from gluoncv.data import VideoClsCustom  # noqa: E402
from gluoncv.data.transforms import video  # noqa: E402


class Recorder:
    """Stands in for decord.VideoReader: remembers the ids get_batch was asked for."""

    def __init__(self):
        self.ids = None

    def get_batch(self, ids):
        self.ids = [int(i) for i in ids]
        return self

    def asnumpy(self):
        return np.zeros((len(self.ids), 1, 1, 3), dtype=np.uint8)


def frame_ids(params, n, mode):
    ds = VideoClsCustom(root=".", setting="unused", lazy_init=True,
                        train=(mode == "train"), test_mode=(mode == "test"), **params)
    if mode == "val":
        seg, skip = ds._sample_val_indices(n)
    else:
        seg, skip = ds._sample_test_indices(n)
    rec = Recorder()
    if params.get("slowfast"):
        ds._video_TSN_decord_slowfast_loader("x", rec, n, seg, skip)
    else:
        ds._video_TSN_decord_batch_loader("x", rec, n, seg, skip)
    return rec.ids


def crop_origin(transform, w, h):
    """Top-left (x, y) of each crop, read back from pixels that encode their coordinates."""
    ys, xs = np.mgrid[0:h, 0:w]
    img = np.stack([xs % 256, xs // 256, ys], axis=-1).astype(np.int32)
    out = []
    for c in transform([img]):
        x = int(c[0, 0, 0] + 256 * c[0, 0, 1])
        x_last = int(c[0, -1, 0] + 256 * c[0, -1, 1])
        out.append({"x": min(x, x_last), "y": int(c[0, 0, 2]), "flip": bool(x > x_last)})
    return out


def main(path):
    cases = []
    lengths = [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 150, 301]
    dense = itertools.product([1, 3, 8, 10], [1, 4, 8, 32], [1, 2, 4])
    grids = [dict(num_segments=s, new_length=l, new_step=t) for s, l, t in dense if s * l <= 96]
    grids += [dict(num_segments=s, new_length=l, new_step=1, slowfast=True,
                   slow_temporal_stride=slow, fast_temporal_stride=fast)
              for s in [1, 3] for l, slow, fast in [(64, 16, 2), (32, 8, 1), (32, 4, 2), (16, 8, 2)]]
    for params in grids:
        for n in lengths:
            for mode in ["val", "test"]:
                cases.append({"params": params, "num_frames": n, "mode": mode,
                              "frame_indices": frame_ids(params, n, mode)})
    crops = []
    for w, h, t in [(340, 256, 224), (171, 128, 112), (169, 129, 112), (224, 224, 224), (160, 120, 112)]:
        crops.append({"kind": "center", "width": w, "height": h, "size": t,
                      "boxes": crop_origin(video.VideoCenterCrop(t), w, h)})
        crops.append({"kind": "ten", "width": w, "height": h, "size": t,
                      "boxes": crop_origin(video.VideoTenCrop(t), w, h)})
    for w, h, t in [(340, 256, 256), (256, 340, 256), (171, 128, 128), (128, 160, 128)]:
        crops.append({"kind": "three", "width": w, "height": h, "size": t,
                      "boxes": crop_origin(video.VideoThreeCrop(t), w, h)})
    # cv2.resize (INTER_LINEAR), what GluonCV's multi-scale crop resizes with, on a 37x29 image
    # whose pixels are a formula the Rust test recomputes.
    import cv2
    ys, xs, cs = np.mgrid[0:29, 0:37, 0:3]
    img = ((xs * 7 + ys * 13 + cs * 50) % 256 ^ ((xs * ys) % 7 * 9)).astype(np.uint8)
    resizes = [{"width": w, "height": h, "pixels": cv2.resize(img, (w, h)).reshape(-1).tolist()}
               for w, h in [(64, 48), (20, 15), (45, 33), (37, 29)]]
    with open(path, "w") as f:
        json.dump({"source": "gluoncv 0.10.5.post0 VideoClsCustom + transforms.video, cv2 "
                   + cv2.__version__, "cases": cases, "crops": crops, "resizes": resizes}, f,
                  separators=(",", ":"))
    print(f"{path}: {len(cases)} sampling cases, {len(crops)} crop cases")


if __name__ == "__main__":
    main(sys.argv[1])
