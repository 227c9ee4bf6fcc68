"""Data transforms of the top-down pipeline (registered in TRANSFORMS under MMPose names)."""

from opencapbench.pose.transforms.base import BaseTransform, Compose
from opencapbench.pose.transforms.formatting import PackPoseInputs, image_to_tensor
from opencapbench.pose.transforms.loading import ImageLoadError, LoadImage
from opencapbench.pose.transforms.topdown import GetBBoxCenterScale, TopdownAffine

__all__ = [
    "BaseTransform",
    "Compose",
    "GetBBoxCenterScale",
    "ImageLoadError",
    "LoadImage",
    "PackPoseInputs",
    "TopdownAffine",
    "image_to_tensor",
]
