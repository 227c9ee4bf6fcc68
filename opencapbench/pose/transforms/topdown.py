"""``GetBBoxCenterScale`` and ``TopdownAffine``: crop each instance's box to the model input."""

from __future__ import annotations

import cv2
import numpy as np

from opencapbench.pose.registry import TRANSFORMS
from opencapbench.pose.transforms.base import BaseTransform
from opencapbench.pose.transforms.warp import (
    bbox_xyxy2cs,
    fix_aspect_ratio,
    get_udp_warp_matrix,
    get_warp_matrix,
    warp_points,
)


@TRANSFORMS.register_module()
class GetBBoxCenterScale(BaseTransform):
    """``bbox (1,4)`` xyxy -> ``bbox_center (1,2)`` and ``bbox_scale (1,2)`` = wh * padding.

    If centre and scale are already present only the padding is applied to the scale.
    """

    def __init__(self, padding: float = 1.25) -> None:
        self.padding = float(padding)

    def transform(self, results: dict) -> dict:
        if "bbox_center" in results and "bbox_scale" in results:
            results["bbox_scale"] = np.asarray(results["bbox_scale"], np.float32) * self.padding
        else:
            center, scale = bbox_xyxy2cs(results["bbox"], padding=self.padding)
            results["bbox_center"], results["bbox_scale"] = center, scale
        return results


@TRANSFORMS.register_module()
class TopdownAffine(BaseTransform):
    """Warp the box region to ``input_size`` (w, h) with ``cv2.warpAffine`` (INTER_LINEAR).

    Fixes ``bbox_scale`` to the input aspect ratio, honours ``bbox_rotation`` (degrees), and
    sets ``img`` (h, w, 3), ``input_size``, ``input_center (2,)``, ``input_scale (2,)`` and,
    when ``keypoints`` are present, ``transformed_keypoints`` (input pixels).

    Args:
        input_size: (w, h) of the model input.
        use_udp: use UDP's ``(size - 1)`` warp matrix.
    """

    def __init__(self, input_size: tuple[int, int], use_udp: bool = False) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.use_udp = bool(use_udp)

    def transform(self, results: dict) -> dict:
        w, h = self.input_size
        scale = fix_aspect_ratio(np.asarray(results["bbox_scale"], np.float32), w / h)
        results["bbox_scale"] = scale
        center_all = np.asarray(results["bbox_center"], np.float32)
        if center_all.shape[0] != 1:
            raise ValueError(
                f"TopdownAffine crops one instance per sample, got {center_all.shape[0]}"
            )
        center, scale = center_all[0], scale[0]
        rot = float(results["bbox_rotation"][0]) if "bbox_rotation" in results else 0.0
        if self.use_udp:
            mat = get_udp_warp_matrix(center, scale, rot, (w, h))
        else:
            mat = get_warp_matrix(center, scale, rot, (w, h))
        img = results["img"]
        if isinstance(img, list):
            results["img"] = [cv2.warpAffine(i, mat, (w, h), flags=cv2.INTER_LINEAR) for i in img]
        else:
            results["img"] = cv2.warpAffine(img, mat, (w, h), flags=cv2.INTER_LINEAR)
        if results.get("keypoints") is not None:
            kpts = np.asarray(results["keypoints"], np.float32)
            out = kpts.copy()
            out[..., :2] = warp_points(kpts[..., :2], mat)
            results["transformed_keypoints"] = out
        results["input_size"] = (w, h)
        results["input_center"] = center
        results["input_scale"] = scale
        return results
