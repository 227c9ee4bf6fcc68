"""``MSRAHeatmap`` codec: Gaussian heatmaps at 1/``input/heatmap`` resolution, DARK decoding."""

from __future__ import annotations

import numpy as np
import torch

import opencapbench.pose.codecs.torch_decode as torch_decode
from opencapbench.pose.codecs.base import BaseKeypointCodec
from opencapbench.pose.codecs.gaussian import biased_gaussian_heatmaps, unbiased_gaussian_heatmaps
from opencapbench.pose.codecs.refinement import (
    get_heatmap_maximum,
    refine_keypoints,
    refine_keypoints_dark,
)
from opencapbench.pose.registry import KEYPOINT_CODECS


@KEYPOINT_CODECS.register_module()
class MSRAHeatmap(BaseKeypointCodec):
    """Heatmap codec of SimpleBaseline/HRNet, with DARK's unbiased encoding and decoding.

    Args:
        input_size: model input (w, h) in pixels, e.g. (288, 384).
        heatmap_size: heatmap (W, H), e.g. (72, 96); the scale factor is input/heatmap.
        sigma: Gaussian sigma of the training target, heatmap pixels.
        unbiased: DARK (True): float-centred Gaussians when encoding, Newton refinement on the
            blurred log-heatmap when decoding.  False: rounded Gaussians, quarter-pixel shift.
        blur_kernel_size: kernel of DARK's modulation blur (11 -> sigma 2).

    Decoded keypoints are in model-input pixels; scores are the raw heatmap maxima.
    """

    label_mapping_table = {"keypoint_weights": "keypoint_weights"}
    field_mapping_table = {"heatmaps": "heatmaps"}

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float,
        unbiased: bool = False,
        blur_kernel_size: int = 11,
    ) -> None:
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        self.sigma = float(sigma)
        self.unbiased = bool(unbiased)
        self.blur_kernel_size = int(blur_kernel_size)
        self.scale_factor = (np.array(self.input_size) / np.array(self.heatmap_size)).astype(
            np.float32
        )

    def encode(
        self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None, **kwargs
    ) -> dict[str, np.ndarray]:
        """Encode one instance.

        Args:
            keypoints: (1, K, 2) model-input pixels.
            keypoints_visible: (1, K); defaults to all visible.

        Returns:
            ``heatmaps`` (K, H, W) float32 and ``keypoint_weights`` (1, K) float32.
        """
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints.ndim != 3 or keypoints.shape[0] != 1:
            raise ValueError(
                f"MSRAHeatmap encodes one instance: keypoints must be (1, K, 2), got {keypoints.shape}"
            )
        if keypoints_visible is None:
            keypoints_visible = np.ones(keypoints.shape[:2], dtype=np.float32)
        encode = unbiased_gaussian_heatmaps if self.unbiased else biased_gaussian_heatmaps
        heatmaps, weights = encode(
            self.heatmap_size, keypoints[..., :2] / self.scale_factor, keypoints_visible, self.sigma
        )
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def decode(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decode one instance's heatmaps (K, H, W) -> keypoints (1, K, 2) input px, scores (1, K)."""
        heatmaps = np.asarray(encoded, dtype=np.float32)
        locs, scores = get_heatmap_maximum(heatmaps)
        keypoints, scores = locs[None], scores[None]
        if self.unbiased:
            keypoints = refine_keypoints_dark(keypoints, heatmaps, self.blur_kernel_size)
        else:
            keypoints = refine_keypoints(keypoints, heatmaps)
        return keypoints * self.scale_factor, scores

    def decode_torch(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode a batch (B, K, H, W) on its device -> keypoints (B, K, 2) input px, scores (B, K)."""
        heatmaps = heatmaps.float()
        keypoints, scores = torch_decode.heatmap_maximum(heatmaps)
        if self.unbiased:
            keypoints = torch_decode.refine_dark(keypoints, heatmaps, self.blur_kernel_size)
        else:
            keypoints = torch_decode.refine_quarter(keypoints, heatmaps)
        scale = torch.as_tensor(self.scale_factor, device=heatmaps.device)
        return keypoints * scale, scores
