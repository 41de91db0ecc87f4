"""decord's ``ndarray`` module: contexts and the array type of the ``native`` bridge."""

import numpy as np

from ._kinema import Context, cpu, gpu

__all__ = ["Context", "NDArray", "array", "cpu", "gpu"]


class NDArray(np.ndarray):
    """What the ``native`` bridge returns: a numpy array (a view, no copy) that also has
    decord's ``asnumpy()``, so code written for ``decord.nd.NDArray`` keeps working."""

    def asnumpy(self):
        """The same data as a plain ``numpy.ndarray`` (no copy)."""
        return self.view(np.ndarray)

    @property
    def context(self):
        """decord's ``NDArray.context``: always ``cpu(0)`` here."""
        return cpu(0)


def array(arr, ctx=None):
    """decord's ``nd.array``: a numpy-convertible value as an ``NDArray``."""
    if ctx is not None and ctx != cpu(0) and getattr(ctx, "device_type", 1) != 1:
        raise ValueError("kinema arrays live on the CPU: ctx must be kinema.cpu()")
    return np.asarray(arr).view(NDArray)
