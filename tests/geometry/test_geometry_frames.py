"""Checkerboard placement → OpenSim frame rotations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from opencapbench.geometry.frames import placement_rotation, rotate_points

ALL = ["backWall", "backWall_largeCB", "backWall_walking", "ground", "ground_jumps", "ground_gaits"]


@pytest.mark.parametrize("placement", ALL)
@pytest.mark.parametrize("upside_down", [False, True])
def test_rotation_is_proper(placement: str, upside_down: bool) -> None:
    R = placement_rotation(placement, upside_down)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_ground_board_up_maps_to_opensim_y() -> None:
    # The board's z axis points into the floor, so 1 m above the board is (0, 0, -1).
    R = placement_rotation("ground")
    np.testing.assert_allclose(rotate_points(np.array([0.0, 0.0, -1.0]), R), [0, 1, 0], atol=1e-12)
    # x +90° then y +90°, applied to the points in that order (extrinsic).
    Rx = Rotation.from_rotvec([np.pi / 2, 0, 0]).as_matrix()
    Ry = Rotation.from_rotvec([0, np.pi / 2, 0]).as_matrix()
    np.testing.assert_allclose(R, Ry @ Rx, atol=1e-12)


def test_backwall_composition_and_upside_down() -> None:
    Ry = Rotation.from_rotvec([0, np.pi / 2, 0]).as_matrix()
    Rz = Rotation.from_rotvec([0, 0, np.pi]).as_matrix()
    np.testing.assert_allclose(placement_rotation("backWall"), Rz @ Ry, atol=1e-12)
    np.testing.assert_allclose(placement_rotation("backWall", upside_down=True), Ry.T, atol=1e-12)
    # A back-wall board's -y axis (OpenCV image rows go down) is up: (0, -1, 0) → +Y.
    up = rotate_points(np.array([0.0, -1.0, 0.0]), placement_rotation("backWall"))
    np.testing.assert_allclose(up, [0, 1, 0], atol=1e-12)


def test_variants() -> None:
    Rx = Rotation.from_rotvec([np.pi / 2, 0, 0]).as_matrix()
    Ry180 = Rotation.from_rotvec([0, np.pi, 0]).as_matrix()
    np.testing.assert_allclose(placement_rotation("ground_jumps"), Ry180 @ Rx, atol=1e-12)
    np.testing.assert_allclose(placement_rotation("ground_gaits"), placement_rotation("ground"))
    # Body-fixed YZ(-90, 180) = Ry(-90) @ Rz(180).
    Rym = Rotation.from_rotvec([0, -np.pi / 2, 0]).as_matrix()
    Rz = Rotation.from_rotvec([0, 0, np.pi]).as_matrix()
    np.testing.assert_allclose(placement_rotation("backWall_walking"), Rym @ Rz, atol=1e-12)


def test_unknown_placement_lists_valid() -> None:
    with pytest.raises(ValueError, match="ground_jumps"):
        placement_rotation("ceiling")


def test_rotate_points_shapes_and_nan() -> None:
    R = placement_rotation("ground")
    pts = np.arange(24, dtype=float).reshape(2, 4, 3)
    pts[0, 1] = np.nan
    out = rotate_points(pts, R)
    assert out.shape == pts.shape
    assert np.isnan(out[0, 1]).all()
    np.testing.assert_allclose(out[1, 2], R @ pts[1, 2])
