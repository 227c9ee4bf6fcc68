"""Calibration I/O: OpenCap pickles (mm, (h, w)) and Pose2Sim TOML round trips and validation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from opencapbench.camera import Camera
from opencapbench.io.calibration import (
    CalibrationError,
    matrix_to_rodrigues,
    read_opencap_calibration,
    read_opencap_intrinsics,
    read_toml_calibration,
    rodrigues_to_matrix,
    write_opencap_calibration,
    write_toml_calibration,
)


def _camera(name: str = "Cam0", k3: float = 0.05, seed: int = 0) -> Camera:
    rng = np.random.default_rng(seed)
    R = rodrigues_to_matrix(rng.normal(size=3))
    K = np.array([[913.2, 0.0, 366.5], [0.0, 913.5, 638.5], [0.0, 0.0, 1.0]])
    return Camera(name, K, [0.12, -0.28, 1e-4, -3e-4, k3], R, rng.normal(size=3) * 2, (720, 1280))


def _assert_same(a: Camera, b: Camera) -> None:
    assert a.name == b.name and a.image_size == b.image_size
    np.testing.assert_allclose(a.K, b.K, atol=1e-12)
    np.testing.assert_allclose(a.dist, b.dist, atol=1e-12)
    np.testing.assert_allclose(a.R, b.R, atol=1e-12)
    np.testing.assert_allclose(a.t, b.t, atol=1e-12)


def test_rodrigues_round_trip() -> None:
    rv = np.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(matrix_to_rodrigues(rodrigues_to_matrix(rv)), rv, atol=1e-12)
    np.testing.assert_allclose(rodrigues_to_matrix(np.zeros(3)), np.eye(3))


def test_opencap_pickle_round_trip_in_mm_and_hw(tmp_path) -> None:
    cam = _camera()
    path = tmp_path / "Cam0" / "cameraIntrinsicsExtrinsics.pickle"
    write_opencap_calibration(cam, path)
    with open(path, "rb") as fh:
        raw = pickle.load(fh)
    assert set(raw) == {
        "intrinsicMat", "distortion", "imageSize", "rotation", "translation",
        "rotation_EulerAngles",
    }  # fmt: skip
    assert raw["imageSize"].ravel().tolist() == [1280.0, 720.0]  # (height, width)
    assert raw["translation"].shape == (3, 1) and raw["distortion"].shape == (1, 5)
    np.testing.assert_allclose(raw["translation"].ravel(), cam.t * 1000.0)
    back = read_opencap_calibration(path)  # name from the folder
    _assert_same(cam, back)
    assert back.image_size == (720, 1280)
    assert read_opencap_calibration(path, name="X").name == "X"


def _write_raw(path, **overrides) -> None:
    data = {
        "intrinsicMat": np.array([[1000.0, 0, 360], [0, 1000.0, 640], [0, 0, 1]]),
        "distortion": np.zeros((1, 5)),
        "imageSize": np.array([[1280.0], [720.0]]),
        "rotation": np.eye(3),
        "translation": np.array([[10.0], [20.0], [3000.0]]),
        "rotation_EulerAngles": np.zeros((3, 1)),
    }
    data.update(overrides)
    for k in [k for k, v in data.items() if v is None]:
        del data[k]
    with open(path, "wb") as fh:
        pickle.dump(data, fh)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"rotation": np.eye(3)[:2]}, "rotation"),  # 2x3
        ({"rotation": np.diag([1.0, 1.0, 1.1])}, "rotation"),  # not orthonormal
        ({"rotation": np.diag([1.0, 1.0, -1.0])}, "rotation"),  # reflection
        ({"translation": np.array([1.0, np.nan, 2.0])}, "translation"),
        ({"translation": np.zeros(2)}, "translation"),
        ({"intrinsicMat": np.eye(2)}, "intrinsicMat"),
        ({"distortion": np.zeros(3)}, "distortion"),
        ({"imageSize": np.array([720.0])}, "imageSize"),
        ({"rotation": None}, "rotation"),
    ],
)
def test_opencap_pickle_validation_names_file_and_field(tmp_path, override, field) -> None:
    path = tmp_path / "bad.pickle"
    _write_raw(path, **override)
    with pytest.raises(CalibrationError, match=field) as info:
        read_opencap_calibration(path)
    assert "bad.pickle" in str(info.value)


def test_opencap_pickle_mm_to_m(tmp_path) -> None:
    path = tmp_path / "c.pickle"
    _write_raw(path)
    cam = read_opencap_calibration(path)
    np.testing.assert_allclose(cam.t, [0.01, 0.02, 3.0])
    assert cam.image_size == (720, 1280)


def test_not_a_pickle_and_missing_file(tmp_path) -> None:
    bad = tmp_path / "garbage.pickle"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(CalibrationError, match="garbage.pickle"):
        read_opencap_calibration(bad)
    with pytest.raises(CalibrationError, match="not found"):
        read_opencap_calibration(tmp_path / "missing.pickle")


def test_toml_round_trip_keeps_order_and_k3(tmp_path) -> None:
    cams = [_camera("cam_02", k3=0.0, seed=1), _camera("cam_01", k3=0.07, seed=2)]
    path = tmp_path / "Calib.toml"
    write_toml_calibration(cams, path)
    text = path.read_text()
    assert "[metadata]" in text
    back = read_toml_calibration(path)
    assert [c.name for c in back] == ["cam_02", "cam_01"]  # file order, not sorted
    for a, b in zip(cams, back, strict=True):
        _assert_same(a, b)


def test_toml_reads_pose2sim_style_file(tmp_path) -> None:
    path = tmp_path / "Calib_board.toml"
    path.write_text(
        "title = 'ignored'\n"
        '[cam_01]\nname = "cam_01"\nsize = [ 1920.0, 1080.0]\n'
        "matrix = [ [ 1500.0, 0.0, 960.0], [ 0.0, 1500.0, 540.0], [ 0.0, 0.0, 1.0]]\n"
        "distortions = [ 0.1, -0.2, 0.001, 0.002]\n"
        "rotation = [ 0.0, 0.0, 1.5707963267948966]\ntranslation = [ 0.5, 1.0, 3.0]\n"
        "fisheye = false\n\n"
        "[charuco]\nsquare = 1\n\n[metadata]\nadjusted = false\nerror = 0.0\n"
    )
    (cam,) = read_toml_calibration(path)
    assert cam.name == "cam_01" and cam.image_size == (1920, 1080)
    np.testing.assert_allclose(cam.dist, [0.1, -0.2, 0.001, 0.002, 0.0])
    np.testing.assert_allclose(cam.R, [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(cam.t, [0.5, 1.0, 3.0])


def test_toml_errors(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[metadata]\nadjusted = false\n")
    with pytest.raises(CalibrationError, match="no camera table"):
        read_toml_calibration(path)
    path.write_text("[cam]\nsize = [10.0, 10.0]\nmatrix = [[1.0, 0.0], [0.0, 1.0]]\n")
    with pytest.raises(CalibrationError, match=r"c\.toml \[cam\].*matrix"):
        read_toml_calibration(path)
    path.write_text("[cam\n")
    with pytest.raises(CalibrationError, match="invalid TOML"):
        read_toml_calibration(path)


@pytest.mark.shared
def test_real_opencap_intrinsics_are_portrait(shared_dir) -> None:
    path = (
        shared_dir / "reference" / "opencap-intrinsics" / "iPhone13,3" / "Deployed"
        / "cameraIntrinsics.pickle"
    )  # fmt: skip
    K, dist, (w, h) = read_opencap_intrinsics(path)
    assert (w, h) == (720, 1280) and w < h
    assert abs(K[0, 2] - 366) < 30 and abs(K[1, 2] - 638) < 30
    assert dist.shape == (5,)
