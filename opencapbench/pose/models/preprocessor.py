"""``PoseDataPreprocessor``: stack uint8 images, BGR->RGB, normalise with mean/std."""

from __future__ import annotations

import warnings

from mmengine.model import ImgDataPreprocessor

from opencapbench.pose.registry import MODELS


@MODELS.register_module()
class PoseDataPreprocessor(ImgDataPreprocessor):
    """mmengine's ``ImgDataPreprocessor`` under MMPose's name.

    ``{"inputs": list of (3,H,W) uint8 tensors, "data_samples": [...]}`` ->
    ``{"inputs": (B,3,H,W) float32 (x - mean) / std, "data_samples": [...]}`` on the model's
    device; ``bgr_to_rgb=True`` swaps channels before normalising (mean/std are RGB).
    MMPose's ``batch_augments`` are not supported (ignored with a warning).
    """

    def __init__(self, *args, batch_augments=None, **kwargs) -> None:
        if batch_augments:
            warnings.warn("PoseDataPreprocessor ignores batch_augments", stacklevel=2)
        super().__init__(*args, **kwargs)
