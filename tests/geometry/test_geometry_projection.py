"""Projection with distortion against OpenCV, and undistortion as its inverse."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from opencapbench.camera import Camera
from opencapbench.geometry.projection import project_points, undistort_points

# A portrait iPhone-like camera (720 × 1280) with noticeable barrel distortion.
DIST = np.array([0.12, -0.35, 0.0015, -0.001, 0.25])


def _camera(dist: np.ndarray = DIST) -> Camera:
    rvec = np.array([0.1, -0.4, 0.05])
    R, _ = cv2.Rodrigues(rvec)
    K = np.array([[1050.0, 0.0, 366.0], [0.0, 1048.0, 638.0], [0.0, 0.0, 1.0]])
    return Camera("Cam0", K, dist, R, np.array([0.2, -0.1, 3.5]), (720, 1280))


def _points(n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform([-0.8, -1.0, -0.5], [0.8, 1.0, 0.5], size=(n, 3))


def test_project_matches_opencv() -> None:
    cam = _camera()
    pts = _points()
    ours = project_points(pts, cam)
    rvec, _ = cv2.Rodrigues(cam.R)
    ref, _ = cv2.projectPoints(pts, rvec, cam.t, cam.K, cam.dist)
    np.testing.assert_allclose(ours, ref.reshape(-1, 2), atol=1e-8)


def test_project_without_distortion_is_projection_matrix() -> None:
    cam = _camera(np.zeros(5))
    pts = _points(50)
    h = np.hstack([pts, np.ones((50, 1))]) @ cam.projection_matrix.T
    np.testing.assert_allclose(project_points(pts, cam), h[:, :2] / h[:, 2:], atol=1e-9)


def test_project_keeps_shape_and_nan() -> None:
    cam = _camera()
    pts = _points(24).reshape(2, 3, 4, 3)
    pts[1, 2, 3] = np.nan
    out = project_points(pts, cam)
    assert out.shape == (2, 3, 4, 2)
    assert np.isnan(out[1, 2, 3]).all()
    assert np.isfinite(out[0]).all()


def test_point_behind_camera_is_nan() -> None:
    cam = _camera()
    behind = cam.center - 1.0 * cam.R[2]  # one metre behind along the optical axis
    assert np.isnan(project_points(behind, cam)).all()


def test_undistort_inverts_distortion() -> None:
    cam = _camera()
    ideal = _camera(np.zeros(5))
    pts = _points(300, seed=1).reshape(3, 100, 3)
    distorted = project_points(pts, cam)
    distorted[0, 5] = np.nan
    und = undistort_points(distorted, cam)
    expected = project_points(pts, ideal)
    expected[0, 5] = np.nan
    assert und.shape == distorted.shape
    np.testing.assert_allclose(und, expected, atol=1e-3)
    assert np.isnan(und[0, 5]).all()


def test_undistort_all_nan_and_bad_shape() -> None:
    cam = _camera()
    assert np.isnan(undistort_points(np.full((3, 2), np.nan), cam)).all()
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        undistort_points(np.zeros((3, 3)), cam)
