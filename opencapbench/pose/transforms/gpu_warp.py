"""Batched affine crops with ``grid_sample``, matching ``cv2.warpAffine(INTER_LINEAR)``.

OpenCV maps each output pixel centre (x, y) through the inverse matrix to a source point
and interpolates bilinearly with a constant 0 border.  ``grid_sample(align_corners=False)``
with a grid built from the same inverse matrix samples the same points; results agree with
OpenCV up to its 1/32-pixel fixed-point interpolation weights (about one grey level).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F


def _normaliser(size: int) -> np.ndarray:
    """1-D pixel -> grid_sample coordinate: ``(2u + 1) / size - 1`` as (a, b)."""
    return np.array([2.0 / size, 1.0 / size - 1.0])


def grid_theta(
    matrices: np.ndarray, in_size: tuple[int, int], out_size: tuple[int, int]
) -> np.ndarray:
    """``affine_grid`` thetas (M, 2, 3) for image->crop matrices (M, 2, 3).

    in_size, out_size: (w, h) of the source image and of the crop.
    """
    m = np.asarray(matrices, dtype=np.float64)
    n = m.shape[0]
    full = np.zeros((n, 3, 3))
    full[:, :2] = m
    full[:, 2, 2] = 1.0
    inv = np.linalg.inv(full)  # crop px -> image px
    (wi, hi), (wo, ho) = in_size, out_size
    ax, bx = _normaliser(wi)
    ay, by = _normaliser(hi)
    n_in = np.array([[ax, 0, bx], [0, ay, by], [0, 0, 1.0]])
    # normalised output -> output px: u = (x_n + 1) * size / 2 - 0.5
    n_out_inv = np.array([[wo / 2, 0, wo / 2 - 0.5], [0, ho / 2, ho / 2 - 0.5], [0, 0, 1.0]])
    theta = n_in[None] @ inv @ n_out_inv[None]
    return theta[:, :2]


def warp_affine_batch(
    images: list[torch.Tensor],
    matrices: np.ndarray,
    image_index: np.ndarray,
    out_size: tuple[int, int],
    round_like_uint8: bool = True,
) -> torch.Tensor:
    """Crop many boxes from several images in few ``grid_sample`` calls.

    Args:
        images: B tensors (H_b, W_b, 3) uint8 (HWC, as read by OpenCV), on the target device.
        matrices: (M, 2, 3) image->crop affine matrices.
        image_index: (M,) index of each crop's image.
        out_size: crop (w, h).
        round_like_uint8: round and clamp to [0, 255] like OpenCV's uint8 output.

    Returns:
        (M, 3, h, w) float32 crops, channel order as in the images.
    """
    w, h = out_size
    device = images[0].device if images else torch.device("cpu")
    out = torch.zeros((len(matrices), 3, h, w), dtype=torch.float32, device=device)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for b, img in enumerate(images):
        groups[(img.shape[0], img.shape[1])].append(b)
    image_index = np.asarray(image_index)
    for (hi, wi), members in groups.items():
        crops_of = [np.flatnonzero(image_index == b) for b in members]
        n_max = max((len(c) for c in crops_of), default=0)
        if n_max == 0:
            continue
        batch = torch.stack([images[b] for b in members]).permute(0, 3, 1, 2).float()
        thetas = np.zeros((len(members), n_max, 2, 3))
        thetas[:, :, 0, 0] = thetas[:, :, 1, 1] = 1.0
        thetas[:, :, :, 2] = 10.0  # padding slots sample far outside -> zeros
        for g, idx in enumerate(crops_of):
            if len(idx):
                thetas[g, : len(idx)] = grid_theta(matrices[idx], (wi, hi), (w, h))
        theta = torch.as_tensor(thetas.reshape(-1, 2, 3), dtype=torch.float32, device=device)
        grid = F.affine_grid(theta, [theta.shape[0], 1, h, w], align_corners=False)
        grid = grid.view(len(members), n_max * h, w, 2)
        sampled = F.grid_sample(
            batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )  # (G, 3, n_max*h, w)
        sampled = sampled.view(len(members), 3, n_max, h, w).permute(0, 2, 1, 3, 4)
        for g, idx in enumerate(crops_of):
            if len(idx):
                out[torch.as_tensor(idx, device=device)] = sampled[g, : len(idx)]
    if round_like_uint8:
        out = out.round_().clamp_(0, 255)
    return out
