"""The inputs of one trial's 2D → 3D step: calibrations and keypoints read from disk, checked,
triangulated by :mod:`opencapbench.benchmark.markers3d` and written as a TRC file."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from opencapbench.benchmark.config import BenchmarkConfig, resolve_cameras
from opencapbench.benchmark.errors import (
    InconsistentKeypointsError,
    MissingCameraError,
    MissingKeypointsError,
)
from opencapbench.benchmark.markers3d import markers_from_keypoints
from opencapbench.camera import Camera, check_image_size
from opencapbench.geometry.frames import POSE2SIM_TO_OPENSIM, placement_rotation
from opencapbench.io.calibration import (
    CalibrationError,
    read_opencap_calibration,
    read_toml_calibration,
    read_toml_world_frame,
)
from opencapbench.io.keypoint_store import Keypoints2D, store_path
from opencapbench.io.opencap_layout import Trial, map_camera_names, natural_key, session_cameras
from opencapbench.io.session import read_session_metadata
from opencapbench.io.trc import write_trc
from opencapbench.keypoints import get_keypoint_set

log = logging.getLogger(__name__)


def load_trial_inputs(
    trial: Trial, cfg: BenchmarkConfig, keypoints_dir: Path | None = None
) -> tuple[list[Camera], list[Keypoints2D]]:
    """Calibrations and 2D keypoints of the cameras used for a trial.

    Keypoints are read from ``keypoints_dir/<camera>.npz`` when given (e.g. the synchronised
    keypoints of the sync stage), else from the trial's folder of the keypoint store. Each
    calibration's image size is checked against its keypoints'
    (:func:`~opencapbench.camera.check_image_size`).

    Calibrations are read from each camera's OpenCap pickle, or else from a Pose2Sim/AniPose
    ``calibration.toml`` in the session folder (cameras matched by name). With
    ``cameras="all"`` every camera that has a calibration and keypoints is used (at least
    two); each camera left out is a recorded warning. With an explicit set-up, any missing
    camera is an error: silently benchmarking on fewer cameras than asked would not be a fair
    comparison.
    """
    available = session_cameras(trial.session_dir)
    if cfg.cameras == "all":
        # cameras the session should have: its folders, the phones of sessionMetadata.yaml and
        # the keypoint store; a camera missing from any of these is reported, not ignored
        store = cfg.keypoint_store / trial.subject / trial.session / trial.name
        expected = set(available) | {p.stem for p in store.glob("*.npz")}
        if trial.metadata_path.is_file():
            expected |= set(read_session_metadata(trial.metadata_path).iphone_models)
        available = sorted(expected, key=natural_key)
    wanted = resolve_cameras(cfg.cameras, available)
    strict = cfg.cameras != "all"
    cameras: list[Camera] = []
    keypoints: list[Keypoints2D] = []
    problems: list[str] = []
    toml_cameras, toml_only = _toml_cameras(trial, cfg, available)
    for cam in wanted:
        calib = trial.calibration_path(cam)
        kp_file = (
            keypoints_dir / f"{cam}.npz"
            if keypoints_dir is not None
            else store_path(cfg.keypoint_store, trial.subject, trial.session, trial.name, cam)
        )
        if toml_only and cam not in toml_cameras:
            problems.append(f"camera {cam} is not in {trial.calibration_toml}")
        elif not (trial.session_dir / cam).is_dir() and cam not in toml_cameras:
            problems.append(f"camera folder {trial.session_dir / cam} is missing")
        elif not calib.is_file() and cam not in toml_cameras:
            problems.append(f"calibration {calib} is missing")
        elif not kp_file.is_file():
            problems.append(f"keypoints {kp_file} are missing")
        else:
            kp = Keypoints2D.load(kp_file)
            if not np.any(kp.scores > 0):
                problems.append(f"keypoints {kp_file} hold no detection")
                continue
            from_pickle = calib.is_file() and not toml_only
            camera = read_opencap_calibration(calib, name=cam) if from_pickle else toml_cameras[cam]
            cameras.append(check_image_size(camera, kp.image_size, source=f"{trial.key} {kp_file}"))
            keypoints.append(kp)
    if strict and problems:
        raise MissingCameraError(f"{trial.key}: " + "; ".join(problems))
    if len(cameras) < 2:
        kind = (
            MissingKeypointsError if any("keypoints" in p for p in problems) else MissingCameraError
        )
        raise kind(
            f"{trial.key}: fewer than 2 usable cameras ({[c.name for c in cameras]}); "
            + "; ".join(problems)
        )
    for p in problems:
        log.warning("%s: %s (camera skipped)", trial.key, p)
    return cameras, keypoints


def _toml_cameras(
    trial: Trial, cfg: BenchmarkConfig, folders: list[str]
) -> tuple[dict[str, Camera], bool]:
    """Cameras of the session's ``calibration.toml`` by folder name, and whether they replace
    the pickles (a Pose2Sim Z-up world cannot be mixed with OpenCap's board frame)."""
    path = trial.calibration_toml
    if not path.is_file():
        return {}, False
    frame = toml_world_frame(trial, cfg)
    cameras = read_toml_calibration(path)
    names = map_camera_names([c.name for c in cameras], folders, str(path))
    by_folder = {names[c.name]: replace(c, name=names[c.name]) for c in cameras}
    return by_folder, frame == "pose2sim"


def toml_world_frame(trial: Trial, cfg: BenchmarkConfig) -> str:
    """The world frame of the session's calibration TOML: ``--toml-frame``, else the file's
    ``[metadata] world_frame``; an unstated frame is refused (a wrong guess turns the subject)."""
    stated = read_toml_world_frame(trial.calibration_toml)
    frame = cfg.toml_frame or stated
    if frame is None:
        raise CalibrationError(
            f"{trial.calibration_toml}: the calibration does not say in which world frame it is: "
            "add [metadata] world_frame = 'pose2sim' (Z up, as Pose2Sim writes it) or "
            "'checkerboard' (OpenCap's board frame), or run with --toml-frame"
        )
    if stated is not None and cfg.toml_frame and stated != cfg.toml_frame:
        log.warning(
            "%s states world_frame %r; --toml-frame %r is used", trial.calibration_toml,
            stated, cfg.toml_frame,
        )  # fmt: skip
    return frame


def build_trc(
    trial: Trial, cfg: BenchmarkConfig, out: Path, keypoints_dir: Path | None = None
) -> dict:
    """Triangulate one trial and write its TRC to ``out``; returns a summary for the ledger.

    The keypoints (from ``keypoints_dir``, see :func:`load_trial_inputs`) first go through the
    run's marker recipe in 2D, per camera (e.g. HALPE-26 → BODY_25 with Neck and midHip as
    midpoints); keypoints the set cannot give are left out of the TRC.
    """
    from opencapbench.benchmark.families import trial_recipe
    from opencapbench.recipes import derive_keypoints2d

    cameras, keypoints = load_trial_inputs(trial, cfg, keypoints_dir)
    kps_set = {kp.keypoint_set for kp in keypoints}
    if len(kps_set) != 1:
        raise InconsistentKeypointsError(
            f"{trial.key}: cameras use keypoint sets {sorted(kps_set)}"
        )
    recipe = trial_recipe(trial, kps_set.pop(), cfg)
    keypoints = [derive_keypoints2d(kp, recipe) for kp in keypoints]
    names = list(get_keypoint_set(recipe.target_set).names)
    if trial.calibration_toml.is_file() and toml_world_frame(trial, cfg) == "pose2sim":
        rotation = POSE2SIM_TO_OPENSIM
    else:
        meta = read_session_metadata(trial.metadata_path)
        rotation = placement_rotation(meta.placement, meta.upside_down)
    markers = markers_from_keypoints(
        keypoints, cameras, names, rotation, cfg.markers, label=trial.key
    )
    keep = [i for i, src in enumerate(recipe.sources) if src is not None]
    write_trc(
        out, markers.times, [names[i] for i in keep], markers.positions[:, keep],
        cfg.markers.trc_rate_hz,
    )  # fmt: skip
    return {"cameras": markers.camera_names, "keypoint_set": recipe.keypoint_set,
            **markers.summary()}  # fmt: skip
