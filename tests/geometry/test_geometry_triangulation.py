"""Weighted DLT triangulation and reprojection-based camera exclusion."""

from __future__ import annotations

import numpy as np
import pytest

from opencapbench.geometry.triangulation import (
    reprojection_errors,
    summarize_exclusions,
    triangulate_dlt,
    triangulate_robust,
)


def _look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World→camera rotation for a camera at ``center`` looking at ``target`` (y roughly down)."""
    z = target - center
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def _rig(n_cams: int, seed: int = 0) -> np.ndarray:
    """(C, 3, 4) projection matrices of cameras on a 4 m circle around the origin."""
    rng = np.random.default_rng(seed)
    Ps = []
    for a in np.linspace(-1.2, 1.2, n_cams) + rng.normal(0, 0.05, n_cams):
        c = np.array([4 * np.cos(a), 4 * np.sin(a), 1.0 + rng.normal(0, 0.2)])
        R = _look_at(c, np.array([0.0, 0.0, 1.0]))
        K = np.array([[1000 + rng.normal(0, 30), 0, 360], [0, 1000, 640], [0, 0, 1.0]])
        Ps.append(K @ np.hstack([R, (-R @ c)[:, None]]))
    return np.stack(Ps)


def _project(P: np.ndarray, X: np.ndarray) -> np.ndarray:
    h = np.einsum("cij,fkj->cfki", P[:, :, :3], X) + P[:, None, None, :, 3]
    return h[..., :2] / h[..., 2:]


def _cloud(F: int, K: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform([-0.5, -0.5, 0.0], [0.5, 0.5, 2.0], size=(F, K, 3))


def _reference_loop(uv: np.ndarray, w: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Independent per-point SVD of the (row-normalised, weighted) DLT matrix."""
    C, F, K, _ = uv.shape
    out = np.full((F, K, 3), np.nan)
    for f in range(F):
        for k in range(K):
            rows = []
            for c in range(C):
                if not (w[c, f, k] > 0 and np.isfinite(uv[c, f, k]).all()):
                    continue
                for i in range(2):
                    r = uv[c, f, k, i] * P[c, 2] - P[c, i]
                    rows.append(w[c, f, k] * r / np.linalg.norm(r))
            if len(rows) >= 4:
                X = np.linalg.svd(np.array(rows))[2][-1]
                out[f, k] = X[:3] / X[3]
    return out


def test_exact_recovery_noise_free() -> None:
    P = _rig(5)
    X = _cloud(7, 9)
    uv = _project(P, X)
    w = np.random.default_rng(2).uniform(0.2, 1.0, size=uv.shape[:3])
    pts, n_used = triangulate_dlt(uv, w, P)
    assert pts.shape == (7, 9, 3)
    np.testing.assert_allclose(pts, X, atol=1e-9)
    assert (n_used == 5).all()
    np.testing.assert_allclose(reprojection_errors(pts, uv, P), 0.0, atol=1e-6)


def test_matches_per_point_svd_loop_with_noise() -> None:
    P = _rig(4, seed=3)
    X = _cloud(6, 8, seed=4)
    rng = np.random.default_rng(5)
    uv = _project(P, X) + rng.normal(0, 3.0, size=(4, 6, 8, 2))
    w = rng.uniform(0.0, 1.0, size=(4, 6, 8))
    w[w < 0.15] = 0.0
    uv[0, 1, 2] = np.nan
    ours, _ = triangulate_dlt(uv, w, P)
    ref = _reference_loop(uv, w, P)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours, ref, atol=1e-6, equal_nan=True)
    # and noisy points land near the truth (3 px noise at 4 m, f = 1000 → ~1 cm)
    assert np.nanmax(np.linalg.norm(ours - X, axis=-1)) < 0.05


def test_zero_and_nan_weights_and_too_few_cameras() -> None:
    P = _rig(3)
    X = _cloud(1, 4)
    uv = _project(P, X)
    w = np.ones((3, 1, 4))
    # keypoint 0: camera 0 zero weight → solved from 2 cameras
    w[0, 0, 0] = 0.0
    uv[0, 0, 0] = [1e6, -1e6]  # garbage that must be ignored
    # keypoint 1: camera 1 NaN weight, camera 2 NaN pixel → only 1 camera → NaN
    w[1, 0, 1] = np.nan
    uv[2, 0, 1] = np.nan
    # keypoint 2: nobody sees it
    w[:, 0, 2] = 0.0
    pts, n_used = triangulate_dlt(uv, w, P)
    np.testing.assert_array_equal(n_used[0], [2, 1, 0, 3])
    np.testing.assert_allclose(pts[0, 0], X[0, 0], atol=1e-9)
    assert np.isnan(pts[0, 1]).all() and np.isnan(pts[0, 2]).all()
    np.testing.assert_allclose(pts[0, 3], X[0, 3], atol=1e-9)
    # with min_cameras=3 the two-camera point is dropped too
    pts3, _ = triangulate_dlt(uv, w, P, min_cameras=3)
    assert np.isnan(pts3[0, 0]).all() and np.isfinite(pts3[0, 3]).all()


def test_bad_inputs_raise() -> None:
    P = _rig(2)
    uv = np.zeros((2, 1, 1, 2))
    with pytest.raises(ValueError, match="weights must be >= 0"):
        triangulate_dlt(uv, -np.ones((2, 1, 1)), P)
    with pytest.raises(ValueError, match="projections"):
        triangulate_dlt(uv, np.ones((2, 1, 1)), P[:1])
    with pytest.raises(ValueError, match="min_cameras"):
        triangulate_dlt(uv, np.ones((2, 1, 1)), P, min_cameras=1)


def test_robust_excludes_corrupted_camera() -> None:
    P = _rig(5, seed=7)
    X = _cloud(10, 6, seed=8)
    uv = _project(P, X)
    w = np.ones(uv.shape[:3])
    bad = np.zeros(uv.shape[:3], dtype=bool)
    bad[2, ::2, 1] = True  # camera 2 wrong on keypoint 1 in even frames
    bad[4, 3, 4] = True  # camera 4 wrong on one point
    uv[bad] += np.array([50.0, 0.0])
    res = triangulate_robust(uv, w, P, reproj_threshold_px=5.0)
    np.testing.assert_array_equal(res.excluded, bad)
    np.testing.assert_array_equal(res.used, ~bad)
    np.testing.assert_allclose(res.points3d, X, atol=1e-8)
    np.testing.assert_array_equal(res.n_used, 5 - bad.sum(axis=0))
    np.testing.assert_allclose(res.confidence, 1.0)
    # the excluded camera's error is still reported and is ~50 px
    assert np.all(res.reproj_error[bad] > 40)
    table = summarize_exclusions(res, [f"Cam{i}" for i in range(5)], list("abcdef"))
    assert table.loc["Cam2", "b"] == 5 and table.loc["Cam4", "e"] == 1
    assert table.to_numpy().sum() == 6

    # without a threshold nothing is excluded and the corrupted points are off
    plain = triangulate_robust(uv, w, P)
    assert not plain.excluded.any()
    assert np.linalg.norm(plain.points3d[0, 1] - X[0, 1]) > 1e-3


def test_robust_stops_at_min_cameras_and_confidence() -> None:
    P = _rig(4, seed=9)
    X = _cloud(1, 2, seed=10)
    uv = _project(P, X)
    w = np.array([[[0.5, 0.5]], [[0.6, 0.5]], [[0.3, 0.0]], [[0.8, 0.0]]])
    uv[0, 0, 0] += 40.0  # corrupt on a 4-camera point: that camera is dropped, no other
    uv[0, 0, 1] += 40.0  # only 2 usable cameras: nothing can be dropped
    res = triangulate_robust(uv, w, P, reproj_threshold_px=2.0, min_cameras=2)
    assert res.excluded[:, 0, 0].tolist() == [True, False, False, False]
    np.testing.assert_allclose(res.points3d[0, 0], X[0, 0], atol=1e-8)
    assert res.confidence[0, 0] == pytest.approx((0.6 + 0.3 + 0.8) / 3)
    assert not res.excluded[:, 0, 1].any()
    assert res.used[:, 0, 1].tolist() == [True, True, False, False]
    assert np.nanmax(res.reproj_error[:2, 0, 1]) > 2.0


def test_smallest_eigenvector_solver_including_fallback() -> None:
    from opencapbench.geometry.triangulation import _adjugate4, _smallest_eigenvectors

    rng = np.random.default_rng(11)
    A = rng.normal(size=(50, 4, 4))
    M = A @ A.transpose(0, 2, 1)
    adj = _adjugate4(np.ascontiguousarray(M.transpose(1, 2, 0))).transpose(2, 0, 1)
    np.testing.assert_allclose(
        adj, np.linalg.inv(M) * np.linalg.det(M)[:, None, None], rtol=1e-9, atol=1e-9
    )
    # a nearly degenerate pair of smallest eigenvalues forces the eigh fallback
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    Md = (Q * np.array([1.0, 1.001, 3.0, 5.0])) @ Q.T
    x = _smallest_eigenvectors(np.stack([Md, M[0]], axis=-1))
    assert abs(x[:, 0] @ Q[:, 0]) == pytest.approx(1.0, abs=1e-12)
    ref = np.linalg.eigh(M[0])[1][:, 0]
    assert abs(x[:, 1] @ ref) == pytest.approx(1.0, abs=1e-12)


def test_leave_one_out_finds_heavily_weighted_culprit() -> None:
    # Three cameras; the corrupted one has the highest weight and drags the point, so the
    # largest error shows on a correct camera.  "worst" drops that one; leave-one-out does not.
    P = _rig(3, seed=9)
    X = _cloud(1, 1, seed=10)
    uv = _project(P, X)
    uv[0, 0, 0] += 40.0
    w = np.array([0.9, 0.6, 0.3])[:, None, None]
    worst = triangulate_robust(uv, w, P, reproj_threshold_px=2.0, strategy="worst")
    assert worst.excluded[:, 0, 0].tolist() == [False, False, True]
    loo = triangulate_robust(uv, w, P, reproj_threshold_px=2.0)
    assert loo.excluded[:, 0, 0].tolist() == [True, False, False]
    np.testing.assert_allclose(loo.points3d[0, 0], X[0, 0], atol=1e-8)
    assert loo.confidence[0, 0] == pytest.approx(0.45)
    with pytest.raises(ValueError, match="strategy"):
        triangulate_robust(uv, w, P, reproj_threshold_px=2.0, strategy="ransac")
