"""Batched pinhole projection with OpenCV lens distortion, 2D bounding boxes (torch).

Every function works on B frames at once with per-frame cameras, on CPU or CUDA.
"""

from __future__ import annotations

import torch


def to_camera(points: torch.Tensor, R: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """World -> camera coordinates.

    Args:
        points: (B, N, 3) metres.
        R: (B, 3, 3) world->camera rotations.
        t: (B, 3) world->camera translations, metres.

    Returns:
        (B, N, 3) camera coordinates (OpenCV: x right, y down, z forward), metres.
    """
    return points @ R.transpose(1, 2) + t[:, None, :]


def project(
    points_cam: torch.Tensor, K: torch.Tensor, dist: torch.Tensor | None = None
) -> torch.Tensor:
    """Project camera-frame points to pixels (OpenCV model ``k1, k2, p1, p2, k3``).

    Args:
        points_cam: (B, N, 3) metres; points with z <= 0 give NaN.
        K: (B, 3, 3) intrinsics, pixels.
        dist: (B, 5) distortion coefficients or None.

    Returns:
        (B, N, 2) pixel coordinates (x right, y down) in the distorted image.
    """
    z = points_cam[..., 2]
    safe = torch.where(z > 0, z, torch.full_like(z, float("nan")))
    x = points_cam[..., 0] / safe
    y = points_cam[..., 1] / safe
    if dist is not None:
        k1, k2, p1, p2, k3 = (dist[:, i : i + 1] for i in range(5))
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x, y = xd, yd
    u = K[:, 0, 0, None] * x + K[:, 0, 1, None] * y + K[:, 0, 2, None]
    v = K[:, 1, 1, None] * y + K[:, 1, 2, None]
    return torch.stack([u, v], dim=-1)


def apply_affine(uv: torch.Tensor, affine: torch.Tensor | None) -> torch.Tensor:
    """Apply per-frame 2D affine maps (B, 2, 3) to pixel points (B, N, 2)."""
    if affine is None:
        return uv
    return uv @ affine[:, :, :2].transpose(1, 2) + affine[:, None, :, 2]


def bbox_from_points(uv: torch.Tensor, image_size: torch.Tensor) -> torch.Tensor:
    """Bounding box of projected points, clipped to the image.

    Args:
        uv: (B, N, 2) pixels; NaN points (behind the camera) are ignored.
        image_size: (B, 2) width, height.

    Returns:
        (B, 4) ``x1, y1, x2, y2``; a frame whose box misses the image has x2 <= x1 or y2 <= y1.
    """
    finite = torch.isfinite(uv).all(-1, keepdim=True)
    big = torch.finfo(uv.dtype).max
    lo = torch.where(finite, uv, torch.full_like(uv, big)).amin(dim=1)
    hi = torch.where(finite, uv, torch.full_like(uv, -big)).amax(dim=1)
    size = image_size.to(uv.dtype)
    lo = torch.minimum(torch.clamp(lo, min=0), size)
    hi = torch.maximum(torch.minimum(hi, size), torch.zeros_like(hi))
    return torch.cat([lo, hi], dim=1)
