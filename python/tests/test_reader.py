"""decord's VideoReader API, frame by frame against the ffmpeg CLI."""

import io
import pathlib
import random

import numpy as np
import pytest

import kinema
from conftest import cli_frames

NAMES = ["h264", "vp9", "mpeg4", "folder"]


@pytest.fixture(autouse=True)
def numpy_bridge():
    kinema.bridge.set_bridge("native")
    yield
    kinema.bridge.set_bridge("native")


@pytest.mark.parametrize("name", NAMES)
def test_every_frame_equals_the_cli(videos, reference, name):
    vr = kinema.VideoReader(videos[name])
    ref = reference[name]
    assert len(vr) == len(ref)
    # sequential, by index, by iteration, as one batch
    assert all(np.array_equal(vr[i], ref[i]) for i in range(len(vr)))
    assert all(np.array_equal(f, r) for f, r in zip(vr, ref, strict=True))
    assert np.array_equal(vr.get_batch(range(len(vr))), ref)


@pytest.mark.parametrize("name", NAMES)
def test_random_order_batches_and_duplicates(videos, reference, name):
    vr = kinema.VideoReader(videos[name])
    ref = reference[name]
    rng = random.Random(7)
    for _ in range(5):
        idx = [rng.randrange(len(vr)) for _ in range(9)]
        idx += idx[:3]  # duplicates
        for form in (idx, tuple(idx), np.array(idx, dtype=np.int32)):
            batch = vr.get_batch(form)
            assert batch.shape == (len(idx),) + ref.shape[1:] and batch.dtype == np.uint8
            assert np.array_equal(batch, ref[idx])
    for i in rng.sample(range(len(vr)), 10):
        assert np.array_equal(vr[i], ref[i])


def test_negative_indices_and_slices(videos, reference):
    vr = kinema.VideoReader(videos["h264"])
    ref = reference["h264"]
    n = len(vr)
    assert np.array_equal(vr[-1], ref[n - 1])
    assert np.array_equal(vr.get_batch([-1, 0, -n]), ref[[n - 1, 0, 0]])
    assert np.array_equal(vr[3:20:4], ref[3:20:4])
    assert np.array_equal(vr[::-7], ref[::-7])
    assert vr[5:5].shape[0] == 0


def test_next_seek_skip(videos, reference):
    vr = kinema.VideoReader(videos["h264"])
    ref = reference["h264"]
    assert np.array_equal(vr.next(), ref[0])
    assert np.array_equal(vr.next(), ref[1])
    vr.seek(30)
    assert np.array_equal(vr.next(), ref[30])
    vr.seek_accurate(17)
    vr.skip_frames(3)  # 17, 18, 19
    assert np.array_equal(vr.next(), ref[20])
    vr.skip_frames()
    assert np.array_equal(vr.next(), ref[22])
    vr[57]  # decord's vr[i] is seek_accurate(i) + next(): the position moves on
    assert np.array_equal(vr.next(), ref[58])
    vr.next()
    with pytest.raises(StopIteration):
        vr.next()
    with pytest.raises(ValueError):
        vr.skip_frames(0)


def test_metadata(videos, reference):
    vr = kinema.VideoReader(videos["h264"])
    assert vr.get_avg_fps() == pytest.approx(25.0)
    keys = vr.get_key_indices()
    assert isinstance(keys, list) and keys[0] == 0 and keys == sorted(keys) and len(keys) >= 3
    one = vr.get_frame_timestamp(5)
    assert one.shape == (2,) and one.dtype == np.float32
    assert one == pytest.approx([0.2, 0.24], abs=1e-4)
    many = vr.get_frame_timestamp([0, 1, -1])
    assert many.shape == (3, 2)
    assert many[2, 0] == pytest.approx((len(vr) - 1) / 25, abs=1e-4)
    assert vr.get_frame_timestamp(range(len(vr)))[:, 0].tolist() == sorted(
        vr.get_frame_timestamp(range(len(vr)))[:, 0].tolist())
    assert vr.get_frame_timestamp(slice(0, 4)).shape == (4, 2)
    assert (vr.width, vr.height) == (98, 66) and vr.codec_name == "h264"
    assert "98x66" in repr(vr)


@pytest.mark.parametrize("interp,flags", [("bicubic", "bicubic"), ("bilinear", "bilinear")])
def test_resize_equals_the_cli_scale(videos, interp, flags):
    vr = kinema.VideoReader(videos["h264"], width=48, height=36, interpolation=interp)
    ref = cli_frames(videos["h264"], vf=f"scale=48:36:flags={flags}")
    assert np.array_equal(vr.get_batch(range(len(vr))), ref)


def test_one_side_keeps_the_other(videos):
    # decord: a side given as -1 keeps the video's own size (no aspect ratio)
    assert kinema.VideoReader(videos["h264"], width=40)[0].shape == (66, 40, 3)
    assert kinema.VideoReader(videos["h264"], height=30)[0].shape == (30, 98, 3)


def test_paths_and_file_objects(videos, reference):
    ref = reference["vp9"]
    assert np.array_equal(kinema.VideoReader(pathlib.Path(videos["vp9"]))[4], ref[4])
    with open(videos["vp9"], "rb") as f:
        vr = kinema.VideoReader(f)
    assert len(vr) == len(ref) and np.array_equal(vr.get_batch([3, 1]), ref[[3, 1]])
    vr = kinema.VideoReader(io.BytesIO(pathlib.Path(videos["mpeg4"]).read_bytes()), num_threads=1)
    assert np.array_equal(vr[-1], reference["mpeg4"][-1])


def test_errors_name_the_problem(videos, tmp_path):
    with pytest.raises(kinema.KinemaError, match="missing.mp4"):
        kinema.VideoReader(str(tmp_path / "missing.mp4"))
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(b"\x00\x01not a video" * 100)
    with pytest.raises(RuntimeError, match="garbage.mp4"):
        kinema.VideoReader(str(bad))
    truncated = tmp_path / "truncated.mp4"
    data = pathlib.Path(videos["h264"]).read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(kinema.DECORDError):
        vr = kinema.VideoReader(str(truncated))
        vr.get_batch(range(len(vr)))
    vr = kinema.VideoReader(videos["h264"])
    with pytest.raises(IndexError, match="60 frames"):
        vr[60]
    with pytest.raises(IndexError, match="-61"):
        vr.get_batch([0, -61])
    with pytest.raises(IndexError):
        vr.seek(100)
    with pytest.raises(ValueError):
        vr.get_batch(["a"])
    with pytest.raises(kinema.KinemaError, match="CPU"):
        kinema.VideoReader(videos["h264"], ctx=kinema.gpu(0))
    with pytest.raises(ValueError, match="interpolation"):
        kinema.VideoReader(videos["h264"], interpolation="nearest-ish")
    assert issubclass(kinema.KinemaError, RuntimeError)


def test_decord_signature_and_contexts(videos):
    vr = kinema.VideoReader(videos["h264"], kinema.cpu(0), -1, -1, 2, -1)
    assert len(vr) == 60
    assert repr(kinema.cpu(0)) == "cpu(0)" and kinema.cpu() == kinema.cpu(0)
    assert kinema.nd.cpu(1).device_id == 1 and kinema.gpu().device_type == 2


def test_stream_index_picks_a_stream(tmp_path):
    """FFmpeg's best video stream by default (decord's choice), torchcodec's `stream_index=`
    for any other, and a named error for a stream that is not video."""
    import subprocess
    path = str(tmp_path / "two.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=10", "-f", "lavfi",
         "-i", "testsrc2=size=240x136:rate=10", "-f", "lavfi", "-i", "sine", "-t", "1", "-map", "0:v",
         "-map", "1:v", "-map", "2:a", "-c:v", "libx264", "-c:a", "aac", "-disposition:v:0", "0",
         "-disposition:v:1", "default", path], check=True, capture_output=True)
    assert kinema.VideoReader(path)[0].shape == (136, 240, 3)
    assert kinema.VideoReader(path).stream_index() == 1
    assert kinema.VideoReader(path, stream_index=0)[0].shape == (90, 160, 3)
    with pytest.raises(Exception, match="stream 2 is Audio"):
        kinema.VideoReader(path, stream_index=2)


def test_timestamps_count_from_the_stream_start(tmp_path):
    """decord's `(pts - start_time)`: an MPEG-TS stream starts at 1.4 s, its frame 0 at 0."""
    import subprocess
    path = str(tmp_path / "late.ts")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-t", "1",
         "-c:v", "mpeg2video", "-g", "10", path], check=True, capture_output=True)
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=start_time", "-of", "csv=p=0", path], capture_output=True, text=True)
    assert float(probe.stdout.split(",")[0]) > 1.0, "the MPEG-TS muxer starts streams late"
    vr = kinema.VideoReader(path)
    ts = vr.get_frame_timestamp(range(len(vr)))
    assert ts[0, 0] == 0.0
    assert ts[:, 0] == pytest.approx(np.arange(len(vr)) / 25, abs=1e-4)
    assert ts[-1, 1] == pytest.approx(len(vr) / 25, abs=1e-4)
