"""ViTPose models of ``transformers`` (e.g. SynthPose ViTPose) behind ``predict_bboxes``.

Crops follow ``VitPoseImageProcessor`` exactly (box padding 1.25, aspect fixed to the model
input, the unbiased "UDP" warp that maps the padded box onto ``size - 1`` pixels), but are
warped with ``cv2.warpAffine`` instead of per-channel ``scipy.ndimage`` and run as one batch.
The flip test (not built into transformers) averages the heatmaps of the crop and of its
mirror, flipped back with the keypoint set's left/right pairs.  Heatmaps are decoded by the
processor's own ``keypoints_from_heatmaps`` (argmax + DARK-UDP, kernel 11).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch

from opencapbench.device import autocast, parse_precision
from opencapbench.keypoints import (
    KeypointSet,
    get_keypoint_set,
    keypoint_set_from_names,
    register_keypoint_set,
)

_NORMALIZE_FACTOR = 200.0  # the processor's box scale unit (pixels)
_PADDING = 1.25


def as_box_array(boxes: np.ndarray | list) -> np.ndarray:
    """``(N, C)`` float64 view of a box list (``C`` >= 4); ``(0, 4)`` when empty."""
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4))
    return arr.reshape(-1, arr.shape[-1])


def boxes_to_center_scale(
    boxes: np.ndarray, input_size: tuple[int, int], padding: float = _PADDING
) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(N, 2)`` px and padded ROI sizes ``(N, 2)`` px (w, h) of xyxy ``boxes (N, >=4)``.

    The box is widened or heightened to the aspect ratio of ``input_size (w, h)`` and then
    multiplied by ``padding`` (``VitPoseImageProcessor``'s ``box_to_center_and_scale`` × 200).
    """
    boxes = as_box_array(boxes)
    wh = boxes[:, 2:4] - boxes[:, 0:2]
    center = boxes[:, 0:2] + 0.5 * wh
    aspect = input_size[0] / input_size[1]
    w = np.where(wh[:, 0] > aspect * wh[:, 1], wh[:, 0], wh[:, 1] * aspect)
    h = np.where(wh[:, 0] > aspect * wh[:, 1], wh[:, 0] / aspect, wh[:, 1])
    return center, np.stack([w, h], axis=1) * padding


def udp_warp_matrices(
    center: np.ndarray, roi: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """Affine matrices ``(N, 2, 3)`` mapping image px to crop px (no rotation, UDP).

    ``center - roi/2`` maps to crop pixel 0 and ``center + roi/2`` to ``input_size - 1``.
    """
    sx = (input_size[0] - 1.0) / roi[:, 0]
    sy = (input_size[1] - 1.0) / roi[:, 1]
    m = np.zeros((len(center), 2, 3))
    m[:, 0, 0] = sx
    m[:, 0, 2] = sx * (0.5 * roi[:, 0] - center[:, 0])
    m[:, 1, 1] = sy
    m[:, 1, 2] = sy * (0.5 * roi[:, 1] - center[:, 1])
    return m


def _keypoint_set_for(names_from_config: list[str], k: int) -> KeypointSet:
    if k == 52:
        return get_keypoint_set("synthpose52")
    if k == 17:
        return get_keypoint_set("coco17")
    kps = keypoint_set_from_names(f"vitpose{k}", names_from_config)
    return register_keypoint_set(kps, overwrite=True)


class VitPoseEstimator:
    """A ``VitPoseForPoseEstimation`` model with the toolkit's pose-model interface.

    Args:
        folder: local folder with ``config.json``, weights and ``preprocessor_config.json``.
        device: torch device.
        amp: precision (:func:`opencapbench.device.autocast`): "none", "bf16", "fp16".
        flip_test: average with the horizontally flipped crop.
        batch_size: crops per forward pass (a flip test doubles it internally).

    Attributes:
        keypoint_set: the :class:`KeypointSet` of the outputs (synthpose52 for K = 52,
            coco17 for K = 17).
        keypoint_names, flip_indices, input_size (w, h): as the HRNet pose model.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        device: str | torch.device = "cpu",
        amp: str | None = None,
        flip_test: bool = True,
        batch_size: int = 32,
    ) -> None:
        from transformers import VitPoseForPoseEstimation, VitPoseImageProcessorPil

        folder = Path(folder)
        self.device = torch.device(device)
        self.processor = VitPoseImageProcessorPil.from_pretrained(folder)
        self.model = VitPoseForPoseEstimation.from_pretrained(folder).eval().to(self.device)
        k = int(self.model.config.num_labels)
        names = [str(self.model.config.id2label.get(i, f"kp{i}")) for i in range(k)]
        self.keypoint_set = _keypoint_set_for(names, k)
        self.keypoint_names = list(self.keypoint_set.names)
        self.flip_indices = list(self.keypoint_set.flip_indices)
        size = self.processor.size
        self.input_size = (int(size["width"]), int(size["height"]))
        self.amp = parse_precision(amp)
        self.flip_test = flip_test
        self.batch_size = max(1, int(batch_size))
        mean = (
            np.asarray(self.processor.image_mean, np.float32)
            if self.processor.do_normalize
            else np.zeros(3, np.float32)
        )
        std = (
            np.asarray(self.processor.image_std, np.float32)
            if self.processor.do_normalize
            else np.ones(3, np.float32)
        )
        scale = float(self.processor.rescale_factor) if self.processor.do_rescale else 1.0
        # x_norm = (x_uint8 * scale - mean) / std, folded into one multiply-add on the device
        self._mul = torch.tensor(scale / std, device=self.device).view(1, 3, 1, 1)
        self._add = torch.tensor(-mean / std, device=self.device).view(1, 3, 1, 1)
        pairs = [(i, j) for i, j in enumerate(self.flip_indices) if i < j]
        self._flip_pairs = torch.tensor(pairs, dtype=torch.long, device=self.device).view(-1, 2)

    def _crops(self, images: list[np.ndarray], bboxes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        crops, centers, rois = [], [], []
        w, h = self.input_size
        for image, boxes in zip(images, bboxes, strict=True):
            boxes = as_box_array(boxes)
            if len(boxes) == 0:
                continue
            center, roi = boxes_to_center_scale(boxes[:, :4], self.input_size)
            mats = udp_warp_matrices(center, roi, self.input_size)
            for mat in mats:
                crops.append(
                    cv2.warpAffine(
                        image, mat, (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)
                    )
                )
            centers.append(center)
            rois.append(roi)
        if not crops:
            return np.zeros((0, h, w, 3), np.uint8), np.zeros((0, 2)), np.zeros((0, 2))
        return np.stack(crops), np.concatenate(centers), np.concatenate(rois)

    @torch.inference_mode()
    def predict_crops(self, crops: np.ndarray) -> np.ndarray:
        """Heatmaps ``(N, K, h, w)`` float32 of BGR uint8 crops ``(N, H, W, 3)`` at ``input_size``."""
        from transformers.models.vitpose.modeling_vitpose import flip_back

        out = []
        for start in range(0, len(crops), self.batch_size):
            x = torch.from_numpy(
                np.ascontiguousarray(crops[start : start + self.batch_size, ..., ::-1])
            )
            x = x.to(self.device).permute(0, 3, 1, 2).float() * self._mul + self._add
            n = len(x)
            if self.flip_test:
                x = torch.cat([x, x.flip(-1)])
            with autocast(self.device, self.amp):
                heat = self.model(pixel_values=x).heatmaps.float()
            if self.flip_test:
                heat = 0.5 * (heat[:n] + flip_back(heat[n:], self._flip_pairs))
            out.append(heat.cpu().numpy())
        return (
            np.concatenate(out)
            if out
            else np.zeros((0, len(self.keypoint_names), 1, 1), np.float32)
        )

    def predict_bboxes(
        self, images: list[np.ndarray], bboxes: list[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Keypoints per image: ``(N_i, K, 2)`` image px and scores ``(N_i, K)``.

        Args:
            images: BGR uint8 images ``(H, W, 3)``.
            bboxes: per image ``(N_i, 4)`` (or ``(N_i, 5)`` with score) xyxy boxes in px.
        """
        crops, centers, rois = self._crops(images, bboxes)
        counts = [len(as_box_array(b)) for b in bboxes]
        k = len(self.keypoint_names)
        if len(crops) == 0:
            return [(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)) for _ in images]
        heat = self.predict_crops(crops)
        kp, sc = self.processor.keypoints_from_heatmaps(
            heat,
            centers.astype(np.float32),
            (rois / _NORMALIZE_FACTOR).astype(np.float32),
            kernel=11,
        )
        kp = np.asarray(kp, np.float32)
        sc = np.asarray(sc, np.float32).reshape(len(kp), k)
        out, start = [], 0
        for n in counts:
            out.append((kp[start : start + n], sc[start : start + n]))
            start += n
        return out
