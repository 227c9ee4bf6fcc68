"""Data transforms of the top-down pipeline, test and training (registered in TRANSFORMS under
MMPose names)."""

from opencapbench.pose.transforms.base import BaseTransform, Compose
from opencapbench.pose.transforms.common_transforms import (
    GenerateTarget,
    KeypointConverter,
    RandomBBoxTransform,
    RandomFlip,
    RandomHalfBody,
)
from opencapbench.pose.transforms.formatting import PackPoseInputs, image_to_tensor
from opencapbench.pose.transforms.loading import ImageLoadError, LoadImage
from opencapbench.pose.transforms.topdown import GetBBoxCenterScale, TopdownAffine

__all__ = [
    "BaseTransform",
    "Compose",
    "GenerateTarget",
    "GetBBoxCenterScale",
    "ImageLoadError",
    "KeypointConverter",
    "LoadImage",
    "PackPoseInputs",
    "RandomBBoxTransform",
    "RandomFlip",
    "RandomHalfBody",
    "TopdownAffine",
    "image_to_tensor",
]
