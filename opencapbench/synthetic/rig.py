"""The virtual camera rig of the synthetic data: iPhones with real intrinsics on an arc.

Placement follows OpenCapBench's set-up (Cam0 −70°, Cam1 −45°, Cam2 0°, Cam3 +45°, Cam4 +70°
around the subject); :func:`project_keypoints` simulates detections with noise and drop-outs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from opencapbench.camera import Camera
from opencapbench.geometry.projection import project_points

__all__ = [
    "CAMERAS_BY_COUNT",
    "CAMERA_ANGLES_DEG",
    "IPHONE13_3_DIST",
    "IPHONE13_3_IMAGE_SIZE",
    "IPHONE13_3_K",
    "PHONE_MODEL",
    "project_keypoints",
    "synthetic_cameras",
]

#: iPhone 13 Pro (``iPhone13,3``) intrinsics as deployed by OpenCap (``cameraIntrinsics.pickle``,
#: 720×1280 portrait video): pixel focal lengths and principal point, OpenCV distortion.
IPHONE13_3_K = np.array(
    [
        [913.2224667355067, 0.0, 366.4860069349607],
        [0.0, 913.5242105212599, 638.5015642655075],
        [0.0, 0.0, 1.0],
    ]
)
IPHONE13_3_DIST = np.array(
    [
        1.2779473136076258e-01,
        -2.8424646636237189e-01,
        -3.4093014349563094e-04,
        6.6970084450488043e-05,
        2.1344094018533205e-01,
    ]
)
IPHONE13_3_IMAGE_SIZE = (720, 1280)

#: Camera azimuths around the subject (degrees from the subject's forward axis, +X, towards +Z).
CAMERA_ANGLES_DEG: dict[str, float] = {
    "Cam0": -70.0,
    "Cam1": -45.0,
    "Cam2": 0.0,
    "Cam3": 45.0,
    "Cam4": 70.0,
}
#: Which cameras a set-up of N cameras uses (OpenCapBench's 2- and 3-camera set-ups).
CAMERAS_BY_COUNT = {
    2: ("Cam1", "Cam3"),
    3: ("Cam1", "Cam2", "Cam3"),
    4: ("Cam0", "Cam1", "Cam2", "Cam3"),
    5: ("Cam0", "Cam1", "Cam2", "Cam3", "Cam4"),
}

PHONE_MODEL = "iphone13,3"


def _look_at(center: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World→camera rotation (OpenCV axes: x right, y down, z forward) of a level camera at
    ``center`` looking at ``target``, in OpenSim's Y-up frame."""
    z = target - center
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def synthetic_cameras(
    names: Sequence[str],
    board_to_opensim: np.ndarray,
    rng: np.random.Generator | None = None,
    radius_m: float = 3.5,
    height_m: float = 1.0,
    target: Sequence[float] = (0.2, 0.9, 0.0),
) -> list[Camera]:
    """Virtual iPhone 13 Pro cameras on an arc in front of the subject.

    Args:
        names: camera names from :data:`CAMERA_ANGLES_DEG`.
        board_to_opensim: (3, 3) ``R`` with ``p_opensim = R @ p_board``
            (:func:`opencapbench.geometry.frames.placement_rotation`).
        rng: jitters azimuth (±3°), distance (±0.2 m) and height (±0.1 m) when given.
        radius_m: distance from the arc centre (OpenSim origin), metres.
        height_m: lens height, metres.
        target: point the cameras look at (OpenSim frame), metres.

    Returns:
        Cameras whose extrinsics map the checkerboard (calibration) world to the camera.
    """
    cams = []
    for name in names:
        az = np.deg2rad(CAMERA_ANGLES_DEG[name])
        r, h = radius_m, height_m
        if rng is not None:
            az += np.deg2rad(rng.uniform(-3, 3))
            r += rng.uniform(-0.2, 0.2)
            h += rng.uniform(-0.1, 0.1)
        center = np.array([r * np.cos(az), h, r * np.sin(az)])
        R_os = _look_at(center, np.asarray(target, dtype=float))
        cams.append(
            Camera(
                name=name,
                K=IPHONE13_3_K.copy(),
                dist=IPHONE13_3_DIST.copy(),
                R=R_os @ board_to_opensim,
                t=-R_os @ center,
                image_size=IPHONE13_3_IMAGE_SIZE,
            )
        )
    return cams


def project_keypoints(
    points_board: np.ndarray,
    camera: Camera,
    rng: np.random.Generator,
    noise_px: float = 0.0,
    dropout: float = 0.0,
    score: float = 0.9,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated detections of 3D points in one camera.

    Args:
        points_board: (F, K, 3) metres in the checkerboard world.
        camera: the camera.
        rng: random generator for noise, dropout and scores.
        noise_px: standard deviation of Gaussian pixel noise.
        dropout: fraction of detections dropped at random.
        score: mean confidence of a detection (jittered by ±0.05).

    Returns:
        ``(keypoints (F, K, 2) px, scores (F, K))``; points that are dropped, behind the camera
        or outside the image are NaN with score 0.
    """
    uv = project_points(points_board, camera)
    if noise_px > 0:
        uv = uv + rng.normal(0.0, noise_px, uv.shape)
    w, h = camera.image_size
    visible = np.all(np.isfinite(uv), axis=-1)
    visible &= (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)
    if dropout > 0:
        visible &= rng.random(visible.shape) >= dropout
    scores = np.where(visible, np.clip(score + rng.uniform(-0.05, 0.05, visible.shape), 0, 1), 0)
    uv = np.where(visible[..., None], uv, np.nan)
    return uv, scores
