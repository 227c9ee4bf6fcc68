"""Flip-test helper: map heatmaps of a mirrored input back to the original frame."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def flip_heatmaps(
    heatmaps: torch.Tensor, flip_indices: Sequence[int], shift_heatmap: bool = True
) -> torch.Tensor:
    """Heatmaps (B, K, H, W) of a horizontally flipped input -> heatmaps of the input.

    Flips the width axis, reorders channels so left/right keypoints swap
    (``out[:, i] = in[:, flip_indices[i]]``) and, with ``shift_heatmap``, shifts the result one
    pixel right (``out[..., 1:] = out[..., :-1]``) to compensate the half-pixel misalignment
    of flipping a stride-4 heatmap.
    """
    if len(flip_indices) != heatmaps.shape[1]:
        raise ValueError(
            f"flip_indices has {len(flip_indices)} entries but heatmaps have {heatmaps.shape[1]} channels"
        )
    out = heatmaps.flip(-1)[:, list(flip_indices)]
    if shift_heatmap:
        out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)
    return out
