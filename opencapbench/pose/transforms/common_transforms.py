"""Training augmentations and target generation, registered under MMPose's type names.

Every transform takes and returns the MMPose results dict (see docs/architecture.md):
``img`` (H,W,3) uint8, ``bbox_center``/``bbox_scale`` (N,2) pixels, ``keypoints`` (N,K,2)
pixels, ``keypoints_visible`` (N,K) in [0,1], ``flip_indices`` (K,), ``upper_body_ids``,
``lower_body_ids``.  Pixel coordinates put pixel ``i``'s centre at ``i``, so mirroring an image
of width ``w`` maps ``x`` to ``w - 1 - x``.  Random numbers come from numpy's global generator,
which mmengine seeds per dataloader worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from opencapbench.pose.registry import KEYPOINT_CODECS, TRANSFORMS
from opencapbench.pose.transforms.base import BaseTransform


def global_rng() -> np.random.RandomState:
    """numpy's global generator: mmengine seeds it (``set_random_seed``, dataloader workers)."""
    return np.random.mtrand._rand


def truncated_normal(
    size: int | tuple[int, ...], low: float = -1.0, high: float = 1.0
) -> np.ndarray:
    """Standard-normal samples restricted to ``[low, high]`` (rejection sampling), float32."""
    out = global_rng().standard_normal(size)
    bad = (out < low) | (out > high)
    while bad.any():
        out[bad] = global_rng().standard_normal(int(bad.sum()))
        bad = (out < low) | (out > high)
    return out.astype(np.float32)


def flip_keypoints_horizontal(
    keypoints: np.ndarray, visible: np.ndarray, flip_indices: Sequence[int], width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror keypoints (N,K,2) about the image's vertical midline and swap left/right.

    Returns the flipped keypoints (N,K,2) and visibilities (N,K); keypoint ``i`` of the result
    is the mirrored keypoint ``flip_indices[i]`` of the input.
    """
    idx = np.asarray(flip_indices, dtype=int)
    out = keypoints[:, idx].copy()
    out[..., 0] = (width - 1) - out[..., 0]
    return out, visible[:, idx].copy()


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip the image, box and keypoints with probability ``prob``.

    Args:
        prob: flip probability.
        direction: ``"horizontal"`` (left/right partners are swapped through
            ``results["flip_indices"]``) or ``"vertical"`` (no partner swap).
    """

    def __init__(self, prob: float = 0.5, direction: str = "horizontal") -> None:
        if direction not in ("horizontal", "vertical"):
            raise ValueError(
                f"RandomFlip direction must be horizontal or vertical, not {direction!r}"
            )
        self.prob = prob
        self.direction = direction

    def transform(self, results: dict[str, Any]) -> dict[str, Any]:
        if global_rng().rand() >= self.prob:
            results["flip"] = False
            results["flip_direction"] = None
            return results
        img = results["img"]
        h, w = img.shape[:2]
        horizontal = self.direction == "horizontal"
        results["img"] = cv2.flip(img, 1 if horizontal else 0)  # 7x faster than numpy
        axis, size = (0, w) if horizontal else (1, h)
        if "bbox_center" in results:
            center = results["bbox_center"].copy()
            center[:, axis] = (size - 1) - center[:, axis]
            results["bbox_center"] = center
        if "bbox" in results:
            box = results["bbox"].copy()
            lo, hi = box[:, axis].copy(), box[:, axis + 2].copy()
            box[:, axis], box[:, axis + 2] = (size - 1) - hi, (size - 1) - lo
            results["bbox"] = box
        if "keypoints" in results:
            kp, vis = results["keypoints"], results["keypoints_visible"]
            if horizontal:
                kp, vis = flip_keypoints_horizontal(kp, vis, results["flip_indices"], w)
            else:
                kp = kp.copy()
                kp[..., 1] = (h - 1) - kp[..., 1]
            results["keypoints"], results["keypoints_visible"] = kp, vis
        results["flip"] = True
        results["flip_direction"] = self.direction
        return results

    def __repr__(self) -> str:
        return f"RandomFlip(prob={self.prob}, direction={self.direction!r})"


def half_body_box(keypoints: np.ndarray, padding: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Centre (2,) and scale (2,) of the padded extent of ``keypoints`` (M,2); None if degenerate."""
    lo, hi = keypoints.min(axis=0), keypoints.max(axis=0)
    size = (hi - lo) * padding
    if not np.all(np.isfinite(size)) or size.max() <= 0:
        return None
    # a single row/column of keypoints still gets a usable box; the affine fixes the aspect
    size = np.maximum(size, 0.1 * size.max())
    return ((lo + hi) / 2).astype(np.float32), size.astype(np.float32)


@TRANSFORMS.register_module()
class RandomHalfBody(BaseTransform):
    """Crop to the upper or the lower body with probability ``prob``.

    Instances with fewer than ``min_total_keypoints`` visible keypoints are left alone.  The
    upper half is chosen with probability ``upper_prioritized_prob`` when both halves have
    enough visible keypoints (``min_upper_keypoints`` / ``min_lower_keypoints``).  The new box
    spans the chosen visible keypoints, enlarged by ``padding``.  Keypoints of the other half
    are marked invisible (weight 0) unless ``keep_other_half``.
    """

    def __init__(
        self,
        min_total_keypoints: int = 9,
        min_upper_keypoints: int = 2,
        min_lower_keypoints: int = 3,
        padding: float = 1.5,
        prob: float = 0.3,
        upper_prioritized_prob: float = 0.7,
        keep_other_half: bool = False,
    ) -> None:
        self.min_total_keypoints = min_total_keypoints
        self.min_upper_keypoints = min_upper_keypoints
        self.min_lower_keypoints = min_lower_keypoints
        self.padding = padding
        self.prob = prob
        self.upper_prioritized_prob = upper_prioritized_prob
        self.keep_other_half = keep_other_half

    def _choose(self, vis: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> str | None:
        if vis.sum() < self.min_total_keypoints:
            return None
        ok_upper = vis[upper].sum() >= self.min_upper_keypoints if upper.size else False
        ok_lower = vis[lower].sum() >= self.min_lower_keypoints if lower.size else False
        if ok_upper and ok_lower:
            return "upper" if global_rng().rand() < self.upper_prioritized_prob else "lower"
        return "upper" if ok_upper else ("lower" if ok_lower else None)

    def transform(self, results: dict[str, Any]) -> dict[str, Any]:
        results.setdefault("half_body", [None] * len(results["bbox_center"]))
        if global_rng().rand() >= self.prob:
            return results
        upper = np.asarray(results.get("upper_body_ids", []), dtype=int)
        lower = np.asarray(results.get("lower_body_ids", []), dtype=int)
        centers = results["bbox_center"].copy()
        scales = results["bbox_scale"].copy()
        visible = results["keypoints_visible"].copy()
        halves = list(results["half_body"])
        for n in range(len(centers)):
            vis = visible[n] > 0
            half = self._choose(vis, upper, lower)
            if half is None:
                continue
            ids = upper if half == "upper" else lower
            ids = ids[vis[ids]]
            box = half_body_box(results["keypoints"][n, ids], self.padding)
            if box is None:
                continue
            centers[n], scales[n] = box
            if not self.keep_other_half:
                keep = np.zeros(visible.shape[1], dtype=bool)
                keep[ids] = True
                visible[n, ~keep] = 0.0
            halves[n] = half
        results.update(bbox_center=centers, bbox_scale=scales, keypoints_visible=visible)
        results["half_body"] = halves
        return results

    def __repr__(self) -> str:
        return (
            f"RandomHalfBody(min_total_keypoints={self.min_total_keypoints}, "
            f"padding={self.padding}, prob={self.prob})"
        )


@TRANSFORMS.register_module()
class RandomBBoxTransform(BaseTransform):
    """Randomly shift, scale and rotate the box (centre/scale/rotation, not the image).

    Draws truncated-normal ``v`` on [-1, 1]: with ``shift_prob`` the centre moves by
    ``v * shift_factor * scale``; with ``scale_prob`` the scale is multiplied by
    ``mid + v * half`` where ``scale_factor = (mid - half, mid + half)``; with ``rotate_prob``
    the box is rotated by ``v * rotate_factor`` degrees (``results["bbox_rotation"]`` (N,)),
    which :class:`TopdownAffine` applies.
    """

    def __init__(
        self,
        shift_factor: float = 0.16,
        shift_prob: float = 0.3,
        scale_factor: tuple[float, float] = (0.5, 1.5),
        scale_prob: float = 1.0,
        rotate_factor: float = 80.0,
        rotate_prob: float = 0.6,
    ) -> None:
        self.shift_factor = shift_factor
        self.shift_prob = shift_prob
        self.scale_factor = tuple(scale_factor)
        self.scale_prob = scale_prob
        self.rotate_factor = rotate_factor
        self.rotate_prob = rotate_prob

    def transform(self, results: dict[str, Any]) -> dict[str, Any]:
        center = results["bbox_center"].astype(np.float32).copy()
        scale = results["bbox_scale"].astype(np.float32).copy()
        n = len(center)
        shift = truncated_normal((n, 2)) * self.shift_factor
        shift *= (global_rng().rand(n) < self.shift_prob)[:, None]
        center += shift * scale
        lo, hi = self.scale_factor
        factor = truncated_normal((n, 1)) * (hi - lo) / 2 + (hi + lo) / 2
        factor = np.where(global_rng().rand(n, 1) < self.scale_prob, factor, 1.0)
        scale *= factor.astype(np.float32)
        rot = truncated_normal(n) * self.rotate_factor
        rot = np.where(global_rng().rand(n) < self.rotate_prob, rot, 0.0).astype(np.float32)
        results.update(bbox_center=center, bbox_scale=scale, bbox_rotation=rot)
        return results

    def __repr__(self) -> str:
        return (
            f"RandomBBoxTransform(shift_factor={self.shift_factor}, scale_factor="
            f"{self.scale_factor}, rotate_factor={self.rotate_factor})"
        )


@TRANSFORMS.register_module()
class KeypointConverter(BaseTransform):
    """Map a source's keypoints into the target keypoint set (zero weight where unmapped).

    Args:
        num_keypoints: K of the target set.
        mapping: pairs ``(source_index, target_index)``; a source may also be a pair of indices
            whose midpoint is used (visible only if both are).
    """

    def __init__(self, num_keypoints: int, mapping: Sequence[tuple[Any, int]]) -> None:
        self.num_keypoints = int(num_keypoints)
        self.mapping = [(s, int(t)) for s, t in mapping]
        targets = [t for _, t in self.mapping]
        if len(set(targets)) != len(targets):
            raise ValueError("KeypointConverter: a target index is mapped twice")
        if targets and (min(targets) < 0 or max(targets) >= self.num_keypoints):
            raise ValueError(f"KeypointConverter: target index outside 0..{self.num_keypoints - 1}")

    def transform(self, results: dict[str, Any]) -> dict[str, Any]:
        kp, vis = results["keypoints"], results["keypoints_visible"]
        n, k_src = vis.shape
        out = np.zeros((n, self.num_keypoints, 2), np.float32)
        out_vis = np.zeros((n, self.num_keypoints), np.float32)
        for src, dst in self.mapping:
            ids = np.atleast_1d(np.asarray(src, dtype=int))
            if ids.max() >= k_src:
                raise ValueError(
                    f"KeypointConverter: source index {ids.max()} but the source has {k_src} keypoints"
                )
            out[:, dst] = kp[:, ids].mean(axis=1)
            out_vis[:, dst] = vis[:, ids].min(axis=1)
        results["keypoints"], results["keypoints_visible"] = out, out_vis
        return results

    def __repr__(self) -> str:
        return f"KeypointConverter(num_keypoints={self.num_keypoints}, {len(self.mapping)} mapped)"


@TRANSFORMS.register_module()
class GenerateTarget(BaseTransform):
    """Encode the affine-transformed keypoints into training targets with a keypoint codec.

    Writes ``heatmaps`` (K,h,w) and ``keypoint_weights`` (N,K): 1 for visible keypoints whose
    Gaussian overlaps the heatmap, else 0.  With ``use_dataset_keypoint_weights`` the weights
    are multiplied by the metainfo's ``dataset_keypoint_weights`` (K,).
    """

    def __init__(self, encoder: dict, use_dataset_keypoint_weights: bool = False) -> None:
        self.encoder_cfg = dict(encoder)
        self.encoder = KEYPOINT_CODECS.build(dict(encoder))
        self.use_dataset_keypoint_weights = use_dataset_keypoint_weights

    def transform(self, results: dict[str, Any]) -> dict[str, Any]:
        keypoints = results.get("transformed_keypoints", results.get("keypoints"))
        if keypoints is None:
            raise KeyError("GenerateTarget needs `transformed_keypoints` (run TopdownAffine first)")
        encoded = self.encoder.encode(keypoints, results["keypoints_visible"])
        weights = np.asarray(encoded["keypoint_weights"], np.float32)
        if self.use_dataset_keypoint_weights and "dataset_keypoint_weights" in results:
            weights = weights * np.asarray(results["dataset_keypoint_weights"], np.float32)
        results.update(encoded)
        results["keypoint_weights"] = weights
        return results

    def __repr__(self) -> str:
        return f"GenerateTarget(encoder={self.encoder_cfg})"
