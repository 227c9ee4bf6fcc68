"""Self-occlusion of keypoints by the posed body mesh (a z-buffer lookup at the keypoints).

A z-buffer of the mesh sampled at a keypoint's pixel holds the depth of the nearest triangle
covering that pixel.  Only those samples are ever read, so instead of rasterising whole images
each keypoint pixel is tested against the triangles directly: triangles whose 2D box contains
the pixel are selected (a sweep over triangles sorted by their left edge keeps this to a thin
slab of the mesh per keypoint), an edge-function (barycentric) test keeps those that cover it, and their
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
#: width classes of the sweep (face widths up to 2**(N-1) x the median share a window)
N_CLASSES = 4


def occluded_by_mesh(
    kp_uv: torch.Tensor,
    kp_z: torch.Tensor,
    mesh_uv: torch.Tensor,
    mesh_z: torch.Tensor,
    faces: torch.Tensor,
    tol_m: float | torch.Tensor = DEFAULT_TOL_M,
    max_elements: int = 1_000_000,
) -> torch.Tensor:
    """Which keypoints are hidden behind the mesh.

    Args:
        kp_uv: (B, K, 2) keypoint pixels.
        kp_z: (B, K) keypoint depths (camera z), metres.
        mesh_uv: (B, V, 2) projected mesh vertices, pixels (NaN behind the camera).
        mesh_z: (B, V) vertex depths, metres.
        faces: (F, 3) long triangle indices.
        tol_m: depth tolerance, metres: a scalar or one per keypoint (K,).
        max_elements: bound on B_chunk x F face entries processed at once (memory).

    Returns:
        (B, K) bool, True where a triangle covering the pixel is nearer by more than ``tol_m``.
    """
    B, K = kp_z.shape
    F = faces.shape[0]
    out = torch.zeros((B, K), dtype=torch.bool, device=kp_z.device)
    tol = torch.as_tensor(tol_m, dtype=kp_z.dtype, device=kp_z.device).expand(K)
    chunk = max(1, max_elements // max(1, F))
    for s in range(0, B, chunk):
        e = min(B, s + chunk)
        out[s:e] = _occluded_chunk(kp_uv[s:e], kp_z[s:e], mesh_uv[s:e], mesh_z[s:e], faces, tol)
    return out


def _occluded_chunk(kp_uv, kp_z, mesh_uv, mesh_z, faces, tol) -> torch.Tensor:
    B, K = kp_z.shape
    dev = kp_z.device
    tri = mesh_uv[:, faces]  # (B, F, 3, 2)
    tz = mesh_z[:, faces]  # (B, F, 3)
    valid = torch.isfinite(tri).all(-1).all(-1) & (tz > 0).all(-1)
    lo = tri.amin(dim=2)  # (B, F, 2)
    hi = tri.amax(dim=2)
    # Sweep along x: with faces sorted by their left edge, the faces whose x-range can hold
    # pixel u have a left edge in [u - widest face, u], a contiguous run of the sorted order.
    # Faces are split into width classes (doubling widths) so that the many narrow faces are
    # swept with a narrow window and only the few wide ones with a wide one.
    width = hi[..., 0] - lo[..., 0]
    base = torch.nan_to_num(width[valid].median(), nan=1.0).clamp(min=1e-6) if valid.any() else 1.0
    cls = torch.log2(width / base).ceil().clamp(0, N_CLASSES - 1)
    cls = torch.where(valid, cls, torch.full_like(cls, N_CLASSES))  # invalid faces sort last
    # per frame and class, the widest face is the window of that class
    window = torch.zeros((B, N_CLASSES + 1), dtype=width.dtype, device=dev)
    window.scatter_reduce_(1, cls.long(), torch.where(valid, width, 0.0), "amax")
    extent = torch.maximum(lo[..., 0].abs(), hi[..., 0].abs())[valid]
    span = 4.0 * float(extent.max() if extent.numel() else 1.0) + 1e3  # class key offset
    key = cls.double() * span + lo[..., 0].double().nan_to_num(0.0)
    sorted_key, order = torch.sort(key, dim=1)
    u = kp_uv[..., 0].double()
    # no face lies beyond +-span/4: clamping keeps far-off queries inside their class
    u = torch.where(torch.isfinite(u), u, torch.full_like(u, -span / 4)).clamp(-span / 4, span / 4)
    c = torch.arange(N_CLASSES, device=dev, dtype=torch.float64) * span  # (C,)
    lo_key = (c + u[..., None] - window[:, None, :N_CLASSES].double()).reshape(B, -1)
    hi_key = (c + u[..., None]).reshape(B, -1)
    first = torch.searchsorted(sorted_key, lo_key.contiguous()).reshape(B, K, N_CLASSES)
    last = torch.searchsorted(sorted_key, hi_key.contiguous(), right=True).reshape(B, K, N_CLASSES)
    occ = torch.zeros((B, K), dtype=torch.bool, device=dev)
    # the runs are ragged: flatten them (no padding to the longest run)
    counts = (last - first).clamp(min=0).reshape(-1)
    total = int(counts.sum())
    if total == 0:
        return occ
    bkc = torch.repeat_interleave(torch.arange(B * K * N_CLASSES, device=dev), counts)
    starts = torch.cumsum(counts, 0) - counts
    pos = first.reshape(-1)[bkc] + torch.arange(total, device=dev) - starts[bkc]
    bk = bkc // N_CLASSES
    b, k = bk // K, bk % K
    fid = order[b, pos]
    q = kp_uv[b, k]
    keep = (q[:, 0] <= hi[b, fid, 0]) & (q[:, 1] >= lo[b, fid, 1]) & (q[:, 1] <= hi[b, fid, 1])
    b, k, fid, q = b[keep], k[keep], fid[keep], q[keep]
    if b.numel() == 0:
        return occ
    a, bb, c = tri[b, fid, 0], tri[b, fid, 1], tri[b, fid, 2]  # (N, 2)
    v0, v1, v2 = bb - a, c - a, q - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = den.abs() > 1e-12
    den = torch.where(ok, den, torch.ones_like(den))
    l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    l0 = 1 - l1 - l2
    eps = 1e-9
    inside = ok & (l0 >= -eps) & (l1 >= -eps) & (l2 >= -eps)
    z = tz[b, fid]
    depth = 1.0 / (l0 / z[:, 0] + l1 / z[:, 1] + l2 / z[:, 2])
    hit = inside & (depth < kp_z[b, k] - tol[k])
    occ.view(-1)[(b * K + k)[hit]] = True
    return occ
