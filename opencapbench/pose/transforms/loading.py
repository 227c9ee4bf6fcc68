"""``LoadImage``: read a BGR uint8 image (or accept one already in ``results['img']``)."""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from opencapbench.errors import OCBError
from opencapbench.pose.registry import TRANSFORMS
from opencapbench.pose.transforms.base import BaseTransform


class ImageLoadError(OCBError, OSError):
    """An image file could not be read."""


@TRANSFORMS.register_module()
class LoadImage(BaseTransform):
    """Set ``img`` (H, W, 3) BGR uint8 (float32 if ``to_float32``), ``img_shape``, ``ori_shape``.

    Reads ``results['img_path']`` with OpenCV unless ``results['img']`` is already an array.
    MMPose/mmcv options the toolkit does not use (``backend_args``, ``imdecode_backend``, ...)
    are accepted and ignored with a warning.
    """

    def __init__(self, to_float32: bool = False, color_type: str = "color", **ignored) -> None:
        if color_type != "color":
            raise ValueError(f"LoadImage: only color_type='color' is supported, got {color_type!r}")
        ignored = {k: v for k, v in ignored.items() if v is not None}
        if ignored:
            warnings.warn(f"LoadImage ignores options {sorted(ignored)}", stacklevel=2)
        self.to_float32 = to_float32

    def transform(self, results: dict) -> dict:
        img = results.get("img")
        if img is None:
            path = results.get("img_path")
            img = cv2.imread(str(path), cv2.IMREAD_COLOR) if path is not None else None
            if img is None:
                raise ImageLoadError(f"LoadImage: cannot read image {path!r}")
        else:
            if not isinstance(img, np.ndarray):
                raise TypeError(f"LoadImage: results['img'] must be an ndarray, got {type(img)}")
            results.setdefault("img_path", None)
        if self.to_float32:
            img = img.astype(np.float32)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        return results
