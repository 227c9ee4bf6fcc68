"""Box and affine-crop geometry of the top-down pipeline (numpy, pixels, no image I/O).

A box is turned into a centre and a scale (width, height in pixels; no /200), the scale is
widened to the model's aspect ratio, and a 2x3 affine matrix maps image pixels to
model-input pixels (``cv2.warpAffine`` convention: pixel centres at integers).
"""

from __future__ import annotations

import cv2
import numpy as np


def as_box_array(boxes: np.ndarray | list, dtype: type = np.float64) -> np.ndarray:
    """``(N, C)`` array of a box list (``C`` >= 4) in ``dtype``; ``(0, 4)`` when empty."""
    arr = np.asarray(boxes, dtype=dtype)
    return np.zeros((0, 4), dtype) if arr.size == 0 else arr.reshape(-1, arr.shape[-1])


def bbox_xyxy2cs(bbox: np.ndarray, padding: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (..., 4) x1, y1, x2, y2 -> centres (..., 2) and padded scales (..., 2) = wh*padding."""
    bbox = np.asarray(bbox, dtype=np.float32)
    center = np.stack([bbox[..., 0] + bbox[..., 2], bbox[..., 1] + bbox[..., 3]], axis=-1) * 0.5
    scale = np.stack([bbox[..., 2] - bbox[..., 0], bbox[..., 3] - bbox[..., 1]], axis=-1) * padding
    return center.astype(np.float32), scale.astype(np.float32)


def fix_aspect_ratio(bbox_scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow (..., 2) scales (w, h) to ``w / h == aspect_ratio``, keeping the larger side."""
    w, h = bbox_scale[..., 0], bbox_scale[..., 1]
    wide = w > h * aspect_ratio
    out = np.where(
        wide[..., None],
        np.stack([w, w / aspect_ratio], axis=-1),
        np.stack([h * aspect_ratio, h], axis=-1),
    )
    return out.astype(bbox_scale.dtype)


def _rotate(pt: np.ndarray, rad: float) -> np.ndarray:
    sn, cs = np.sin(rad), np.cos(rad)
    return np.array([cs * pt[0] - sn * pt[1], sn * pt[0] + cs * pt[1]])


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return b + np.array([-d[1], d[0]])


def get_warp_matrix(
    center: np.ndarray,
    scale: np.ndarray,
    rot: float,
    output_size: tuple[int, int],
    shift: tuple[float, float] = (0.0, 0.0),
    inv: bool = False,
) -> np.ndarray:
    """2x3 affine matrix sending the box (center, scale, rot degrees) onto the output image.

    Built from three point pairs: the box centre -> the output centre, the centre plus the
    rotated half-width vector ``R(rot) @ (-w/2, 0)`` -> the output's left-edge midpoint, and
    each pair's perpendicular third point.  ``inv`` returns output -> image instead.

    Args:
        center: (2,) box centre, image px.
        scale: (2,) box (w, h), image px.
        rot: rotation in degrees.
        output_size: (w, h) of the output image.
        shift: offset of the centre as a fraction of the scale.
    """
    center = np.asarray(center, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    dst_w, dst_h = output_size
    src_dir = _rotate(np.array([scale[0] * -0.5, 0.0]), np.deg2rad(rot))
    src = np.zeros((3, 2), dtype=np.float32)
    src[0] = center + scale * np.asarray(shift)
    src[1] = center + src_dir + scale * np.asarray(shift)
    src[2] = _third_point(src[0], src[1])
    dst = np.zeros((3, 2), dtype=np.float32)
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + np.array([dst_w * -0.5, 0.0])
    dst[2] = _third_point(dst[0], dst[1])
    if inv:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def get_udp_warp_matrix(
    center: np.ndarray, scale: np.ndarray, rot: float, output_size: tuple[int, int]
) -> np.ndarray:
    """UDP's 2x3 matrix: scale ``(output - 1) / scale`` so box edges map to pixel centres."""
    theta = np.deg2rad(rot)
    sx = (output_size[0] - 1) / scale[0]
    sy = (output_size[1] - 1) / scale[1]
    cx2, cy2 = center[0] * 2.0, center[1] * 2.0
    cs, sn = np.cos(theta), np.sin(theta)
    mat = np.zeros((2, 3), dtype=np.float32)
    mat[0, 0] = cs * sx
    mat[0, 1] = -sn * sx
    mat[0, 2] = sx * (-0.5 * cx2 * cs + 0.5 * cy2 * sn + 0.5 * scale[0])
    mat[1, 0] = sn * sy
    mat[1, 1] = cs * sy
    mat[1, 2] = sy * (-0.5 * cx2 * sn - 0.5 * cy2 * cs + 0.5 * scale[1])
    return mat


def warp_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to points (..., 2)."""
    pts = np.asarray(points, dtype=np.float64)
    return (pts @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
