"""Bridges: native NDArray (decord's asnumpy), numpy, torch; per thread as in decord."""

import threading

import numpy as np
import pytest

import kinema
from kinema import bridge


def test_native_numpy_and_scopes(videos):
    vr = kinema.VideoReader(videos["h264"])
    bridge.set_bridge("native")
    f = vr[0]
    assert isinstance(f, kinema.nd.NDArray) and isinstance(f, np.ndarray)
    assert type(f.asnumpy()) is np.ndarray and np.shares_memory(f, f.asnumpy())
    bridge.set_bridge("numpy")
    assert type(vr.get_batch([1, 2])) is np.ndarray
    with bridge.use_numpy():
        assert type(vr[1]) is np.ndarray
    bridge.reset_bridge()
    assert isinstance(vr[1], kinema.nd.NDArray)
    with pytest.raises(ValueError, match="bridge"):
        bridge.set_bridge("mxnet-ish")


def test_threads_inherit_the_main_threads_bridge(videos):
    vr = kinema.VideoReader(videos["h264"])
    bridge.set_bridge("numpy")
    out = {}

    def worker():
        out["type"] = type(vr[3])

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    bridge.reset_bridge()
    assert out["type"] is np.ndarray


def test_torch_bridge(videos):
    torch = pytest.importorskip("torch")
    vr = kinema.VideoReader(videos["h264"])
    with bridge.use_torch():
        t = vr.get_batch([0, 5])
    assert isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and tuple(t.shape) == (2, 66, 98, 3)
    assert np.array_equal(t.numpy(), kinema.VideoReader(videos["h264"]).get_batch([0, 5]))
