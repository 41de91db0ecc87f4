"""GluonCV-style video datasets on kinema's reader.

``VideoClsCustom(root, setting, ...)`` takes GluonCV's parameters with GluonCV's defaults and
returns ``(clip, label)``, clip a float32 numpy array ``[views, 3, T, H, W]`` (``[views, 3, H, W]``
when ``new_length == 1``), normalized with ImageNet's mean and std.
"""

from ._kinema import VideoClsCustom

__all__ = ["VideoClsCustom"]
