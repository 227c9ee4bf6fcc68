"""Heatmap decoding on numpy arrays: argmax, MSRA quarter-pixel shift, DARK and UDP-DARK.

Heatmaps are ``(K, H, W)`` (or ``(N, K, H, W)`` for :func:`get_heatmap_maximum`); keypoints
are heatmap pixels ``(N, K, 2)`` with pixel centres at integers.  These are the reference
implementations; :mod:`opencapbench.pose.codecs.torch_decode` is the batched device version.
"""

from __future__ import annotations

import cv2
import numpy as np


def get_heatmap_maximum(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Location and value of each channel's maximum.

    Args:
        heatmaps: (K, H, W) or (B, K, H, W).

    Returns:
        locs (K, 2) or (B, K, 2) float32 x, y (``-1`` where the maximum is <= 0) and
        vals (K,) or (B, K).
    """
    *lead, h, w = heatmaps.shape
    flat = heatmaps.reshape(-1, h * w)
    idx = np.argmax(flat, axis=1)
    vals = flat[np.arange(flat.shape[0]), idx]
    locs = np.stack([idx % w, idx // w], axis=-1).astype(np.float32)
    locs[vals <= 0.0] = -1
    return locs.reshape(*lead, 2), vals.reshape(lead)


def gaussian_blur(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """Blur each channel with ``cv2.GaussianBlur((kernel, kernel), 0)`` on a zero border.

    Each channel is zero-padded by ``(kernel-1)/2`` before blurring (so the image edge acts
    like zeros, not a reflection) and rescaled afterwards so its maximum is unchanged.
    ``kernel=11`` gives OpenCV's automatic sigma 2.0.  Returns a new float32 (K, H, W) array.
    """
    border = (kernel - 1) // 2
    k, h, w = heatmaps.shape
    out = np.empty((k, h, w), dtype=np.float32)
    for c in range(k):
        origin_max = np.max(heatmaps[c])
        padded = np.zeros((h + 2 * border, w + 2 * border), dtype=np.float32)
        padded[border : border + h, border : border + w] = heatmaps[c]
        blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[
            border : border + h, border : border + w
        ]
        out[c] = blurred * (origin_max / np.max(blurred))
    return out


def refine_keypoints(keypoints: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """MSRA's refinement: move a quarter pixel toward the higher neighbour in x and in y.

    Args:
        keypoints: (N, K, 2) integer argmax locations (float dtype).
        heatmaps: (K, H, W).

    Returns:
        refined keypoints (N, K, 2), a new array.
    """
    keypoints = keypoints.copy()
    _, h, w = heatmaps.shape
    n, k = keypoints.shape[:2]
    for i in range(n):
        for j in range(k):
            x, y = keypoints[i, j, :2].astype(int)
            dx = (
                heatmaps[j, y, x + 1] - heatmaps[j, y, x - 1]
                if 1 < x < w - 1 and 0 < y < h
                else 0.0
            )
            dy = (
                heatmaps[j, y + 1, x] - heatmaps[j, y - 1, x]
                if 1 < y < h - 1 and 0 < x < w
                else 0.0
            )
            keypoints[i, j] += np.sign([dx, dy], dtype=np.float32) * 0.25
    return keypoints


def refine_keypoints_dark(
    keypoints: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int
) -> np.ndarray:
    """DARK refinement: one Newton step on the log of the blurred heatmap.

    The gradient and Hessian use central differences with step 1 (first derivatives) and
    step 2 (second derivatives, ``(h[x+2] - 2h[x] + h[x-2]) / 4``); keypoints within two
    pixels of the border, or with a singular Hessian, are left unchanged.

    Args:
        keypoints: (N, K, 2) argmax locations.
        heatmaps: (K, H, W) raw heatmaps (not modified).
        blur_kernel_size: Gaussian kernel size of the modulation blur.

    Returns:
        refined keypoints (N, K, 2) float32, a new array.
    """
    keypoints = keypoints.astype(np.float32).copy()
    _, h, w = heatmaps.shape
    logh = np.log(np.maximum(gaussian_blur(heatmaps, blur_kernel_size), 1e-10))
    n, k = keypoints.shape[:2]
    for i in range(n):
        for j in range(k):
            x, y = keypoints[i, j, :2].astype(int)
            if not (1 < x < w - 2 and 1 < y < h - 2):
                continue
            m = logh[j]
            dx = 0.5 * (m[y, x + 1] - m[y, x - 1])
            dy = 0.5 * (m[y + 1, x] - m[y - 1, x])
            dxx = 0.25 * (m[y, x + 2] - 2 * m[y, x] + m[y, x - 2])
            dxy = 0.25 * (m[y + 1, x + 1] - m[y - 1, x + 1] - m[y + 1, x - 1] + m[y - 1, x - 1])
            dyy = 0.25 * (m[y + 2, x] - 2 * m[y, x] + m[y - 2, x])
            det = dxx * dyy - dxy**2
            if det != 0:
                hess = np.array([[dxx, dxy], [dxy, dyy]], dtype=np.float32)
                keypoints[i, j] -= np.linalg.inv(hess) @ np.array([dx, dy], dtype=np.float32)
    return keypoints


def refine_keypoints_dark_udp(
    keypoints: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int
) -> np.ndarray:
    """UDP's DARK variant: blur, clip to [1e-3, 50], log, edge-pad, one Newton step.

    Differences use step 1 throughout and the Hessian gets ``eps * I`` (float32 eps) added, so
    every keypoint is refined, including border ones (the edge padding supplies neighbours).
    Keypoints at ``-1`` (channel maximum <= 0) are left unchanged.

    Args:
        keypoints: (N, K, 2) argmax locations.
        heatmaps: (K, H, W) raw heatmaps (not modified).
        blur_kernel_size: Gaussian kernel size of the modulation blur.
    """
    keypoints = keypoints.astype(np.float32).copy()
    logh = np.log(np.clip(gaussian_blur(heatmaps, blur_kernel_size), 1e-3, 50.0))
    m = np.pad(logh, ((0, 0), (1, 1), (1, 1)), mode="edge")
    kk = np.arange(m.shape[0])
    for i in range(keypoints.shape[0]):
        valid = keypoints[i, :, 0] >= 0
        x = keypoints[i, :, 0].astype(int) + 1
        y = keypoints[i, :, 1].astype(int) + 1
        x = np.where(valid, x, 1)
        y = np.where(valid, y, 1)
        c = m[kk, y, x]
        xp, xm = m[kk, y, x + 1], m[kk, y, x - 1]
        yp, ym = m[kk, y + 1, x], m[kk, y - 1, x]
        xpyp, xmym = m[kk, y + 1, x + 1], m[kk, y - 1, x - 1]
        dx = 0.5 * (xp - xm)
        dy = 0.5 * (yp - ym)
        dxx = xp - 2 * c + xm
        dyy = yp - 2 * c + ym
        dxy = 0.5 * (xpyp - xp - yp + 2 * c - xm - ym + xmym)
        hess = np.stack([dxx, dxy, dxy, dyy], axis=-1).reshape(-1, 2, 2)
        hess = hess + np.finfo(np.float32).eps * np.eye(2, dtype=np.float32)
        grad = np.stack([dx, dy], axis=-1)[..., None]
        step = (np.linalg.inv(hess) @ grad)[..., 0]
        keypoints[i] -= np.where(valid[:, None], step, 0.0).astype(np.float32)
    return keypoints
