"""SimCC decoding (RTMPose heads) against hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest

from opencapbench.pose.codecs.simcc import decode_simcc, flip_simcc, simcc_maximum


def vectors() -> tuple[np.ndarray, np.ndarray]:
    """Two keypoints: one peaked at x bin 5 (0.9) / y bin 3 (0.7), one with no positive value."""
    sx = np.full((1, 2, 8), 0.1, np.float32)
    sy = np.full((1, 2, 6), 0.2, np.float32)
    sx[0, 0, 5], sy[0, 0, 3] = 0.9, 0.7
    sx[0, 1] = -0.5
    sx[0, 1, 2] = -0.1
    sy[0, 1, 4] = 0.3
    return sx, sy


def test_decode_known_answer() -> None:
    kp, sc = decode_simcc(*vectors(), split_ratio=2.0)
    # bins (5, 3) / 2; the second keypoint's score min(-0.1, 0.3) <= 0 -> bins -1 -> -0.5 px
    np.testing.assert_allclose(kp, [[[2.5, 1.5], [-0.5, -0.5]]])
    np.testing.assert_allclose(sc, [[0.7, -0.1]], rtol=1e-6)


def test_mean_score_and_bins() -> None:
    bins, sc = simcc_maximum(*vectors(), score="mean")
    np.testing.assert_allclose(sc, [[0.8, 0.1]], rtol=1e-6)
    np.testing.assert_array_equal(bins, [[[5, 3], [2, 4]]])  # mean 0.1 > 0 keeps the bins


def test_flip_reverses_x_and_swaps_pairs() -> None:
    sx = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    sy = -np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    fx, fy = flip_simcc(sx, sy, [0, 2, 1])
    np.testing.assert_array_equal(fx[1, 1], sx[1, 2, ::-1])
    np.testing.assert_array_equal(fx[0, 0], [3, 2, 1, 0])
    np.testing.assert_array_equal(fy[:, 2], sy[:, 1])
    # a peak at bin b of a mirrored crop of Wx bins comes back at bin Wx - 1 - b
    kx = np.zeros((1, 1, 10), np.float32)
    kx[0, 0, 2] = 1.0
    back, _ = flip_simcc(kx, np.ones((1, 1, 4), np.float32), [0])
    assert back[0, 0].argmax() == 7


def test_bad_shapes_and_score_are_refused() -> None:
    with pytest.raises(ValueError, match="SimCC vectors"):
        simcc_maximum(np.zeros((2, 8)), np.zeros((2, 6)))
    with pytest.raises(ValueError, match="score"):
        simcc_maximum(np.zeros((1, 2, 8)), np.zeros((1, 2, 6)), score="max")
