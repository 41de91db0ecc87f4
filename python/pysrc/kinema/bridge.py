"""decord's bridges: what readers and loaders return.

``native`` (the default): ``kinema.nd.NDArray``, a numpy array with decord's ``asnumpy()``;
``numpy``: plain ``numpy.ndarray``; ``torch``: ``torch.Tensor`` sharing the memory
(``torch.from_numpy``, no copy). The choice is per thread; threads started later inherit the
main thread's choice, as in decord.
"""

import threading

import numpy as np

from .ndarray import NDArray

__all__ = ["bridge_out", "reset_bridge", "set_bridge", "use_numpy", "use_torch"]


def _to_torch(arr):
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the 'torch' bridge needs PyTorch: pip install torch") from e
    return torch.from_numpy(arr)


_BRIDGES = {
    "native": lambda a: a.view(NDArray),
    "numpy": lambda a: a,
    "torch": _to_torch,
}

_current = threading.local()
_global = "native"


def _kind():
    kind = getattr(_current, "kind", None)
    return _global if kind is None else kind


def set_bridge(new_bridge):
    """Chooses what frames come back as: ``'native'``, ``'numpy'`` or ``'torch'``."""
    global _global
    if not isinstance(new_bridge, str) or new_bridge not in _BRIDGES:
        raise ValueError(f"bridge {new_bridge!r}: expected one of {sorted(_BRIDGES)}")
    if new_bridge == "torch":
        _to_torch(np.zeros(1, dtype=np.uint8))  # fail now, not at the first frame
    _current.kind = new_bridge
    if threading.current_thread() is threading.main_thread():
        _global = new_bridge


def reset_bridge():
    """Back to ``native``."""
    set_bridge("native")


def bridge_out(arr):
    """``arr`` (a numpy array) as the current bridge's type."""
    return _BRIDGES[_kind()](arr)


class _Scope:
    def __init__(self, kind):
        self._kind = kind
        self._prev = None

    def __enter__(self):
        self._prev = _kind()
        set_bridge(self._kind)
        return self

    def __exit__(self, *exc):
        set_bridge(self._prev)
        return False


def use_torch():
    """``with kinema.bridge.use_torch(): ...`` returns tensors inside the block."""
    return _Scope("torch")


def use_numpy():
    """``with kinema.bridge.use_numpy(): ...`` returns plain numpy arrays inside the block."""
    return _Scope("numpy")
