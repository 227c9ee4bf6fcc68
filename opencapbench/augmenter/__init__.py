"""OpenCap's LSTM marker augmenter (v0.1–v0.3) run from its published Keras files in PyTorch.

:func:`augment` maps triangulated OpenPose-style markers to OpenCap's 43 anatomical markers;
:func:`augment_trc` is the benchmark stage (TRC in, TRC out).
"""

from opencapbench.augmenter.core import augment, floor_offset, load_augmenter_model
from opencapbench.augmenter.errors import AugmenterError, AugmenterFileError
from opencapbench.augmenter.stage import augment_trc
from opencapbench.augmenter.versions import VERSIONS, get_version

__all__ = [
    "VERSIONS",
    "AugmenterError",
    "AugmenterFileError",
    "augment",
    "augment_trc",
    "floor_offset",
    "get_version",
    "load_augmenter_model",
]
