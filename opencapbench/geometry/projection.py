"""Pinhole projection with OpenCV 5-coefficient distortion, and the inverse (undistortion).

Conventions (see ``docs/geometry.md``): world points in **metres**, pixel coordinates with the
origin at the top-left pixel corner of the original image (OpenCV), distortion
``(k1, k2, p1, p2, k3)``.  NaN in → NaN out everywhere.
"""

from __future__ import annotations

import cv2
import numpy as np

from opencapbench.camera import Camera

__all__ = ["distort_normalized", "project_points", "undistort_points"]

# Undistortion is an iterative inversion; OpenCV's default (5 iterations) leaves errors of
# ~0.1 px near the image corners of phone lenses, so iterate to convergence instead.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


def distort_normalized(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Apply OpenCV's radial + tangential distortion to normalized image coordinates.

    Args:
        xy: (..., 2) normalized coordinates ``(X/Z, Y/Z)``, dimensionless.
        dist: (5,) ``(k1, k2, p1, p2, k3)``; shorter vectors are zero-padded.

    Returns:
        (..., 2) distorted normalized coordinates.
    """
    d = np.zeros(5)
    dist = np.asarray(dist, dtype=np.float64).ravel()[:5]
    d[: dist.size] = dist
    k1, k2, p1, p2, k3 = d
    x = xy[..., 0]
    y = xy[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def project_points(points3d: np.ndarray, camera: Camera) -> np.ndarray:
    """Project world points into a camera's (distorted) image.

    Args:
        points3d: (..., 3) world coordinates in metres (the calibration's world frame).
        camera: the :class:`~opencapbench.camera.Camera` (``R``, ``t`` world→camera, ``t`` in m).

    Returns:
        (..., 2) pixel coordinates ``(u, v)`` in the original, distorted image.  Points that are
        NaN, or that lie on or behind the camera plane (camera-frame ``Z <= 0``), give NaN.
    """
    p = np.asarray(points3d, dtype=np.float64)
    if p.shape[-1] != 3:
        raise ValueError(f"project_points expects points of shape (..., 3), got {p.shape}")
    pc = p @ camera.R.T + camera.t
    z = pc[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(z > 0, z, np.nan)
        xy = pc[..., :2] / z[..., None]
    xyd = distort_normalized(xy, camera.dist)
    K = camera.K
    u = K[0, 0] * xyd[..., 0] + K[0, 1] * xyd[..., 1] + K[0, 2]
    v = K[1, 1] * xyd[..., 1] + K[1, 2]
    return np.stack([u, v], axis=-1)


def undistort_points(points2d: np.ndarray, camera: Camera) -> np.ndarray:
    """Remove lens distortion from pixel coordinates, keeping the same intrinsics (``P = K``).

    The result is where the point would appear in an ideal pinhole camera with matrix ``K``,
    which is what the linear triangulation with ``P = K [R | t]`` expects.

    Args:
        points2d: (..., 2) pixel coordinates in the original (distorted) image; NaN = missing.
        camera: the camera that observed them.

    Returns:
        (..., 2) undistorted pixel coordinates (float64); NaN where the input was NaN.
    """
    p = np.asarray(points2d, dtype=np.float64)
    if p.shape[-1] != 2:
        raise ValueError(f"undistort_points expects points of shape (..., 2), got {p.shape}")
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p).all(axis=-1)
    if not finite.any():
        return out
    if not np.any(camera.dist):
        out[finite] = p[finite]
        return out
    src = np.ascontiguousarray(p[finite].reshape(-1, 1, 2))
    dst = cv2.undistortPoints(
        src, camera.K, camera.dist, None, camera.K, criteria=_UNDISTORT_CRITERIA
    )
    out[finite] = dst.reshape(-1, 2)
    return out
