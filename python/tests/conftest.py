"""Test videos made with the ffmpeg CLI, and the CLI's frames as the reference (libjpeg-turbo's,
as PIL and OpenCV read them, for the JPEG frame folder)."""

import os
import shutil
import subprocess

import numpy as np
import pytest

FFMPEG = shutil.which("ffmpeg")

# name -> (file name, ffmpeg output options); every source is testsrc2 at 25 fps.
VIDEOS = {
    "h264": ("h264_bframes.mp4", "-s 98x66 -frames:v 60 -c:v libx264 -g 16 -bf 2 -pix_fmt yuv420p"),
    "vp9": ("vp9.webm", "-s 64x48 -frames:v 40 -c:v libvpx-vp9 -g 12 -deadline realtime -cpu-used 8"),
    "mpeg4": ("mpeg4.avi", "-s 64x48 -frames:v 40 -c:v mpeg4 -g 10 -q:v 4"),
}


def run(cmd):
    subprocess.run(cmd, shell=True, check=True, capture_output=True)


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    if FFMPEG is None:
        pytest.skip("the ffmpeg CLI makes the test videos")
    d = tmp_path_factory.mktemp("videos")
    out = {}
    for name, (file, opts) in VIDEOS.items():
        path = d / file
        run(f"ffmpeg -v error -y -f lavfi -i testsrc2=rate=25:size=320x240 {opts} {path}")
        out[name] = str(path)
    folder = d / "frames"
    folder.mkdir()
    run(f"ffmpeg -v error -y -i {out['h264']} -q:v 3 -start_number 1 {folder}/img_%05d.jpg")
    out["folder"] = str(folder)
    return out


def cli_frames(path, vf=None):
    """Every frame as the ffmpeg CLI decodes it: [N, H, W, 3] uint8."""
    src = f"{path}/img_%05d.jpg" if not path.endswith(("mp4", "webm", "avi")) else path
    filt = ["-vf", vf] if vf else []
    probe = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", src, "-map", "0:v:0", "-fps_mode", "passthrough", *filt,
         "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
        check=True, capture_output=True).stdout
    size = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", src], check=True, capture_output=True, text=True).stdout.split(",")
    w, h = int(size[0]), int(size[1])
    if vf and vf.startswith("scale="):
        w, h = (int(v) for v in vf[len("scale="):].split(":")[0:2])
    return np.frombuffer(probe, dtype=np.uint8).reshape(-1, h, w, 3)


def jpeg_frames(folder):
    """Every frame of a JPEG folder as libjpeg-turbo's djpeg decodes it: [N, H, W, 3] uint8."""
    out = []
    for name in sorted(f for f in os.listdir(folder) if f.endswith(".jpg")):
        ppm = subprocess.run(["djpeg", os.path.join(folder, name)], check=True, capture_output=True).stdout
        magic, w, h, _maxval, pixels = ppm.split(maxsplit=4)
        assert magic == b"P6", name
        out.append(np.frombuffer(pixels, dtype=np.uint8).reshape(int(h), int(w), 3))
    return np.stack(out)


@pytest.fixture(scope="session")
def reference(videos):
    """The CLI's frames of every test video (libjpeg-turbo's for the folder), computed once."""
    return {name: jpeg_frames(path) if name == "folder" else cli_frames(path)
            for name, path in videos.items()}
