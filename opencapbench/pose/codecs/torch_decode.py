"""Batched heatmap decoding in torch (runs on the heatmaps' device).

Same arithmetic as :mod:`opencapbench.pose.codecs.refinement`, vectorised over a batch:
heatmaps ``(B, K, H, W)`` in, keypoints ``(B, K, 2)`` heatmap pixels and scores ``(B, K)``
out.  The DARK blur is a separable convolution with OpenCV's Gaussian kernel on a zero border,
so results agree with the numpy path to float rounding (~1e-5 px).
"""

from __future__ import annotations

import functools

import cv2
import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=8)
def _gaussian_kernel_1d(kernel: int) -> tuple[float, ...]:
    return tuple(float(v) for v in cv2.getGaussianKernel(kernel, 0, ktype=cv2.CV_64F).ravel())


def heatmap_maximum(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax location (x, y) float and value of each channel; location -1 where max <= 0."""
    b, k, h, w = heatmaps.shape
    vals, idx = heatmaps.reshape(b, k, h * w).max(dim=-1)
    locs = torch.stack([idx % w, torch.div(idx, w, rounding_mode="floor")], dim=-1).to(
        heatmaps.dtype
    )
    locs = torch.where((vals > 0)[..., None], locs, torch.full_like(locs, -1.0))
    return locs, vals


def gaussian_blur(heatmaps: torch.Tensor, kernel: int = 11) -> torch.Tensor:
    """Zero-border Gaussian blur (OpenCV kernel, auto sigma) preserving each channel's max."""
    b, k, h, w = heatmaps.shape
    g = torch.tensor(_gaussian_kernel_1d(kernel), dtype=heatmaps.dtype, device=heatmaps.device)
    x = heatmaps.reshape(b * k, 1, h, w)
    pad = (kernel - 1) // 2
    x = F.conv2d(F.pad(x, (pad, pad, 0, 0)), g.view(1, 1, 1, kernel))
    x = F.conv2d(F.pad(x, (0, 0, pad, pad)), g.view(1, 1, kernel, 1))
    x = x.reshape(b, k, h, w)
    old_max = heatmaps.amax(dim=(-2, -1), keepdim=True)
    new_max = x.amax(dim=(-2, -1), keepdim=True)
    return x * (old_max / new_max)


def _gather(maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """maps (B, K, H, W), integer x/y (B, K) already clamped -> values (B, K)."""
    w = maps.shape[-1]
    flat = maps.flatten(2)
    return flat.gather(2, (y * w + x).unsqueeze(-1)).squeeze(-1)


def refine_dark(
    keypoints: torch.Tensor, heatmaps: torch.Tensor, blur_kernel_size: int
) -> torch.Tensor:
    """DARK Newton step (see ``refinement.refine_keypoints_dark``). keypoints (B, K, 2)."""
    _, _, h, w = heatmaps.shape
    logh = torch.log(gaussian_blur(heatmaps, blur_kernel_size).clamp_min(1e-10))
    xi = keypoints[..., 0].long()
    yi = keypoints[..., 1].long()
    inside = (xi > 1) & (xi < w - 2) & (yi > 1) & (yi < h - 2)
    x = xi.clamp(2, w - 3)
    y = yi.clamp(2, h - 3)

    def at(ox: int, oy: int) -> torch.Tensor:
        return _gather(logh, x + ox, y + oy)

    c = at(0, 0)
    dx = 0.5 * (at(1, 0) - at(-1, 0))
    dy = 0.5 * (at(0, 1) - at(0, -1))
    dxx = 0.25 * (at(2, 0) - 2 * c + at(-2, 0))
    dyy = 0.25 * (at(0, 2) - 2 * c + at(0, -2))
    dxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    det = dxx * dyy - dxy * dxy
    ok = inside & (det != 0)
    safe = torch.where(ok, det, torch.ones_like(det))
    # -H^-1 g with H^-1 = [[dyy, -dxy], [-dxy, dxx]] / det
    ox = -(dyy * dx - dxy * dy) / safe
    oy = -(dxx * dy - dxy * dx) / safe
    offset = torch.stack([ox, oy], dim=-1)
    return keypoints + torch.where(ok[..., None], offset, torch.zeros_like(offset))


def refine_dark_udp(
    keypoints: torch.Tensor, heatmaps: torch.Tensor, blur_kernel_size: int
) -> torch.Tensor:
    """UDP-DARK Newton step (see ``refinement.refine_keypoints_dark_udp``)."""
    _, _, h, w = heatmaps.shape
    logh = torch.log(gaussian_blur(heatmaps, blur_kernel_size).clamp(1e-3, 50.0))
    m = F.pad(logh, (1, 1, 1, 1), mode="replicate")
    valid = keypoints[..., 0] >= 0
    x = keypoints[..., 0].long().clamp(0, w - 1) + 1
    y = keypoints[..., 1].long().clamp(0, h - 1) + 1

    def at(ox: int, oy: int) -> torch.Tensor:
        return _gather(m, x + ox, y + oy)

    c = at(0, 0)
    xp, xm, yp, ym = at(1, 0), at(-1, 0), at(0, 1), at(0, -1)
    dx = 0.5 * (xp - xm)
    dy = 0.5 * (yp - ym)
    eps = torch.finfo(torch.float32).eps
    dxx = xp - 2 * c + xm + eps
    dyy = yp - 2 * c + ym + eps
    dxy = 0.5 * (at(1, 1) - xp - yp + 2 * c - xm - ym + at(-1, -1))
    det = dxx * dyy - dxy * dxy
    ox = (dyy * dx - dxy * dy) / det
    oy = (dxx * dy - dxy * dx) / det
    offset = torch.stack([ox, oy], dim=-1)
    return keypoints - torch.where(valid[..., None], offset, torch.zeros_like(offset))


def refine_quarter(keypoints: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
    """MSRA's quarter-pixel shift toward the higher neighbour (``refinement.refine_keypoints``)."""
    _, _, h, w = heatmaps.shape
    xi = keypoints[..., 0].long()
    yi = keypoints[..., 1].long()
    xc = xi.clamp(0, w - 1)
    yc = yi.clamp(0, h - 1)
    okx = (xi > 1) & (xi < w - 1) & (yi > 0) & (yi < h)
    oky = (yi > 1) & (yi < h - 1) & (xi > 0) & (xi < w)
    dx = _gather(heatmaps, (xc + 1).clamp(max=w - 1), yc) - _gather(
        heatmaps, (xc - 1).clamp(min=0), yc
    )
    dy = _gather(heatmaps, xc, (yc + 1).clamp(max=h - 1)) - _gather(
        heatmaps, xc, (yc - 1).clamp(min=0)
    )
    step = torch.stack([torch.sign(dx) * okx, torch.sign(dy) * oky], dim=-1) * 0.25
    return keypoints + step.to(keypoints.dtype)
