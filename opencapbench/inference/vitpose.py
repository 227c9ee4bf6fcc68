"""ViTPose models of ``transformers`` (e.g. SynthPose ViTPose) behind ``predict_bboxes``.

Crops are sampled as ``VitPoseImageProcessor`` samples them: the processor's own box →
(centre, scale) → warp-matrix functions (padding 1.25, aspect fixed to the model input, the
unbiased "UDP" warp mapping the padded box onto ``size - 1`` pixels), then bilinear samples
that are 0 wherever the source point lies outside the image, as the processor's
``scipy.ndimage.affine_transform(mode="constant")`` gives.  Sampling runs as one gather on the
model's device (no per-channel scipy call), so crops equal the processor's up to a rare
one-grey-level rounding tie; with the flip test off the keypoints equal transformers'
documented flow (processor, model, ``post_process_pose_estimation``) to < 0.02 px, inside the
image and across its borders (``tests/test_vitpose_transformers.py``).

The flip test (on by default, as in MMPose's and ViTPose's own evaluation; not built into
transformers) averages the heatmaps of the crop and of its mirror, flipped back with the
keypoint set's left/right pairs; ``flip_test=False`` (``--no-flip-test``) is transformers' flow.
Heatmaps are decoded by the processor's own ``keypoints_from_heatmaps`` (argmax + DARK-UDP,
kernel 11).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from opencapbench.device import autocast, parse_precision
from opencapbench.keypoints import (
    KeypointSet,
    get_keypoint_set,
    keypoint_set_from_names,
    register_keypoint_set,
)
from opencapbench.pose.transforms.warp import as_box_array

_NORMALIZE_FACTOR = 200.0  # the processor's box scale unit (pixels)
_PADDING = 1.25


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


def sample_points(inverse: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Source px of every crop column and row: ``src_x (N, w)``, ``src_y (N, h)`` float64.

    ``inverse (N, 3, 3)`` maps crop px to image px and has no rotation, so the source x of a
    crop pixel depends on its column only and y on its row.
    """
    w, h = input_size
    src_x = inverse[:, 0, 0, None] * np.arange(w) + inverse[:, 0, 2, None]
    src_y = inverse[:, 1, 1, None] * np.arange(h) + inverse[:, 1, 2, None]
    return src_x, src_y


def bilinear_crops(image: torch.Tensor, src_x: np.ndarray, src_y: np.ndarray) -> torch.Tensor:
    """Bilinear samples ``(N, h, w, C)`` uint8 of ``image (H, W, C)`` uint8 at a grid of points.

    Crop pixel ``(i, j)`` of crop ``n`` samples the image at ``(src_x[n, j], src_y[n, i])`` px.
    As ``scipy.ndimage.affine_transform(order=1, mode="constant")`` (what
    ``VitPoseImageProcessor`` calls): a point outside ``[0, W-1] x [0, H-1]`` gives 0, the
    interpolation runs in float64 with exact weights, and values round half up.  Runs on
    ``image``'s device.
    """
    img_h, img_w = image.shape[:2]
    dev = image.device

    def axis(src: np.ndarray, size: int) -> tuple[torch.Tensor, ...]:
        inside = (src >= 0) & (src <= size - 1)
        lo = np.clip(np.floor(src), 0, size - 1)
        frac = np.where(inside, src - lo, 0.0)
        hi = np.minimum(lo + 1, size - 1)
        as_t = lambda a, t: torch.as_tensor(a, dtype=t, device=dev)  # noqa: E731
        return (
            as_t(lo, torch.long),
            as_t(hi, torch.long),
            as_t(frac, torch.float64),
            as_t(inside, torch.bool),
        )

    x0, x1, fx, in_x = axis(np.atleast_2d(src_x), img_w)
    y0, y1, fy, in_y = axis(np.atleast_2d(src_y), img_h)
    fx, fy = fx[:, None, :, None], fy[:, :, None, None]

    def corner(ys: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        return image[ys[:, :, None], xs[:, None, :]].to(torch.float64)  # (N, h, w, C)

    top = corner(y0, x0) * (1 - fx) + corner(y0, x1) * fx
    bottom = corner(y1, x0) * (1 - fx) + corner(y1, x1) * fx
    value = torch.floor(top * (1 - fy) + bottom * fy + 0.5)
    value *= (in_y[:, :, None] & in_x[:, None, :])[..., None]
    return value.clamp_(0, 255).to(torch.uint8)


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
        """BGR uint8 crops ``(N, h, w, 3)`` and the processor's centres ``(N, 2)`` px and
        scales ``(N, 2)`` (units of 200 px, padded) of all boxes, in order."""
        # the processor's own box -> (centre, scale) -> warp-matrix arithmetic (float32 steps)
        module = sys.modules[type(self.processor).__module__]
        w, h = self.input_size
        crops, centers, scales = [], [], []
        for image, boxes in zip(images, bboxes, strict=True):
            boxes = as_box_array(boxes)
            if len(boxes) == 0:
                continue
            inverse = np.empty((len(boxes), 3, 3))
            for i, (x1, y1, x2, y2) in enumerate(boxes[:, :4]):
                center, scale = module.box_to_center_and_scale(
                    [x1, y1, x2 - x1, y2 - y1], image_width=w, image_height=h
                )
                mat = module.get_warp_matrix(
                    0, center * 2.0, np.array([w, h]) - 1.0, scale * _NORMALIZE_FACTOR
                )
                inverse[i] = np.linalg.inv(np.vstack([mat, [0, 0, 1]]))
                centers.append(center)
                scales.append(scale)
            src_x, src_y = sample_points(inverse, self.input_size)
            frame = torch.from_numpy(np.ascontiguousarray(image)).to(self.device)
            crops.append(bilinear_crops(frame, src_x, src_y).cpu().numpy())
        if not crops:
            return np.zeros((0, h, w, 3), np.uint8), np.zeros((0, 2)), np.zeros((0, 2))
        return (
            np.concatenate(crops),
            np.asarray(centers, np.float32),
            np.asarray(scales, np.float32),
        )

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
        crops, centers, scales = self._crops(images, bboxes)
        counts = [len(as_box_array(b)) for b in bboxes]
        k = len(self.keypoint_names)
        if len(crops) == 0:
            return [(np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)) for _ in images]
        heat = self.predict_crops(crops)
        kp, sc = self.processor.keypoints_from_heatmaps(heat, centers, scales, kernel=11)
        kp = np.asarray(kp, np.float32)
        sc = np.asarray(sc, np.float32).reshape(len(kp), k)
        out, start = [], 0
        for n in counts:
            out.append((kp[start : start + n], sc[start : start + n]))
            start += n
        return out
