"""Writes the synthetic dataset: subjects, calibrations, ground truth and 2D keypoints on disk.

For each subject an OpenSim model (the built-in compact model scaled to a random height, or a
given model such as LaiUhlrich2022) carries the SynthPose markers and is driven by the motions
of :mod:`opencapbench.synthetic.motions`.  The 52 ``synthpose52`` keypoints (the 33 model
markers, plus COCO-17 joints and big toes from joint centres / body offsets) are projected
into the cameras of :mod:`opencapbench.synthetic.rig`.  The result has the LabValidation
layout (see ``docs/architecture.md``), with the ground-truth IK motion being exactly the
motion functions, plus the 2D keypoints in the keypoint store:

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
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from opencapbench.synthetic.motions import Anthropometry, motion_for_trial
from opencapbench.synthetic.rig import (
    CAMERAS_BY_COUNT,
    PHONE_MODEL,
    project_keypoints,
    synthetic_cameras,
)

__all__ = [
    "GT_RATE_HZ",
    "SESSION",
    "SyntheticDataset",
    "anthropometry_from_model",
    "generate_synthetic_dataset",
]

GT_RATE_HZ = 100.0
SESSION = "Session0"


def anthropometry_from_model(model) -> Anthropometry:
    """Standing dimensions of an OpenSim model (default pose) for :class:`Anthropometry`."""
    from opencapbench.osim.kinematics import standing_leg_dimensions

    return Anthropometry(**standing_leg_dimensions(model))


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
        trials: trial names; the motion is chosen by prefix
            (:data:`~opencapbench.synthetic.motions.TRIAL_MOTIONS`).
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
        progress: show a progress bar.

    Returns:
        :class:`SyntheticDataset`.
    """
    from opencapbench.console import progress as progress_bar
    from opencapbench.geometry.frames import placement_rotation
    from opencapbench.io.calibration import write_opencap_calibration
    from opencapbench.io.keypoint_store import Keypoints2D, store_path
    from opencapbench.io.mot import write_mot
    from opencapbench.io.session import SessionMetadata, write_session_metadata
    from opencapbench.io.trc import write_trc
    from opencapbench.keypoints import get_keypoint_set
    from opencapbench.osim.kinematics import synthpose52_trajectories
    from opencapbench.osim.logs import load_model
    from opencapbench.osim.model_builder import MODEL_NAME, write_subject_model

    if n_cameras not in CAMERAS_BY_COUNT:
        raise ValueError(f"n_cameras must be 2-5, got {n_cameras}")
    if not (0.0 <= dropout < 1.0):
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if noise_px < 0 or duration_s <= 0 or fps <= 0 or subjects < 1:
        raise ValueError("noise_px must be >= 0; duration_s, fps and subjects must be positive")
    trials = tuple(trials)
    motions = {trial: motion_for_trial(trial) for trial in trials}
    root = Path(root)
    store = root / "keypoints"
    cam_names = CAMERAS_BY_COUNT[n_cameras]
    rng = np.random.default_rng(seed)
    R_board = placement_rotation(placement)
    names = get_keypoint_set("synthpose52").names
    n_frames = int(round(duration_s * fps))
    t_video = np.arange(n_frames) / fps
    t_gt = np.arange(int(round(duration_s * GT_RATE_HZ))) / GT_RATE_HZ
    model_stem = MODEL_NAME if model_path is None else Path(model_path).stem

    info = SyntheticDataset(root, store, [], trials, cam_names, float(fps), n_frames)
    info.placement = placement
    numbers = range(1, subjects + 1)
    for i in progress_bar(numbers, "synthetic", unit="subject") if progress else numbers:
        subject = f"subject{i}"
        sdir = root / subject
        height = float(rng.uniform(1.60, 1.90))
        mass = float(height**2 * rng.uniform(21.0, 26.0))
        model_file = write_subject_model(
            sdir / "OpenSimData" / "Mocap" / "Model" / f"{model_stem}_scaled.osim",
            height,
            mass,
            generic_model=model_path,
        )
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
        info.subjects.append(subject)
        info.models[subject] = model_file
    return info
