"""Self-occlusion of keypoints by the posed body mesh (a z-buffer lookup at the keypoints).

A z-buffer of the mesh sampled at a keypoint's pixel holds the depth of the nearest triangle
covering that pixel.  Only those samples are ever read, so instead of rasterising whole images
each keypoint pixel is tested against the triangles directly: triangles whose 2D box contains
the pixel are selected, an edge-function (barycentric) test keeps those that cover it, and their
perspective-correct depth ``1/z = sum_i l_i / z_i`` is compared with the keypoint's own depth.
This is the same answer as a full-resolution z-buffer without its resolution loss, vectorised
over frames x keypoints x triangles in torch (CPU or CUDA), with no renderer.

A keypoint is occluded when a triangle covering its pixel is nearer to the camera than the
keypoint by more than ``tol_m``; the tolerance absorbs the keypoint's own neighbouring triangles
(a surface point is on, not behind, its surface) at grazing angles.
"""

from __future__ import annotations

import torch

#: default depth tolerance, metres
DEFAULT_TOL_M = 0.02


def occluded_by_mesh(
    kp_uv: torch.Tensor,
    kp_z: torch.Tensor,
    mesh_uv: torch.Tensor,
    mesh_z: torch.Tensor,
    faces: torch.Tensor,
    tol_m: float | torch.Tensor = DEFAULT_TOL_M,
    max_elements: int = 20_000_000,
) -> torch.Tensor:
    """Which keypoints are hidden behind the mesh.

    Args:
        kp_uv: (B, K, 2) keypoint pixels.
        kp_z: (B, K) keypoint depths (camera z), metres.
        mesh_uv: (B, V, 2) projected mesh vertices, pixels (NaN behind the camera).
        mesh_z: (B, V) vertex depths, metres.
        faces: (F, 3) long triangle indices.
        tol_m: depth tolerance, metres: a scalar or one per keypoint (K,).
        max_elements: bound on B_chunk x K x F booleans held at once (memory).

    Returns:
        (B, K) bool, True where a triangle covering the pixel is nearer by more than ``tol_m``.
    """
    B, K = kp_z.shape
    F = faces.shape[0]
    out = torch.zeros((B, K), dtype=torch.bool, device=kp_z.device)
    tol = torch.as_tensor(tol_m, dtype=kp_z.dtype, device=kp_z.device).expand(K)
    chunk = max(1, max_elements // max(1, K * F))
    for s in range(0, B, chunk):
        e = min(B, s + chunk)
        out[s:e] = _occluded_chunk(kp_uv[s:e], kp_z[s:e], mesh_uv[s:e], mesh_z[s:e], faces, tol)
    return out


def _occluded_chunk(kp_uv, kp_z, mesh_uv, mesh_z, faces, tol) -> torch.Tensor:
    B, K = kp_z.shape
    tri = mesh_uv[:, faces]  # (B, F, 3, 2)
    tz = mesh_z[:, faces]  # (B, F, 3)
    valid = torch.isfinite(tri).all(-1).all(-1) & (tz > 0).all(-1)
    lo = tri.amin(dim=2)  # (B, F, 2)
    hi = tri.amax(dim=2)
    p = kp_uv[:, :, None, :]  # (B, K, 1, 2)
    cand = (
        (p[..., 0] >= lo[:, None, :, 0])
        & (p[..., 0] <= hi[:, None, :, 0])
        & (p[..., 1] >= lo[:, None, :, 1])
        & (p[..., 1] <= hi[:, None, :, 1])
        & valid[:, None, :]
    )  # (B, K, F)
    b, k, f = cand.nonzero(as_tuple=True)
    occ = torch.zeros((B, K), dtype=torch.bool, device=kp_z.device)
    if b.numel() == 0:
        return occ
    a, bb, c = tri[b, f, 0], tri[b, f, 1], tri[b, f, 2]  # (N, 2)
    q = kp_uv[b, k]
    v0, v1, v2 = bb - a, c - a, q - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = den.abs() > 1e-12
    den = torch.where(ok, den, torch.ones_like(den))
    l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    l0 = 1 - l1 - l2
    eps = 1e-9
    inside = ok & (l0 >= -eps) & (l1 >= -eps) & (l2 >= -eps)
    z = tz[b, f]
    inv_z = l0 / z[:, 0] + l1 / z[:, 1] + l2 / z[:, 2]
    depth = 1.0 / inv_z
    hit = inside & (depth < kp_z[b, k] - tol[k])
    occ.view(-1)[(b * K + k)[hit]] = True
    return occ
