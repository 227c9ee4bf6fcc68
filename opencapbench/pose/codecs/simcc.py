"""SimCC decoding (RTMPose / RTMW heads): per-axis classification vectors → crop keypoints.

A SimCC head gives, per keypoint, one vector over ``input_w * split_ratio`` x-bins and one over
``input_h * split_ratio`` y-bins.  MMPose's ``SimCCLabel.decode`` (and rtmlib) take the argmax of
each vector, divide by the split ratio, and score a keypoint with the smaller of the two maxima;
a keypoint whose score is not positive gets bin -1 (so ``-1 / split_ratio`` px).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def simcc_maximum(
    simcc_x: np.ndarray, simcc_y: np.ndarray, score: str = "min"
) -> tuple[np.ndarray, np.ndarray]:
    """Argmax bins and maxima of SimCC vectors.

    Args:
        simcc_x: (N, K, Wx) x-axis logits or probabilities.
        simcc_y: (N, K, Wy) y-axis ones.
        score: "min" (MMPose's ``get_simcc_maximum``, rtmlib) or "mean" of the two maxima.

    Returns:
        bins (N, K, 2) float32 (x bin, y bin), -1 where the score is <= 0; scores (N, K) float32.
    """
    if simcc_x.ndim != 3 or simcc_y.ndim != 3 or simcc_x.shape[:2] != simcc_y.shape[:2]:
        raise ValueError(
            f"SimCC vectors must be (N, K, W) and (N, K, H) with equal N, K; got "
            f"{simcc_x.shape} and {simcc_y.shape}"
        )
    bins = np.stack([simcc_x.argmax(-1), simcc_y.argmax(-1)], axis=-1).astype(np.float32)
    max_x, max_y = simcc_x.max(-1), simcc_y.max(-1)
    if score == "min":
        vals = np.minimum(max_x, max_y)
    elif score == "mean":
        vals = 0.5 * (max_x + max_y)
    else:
        raise ValueError(f"score must be 'min' or 'mean', got {score!r}")
    bins[vals <= 0] = -1
    return bins, vals.astype(np.float32)


def decode_simcc(
    simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float = 2.0, score: str = "min"
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (N, K, 2) float32 in crop px and scores (N, K) of SimCC vectors.

    A bin ``b`` is crop coordinate ``b / split_ratio`` (pixel centres at integers, as the
    non-UDP top-down crop of RTMPose defines them).
    """
    bins, vals = simcc_maximum(simcc_x, simcc_y, score)
    return bins / np.float32(split_ratio), vals


def flip_simcc(
    simcc_x: np.ndarray, simcc_y: np.ndarray, flip_indices: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """SimCC vectors of a mirrored crop mapped back to the unmirrored crop (MMPose's
    ``flip_vectors``): x-bins reversed, left/right keypoints swapped; y unchanged."""
    idx = np.asarray(flip_indices)
    return simcc_x[:, idx, ::-1], simcc_y[:, idx]
