"""Synthetic OpenCap-layout dataset with known joint angles: the toolkit's built-in data.

For each subject an OpenSim model (the built-in compact model scaled to a random height, or a
given model such as LaiUhlrich2022) carries the SynthPose markers and is driven by smooth,
known joint-angle trajectories (:data:`MOTIONS`).  The 52 ``synthpose52`` keypoints (the 33
model markers, plus COCO-17 joints and big toes from joint centres / body offsets) are
projected into 2-5 virtual portrait iPhone cameras on an arc in front of the subject, as in
OpenCapBench's set-up (Cam0 −70°, Cam1 −45°, Cam2 0°, Cam3 +45°, Cam4 +70°).  The result has
the LabValidation layout (see ``docs/architecture.md``), with the ground-truth IK motion
being exactly the motion functions, plus the 2D keypoints in the keypoint store:

```
<root>/subjectN/sessionMetadata.yaml
<root>/subjectN/VideoData/Session0/CamK/cameraIntrinsicsExtrinsics.pickle
<root>/subjectN/VideoData/Session0/CamK/<trial>/            (empty: no video)
<root>/subjectN/OpenSimData/Mocap/IK/<trial>.mot             ground truth, 100 Hz
<root>/subjectN/OpenSimData/Mocap/MarkerData/<trial>.trc     the 52 keypoints in 3D (OpenSim
                                                             frame, metres, video rate)
<root>/subjectN/OpenSimData/Mocap/Model/<name>.osim          model with the SynthPose markers
<root>/keypoints/subjectN/Session0/<trial>/CamK.npz          2D keypoints (synthpose52)
```

Coordinates follow the OpenSim conventions of LaiUhlrich2022 (X forward, Y up, Z right;
positive hip/knee flexion, ankle dorsiflexion, lumbar extension; positive ``pelvis_tilt`` is a
posterior tilt).  Angles are in degrees, translations in metres.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from opencapbench.camera import Camera

__all__ = [
    "CAMERA_ANGLES_DEG",
    "IPHONE13_3_DIST",
    "IPHONE13_3_IMAGE_SIZE",
    "IPHONE13_3_K",
    "MOTIONS",
    "TRIAL_MOTIONS",
    "Anthropometry",
    "SyntheticDataset",
    "anthropometry_from_model",
    "generate_synthetic_dataset",
    "motion_for_trial",
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
_CAMERAS_BY_COUNT = {
    2: ("Cam1", "Cam3"),
    3: ("Cam1", "Cam2", "Cam3"),
    4: ("Cam0", "Cam1", "Cam2", "Cam3"),
    5: ("Cam0", "Cam1", "Cam2", "Cam3", "Cam4"),
}

GT_RATE_HZ = 100.0
SESSION = "Session0"
PHONE_MODEL = "iphone13,3"


# ------------------------------------------------------------------------------- motions


@dataclass(frozen=True)
class Anthropometry:
    """Model dimensions the motions need to keep the feet planted (metres).

    Attributes:
        pelvis_height: standing ``pelvis_ty`` (the model's default).
        thigh: vertical hip-centre → knee-centre distance, standing.
        shank: vertical knee-centre → ankle-centre distance, standing.
        hip_offset: (x, y) of the hip centre in the pelvis frame.
    """

    pelvis_height: float = 0.93
    thigh: float = 0.41
    shank: float = 0.40
    hip_offset: tuple[float, float] = (-0.056276, -0.07849)


def _bump(phase: np.ndarray, center: float, kappa: float) -> np.ndarray:
    """Smooth periodic bump in [0, 1] peaking at ``center`` (von Mises shape)."""
    return np.exp(kappa * (np.cos(2 * np.pi * (phase - center)) - 1.0))


def _smootherstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6 * x - 15) + 10)


def _planted_pelvis(
    body: Anthropometry, tilt_deg: np.ndarray, hip_deg: np.ndarray, knee_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pelvis (tx, ty) that keeps the ankle centre where it is when standing, for a sagittal
    leg chain; the ankle angle that keeps the foot flat is ``knee - tilt - hip``."""
    p = np.deg2rad(tilt_deg)
    th = p + np.deg2rad(hip_deg)  # thigh angle from vertical (distal end forward > 0)
    ts = th - np.deg2rad(knee_deg)  # shank angle
    ox, oy = body.hip_offset
    ankle_x = ox
    ankle_y = body.pelvis_height + oy - body.thigh - body.shank
    knee_x = ankle_x - body.shank * np.sin(ts)
    knee_y = ankle_y + body.shank * np.cos(ts)
    hip_x = knee_x - body.thigh * np.sin(th)
    hip_y = knee_y + body.thigh * np.cos(th)
    tx = hip_x - (ox * np.cos(p) - oy * np.sin(p))
    ty = hip_y - (ox * np.sin(p) + oy * np.cos(p))
    return tx, ty


def walking(t: np.ndarray, body: Anthropometry = Anthropometry()) -> dict[str, np.ndarray]:
    """Gait-like motion at 1.2 m/s along +X, stride 1.11 s (cadence 108 steps/min).

    Args:
        t: (T,) seconds.
        body: model dimensions (only ``pelvis_height`` is used).

    Returns:
        coordinate name → (T,) values (degrees; metres for ``pelvis_t*``).
    """
    t = np.asarray(t, dtype=np.float64)
    ph = t * 0.9
    w = 2 * np.pi
    out: dict[str, np.ndarray] = {
        "pelvis_tilt": -3.0 + 1.5 * np.cos(2 * w * ph),
        "pelvis_list": 4.0 * np.sin(w * ph),
        "pelvis_rotation": 5.0 * np.sin(w * ph + 0.4),
        "pelvis_tx": -1.0 + 1.2 * t,
        "pelvis_ty": body.pelvis_height - 0.02 + 0.015 * np.cos(2 * w * ph),
        "pelvis_tz": 0.02 * np.sin(w * ph),
    }
    for side, shift in (("r", 0.0), ("l", 0.5)):
        q = ph + shift
        out[f"hip_flexion_{side}"] = 10.0 + 20.0 * np.cos(w * (q + 0.1))
        out[f"hip_adduction_{side}"] = 4.0 * np.sin(w * q + 0.3)
        out[f"hip_rotation_{side}"] = 5.0 * np.sin(w * q - 0.5)
        out[f"knee_angle_{side}"] = 5.0 + 12.0 * _bump(q, 0.12, 12.0) + 55.0 * _bump(q, 0.72, 8.0)
        out[f"ankle_angle_{side}"] = 3.0 + 7.0 * np.sin(w * q - 0.6) - 15.0 * _bump(q, 0.62, 20.0)
        out[f"subtalar_angle_{side}"] = 5.0 * np.sin(w * q + 1.0)
        out[f"mtp_angle_{side}"] = np.zeros_like(t)
        out[f"arm_flex_{side}"] = -14.0 * np.cos(w * (q + 0.1))
        out[f"arm_add_{side}"] = -8.0 + 2.0 * np.sin(w * q)
        out[f"arm_rot_{side}"] = 5.0 * np.sin(w * q + 0.8)
        out[f"elbow_flex_{side}"] = 30.0 + 10.0 * (1.0 - np.cos(w * (q + 0.1)))
        out[f"pro_sup_{side}"] = 80.0 + 5.0 * np.sin(w * q)
    out["lumbar_extension"] = 3.0 + 2.0 * np.cos(2 * w * ph)
    out["lumbar_bending"] = -3.0 * np.sin(w * ph)
    out["lumbar_rotation"] = -4.0 * np.sin(w * ph + 0.4)
    return out


def squat(t: np.ndarray, body: Anthropometry = Anthropometry()) -> dict[str, np.ndarray]:
    """Bodyweight squats, 2 s per repetition (standing at t = 0, deepest at t = 1 s), feet flat
    and planted: the pelvis translation and ankle angle follow from the leg chain."""
    t = np.asarray(t, dtype=np.float64)
    s = 0.5 * (1.0 - np.cos(2 * np.pi * t / 2.0))
    sway = np.sin(2 * np.pi * t / 2.0)
    tilt = -3.0 - 17.0 * s
    hip = 5.0 + 80.0 * s
    knee = 5.0 + 95.0 * s
    tx, ty = _planted_pelvis(body, tilt, hip, knee)
    out: dict[str, np.ndarray] = {
        "pelvis_tilt": tilt,
        "pelvis_list": 1.5 * sway,
        "pelvis_rotation": 2.0 * sway,
        "pelvis_tx": tx,
        "pelvis_ty": ty,
        "pelvis_tz": 0.01 * sway,
        "lumbar_extension": -10.0 * s,
        "lumbar_bending": -1.5 * sway,
        "lumbar_rotation": -2.0 * sway,
    }
    for side, sign in (("r", 1.0), ("l", -1.0)):
        out[f"hip_flexion_{side}"] = hip
        out[f"hip_adduction_{side}"] = -2.0 - 6.0 * s + sign * 1.0 * sway
        out[f"hip_rotation_{side}"] = 3.0 + 6.0 * s + sign * 1.0 * sway
        out[f"knee_angle_{side}"] = knee
        out[f"ankle_angle_{side}"] = knee - tilt - hip
        out[f"subtalar_angle_{side}"] = 2.0 + 4.0 * s
        out[f"mtp_angle_{side}"] = np.zeros_like(t)
        out[f"arm_flex_{side}"] = 10.0 + 70.0 * s
        out[f"arm_add_{side}"] = -6.0 + 2.0 * s
        out[f"arm_rot_{side}"] = 5.0 + 10.0 * s
        out[f"elbow_flex_{side}"] = 15.0 + 25.0 * s
        out[f"pro_sup_{side}"] = 75.0 + 10.0 * s
    return out


def sit_to_stand(t: np.ndarray, body: Anthropometry = Anthropometry()) -> dict[str, np.ndarray]:
    """Sit-to-stand: seated until 0.2 s, rises over 1.2 s with a forward trunk lean, then
    stands; feet flat and planted."""
    t = np.asarray(t, dtype=np.float64)
    r = _smootherstep((t - 0.2) / 1.2)
    lean = np.sin(np.pi * r) ** 2
    tilt = -2.0 - 12.0 * lean
    hip = 5.0 + 85.0 * (1.0 - r) + 25.0 * lean
    knee = 5.0 + 90.0 * (1.0 - r * r)
    tx, ty = _planted_pelvis(body, tilt, hip, knee)
    out: dict[str, np.ndarray] = {
        "pelvis_tilt": tilt,
        "pelvis_list": 1.0 * lean,
        "pelvis_rotation": -2.0 * lean,
        "pelvis_tx": tx,
        "pelvis_ty": ty,
        "pelvis_tz": 0.01 * lean,
        "lumbar_extension": -5.0 - 15.0 * lean,
        "lumbar_bending": 1.0 * lean,
        "lumbar_rotation": 2.0 * lean,
    }
    for side, sign in (("r", 1.0), ("l", -1.0)):
        out[f"hip_flexion_{side}"] = hip
        out[f"hip_adduction_{side}"] = -3.0 + sign * 1.5 * lean
        out[f"hip_rotation_{side}"] = 4.0 - 3.0 * r
        out[f"knee_angle_{side}"] = knee
        out[f"ankle_angle_{side}"] = knee - tilt - hip
        out[f"subtalar_angle_{side}"] = 3.0 - 2.0 * lean
        out[f"mtp_angle_{side}"] = np.zeros_like(t)
        out[f"arm_flex_{side}"] = 5.0 + 25.0 * lean
        out[f"arm_add_{side}"] = -8.0 + 3.0 * lean
        out[f"arm_rot_{side}"] = 10.0 - 5.0 * r
        out[f"elbow_flex_{side}"] = 35.0 - 10.0 * r
        out[f"pro_sup_{side}"] = 85.0 - 5.0 * r
    return out


Motion = Callable[..., dict[str, np.ndarray]]

#: Motion name → pure function ``(t seconds (T,), Anthropometry) -> {coordinate: (T,)}``.
MOTIONS: dict[str, Motion] = {"walking": walking, "squat": squat, "sit-to-stand": sit_to_stand}

#: Trial-name prefix → motion (OpenCap LabValidation trial names).
TRIAL_MOTIONS: dict[str, str] = {"walking": "walking", "squats": "squat", "STS": "sit-to-stand"}


def motion_for_trial(trial: str) -> Motion:
    """The motion function of a trial name (``walking1`` → walking, ``squats1`` → squat,
    ``STS1`` → sit-to-stand); raises ``ValueError`` for unknown names."""
    for prefix, motion in TRIAL_MOTIONS.items():
        if trial.startswith(prefix):
            return MOTIONS[motion]
    raise ValueError(
        f"no synthetic motion for trial {trial!r}; trial names must start with one of "
        f"{sorted(TRIAL_MOTIONS)}"
    )


# ------------------------------------------------------------------------------- cameras


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
    from opencapbench.geometry.projection import project_points

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


# ------------------------------------------------------------------------------- dataset


def anthropometry_from_model(model) -> Anthropometry:
    """Standing dimensions of an OpenSim model (default pose) for :class:`Anthropometry`."""
    from opencapbench.osim.kinematics import station_trajectories

    cs = model.getCoordinateSet()
    ty = cs.get("pelvis_ty").getDefaultValue()
    stations = [(b, (0.0, 0.0, 0.0)) for b in ("pelvis", "femur_r", "tibia_r", "talus_r")]
    pts = station_trajectories(model, {"pelvis_ty": np.array([ty])}, stations)[0]
    pelvis, hip, knee, ankle = pts
    return Anthropometry(
        pelvis_height=float(ty),
        thigh=float(hip[1] - knee[1]),
        shank=float(knee[1] - ankle[1]),
        hip_offset=(float(hip[0] - pelvis[0]), float(hip[1] - pelvis[1])),
    )


@dataclass
class SyntheticDataset:
    """What :func:`generate_synthetic_dataset` wrote.

    Attributes:
        root: dataset root (LabValidation layout).
        keypoint_store: ``<root>/keypoints``.
        subjects: subject folder names.
        trials: trial names (same for every subject).
        cameras: camera names.
        fps: video / keypoint frame rate, Hz.
        n_frames: keypoint frames per trial.
        models: subject → model path (with the SynthPose markers).
        placement: checkerboard placement written to the metadata.
    """

    root: Path
    keypoint_store: Path
    subjects: list[str]
    trials: tuple[str, ...]
    cameras: tuple[str, ...]
    fps: float
    n_frames: int
    models: dict[str, Path] = field(default_factory=dict)
    placement: str = "backWall"

    def __str__(self) -> str:
        return (
            f"{len(self.subjects)} subject(s) × {len(self.trials)} trial(s) "
            f"({', '.join(self.trials)}), {len(self.cameras)} cameras "
            f"({', '.join(self.cameras)}), {self.n_frames} frames at {self.fps:g} fps"
        )


def _subject_model(
    subject_dir: Path, model_path: str | os.PathLike | None, height: float, mass: float
) -> Path:
    """Write the subject's model with the SynthPose markers; returns its path."""
    from opencapbench.io.atomic import atomic_path
    from opencapbench.osim.logs import load_model
    from opencapbench.osim.markers import attach_synthpose_markers
    from opencapbench.osim.model_builder import (
        GENERIC_HEIGHT_M,
        MODEL_NAME,
        scale_model_uniformly,
        write_compact_model,
    )

    model_dir = subject_dir / "OpenSimData" / "Mocap" / "Model"
    if model_path is None:
        out = model_dir / f"{MODEL_NAME}_scaled.osim"
        write_compact_model(out, height_m=height, mass_kg=mass)
        attach_synthpose_markers(out, out)
    else:
        out = model_dir / f"{Path(model_path).stem}_scaled.osim"
        model = load_model(model_path)
        scale_model_uniformly(model, height / GENERIC_HEIGHT_M, mass)
        with atomic_path(out) as tmp:
            model.printToXML(str(tmp))
        attach_synthpose_markers(out, out)
    return out


def generate_synthetic_dataset(
    root: str | os.PathLike,
    subjects: int = 1,
    trials: Sequence[str] = ("walking1", "squats1", "STS1"),
    n_cameras: int = 4,
    duration_s: float = 2.0,
    fps: float = 60.0,
    noise_px: float = 0.0,
    dropout: float = 0.0,
    seed: int = 0,
    model_path: str | os.PathLike | None = None,
    placement: str = "backWall",
    progress: bool = True,
) -> SyntheticDataset:
    """Write a synthetic OpenCap-layout dataset with known joint angles (see module docs).

    Args:
        root: output folder (created).
        subjects: number of subjects (``subject1``...); random heights 1.60-1.90 m and BMI
            21-26.
        trials: trial names; the motion is chosen by prefix (:data:`TRIAL_MOTIONS`).
        n_cameras: 2-5 (2 = Cam1, Cam3; 3 = Cam1-Cam3; 4 = Cam0-Cam3; 5 = Cam0-Cam4).
        duration_s: seconds per trial.
        fps: video / keypoint frame rate.
        noise_px: Gaussian 2D noise (pixels, standard deviation).
        dropout: fraction of 2D detections dropped at random (score 0, NaN).
        seed: random seed (camera jitter, subject size, noise, dropout, scores).
        model_path: drive this ``.osim`` (e.g. LaiUhlrich2022) instead of the built-in model;
            it must have Rajagopal/Lai body and coordinate names.  It is scaled uniformly to
            each subject's height (as a 1.70 m generic model), like the built-in one.
        placement: checkerboard placement of the calibration world (``sessionMetadata.yaml``).
        progress: show a tqdm progress bar.

    Returns:
        :class:`SyntheticDataset`.
    """
    from tqdm.auto import tqdm

    from opencapbench.geometry.frames import placement_rotation
    from opencapbench.io.calibration import write_opencap_calibration
    from opencapbench.io.keypoint_store import Keypoints2D, store_path
    from opencapbench.io.mot import write_mot
    from opencapbench.io.session import SessionMetadata, write_session_metadata
    from opencapbench.io.trc import write_trc
    from opencapbench.keypoints import get_keypoint_set
    from opencapbench.osim.kinematics import synthpose52_trajectories
    from opencapbench.osim.logs import load_model

    if n_cameras not in _CAMERAS_BY_COUNT:
        raise ValueError(f"n_cameras must be 2-5, got {n_cameras}")
    if not (0.0 <= dropout < 1.0):
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if noise_px < 0 or duration_s <= 0 or fps <= 0 or subjects < 1:
        raise ValueError("noise_px must be >= 0; duration_s, fps and subjects must be positive")
    trials = tuple(trials)
    motions = {trial: motion_for_trial(trial) for trial in trials}
    root = Path(root)
    store = root / "keypoints"
    cam_names = _CAMERAS_BY_COUNT[n_cameras]
    rng = np.random.default_rng(seed)
    R_board = placement_rotation(placement)
    names = get_keypoint_set("synthpose52").names
    n_frames = int(round(duration_s * fps))
    t_video = np.arange(n_frames) / fps
    t_gt = np.arange(int(round(duration_s * GT_RATE_HZ))) / GT_RATE_HZ

    info = SyntheticDataset(root, store, [], trials, cam_names, float(fps), n_frames)
    info.placement = placement
    bar = tqdm(total=subjects * len(trials), desc="synthetic", unit="trial", disable=not progress)
    for i in range(1, subjects + 1):
        subject = f"subject{i}"
        sdir = root / subject
        height = float(rng.uniform(1.60, 1.90))
        mass = float(height**2 * rng.uniform(21.0, 26.0))
        model_file = _subject_model(sdir, model_path, height, mass)
        model = load_model(model_file)
        body = anthropometry_from_model(model)
        coords = {
            model.getCoordinateSet().get(k).getName() for k in range(model.getNumCoordinates())
        }

        meta = SessionMetadata(
            placement=placement,
            height_m=round(height, 3),
            mass_kg=round(mass, 1),
            gender_mf="m" if i % 2 else "f",
            iphone_models={c: PHONE_MODEL for c in cam_names},
            opensim_model=model_file.stem,
            subject_id=subject,
        )
        write_session_metadata(meta, sdir / "sessionMetadata.yaml")
        cameras = synthetic_cameras(cam_names, R_board, rng)
        for cam in cameras:
            cam_dir = sdir / "VideoData" / SESSION / cam.name
            write_opencap_calibration(cam, cam_dir / "cameraIntrinsicsExtrinsics.pickle")
            for trial in trials:
                (cam_dir / trial).mkdir(parents=True, exist_ok=True)

        for trial, motion in motions.items():
            gt = {k: v for k, v in motion(t_gt, body).items() if k in coords}
            cols = list(gt)
            write_mot(
                sdir / "OpenSimData" / "Mocap" / "IK" / f"{trial}.mot",
                t_gt,
                cols,
                np.stack([gt[c] for c in cols], axis=1),
                in_degrees=True,
            )
            q = {k: v for k, v in motion(t_video, body).items() if k in coords}
            pts = synthpose52_trajectories(model, q)  # (F, 52, 3) OpenSim frame
            write_trc(
                sdir / "OpenSimData" / "Mocap" / "MarkerData" / f"{trial}.trc",
                t_video,
                names,
                pts,
                fps,
            )
            pts_board = pts @ R_board  # p_board = R_board.T @ p_opensim
            for cam in cameras:
                uv, scores = project_keypoints(pts_board, cam, rng, noise_px, dropout)
                Keypoints2D(
                    uv[:, None].astype(np.float32),
                    scores[:, None].astype(np.float32),
                    float(fps),
                    "synthpose52",
                    cam.image_size,
                ).save(store_path(store, subject, SESSION, trial, cam.name))
            bar.update()
        info.subjects.append(subject)
        info.models[subject] = model_file
    bar.close()
    return info
