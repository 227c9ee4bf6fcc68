"""Confidence-weighted N-view linear triangulation (DLT), vectorised over frames × keypoints.

Every camera ``c`` that sees a keypoint at undistorted pixel ``(u, v)`` with confidence ``w``
contributes two linear equations in the homogeneous point ``X``:
``w · (u·P₂ − P₀) · X = 0`` and ``w · (v·P₂ − P₁) · X = 0`` (``Pᵢ`` = row ``i`` of the
camera's 3×4 projection matrix ``K[R|t]``).  This is OpenCap's triangulation; we additionally
scale every row to unit norm before weighting, so a camera's influence is set by its confidence
alone and not by its focal length or the point's image position, and the 4×4 normal matrices
stay well conditioned.  ``X`` is the eigenvector of ``AᵀA`` with the smallest eigenvalue
(identical to the last right-singular vector of ``A``), found for all points at once by a
power iteration on the closed-form 4×4 adjugate (elementwise over points, far faster than a
per-point SVD loop: the README's "Speed" table has the figure of
``benchmarks/triangulation_speed.py``; rare near-degenerate systems fall back to
``numpy.linalg.eigh``).

:func:`triangulate_robust` adds reprojection-based outlier rejection: per point, while the
worst used camera reprojects further than a threshold and more than ``min_cameras`` cameras
remain, that camera is dropped and the point re-triangulated.

Units: pixels for 2D, the projection matrices' world unit (metres in this toolkit) for 3D.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "TriangulationResult",
    "reprojection_errors",
    "summarize_exclusions",
    "triangulate_dlt",
    "triangulate_robust",
]


def _check_inputs(
    points2d: np.ndarray, weights: np.ndarray, projections: np.ndarray, min_cameras: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pts = np.asarray(points2d, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    P = np.asarray(projections, dtype=np.float64)
    if pts.ndim != 4 or pts.shape[-1] != 2:
        raise ValueError(f"points2d must have shape (C, F, K, 2), got {pts.shape}")
    if w.shape != pts.shape[:3]:
        raise ValueError(f"weights must have shape {pts.shape[:3]} (C, F, K), got {w.shape}")
    if P.shape != (pts.shape[0], 3, 4):
        raise ValueError(f"projections must have shape ({pts.shape[0]}, 3, 4), got {P.shape}")
    if np.any(w < 0):
        raise ValueError("weights must be >= 0 (use 0 or NaN for a missing observation)")
    if min_cameras < 2:
        raise ValueError(
            f"min_cameras must be >= 2 (a single view fixes only a ray), got {min_cameras}"
        )
    return pts, w, P


def _usable(points2d: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(C, ...) bool: the observation is finite and has a positive, finite weight."""
    return np.isfinite(points2d).all(axis=-1) & np.isfinite(weights) & (weights > 0)


def _adjugate4(m: np.ndarray) -> np.ndarray:
    """Adjugate of N 4×4 matrices stored component-first, (4, 4, N) → (4, 4, N).

    Closed form from the 2×2 minors of the top and bottom row pairs (Laplace expansion);
    elementwise over N, so it vectorises far better than a batched LAPACK call on 4×4 blocks.
    """
    s0 = m[0, 0] * m[1, 1] - m[1, 0] * m[0, 1]
    s1 = m[0, 0] * m[1, 2] - m[1, 0] * m[0, 2]
    s2 = m[0, 0] * m[1, 3] - m[1, 0] * m[0, 3]
    s3 = m[0, 1] * m[1, 2] - m[1, 1] * m[0, 2]
    s4 = m[0, 1] * m[1, 3] - m[1, 1] * m[0, 3]
    s5 = m[0, 2] * m[1, 3] - m[1, 2] * m[0, 3]
    c5 = m[2, 2] * m[3, 3] - m[3, 2] * m[2, 3]
    c4 = m[2, 1] * m[3, 3] - m[3, 1] * m[2, 3]
    c3 = m[2, 1] * m[3, 2] - m[3, 1] * m[2, 2]
    c2 = m[2, 0] * m[3, 3] - m[3, 0] * m[2, 3]
    c1 = m[2, 0] * m[3, 2] - m[3, 0] * m[2, 2]
    c0 = m[2, 0] * m[3, 1] - m[3, 0] * m[2, 1]
    b = np.empty_like(m)
    b[0, 0] = m[1, 1] * c5 - m[1, 2] * c4 + m[1, 3] * c3
    b[0, 1] = -m[0, 1] * c5 + m[0, 2] * c4 - m[0, 3] * c3
    b[0, 2] = m[3, 1] * s5 - m[3, 2] * s4 + m[3, 3] * s3
    b[0, 3] = -m[2, 1] * s5 + m[2, 2] * s4 - m[2, 3] * s3
    b[1, 0] = -m[1, 0] * c5 + m[1, 2] * c2 - m[1, 3] * c1
    b[1, 1] = m[0, 0] * c5 - m[0, 2] * c2 + m[0, 3] * c1
    b[1, 2] = -m[3, 0] * s5 + m[3, 2] * s2 - m[3, 3] * s1
    b[1, 3] = m[2, 0] * s5 - m[2, 2] * s2 + m[2, 3] * s1
    b[2, 0] = m[1, 0] * c4 - m[1, 1] * c2 + m[1, 3] * c0
    b[2, 1] = -m[0, 0] * c4 + m[0, 1] * c2 - m[0, 3] * c0
    b[2, 2] = m[3, 0] * s4 - m[3, 1] * s2 + m[3, 3] * s0
    b[2, 3] = -m[2, 0] * s4 + m[2, 1] * s2 - m[2, 3] * s0
    b[3, 0] = -m[1, 0] * c3 + m[1, 1] * c1 - m[1, 2] * c0
    b[3, 1] = m[0, 0] * c3 - m[0, 1] * c1 + m[0, 2] * c0
    b[3, 2] = -m[3, 0] * s3 + m[3, 1] * s1 - m[3, 2] * s0
    b[3, 3] = m[2, 0] * s3 - m[2, 1] * s1 + m[2, 2] * s0
    return b


def _smallest_eigenvectors(M: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Unit eigenvector of the smallest eigenvalue of N symmetric PSD 4×4 matrices.

    Args:
        M: (4, 4, N) matrices, component-first.
        iterations: power steps with the adjugate.

    Returns:
        (4, N) unit vectors.

    Power iteration with ``adj(M) = Σᵢ (Πⱼ≠ᵢ λⱼ) vᵢvᵢᵀ`` (inverse iteration without a
    division, so an exactly rank-3 noise-free ``M`` is fine): each step shrinks the error by
    ``λ₁/λ₂``, tiny for any well-posed triangulation.  Started from ``adj(M) e₄`` (the
    homogeneous coordinate is never orthogonal to a finite point's solution).  Matrices whose
    last step still moved the vector (near-degenerate geometry) fall back to ``numpy.linalg.eigh``.
    """
    B = _adjugate4(M)
    B /= np.abs(B).max(axis=(0, 1), keepdims=True) + np.finfo(np.float64).tiny
    x = B[:, 3].copy()
    x /= np.linalg.norm(x, axis=0)
    prev = x
    for _ in range(iterations):
        prev = x
        x = np.einsum("ijn,jn->in", B, x)
        x /= np.linalg.norm(x, axis=0)
    unconverged = ~(np.linalg.norm(x - prev, axis=0) < 1e-12)
    if unconverged.any():
        sub = np.moveaxis(M[:, :, unconverged], -1, 0)
        x[:, unconverged] = np.linalg.eigh(sub)[1][..., 0].T
    return x


def _solve(uv: np.ndarray, w: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Weighted DLT for N independent points.

    Args:
        uv: (C, N, 2) pixels (finite wherever ``w > 0``).
        w: (C, N) weights, 0 for an unused camera.
        P: (C, 3, 4) projection matrices.

    Returns:
        (N, 3) points; NaN where the solution lies at infinity.
    """
    C, N = w.shape
    M = np.zeros((4, 4, N))
    for c in range(C):
        used = w[c] > 0
        for r in range(2):
            coord = np.where(used, uv[c, :, r], 0.0)
            # row u·P2 − P0 (or v·P2 − P1), component-first (4, N), scaled to norm w
            a = coord[None, :] * P[c, 2, :, None] - P[c, r, :, None]
            a *= w[c] / np.sqrt(np.einsum("in,in->n", a, a))
            M += a[:, None, :] * a[None, :, :]
    X = _smallest_eigenvectors(M)
    h = X[3]
    with np.errstate(invalid="ignore", divide="ignore"):
        pts = np.where(np.abs(h) > 1e-12, X[:3] / h, np.nan)
    return pts.T


def triangulate_dlt(
    points2d: np.ndarray,
    weights: np.ndarray,
    projections: np.ndarray,
    min_cameras: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Triangulate every frame × keypoint from C views with a confidence-weighted linear DLT.

    Args:
        points2d: (C, F, K, 2) **undistorted** pixel coordinates (see
            :func:`~opencapbench.geometry.projection.undistort_points`); NaN = not seen.
        weights: (C, F, K) confidences ``>= 0``; 0 or NaN = camera not used for that point.
        projections: (C, 3, 4) ``K [R | t]`` per camera (world unit: metres).
        min_cameras: fewest usable cameras for a point to be triangulated (>= 2).

    Returns:
        ``(points3d, n_used)``: (F, K, 3) world points in metres (NaN where fewer than
        ``min_cameras`` cameras were usable) and (F, K) int number of cameras used.
    """
    pts, w, P = _check_inputs(points2d, weights, projections, min_cameras)
    C, F, K = w.shape
    usable = _usable(pts, w)
    n_used = usable.sum(axis=0)
    out = np.full((F * K, 3), np.nan)
    solve = (n_used >= min_cameras).reshape(-1)
    if solve.any():
        wf = np.where(usable, w, 0.0).reshape(C, -1)[:, solve]
        out[solve] = _solve(pts.reshape(C, -1, 2)[:, solve], wf, P)
    return out.reshape(F, K, 3), n_used.astype(np.int64)


def reprojection_errors(
    points3d: np.ndarray, points2d: np.ndarray, projections: np.ndarray
) -> np.ndarray:
    """Pixel distance between each camera's observation and the reprojected 3D point.

    Args:
        points3d: (F, K, 3) world points, metres.
        points2d: (C, F, K, 2) undistorted pixel observations.
        projections: (C, 3, 4) projection matrices.

    Returns:
        (C, F, K) errors in pixels; NaN where the point or the observation is NaN; ``inf``
        where the point lies on or behind the camera (a camera that cannot see it).
    """
    X = np.asarray(points3d, dtype=np.float64)
    P = np.asarray(projections, dtype=np.float64)
    h = np.einsum("cij,fkj->cfki", P[:, :, :3], X) + P[:, None, None, :, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        proj = h[..., :2] / h[..., 2:]
        err = np.linalg.norm(proj - np.asarray(points2d, dtype=np.float64), axis=-1)
        err = np.where(h[..., 2] > 0, err, np.where(np.isnan(err), np.nan, np.inf))
    return err


def _errors_flat(X: np.ndarray, uv: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Reprojection errors of N points, (N, 3) and (C, N, 2) → (C, N) pixels."""
    return reprojection_errors(X[None], uv[:, None], P)[:, 0]


def _best_leave_one_out(
    uv: np.ndarray, w: np.ndarray, used: np.ndarray, P: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For N points, the used camera whose removal leaves the smallest worst error.

    Args:
        uv: (C, N, 2) pixels; w: (C, N) weights (0 = unused); used: (C, N) bool;
        P: (C, 3, 4).

    Returns:
        ``(camera (N,), points (N, 3), errors (C, N))`` for the best removal of each point.
    """
    C, N = w.shape
    best_score = np.full(N, np.inf)
    best_cam = np.zeros(N, dtype=np.int64)
    best_pts = np.full((N, 3), np.nan)
    best_err = np.full((C, N), np.nan)
    chosen = np.zeros(N, dtype=bool)
    for c in range(C):
        cand = np.flatnonzero(used[c])
        if cand.size == 0:
            continue
        w_drop = w[:, cand].copy()
        w_drop[c] = 0.0
        X = _solve(uv[:, cand], w_drop, P)
        e = _errors_flat(X, uv[:, cand], P)
        keep = used[:, cand].copy()
        keep[c] = False
        score = np.where(keep, np.nan_to_num(e, nan=np.inf), -np.inf).max(axis=0)
        score = np.where(np.isfinite(X).all(axis=1), score, np.inf)
        better = (score < best_score[cand]) | ~chosen[cand]
        idx = cand[better]
        chosen[idx] = True
        best_score[idx] = score[better]
        best_cam[idx] = c
        best_pts[idx] = X[better]
        best_err[:, idx] = e[:, better]
    return best_cam, best_pts, best_err


@dataclass
class TriangulationResult:
    """Output of :func:`triangulate_robust` (C cameras, F frames, K keypoints).

    Attributes:
        points3d: (F, K, 3) metres; NaN where too few cameras were usable.
        confidence: (F, K) mean weight of the cameras finally used; 0 where not triangulated.
        used: (C, F, K) bool, cameras in the final solution.
        excluded: (C, F, K) bool, cameras dropped for exceeding the reprojection threshold.
        reproj_error: (C, F, K) pixels, every camera's error against the final point
            (excluded cameras included; NaN where that camera has no observation).
    """

    points3d: np.ndarray
    confidence: np.ndarray
    used: np.ndarray
    excluded: np.ndarray
    reproj_error: np.ndarray

    @property
    def n_used(self) -> np.ndarray:
        """(F, K) number of cameras in the final solution."""
        return self.used.sum(axis=0)


def triangulate_robust(
    points2d: np.ndarray,
    weights: np.ndarray,
    projections: np.ndarray,
    reproj_threshold_px: float | None = None,
    min_cameras: int = 2,
    strategy: str = "leave_one_out",
) -> TriangulationResult:
    """Weighted DLT with greedy exclusion of cameras that reproject badly.

    Per point: triangulate with all usable cameras; while the largest reprojection error
    among the used cameras exceeds ``reproj_threshold_px`` and more than ``min_cameras``
    remain, drop one camera and re-triangulate.  Which camera:

    - ``"leave_one_out"`` (default): re-solve without each used camera in turn and drop the
      one whose removal leaves the smallest worst error among the others (C solves per
      round).  A wrong camera with a high weight pulls the point towards itself, so the
      camera with the largest error is often a correct one; leaving each out finds the culprit.
    - ``"worst"``: drop the camera with the largest error (one solve per round).

    Rounds are vectorised: each re-solves, in batches, only the points still failing (at
    most ``C - min_cameras`` rounds), so the cost is a few full solves, where trying every
    camera subset (Pose2Sim) grows combinatorially.  A point still above the threshold with
    ``min_cameras`` cameras is kept; its ``reproj_error`` tells.

    Args:
        points2d: (C, F, K, 2) undistorted pixels; NaN = not seen.
        weights: (C, F, K) confidences >= 0; 0 or NaN = not used.
        projections: (C, 3, 4) ``K [R | t]``.
        reproj_threshold_px: pixels; ``None`` disables exclusion (plain weighted DLT).
        min_cameras: fewest cameras for a point (>= 2).
        strategy: ``"leave_one_out"`` or ``"worst"`` (see above).

    Returns:
        :class:`TriangulationResult`.
    """
    pts, w, P = _check_inputs(points2d, weights, projections, min_cameras)
    C, F, K = w.shape
    used = _usable(pts, w)
    points3d, _ = triangulate_dlt(pts, w, P, min_cameras)
    err = reprojection_errors(points3d, pts, P)
    excluded = np.zeros_like(used)

    if reproj_threshold_px is not None:
        if strategy not in ("leave_one_out", "worst"):
            raise ValueError(f"strategy must be 'leave_one_out' or 'worst', got {strategy!r}")
        wz = np.where(used, w, 0.0)
        for _ in range(max(C - min_cameras, 0)):
            err_used = np.where(used, np.nan_to_num(err, nan=np.inf), -np.inf)
            worst = err_used.argmax(axis=0)  # (F, K)
            worst_err = np.take_along_axis(err_used, worst[None], axis=0)[0]
            failing = (
                (worst_err > reproj_threshold_px)
                & (used.sum(axis=0) > min_cameras)
                & np.isfinite(points3d).all(axis=-1)
            )
            if not failing.any():
                break
            fi, ki = np.nonzero(failing)
            uv_sub, w_sub, used_sub = pts[:, fi, ki], wz[:, fi, ki], used[:, fi, ki]
            if strategy == "worst":
                ci = worst[fi, ki]
                w_drop = w_sub.copy()
                w_drop[ci, np.arange(fi.size)] = 0.0
                sub = _solve(uv_sub, w_drop, P)
                sub_err = _errors_flat(sub, uv_sub, P)
            else:
                ci, sub, sub_err = _best_leave_one_out(uv_sub, w_sub, used_sub, P)
            used[ci, fi, ki] = False
            excluded[ci, fi, ki] = True
            wz[ci, fi, ki] = 0.0
            points3d[fi, ki] = sub
            err[:, fi, ki] = sub_err

    ok = np.isfinite(points3d).all(axis=-1)
    used &= ok[None]
    n = used.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(n > 0, np.where(used, w, 0.0).sum(axis=0) / n, 0.0)
    return TriangulationResult(points3d, conf, used, excluded, err)


def summarize_exclusions(
    result: TriangulationResult,
    camera_names: Sequence[str],
    keypoint_names: Sequence[str],
) -> pd.DataFrame:
    """Count, per camera and keypoint, the frames in which the camera was excluded.

    Args:
        result: output of :func:`triangulate_robust`.
        camera_names: C names, in the order of the camera axis.
        keypoint_names: K names, in the order of the keypoint axis.

    Returns:
        DataFrame (C rows × K columns) of int counts, index ``camera``, columns ``keypoint``.
    """
    C, _, K = result.excluded.shape
    if len(camera_names) != C or len(keypoint_names) != K:
        raise ValueError(
            f"expected {C} camera names and {K} keypoint names, "
            f"got {len(camera_names)} and {len(keypoint_names)}"
        )
    counts = result.excluded.sum(axis=1)
    return pd.DataFrame(
        counts,
        index=pd.Index(list(camera_names), name="camera"),
        columns=pd.Index(list(keypoint_names), name="keypoint"),
    )
