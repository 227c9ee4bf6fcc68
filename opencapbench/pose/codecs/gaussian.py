"""Gaussian heatmap targets (encoding), numpy, vectorised over keypoints.

Coordinates are heatmap pixels (x right, y down, pixel centres at integers).  Every function
takes ``keypoints (N, K, 2)`` and ``keypoints_visible (N, K)`` and returns
``heatmaps (K, H, W) float32`` (maximum over the N instances) and
``keypoint_weights (N, K) float32`` (the visibility, zeroed where the 3-sigma box of the
Gaussian lies fully outside the heatmap or the keypoint is not visible).
"""

from __future__ import annotations

import numpy as np


def _outside(mu: np.ndarray, radius: float, width: int, height: int) -> np.ndarray:
    """True where the box ``[mu - radius, mu + radius + 1]`` misses the heatmap. mu (..., 2)."""
    left, top = (mu - radius)[..., 0], (mu - radius)[..., 1]
    right, bottom = (mu + radius + 1)[..., 0], (mu + radius + 1)[..., 1]
    return (left >= width) | (top >= height) | (right < 0) | (bottom < 0)


def unbiased_gaussian_heatmaps(
    heatmap_size: tuple[int, int],
    keypoints: np.ndarray,
    keypoints_visible: np.ndarray,
    sigma: float,
) -> tuple[np.ndarray, np.ndarray]:
    """DARK's unbiased encoding: a Gaussian evaluated on the full grid at the float centre.

    Args:
        heatmap_size: (W, H) of the heatmap.
        keypoints: (N, K, 2) heatmap-pixel coordinates.
        keypoints_visible: (N, K) visibility; keypoints with visibility < 0.5 are skipped.
        sigma: Gaussian standard deviation in heatmap pixels.
    """
    w, h = heatmap_size
    n, k = keypoints.shape[:2]
    heatmaps = np.zeros((k, h, w), dtype=np.float32)
    weights = np.asarray(keypoints_visible, dtype=np.float32).copy()
    x = np.arange(w, dtype=np.float32)
    y = np.arange(h, dtype=np.float32)
    for i in range(n):
        mu = keypoints[i, :, :2].astype(np.float32)
        skip = (weights[i] < 0.5) | _outside(mu, 3 * sigma, w, h)
        weights[i][_outside(mu, 3 * sigma, w, h) & (weights[i] >= 0.5)] = 0.0
        use = ~skip
        if not use.any():
            continue
        gx = (x[None, :] - mu[use, 0:1]) ** 2  # (k', W)
        gy = (y[None, :] - mu[use, 1:2]) ** 2  # (k', H)
        g = np.exp(-(gx[:, None, :] + gy[:, :, None]) / (2 * sigma**2))
        heatmaps[use] = np.maximum(heatmaps[use], g)
    return heatmaps, weights


def _pasted_gaussians(
    heatmap_size: tuple[int, int],
    keypoints: np.ndarray,
    keypoints_visible: np.ndarray,
    sigma: float,
    subpixel: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste (6σ+1)² Gaussian patches around the rounded centre ``int(mu + 0.5)``.

    With ``subpixel`` the patch's Gaussian is centred at the float keypoint (UDP), otherwise
    at the rounded centre (MSRA's biased encoding).
    """
    w, h = heatmap_size
    n, k = keypoints.shape[:2]
    heatmaps = np.zeros((k, h, w), dtype=np.float32)
    weights = np.asarray(keypoints_visible, dtype=np.float32).copy()
    radius = int(3 * sigma)
    size = 2 * radius + 1
    grid = np.arange(size, dtype=np.float32)
    for i in range(n):
        for j in range(k):
            if weights[i, j] < 0.5:
                continue
            mu_f = keypoints[i, j, :2]
            mu = (mu_f + 0.5).astype(np.int64)
            left, top = mu - radius
            right, bottom = mu + radius + 1
            if left >= w or top >= h or right < 0 or bottom < 0:
                weights[i, j] = 0.0
                continue
            x0 = y0 = float(radius)
            if subpixel:
                x0 += mu_f[0] - mu[0]
                y0 += mu_f[1] - mu[1]
            g = np.exp(-((grid[None, :] - x0) ** 2 + (grid[:, None] - y0) ** 2) / (2 * sigma**2))
            gx0, gy0 = max(0, -left), max(0, -top)
            gx1, gy1 = min(right, w) - left, min(bottom, h) - top
            hx0, hy0 = max(0, left), max(0, top)
            hx1, hy1 = min(right, w), min(bottom, h)
            region = heatmaps[j, hy0:hy1, hx0:hx1]
            np.maximum(region, g[gy0:gy1, gx0:gx1], out=region)
    return heatmaps, weights


def biased_gaussian_heatmaps(
    heatmap_size: tuple[int, int],
    keypoints: np.ndarray,
    keypoints_visible: np.ndarray,
    sigma: float,
) -> tuple[np.ndarray, np.ndarray]:
    """MSRA's original encoding: a Gaussian patch centred at the rounded keypoint."""
    return _pasted_gaussians(heatmap_size, keypoints, keypoints_visible, sigma, subpixel=False)


def udp_gaussian_heatmaps(
    heatmap_size: tuple[int, int],
    keypoints: np.ndarray,
    keypoints_visible: np.ndarray,
    sigma: float,
) -> tuple[np.ndarray, np.ndarray]:
    """UDP's encoding: a Gaussian patch around the rounded centre, evaluated at the float one."""
    return _pasted_gaussians(heatmap_size, keypoints, keypoints_visible, sigma, subpixel=True)
