"""Base class of keypoint codecs (keypoints <-> training targets / model outputs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class BaseKeypointCodec:
    """A codec encodes keypoints into targets and decodes model outputs into keypoints.

    Subclasses implement :meth:`encode` (numpy, one sample), :meth:`decode` (numpy, one
    sample; the MMPose reference path) and :meth:`decode_torch` (a batch on any device).
    The mapping tables tell ``PackPoseInputs`` where each encoded key goes in the data sample.
    """

    #: Keys of the results dict that ``encode`` needs besides keypoints/visibility.
    auxiliary_encode_keys: set[str] = set()
    #: encoded key -> ``gt_fields`` key
    field_mapping_table: dict[str, str] = {}
    #: encoded key -> ``gt_instance_labels`` key
    label_mapping_table: dict[str, str] = {}
    #: encoded key -> ``gt_instances`` key
    instance_mapping_table: dict[str, str] = {}

    def encode(
        self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None, **kwargs: Any
    ) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def decode(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def batch_decode(self, batch_encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decode (B, ...) by looping :meth:`decode`; returns (B, K, 2) and (B, K)."""
        out = [self.decode(e) for e in batch_encoded]
        return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])

    def decode_torch(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError
