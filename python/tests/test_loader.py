"""decord's VideoLoader: batches, indices, shuffle modes, against the reader."""

import numpy as np
import pytest

import kinema


def batch_starts(n, bs, interval, skip):
    """decord's sequential batch starts in a video of n frames."""
    span = bs * (interval + 1) - interval
    starts, b = [], 0
    while b + span + 1 < n:
        starts.append(b)
        b += span + skip
    return starts


def test_batches_are_the_readers_frames(videos):
    uris = [videos["h264"], videos["vp9"]]
    vl = kinema.VideoLoader(uris, ctx=[kinema.cpu(0)], shape=(4, 32, 48, 3), interval=2, skip=3,
                            shuffle=0)
    want = [(v, s) for v, u in enumerate(uris)
            for s in batch_starts(len(kinema.VideoReader(u)), 4, 2, 3)]
    assert len(vl) == len(want) > 4
    readers = [kinema.VideoReader(u, width=48, height=32) for u in uris]
    seen = []
    for frames, idx in vl:
        assert frames.shape == (4, 32, 48, 3) and frames.dtype == np.uint8
        assert idx.shape == (4, 2) and idx.dtype == np.int64
        v = int(idx[0, 0])
        assert (idx[:, 0] == v).all() and np.diff(idx[:, 1]).tolist() == [3, 3, 3]
        assert np.array_equal(frames, readers[v].get_batch(idx[:, 1]))
        seen.append((v, int(idx[0, 1])))
    assert seen == want
    with pytest.raises(StopIteration):
        vl.next()


@pytest.mark.parametrize("shuffle", [1, 2, 3])
def test_shuffles_visit_every_batch_once(videos, shuffle):
    uris = [videos["h264"], videos["mpeg4"]]
    vl = kinema.VideoLoader(uris, kinema.cpu(0), (2, 24, 24, 3), 1, 1, shuffle, num_workers=2,
                            seed=3)
    first = [tuple(i[0]) for _, i in vl]
    vl.reset()
    second = [tuple(i[0]) for _, i in vl]
    ordered = [(v, s) for v, u in enumerate(uris)
               for s in batch_starts(len(kinema.VideoReader(u)), 2, 1, 1)]
    assert sorted(first) == sorted(second) == sorted(ordered)
    assert first != ordered or second != ordered
    if shuffle == 3:  # files in order, batches shuffled inside each
        assert [v for v, _ in first] == sorted(v for v, _ in first)
    if shuffle == 1:  # each file's batches stay in order
        for v in range(2):
            starts = [s for w, s in first if w == v]
            assert starts == sorted(starts)


def test_loader_errors(videos, tmp_path):
    with pytest.raises(ValueError, match="shape"):
        kinema.VideoLoader([videos["h264"]], kinema.cpu(0), (2, 24, 24), 0, 0, 0)
    with pytest.raises(kinema.KinemaError, match="nope.mp4"):
        kinema.VideoLoader([str(tmp_path / "nope.mp4")], kinema.cpu(0), (2, 24, 24, 3), 0, 0, 0)
    with pytest.raises(kinema.KinemaError, match="shuffle"):
        kinema.VideoLoader([videos["h264"]], kinema.cpu(0), (2, 24, 24, 3), 0, 0, 7)
    with pytest.raises(kinema.KinemaError, match="CPU"):
        kinema.VideoLoader([videos["h264"]], kinema.gpu(0), (2, 24, 24, 3), 0, 0, 0)
