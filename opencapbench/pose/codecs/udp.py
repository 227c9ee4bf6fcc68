"""``UDPHeatmap`` codec (Unbiased Data Processing): heatmaps on the ``size - 1`` grid."""

from __future__ import annotations

import numpy as np
import torch

import opencapbench.pose.codecs.torch_decode as torch_decode
from opencapbench.pose.codecs.base import BaseKeypointCodec
from opencapbench.pose.codecs.gaussian import udp_gaussian_heatmaps
from opencapbench.pose.codecs.refinement import get_heatmap_maximum, refine_keypoints_dark_udp
from opencapbench.pose.errors import PoseConfigError
from opencapbench.pose.registry import KEYPOINT_CODECS


@KEYPOINT_CODECS.register_module()
class UDPHeatmap(BaseKeypointCodec):
    """UDP heatmap codec, Gaussian targets.

    The scale between input and heatmap is ``(input - 1) / (heatmap - 1)`` (pixel-centre
    aligned).  Only ``heatmap_type='gaussian'`` is implemented; ``'combined'`` (offset maps)
    raises :class:`PoseConfigError`.

    Args:
        input_size: model input (w, h).
        heatmap_size: heatmap (W, H).
        heatmap_type: ``'gaussian'``.
        sigma: Gaussian sigma, heatmap pixels.
        blur_kernel_size: kernel of the UDP-DARK modulation blur.
    """

    label_mapping_table = {"keypoint_weights": "keypoint_weights"}
    field_mapping_table = {"heatmaps": "heatmaps"}

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        heatmap_type: str = "gaussian",
        sigma: float = 2.0,
        radius_factor: float = 0.0546875,
        blur_kernel_size: int = 11,
    ) -> None:
        if heatmap_type != "gaussian":
            raise PoseConfigError(
                f"UDPHeatmap heatmap_type={heatmap_type!r} is not supported; only 'gaussian'"
            )
        self.input_size = tuple(int(v) for v in input_size)
        self.heatmap_size = tuple(int(v) for v in heatmap_size)
        self.heatmap_type = heatmap_type
        self.sigma = float(sigma)
        self.radius_factor = radius_factor
        self.blur_kernel_size = int(blur_kernel_size)
        self.scale_factor = (
            (np.array(self.input_size) - 1) / (np.array(self.heatmap_size) - 1)
        ).astype(np.float32)

    def encode(
        self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None, **kwargs
    ) -> dict[str, np.ndarray]:
        """keypoints (N, K, 2) input px -> ``heatmaps`` (K, H, W), ``keypoint_weights`` (N, K)."""
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints_visible is None:
            keypoints_visible = np.ones(keypoints.shape[:2], dtype=np.float32)
        heatmaps, weights = udp_gaussian_heatmaps(
            self.heatmap_size, keypoints[..., :2] / self.scale_factor, keypoints_visible, self.sigma
        )
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def _to_input(self, keypoints):
        w, h = self.heatmap_size
        return (
            keypoints
            / np.array([w - 1, h - 1], dtype=np.float32)
            * np.array(self.input_size, dtype=np.float32)
        )

    def decode(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """heatmaps (K, H, W) -> keypoints (1, K, 2) input px, scores (1, K)."""
        heatmaps = np.asarray(encoded, dtype=np.float32)
        locs, scores = get_heatmap_maximum(heatmaps)
        keypoints = refine_keypoints_dark_udp(locs[None], heatmaps, self.blur_kernel_size)
        return self._to_input(keypoints), scores[None]

    def decode_torch(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """heatmaps (B, K, H, W) -> keypoints (B, K, 2) input px, scores (B, K), on-device."""
        heatmaps = heatmaps.float()
        keypoints, scores = torch_decode.heatmap_maximum(heatmaps)
        keypoints = torch_decode.refine_dark_udp(keypoints, heatmaps, self.blur_kernel_size)
        w, h = self.heatmap_size
        factor = torch.tensor(
            [self.input_size[0] / (w - 1), self.input_size[1] / (h - 1)], device=heatmaps.device
        )
        return keypoints * factor, scores
