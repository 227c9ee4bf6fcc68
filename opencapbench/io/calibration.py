"""Camera calibration files: OpenCap pickles and Pose2Sim / AniPose TOML.

Formats (details in ``docs/file-formats.md``):

* OpenCap ``cameraIntrinsicsExtrinsics.pickle`` — a pickled dict with ``intrinsicMat`` (3, 3),
  ``distortion`` (1, 5) OpenCV ``(k1, k2, p1, p2, k3)``, ``imageSize`` **(height, width)**
  (stored as a (2, 1) float array), ``rotation`` (3, 3) world→camera, ``translation`` (3, 1)
  world→camera in **millimetres** and ``rotation_EulerAngles`` (3, 1), the Rodrigues vector of
  ``rotation`` despite its name.  The per-phone ``cameraIntrinsics.pickle`` files hold only the
  first three keys.
* Pose2Sim / AniPose ``Calib_*.toml`` — one table per camera in file order with ``name``,
  ``size = [width, height]``, ``matrix`` (3, 3), ``distortions = [k1, k2, p1, p2]`` (a fifth
  ``k3`` is kept when present), ``rotation`` Rodrigues world→camera, ``translation`` metres,
  ``fisheye``.  Tables named ``metadata``, ``capture_volume``, ``charuco`` and
  ``checkerboard`` and every non-table key are skipped.

In memory every reader returns :class:`~opencapbench.camera.Camera` objects (translation in
metres, ``image_size = (width, height)``).  Every writer is atomic.

Pickles are read with the restricted unpickler of :mod:`opencapbench.io.pickles` (numpy data
only) unless the caller trusts them.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from opencapbench.camera import Camera
from opencapbench.errors import OCBError
from opencapbench.io.atomic import atomic_write
from opencapbench.io.pickles import load_pickle

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "CalibrationError",
    "read_opencap_calibration",
    "read_opencap_intrinsics",
    "write_opencap_calibration",
    "read_toml_calibration",
    "write_toml_calibration",
    "rodrigues_to_matrix",
    "matrix_to_rodrigues",
]

#: TOML tables that are not cameras (Pose2Sim, AniPose, Caliscope).
NON_CAMERA_TABLES = frozenset({"metadata", "capture_volume", "charuco", "checkerboard"})

_ORTHO_TOL = 1e-3


class CalibrationError(OCBError, ValueError):
    """A calibration file is missing, unreadable or holds an invalid value.

    The message names the file and the offending field.
    """


# --------------------------------------------------------------------------------------------
# rotation helpers (Rodrigues vectors), numpy only
# --------------------------------------------------------------------------------------------


def rodrigues_to_matrix(rvec: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) of a Rodrigues / axis-angle vector (3,) in radians."""
    r = np.asarray(rvec, dtype=np.float64).reshape(3)
    theta = float(np.linalg.norm(r))
    if theta < 1e-12:
        return np.eye(3)
    k = r / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * kx + (1.0 - np.cos(theta)) * (kx @ kx)


def matrix_to_rodrigues(R: np.ndarray) -> np.ndarray:
    """Rodrigues vector (3,) of a rotation matrix (3, 3); angle in [0, pi]."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(np.asarray(R, dtype=np.float64).reshape(3, 3)).as_rotvec()


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _array(value: Any, field: str, source: str | os.PathLike) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"{source}: field {field!r} is not numeric ({exc})") from None
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"{source}: field {field!r} has non-finite values: {arr.tolist()}")
    return arr


def _check_K(value: Any, field: str, source: str | os.PathLike) -> np.ndarray:
    K = _array(value, field, source)
    if K.shape != (3, 3):
        raise CalibrationError(f"{source}: field {field!r} must be 3x3, got shape {K.shape}")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CalibrationError(
            f"{source}: field {field!r} has non-positive focal lengths fx={K[0, 0]}, fy={K[1, 1]}"
        )
    if not np.allclose(K[2], [0.0, 0.0, 1.0], atol=1e-9) or abs(K[1, 0]) > 1e-9:
        raise CalibrationError(
            f"{source}: field {field!r} is not an intrinsic matrix (last row must be [0, 0, 1])"
        )
    return K


def _check_dist(value: Any, field: str, source: str | os.PathLike) -> np.ndarray:
    if value is None:
        return np.zeros(5)
    d = _array(value, field, source).ravel()
    if d.size == 4:
        return np.concatenate([d, [0.0]])
    if d.size == 5:
        return d
    if d.size > 5 and np.allclose(d[5:], 0.0):
        return d[:5]
    raise CalibrationError(
        f"{source}: field {field!r} must hold 4 or 5 OpenCV coefficients (k1, k2, p1, p2[, k3]), "
        f"got {d.size}"
    )


def _check_R(value: Any, field: str, source: str | os.PathLike) -> np.ndarray:
    R = _array(value, field, source)
    if R.shape != (3, 3):
        raise CalibrationError(f"{source}: field {field!r} must be 3x3, got shape {R.shape}")
    err = float(np.abs(R @ R.T - np.eye(3)).max())
    if err > _ORTHO_TOL:
        raise CalibrationError(
            f"{source}: field {field!r} is not orthonormal (max |R Rᵀ − I| = {err:.3g})"
        )
    if np.linalg.det(R) < 0:
        raise CalibrationError(f"{source}: field {field!r} is a reflection (det < 0)")
    return R


def _check_vec3(value: Any, field: str, source: str | os.PathLike) -> np.ndarray:
    v = _array(value, field, source)
    if v.size != 3:
        raise CalibrationError(f"{source}: field {field!r} must have 3 values, got shape {v.shape}")
    return v.reshape(3)


def _check_size(w: Any, h: Any, field: str, source: str | os.PathLike) -> tuple[int, int]:
    size = _array([w, h], field, source)
    if np.any(size <= 0) or np.any(np.abs(size - np.round(size)) > 1e-6):
        raise CalibrationError(
            f"{source}: field {field!r} must be two positive whole pixel counts, got {size.tolist()}"
        )
    return int(round(size[0])), int(round(size[1]))


# --------------------------------------------------------------------------------------------
# OpenCap pickles
# --------------------------------------------------------------------------------------------


def _load_pickle(path: str | os.PathLike, trust: bool | None) -> dict:
    data = load_pickle(path, CalibrationError, "calibration file", trust=trust)
    if not isinstance(data, Mapping):
        raise CalibrationError(f"{path}: expected a dict, got {type(data).__name__}")
    return dict(data)


def _require(data: Mapping, key: str, path: str | os.PathLike) -> Any:
    if key not in data:
        raise CalibrationError(f"{path}: missing field {key!r} (present: {sorted(data)})")
    return data[key]


def _intrinsics_from_dict(
    data: Mapping, path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    K = _check_K(_require(data, "intrinsicMat", path), "intrinsicMat", path)
    dist = _check_dist(_require(data, "distortion", path), "distortion", path)
    size = _array(_require(data, "imageSize", path), "imageSize", path).ravel()
    if size.size != 2:
        raise CalibrationError(f"{path}: field 'imageSize' must have 2 values, got {size.size}")
    # OpenCap stores (height, width)
    w, h = _check_size(size[1], size[0], "imageSize", path)
    return K, dist, (w, h)


def read_opencap_intrinsics(
    path: str | os.PathLike, trust: bool | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Read an OpenCap per-device ``cameraIntrinsics.pickle``.

    ``trust``: see :func:`opencapbench.io.pickles.load_pickle` (None: ``OCB_TRUST_PICKLES``).

    Returns:
        ``(K (3, 3), dist (5,), (width, height))``.  The file stores ``imageSize`` as
        (height, width); the returned size is (width, height).
    """
    data = _load_pickle(path, trust)
    return _intrinsics_from_dict(data, path)


def read_opencap_calibration(
    path: str | os.PathLike, name: str | None = None, trust: bool | None = None
) -> Camera:
    """Read an OpenCap ``cameraIntrinsicsExtrinsics.pickle`` as a :class:`Camera`.

    Args:
        path: the pickle.
        name: camera name; defaults to the parent folder name (``Cam0`` in the OpenCap layout).
        trust: load a pickle that holds more than numpy data (a warning is logged); None
            follows ``OCB_TRUST_PICKLES`` (see :func:`opencapbench.io.pickles.load_pickle`).

    The translation is converted from millimetres to metres.  ``rotation_EulerAngles`` is
    ignored (``rotation`` is authoritative).

    Raises:
        CalibrationError: missing file or field, wrong shape, non-finite value,
            non-orthonormal rotation.
        UnsafePickleError: the pickle names a global other than numpy data (not trusted).
    """
    path = Path(path)
    data = _load_pickle(path, trust)
    K, dist, size = _intrinsics_from_dict(data, path)
    R = _check_R(_require(data, "rotation", path), "rotation", path)
    t_mm = _check_vec3(_require(data, "translation", path), "translation", path)
    return Camera(
        name=name if name is not None else path.parent.name,
        K=K,
        dist=dist,
        R=R,
        t=t_mm / 1000.0,
        image_size=size,
    )


def write_opencap_calibration(camera: Camera, path: str | os.PathLike) -> Path:
    """Write ``camera`` as an OpenCap ``cameraIntrinsicsExtrinsics.pickle`` (atomic).

    Same keys and layout as OpenCap: translation (3, 1) in mm, ``imageSize`` (2, 1) as
    (height, width), ``distortion`` (1, 5), ``rotation_EulerAngles`` the (3, 1) Rodrigues vector.
    """
    path = Path(path)
    where = f"camera {camera.name!r}"
    _check_K(camera.K, "K", where)
    R = _check_R(camera.R, "R", where)
    _check_vec3(camera.t, "t", where)
    w, h = camera.image_size
    data = {
        "intrinsicMat": np.asarray(camera.K, dtype=np.float64).reshape(3, 3).copy(),
        "distortion": _check_dist(camera.dist, "dist", where).reshape(1, 5),
        "imageSize": np.array([[float(h)], [float(w)]]),
        "rotation": R.copy(),
        "translation": (np.asarray(camera.t, dtype=np.float64).reshape(3, 1) * 1000.0),
        "rotation_EulerAngles": matrix_to_rodrigues(R).reshape(3, 1),
    }
    with atomic_write(path, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return path


# --------------------------------------------------------------------------------------------
# Pose2Sim / AniPose TOML
# --------------------------------------------------------------------------------------------


def _camera_from_table(key: str, table: Mapping, path: Path) -> Camera:
    where = f"{path} [{key}]"
    if table.get("fisheye", False):
        raise CalibrationError(
            f"{where}: fisheye cameras are not supported (only the OpenCV pinhole model)"
        )
    size = _require(table, "size", where)
    size_arr = _array(size, "size", where).ravel()
    if size_arr.size != 2:
        raise CalibrationError(f"{where}: field 'size' must be [width, height], got {size}")
    w, h = _check_size(size_arr[0], size_arr[1], "size", where)
    K = _check_K(_require(table, "matrix", where), "matrix", where)
    dist = _check_dist(table.get("distortions"), "distortions", where)
    rvec = _check_vec3(_require(table, "rotation", where), "rotation", where)
    t = _check_vec3(_require(table, "translation", where), "translation", where)
    name = table.get("name", key)
    return Camera(
        name=str(name), K=K, dist=dist, R=rodrigues_to_matrix(rvec), t=t, image_size=(w, h)
    )


#: the world frames a calibration TOML may state in ``[metadata] world_frame``
WORLD_FRAMES = {
    "pose2sim": "Z up, as Pose2Sim writes and converts calibrations",
    "checkerboard": "OpenCap's checkerboard frame, turned into OpenSim's by the session's placement",
}


def read_toml_world_frame(path: str | os.PathLike) -> str | None:
    """The ``world_frame`` a calibration TOML states in its ``[metadata]`` table, or None.

    Raises:
        CalibrationError: unreadable TOML or a frame that is not one of :data:`WORLD_FRAMES`.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CalibrationError(f"{path}: cannot read ({exc})") from None
    frame = (
        doc.get("metadata", {}).get("world_frame")
        if isinstance(doc.get("metadata"), Mapping)
        else None
    )
    if frame is not None and frame not in WORLD_FRAMES:
        raise CalibrationError(
            f"{path}: [metadata] world_frame = {frame!r} is not one of {sorted(WORLD_FRAMES)}"
        )
    return frame


def read_toml_calibration(path: str | os.PathLike) -> list[Camera]:
    """Read a Pose2Sim / AniPose calibration TOML: one :class:`Camera` per camera table.

    Cameras are returned in file order.  Non-table keys and the tables ``metadata``,
    ``capture_volume``, ``charuco`` and ``checkerboard`` are skipped.

    Raises:
        CalibrationError: unreadable TOML, no camera table, or an invalid field.
    """
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: calibration file not found")
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{path}: invalid TOML ({exc})") from None
    cameras = [
        _camera_from_table(key, value, path)
        for key, value in doc.items()
        if isinstance(value, Mapping) and key.lower() not in NON_CAMERA_TABLES
    ]
    if not cameras:
        raise CalibrationError(f"{path}: no camera table found (tables: {sorted(doc)})")
    return cameras


def write_toml_calibration(
    cameras: Iterable[Camera], path: str | os.PathLike, world_frame: str | None = None
) -> Path:
    """Write cameras as a Pose2Sim / AniPose calibration TOML (atomic).

    Table keys are the camera names.  ``distortions`` has 4 values, or 5 when ``k3 != 0``.
    A ``[metadata]`` table (``adjusted = false``, ``error = 0.0``, and ``world_frame`` when
    given, one of :data:`WORLD_FRAMES`) closes the file, as Pose2Sim writes it.
    """
    import tomli_w

    path = Path(path)
    doc: dict[str, Any] = {}
    for cam in cameras:
        where = f"camera {cam.name!r}"
        if cam.name in doc or cam.name.lower() in NON_CAMERA_TABLES:
            raise CalibrationError(f"{path}: duplicate or reserved camera name {cam.name!r}")
        K = _check_K(cam.K, "K", where)
        R = _check_R(cam.R, "R", where)
        dist = _check_dist(cam.dist, "dist", where)
        t = _check_vec3(cam.t, "t", where)
        doc[cam.name] = {
            "name": cam.name,
            "size": [float(cam.image_size[0]), float(cam.image_size[1])],
            "matrix": K.tolist(),
            "distortions": (dist if dist[4] != 0.0 else dist[:4]).tolist(),
            "rotation": matrix_to_rodrigues(R).tolist(),
            "translation": t.tolist(),
            "fisheye": False,
        }
    if not doc:
        raise CalibrationError(f"{path}: no cameras to write")
    doc["metadata"] = {"adjusted": False, "error": 0.0}
    if world_frame is not None:
        if world_frame not in WORLD_FRAMES:
            raise CalibrationError(f"{path}: unknown world frame {world_frame!r}")
        doc["metadata"]["world_frame"] = world_frame
    with atomic_write(path, "wb") as fh:
        tomli_w.dump(doc, fh)
    return path
