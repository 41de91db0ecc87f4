"""Where decord is installed: `import kinema as decord` gives decord's frames where decord is
exact (H.264 and VP9 at native size, sequential and random batches)."""

import numpy as np
import pytest

decord = pytest.importorskip("decord")
import kinema  # noqa: E402


@pytest.mark.parametrize("name", ["h264", "vp9"])
def test_same_frames_as_decord(videos, reference, name):
    d = decord.VideoReader(videos[name], ctx=decord.cpu(0))
    k = kinema.VideoReader(videos[name], ctx=kinema.cpu(0))
    assert len(d) == len(k)
    idx = [0, len(k) - 1, 7, 3, 3, len(k) // 2]
    dec = d.get_batch(idx).asnumpy()
    kin = k.get_batch(idx).asnumpy()
    # decord and kinema agree wherever decord matches the ffmpeg CLI
    exact = [j for j, i in enumerate(idx) if np.array_equal(dec[j], reference[name][i])]
    assert exact, "decord matched the CLI on none of the frames"
    assert all(np.array_equal(kin[j], dec[j]) for j in exact)
    assert np.array_equal(kin, reference[name][idx])
    assert d.get_key_indices() == k.get_key_indices()
    assert d.get_avg_fps() == pytest.approx(k.get_avg_fps())
    assert np.allclose(d.get_frame_timestamp(range(len(d))), k.get_frame_timestamp(range(len(k))),
                       atol=1e-3)


def test_a_decord_script_runs_unchanged(videos):
    script = f"""
import kinema as decord
from kinema import cpu
decord.bridge.set_bridge('native')
vr = decord.VideoReader({videos['h264']!r}, ctx=cpu(0), width=48, height=32, num_threads=1)
frames = vr.get_batch(range(0, len(vr), 5)).asnumpy()
assert frames.shape == (12, 32, 48, 3), frames.shape
first = vr[0].asnumpy()
ts = vr.get_frame_timestamp(range(3))
keys = vr.get_key_indices()
vl = decord.VideoLoader([{videos['h264']!r}], ctx=[cpu(0)], shape=(2, 32, 48, 3), interval=1,
                        skip=5, shuffle=1)
n = sum(1 for _ in vl)
assert n == len(vl) > 0
"""
    exec(compile(script, "decord_script", "exec"), {})


def test_resized_frames_equal_decords(videos):
    # (decord fails on widths that are not a multiple of 32: "size must exactly match")
    d = decord.VideoReader(videos["h264"], width=64, height=48)
    k = kinema.VideoReader(videos["h264"], width=64, height=48)
    idx = list(range(0, len(k), 3))
    dec, kin = d.get_batch(idx).asnumpy(), k.get_batch(idx).asnumpy()
    native = decord.VideoReader(videos["h264"]).get_batch(idx).asnumpy()
    exact = [j for j, i in enumerate(idx)
             if np.array_equal(native[j], kinema.VideoReader(videos["h264"])[i].asnumpy())]
    assert exact
    assert all(np.array_equal(kin[j], dec[j]) for j in exact)
