"""kinema: a frame-exact video reader with decord's API.

``import kinema as decord`` runs a script written for decord: ``VideoReader``, ``VideoLoader``,
``cpu``/``gpu``, ``bridge.set_bridge`` and ``DECORDError`` have decord's names, arguments and
defaults. Frame ``i`` is exactly the ffmpeg CLI's frame ``i`` on every format FFmpeg decodes.
``kinema.data`` holds GluonCV's ``VideoClsCustom`` and the synthetic dataset, ``kinema.models``
GluonCV's ``get_model`` and ``predict``.
"""

from . import _kinema
from ._kinema import Context, KinemaError, VideoLoader, VideoReader, cpu, ffmpeg_versions, gpu
from . import bridge, data, models, ndarray
from . import ndarray as nd

# decord's exception names, so `except decord.DECORDError` keeps working after the switch.
DECORDError = KinemaError
DECORDLimitReachedError = KinemaError

__version__ = "0.1.0"

__all__ = [
    "Context",
    "DECORDError",
    "DECORDLimitReachedError",
    "KinemaError",
    "VideoLoader",
    "VideoReader",
    "bridge",
    "cpu",
    "data",
    "ffmpeg_versions",
    "gpu",
    "models",
    "nd",
    "ndarray",
]
