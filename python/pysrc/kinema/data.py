"""GluonCV-style video datasets on kinema's reader.

``VideoClsCustom(root, setting, ...)`` takes GluonCV's parameters with GluonCV's defaults and
returns ``(clip, label)``, clip a float32 numpy array ``[views, 3, T, H, W]`` (``[views, 3, H, W]``
when ``new_length == 1``), normalized with ImageNet's mean and std. ``synth(out, classes=10,
videos_per_class=60, seed=0, ...)`` writes kinema's synthetic action dataset (``kinema synth``).
"""

from ._kinema import VideoClsCustom, synth

__all__ = ["VideoClsCustom", "synth"]
