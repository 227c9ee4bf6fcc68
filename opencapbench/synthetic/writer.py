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

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from opencapbench.io.atomic import atomic_write
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
    "TRUTH_FILE",
    "SyntheticDataset",
    "anthropometry_from_model",
    "generate_synthetic_dataset",
]

GT_RATE_HZ = 100.0
SESSION = "Session0"
#: Per-subject ground truth of what the generator did (scale, camera offsets, frame counts).
TRUTH_FILE = "synthetic_truth.json"


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
        truth: subject → the content of its :data:`TRUTH_FILE`: ``length_scale``,
            ``height_m``, ``mass_kg``, ``sync_offsets_frames`` (trial → camera → frames) and
            ``n_frames`` (trial → camera → keypoint frames).
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
    truth: dict[str, dict] = field(default_factory=dict)

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
    max_offset_frames: int = 0,
    max_missing_frames: int = 0,
    length_scale: float | None = None,
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
        max_offset_frames: each camera of each trial gets a constant frame offset drawn
            uniformly from ``[-max_offset_frames, max_offset_frames]``, as the LabValidation
            ``_syncdWithMocap`` videos have: camera frame ``i`` shows the pose at time
            ``(i - offset) / fps``, so an event at true frame ``n`` appears at camera frame
            ``n + offset``.  0 = synchronous cameras.
        max_missing_frames: each camera of each trial loses a number of its last frames
            drawn from ``[0, max_missing_frames]``, so cameras of one trial differ in length.
        length_scale: make every subject this many times the generic model's size (height
            ``1.70 m × length_scale``, all segments scaled uniformly) instead of a random
            height; the ground truth for scaling tests.

    The offsets, frame counts and scale of each subject are written to
    ``<root>/subjectN/synthetic_truth.json`` (:data:`TRUTH_FILE`).  Offsets and missing frames
    are drawn from their own random stream, so the rest of the data (subject size, cameras,
    noise) is the same as without them.

    Returns:
        :class:`SyntheticDataset`.
    """
    from opencapbench.console import progress as progress_bar
    from opencapbench.geometry.frames import placement_rotation
    from opencapbench.io.calibration import write_opencap_calibration
    from opencapbench.io.keypoint_store import Keypoints2D, store_path
    from opencapbench.io.mot import write_mot
    from opencapbench.io.opencap_layout import subject as subject_layout
    from opencapbench.io.session import SessionMetadata, write_session_metadata
    from opencapbench.io.trc import write_trc
    from opencapbench.keypoints import get_keypoint_set
    from opencapbench.osim.kinematics import coordinate_names, synthpose52_trajectories
    from opencapbench.osim.logs import load_model
    from opencapbench.osim.model_builder import (
        GENERIC_HEIGHT_M,
        MODEL_NAME,
        write_subject_model,
    )

    if n_cameras not in CAMERAS_BY_COUNT:
        raise ValueError(f"n_cameras must be 2-5, got {n_cameras}")
    if not (0.0 <= dropout < 1.0):
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if noise_px < 0 or duration_s <= 0 or fps <= 0 or subjects < 1:
        raise ValueError("noise_px must be >= 0; duration_s, fps and subjects must be positive")
    if max_offset_frames < 0 or max_missing_frames < 0:
        raise ValueError("max_offset_frames and max_missing_frames must be >= 0")
    if length_scale is not None and not (0.5 <= length_scale <= 1.5):
        raise ValueError(f"length_scale must be in [0.5, 1.5], got {length_scale}")
    trials = tuple(trials)
    motions = {trial: motion_for_trial(trial) for trial in trials}
    root = Path(root)
    store = root / "keypoints"
    cam_names = CAMERAS_BY_COUNT[n_cameras]
    rng = np.random.default_rng(seed)
    rng_timing = np.random.default_rng([seed, 1])  # offsets and missing frames only
    R_board = placement_rotation(placement)
    names = get_keypoint_set("synthpose52").names
    n_frames = int(round(duration_s * fps))
    if 2 * max_missing_frames >= n_frames:
        raise ValueError(f"max_missing_frames={max_missing_frames} leaves too few of {n_frames}")
    t_video = np.arange(n_frames) / fps
    # video frames j = -max_offset .. n_frames + max_offset - 1 cover every camera's clock
    t_span = np.arange(-max_offset_frames, n_frames + max_offset_frames) / fps
    t_gt = np.arange(int(round(duration_s * GT_RATE_HZ))) / GT_RATE_HZ
    model_stem = MODEL_NAME if model_path is None else Path(model_path).stem

    info = SyntheticDataset(root, store, [], trials, cam_names, float(fps), n_frames)
    info.placement = placement
    numbers = range(1, subjects + 1)
    for i in progress_bar(numbers, "synthetic", unit="subject") if progress else numbers:
        subject = f"subject{i}"
        layout = subject_layout(root, subject)
        height = float(rng.uniform(1.60, 1.90))
        mass = float(height**2 * rng.uniform(21.0, 26.0))
        if length_scale is not None:
            height = GENERIC_HEIGHT_M * length_scale
        model_file = write_subject_model(
            layout.model_dir / f"{model_stem}_scaled.osim",
            height,
            mass,
            generic_model=model_path,
            length_scale=length_scale,
        )
        model = load_model(model_file)
        body = anthropometry_from_model(model)
        coords = set(coordinate_names(model))

        meta = SessionMetadata(
            placement=placement,
            height_m=round(height, 3),
            mass_kg=round(mass, 1),
            gender_mf="m" if i % 2 else "f",
            iphone_models={c: PHONE_MODEL for c in cam_names},
            opensim_model=model_file.stem,
            subject_id=subject,
        )
        write_session_metadata(meta, layout.metadata_path)
        cameras = synthetic_cameras(cam_names, R_board, rng)
        for cam in cameras:
            write_opencap_calibration(cam, layout.calibration_path(SESSION, cam.name))
            for trial in trials:
                layout.trial_video_dir(SESSION, cam.name, trial).mkdir(parents=True, exist_ok=True)

        truth: dict = {
            "length_scale": height / GENERIC_HEIGHT_M if length_scale is None else length_scale,
            "height_m": height,
            "mass_kg": mass,
            "sync_offsets_frames": {},
            "n_frames": {},
        }
        for trial, motion in motions.items():
            gt = {k: v for k, v in motion(t_gt, body).items() if k in coords}
            cols = list(gt)
            write_mot(
                layout.gt_mot_path(trial),
                t_gt,
                cols,
                np.stack([gt[c] for c in cols], axis=1),
                in_degrees=True,
            )
            q = {k: v for k, v in motion(t_span, body).items() if k in coords}
            span = synthpose52_trajectories(model, q)  # (J, 52, 3) OpenSim frame
            pts = span[max_offset_frames : max_offset_frames + n_frames]  # true timeline
            write_trc(
                layout.gt_trc_path(trial),
                t_video,
                names,
                pts,
                fps,
            )
            span_board = span @ R_board  # p_board = R_board.T @ p_opensim
            offsets, lengths = {}, {}
            for cam in cameras:
                offset, missing = 0, 0
                if max_offset_frames:
                    offset = int(rng_timing.integers(-max_offset_frames, max_offset_frames + 1))
                if max_missing_frames:
                    missing = int(rng_timing.integers(0, max_missing_frames + 1))
                first = max_offset_frames - offset  # camera frame 0 = true frame -offset
                cam_pts = span_board[first : first + n_frames - missing]
                uv, scores = project_keypoints(cam_pts, cam, rng, noise_px, dropout)
                Keypoints2D(
                    uv[:, None].astype(np.float32),
                    scores[:, None].astype(np.float32),
                    float(fps),
                    "synthpose52",
                    cam.image_size,
                ).save(store_path(store, subject, SESSION, trial, cam.name))
                offsets[cam.name], lengths[cam.name] = offset, n_frames - missing
            truth["sync_offsets_frames"][trial] = offsets
            truth["n_frames"][trial] = lengths
        with atomic_write(layout.root / TRUTH_FILE) as fh:
            json.dump(truth, fh, indent=2)
        info.truth[subject] = truth
        info.subjects.append(subject)
        info.models[subject] = model_file
    return info
