"""The benchmark run: trials → TRC → IK → scores, resumable, one failure never stops the rest.

``run_benchmark`` is what ``ocb benchmark`` calls. Its stages:

1. (optional) pose: videos → keypoint store (:mod:`opencapbench.inference.pose_stage`);
2. subject models: the mocap-scaled model of each subject with the SynthPose markers attached;
3. markers: keypoint store + calibration → 3D markers → ``trc/<subject>/<trial>.trc``;
4. IK: OpenSim inverse kinematics, trials in parallel → ``ik/<subject>/<trial>.mot``;
5. scores: time-aligned joint-angle errors against the mocap ground truth → ``results/``.

Stages 3 and 4 record their state per trial in ``status/`` and are skipped when done.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from opencapbench.benchmark import metrics
from opencapbench.benchmark.dataset import (
    CALIBRATION_FILE,
    Subject,
    Trial,
    discover_trials,
    list_subjects,
    resolve_cameras,
    session_cameras,
)
from opencapbench.benchmark.errors import (
    InconsistentKeypointsError,
    MissingCameraError,
    MissingGroundTruthError,
    MissingKeypointsError,
)
from opencapbench.benchmark.markers3d import MarkerSettings, markers_from_keypoints
from opencapbench.benchmark.status import TrialStatus
from opencapbench.camera import Camera
from opencapbench.geometry.frames import placement_rotation
from opencapbench.io.calibration import read_opencap_calibration, read_toml_calibration
from opencapbench.io.keypoint_store import Keypoints2D, store_path
from opencapbench.io.mot import read_mot
from opencapbench.io.session import read_session_metadata
from opencapbench.io.trc import write_trc
from opencapbench.keypoints import get_keypoint_set

log = logging.getLogger(__name__)

#: Pose2Sim/AniPose calibration accepted in a session folder instead of per-camera pickles.
SESSION_TOML = "calibration.toml"


@dataclass
class BenchmarkConfig:
    """Everything ``ocb benchmark`` needs.

    Attributes:
        data_dir: dataset root in the LabValidation layout.
        out_dir: output root (keypoints, trc, ik, models, status, results).
        keypoint_store: keypoint store root; defaults to ``<out_dir>/keypoints``.
        subjects, trials: restrict the run (all when empty).
        cameras: ``all``, an OpenCapBench preset (``2-cameras``…) or ``Cam1,Cam3``.
        markers: options of the 2D → 3D stage.
        ik_weights: marker → IK weight; None for the SynthPose defaults.
        workers: parallel IK processes.
        force: redo finished stages.
        max_shift_s: time-alignment search window for scoring.
    """

    data_dir: Path
    out_dir: Path
    keypoint_store: Path | None = None
    subjects: tuple[str, ...] = ()
    trials: tuple[str, ...] = ()
    cameras: str = "all"
    markers: MarkerSettings = field(default_factory=MarkerSettings)
    ik_weights: dict[str, float] | None = None
    workers: int = 2
    force: bool = False
    max_shift_s: float = 0.4

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.out_dir = Path(self.out_dir)
        self.keypoint_store = Path(self.keypoint_store or self.out_dir / "keypoints")

    def trc_path(self, trial: Trial) -> Path:
        return self.out_dir / "trc" / trial.subject / f"{trial.name}.trc"

    def mot_path(self, trial: Trial) -> Path:
        return self.out_dir / "ik" / trial.subject / f"{trial.name}.mot"

    def status(self, trial: Trial) -> TrialStatus:
        return TrialStatus(self.out_dir / "status" / trial.subject / f"{trial.name}.json")

    def model_path(self, subject: str) -> Path:
        return self.out_dir / "models" / f"{subject}.osim"


@dataclass
class BenchmarkOutcome:
    """What a run produced: per-trial errors, aggregated tables, and per-trial failures."""

    per_trial: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    failures: pd.DataFrame
    results_dir: Path


# ---------------------------------------------------------------- resume fingerprints


def _file_stamp(path: Path) -> list:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


def stage_fingerprints(trial: Trial, cfg: BenchmarkConfig, model: Path | None) -> dict[str, str]:
    """Fingerprints of what each stage's output depends on (settings and input files).

    ``markers``: the 2D→3D settings, the camera set-up, and the trial's keypoint, calibration
    and session-metadata files (size and modification time). ``ik``: that, plus the IK
    weights and the subject model file.
    """
    store = cfg.keypoint_store / trial.subject / trial.session / trial.name
    files = sorted(store.glob("*.npz")) + sorted(trial.session_dir.glob(f"*/{CALIBRATION_FILE}"))
    files += [p for p in (trial.session_dir / SESSION_TOML,
                          trial.session_dir.parents[1] / "sessionMetadata.yaml") if p.is_file()]  # fmt: skip
    markers = _digest(
        {"settings": asdict(cfg.markers), "cameras": cfg.cameras,
         "files": [_file_stamp(f) for f in files]}
    )  # fmt: skip
    ik = _digest(
        {"markers": markers, "weights": cfg.ik_weights,
         "model": _file_stamp(model) if model is not None and model.is_file() else None}
    )  # fmt: skip
    return {"markers": markers, "ik": ik}


# ---------------------------------------------------------------- stage 3: 3D markers


def load_trial_inputs(trial: Trial, cfg: BenchmarkConfig) -> tuple[list[Camera], list[Keypoints2D]]:
    """Calibrations and 2D keypoints of the cameras used for a trial.

    Calibrations are read from each camera's OpenCap pickle, or else from a Pose2Sim/AniPose
    ``calibration.toml`` in the session folder (cameras matched by name). With
    ``cameras="all"`` every camera that has a calibration and keypoints is used (at least
    two). With an explicit set-up, any missing camera is an error: silently benchmarking on
    fewer cameras than asked would not be a fair comparison.
    """
    available = session_cameras(trial.session_dir)
    wanted = resolve_cameras(cfg.cameras, available)
    strict = cfg.cameras != "all"
    cameras: list[Camera] = []
    keypoints: list[Keypoints2D] = []
    problems: list[str] = []
    toml_file = trial.session_dir / SESSION_TOML
    toml_cameras = (
        {c.name: c for c in read_toml_calibration(toml_file)} if toml_file.is_file() else {}
    )
    for cam in wanted:
        calib = trial.session_dir / cam / CALIBRATION_FILE
        kp_file = store_path(cfg.keypoint_store, trial.subject, trial.session, trial.name, cam)
        if not (trial.session_dir / cam).is_dir() and cam not in toml_cameras:
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
            camera = (
                read_opencap_calibration(calib, name=cam) if calib.is_file() else toml_cameras[cam]
            )
            cameras.append(camera)
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


def build_trc(trial: Trial, cfg: BenchmarkConfig) -> tuple[Path, dict]:
    """Triangulate one trial and write its TRC; returns the path and a summary."""
    cameras, keypoints = load_trial_inputs(trial, cfg)
    kps_set = {kp.keypoint_set for kp in keypoints}
    if len(kps_set) != 1:
        raise InconsistentKeypointsError(
            f"{trial.key}: cameras use keypoint sets {sorted(kps_set)}"
        )
    names = list(get_keypoint_set(kps_set.pop()).names)
    meta = read_session_metadata(trial.session_dir.parents[1] / "sessionMetadata.yaml")
    rotation = placement_rotation(meta.placement, meta.upside_down)
    markers = markers_from_keypoints(
        keypoints, cameras, names, rotation, cfg.markers, label=trial.key
    )
    path = cfg.trc_path(trial)
    write_trc(path, markers.times, markers.names, markers.positions, cfg.markers.trc_rate_hz)
    return path, {"cameras": markers.camera_names, **markers.summary()}


# ---------------------------------------------------------------- stage 2: subject models


def prepare_subject_model(subject: Subject, cfg: BenchmarkConfig) -> Path:
    """The subject's mocap-scaled model with the SynthPose markers attached (cached)."""
    from opencapbench.osim.markers import attach_synthpose_markers

    out = cfg.model_path(subject.name)
    if out.is_file() and not cfg.force:
        return out
    source = subject.mocap_model
    if source is None:
        raise MissingCameraError(
            f"{subject.name}: no scaled model in {subject.root / 'OpenSimData/Mocap/Model'}"
        )
    attach_synthpose_markers(source, out)
    return out


# ---------------------------------------------------------------- stage 5: scores


def score_trial(trial: Trial, cfg: BenchmarkConfig) -> tuple[pd.DataFrame, dict]:
    """Per-DOF errors of one trial against its ground truth."""
    if trial.gt_mot is None:
        raise MissingGroundTruthError(
            f"{trial.key}: no ground truth {trial.subject}/OpenSimData/Mocap/IK/{trial.name}.mot"
        )
    pred = read_mot(cfg.mot_path(trial))
    gt = read_mot(trial.gt_mot)
    shift_s, details = metrics.best_time_shift(pred, gt, max_shift_s=cfg.max_shift_s)
    errors = metrics.dof_errors(pred, gt, shift_s)
    paths = {"pred_mot": str(cfg.mot_path(trial)), "gt_mot": str(trial.gt_mot)}
    return errors, {"shift_s": shift_s, **details, **paths}


def run_benchmark(cfg: BenchmarkConfig, pose_stage=None) -> BenchmarkOutcome:
    """Run every stage over every trial; see the module docstring.

    Args:
        cfg: the run's configuration.
        pose_stage: optional callable ``(trials, cfg) -> None`` that fills the keypoint store
            from the videos (``ocb benchmark --model``).
    """
    from opencapbench.benchmark import report
    from opencapbench.osim.ik import IKJob, run_ik_many

    trials = discover_trials(cfg.data_dir, cfg.subjects, cfg.trials, cfg.keypoint_store)
    if pose_stage is not None:
        pose_stage(trials, cfg)
    failures: list[dict] = []

    def fail(trial: Trial, stage: str, err: BaseException | str) -> None:
        cfg.status(trial).mark_failed(stage, err)
        etype = type(err).__name__ if isinstance(err, BaseException) else "Error"
        failures.append(
            {"subject": trial.subject, "trial": trial.name, "stage": stage,
             "error": etype, "message": str(err)}
        )  # fmt: skip
        tqdm.write(f"[{stage}] {trial.key}: {etype}: {err}")

    # subject models
    models: dict[str, Path | BaseException] = {}
    for subject in list_subjects(cfg.data_dir, tuple(sorted({t.subject for t in trials}))):
        try:
            models[subject.name] = prepare_subject_model(subject, cfg)
        except Exception as err:  # noqa: BLE001 - recorded per trial below
            models[subject.name] = err

    # inputs do not change during the run, so each trial's fingerprints are taken once
    fingerprints = {
        t.key: stage_fingerprints(
            t, cfg, m if isinstance(m := models.get(t.subject), Path) else None
        )
        for t in trials
    }

    # 3D markers
    for trial in tqdm(trials, desc="3D markers", unit="trial"):
        status = cfg.status(trial)
        fp = fingerprints[trial.key]["markers"]
        if status.is_done("markers", fp) and not cfg.force:
            continue
        try:
            path, summary = build_trc(trial, cfg)
        except Exception as err:  # noqa: BLE001 - one bad trial must not stop the others
            fail(trial, "markers", err)
            continue
        status.mark_done("markers", path, fingerprint=fp, **summary)

    # inverse kinematics
    jobs, job_trials, job_fps = [], [], []
    for trial in trials:
        status = cfg.status(trial)
        fps = fingerprints[trial.key]
        if not status.is_done("markers", fps["markers"]):
            continue
        if status.is_done("ik", fps["ik"]) and not cfg.force:
            continue
        model = models.get(trial.subject)
        if isinstance(model, BaseException) or model is None:
            fail(trial, "ik", model or "no model")
            continue
        job_fps.append(fps["ik"])
        jobs.append(IKJob(model, cfg.trc_path(trial), cfg.mot_path(trial), weights=cfg.ik_weights))
        job_trials.append(trial)
    if jobs:
        results = run_ik_many(jobs, n_workers=cfg.workers)
        for trial, fp, result in zip(job_trials, job_fps, results, strict=True):
            if getattr(result, "error", None) is not None:
                fail(trial, "ik", result.error)
            else:
                cfg.status(trial).mark_done(
                    "ik", result.mot_path, fingerprint=fp,
                    marker_rms_m=result.marker_rms_m, seconds=result.seconds,
                )  # fmt: skip

    # scores
    rows, shifts = [], {}
    for trial in trials:
        status = cfg.status(trial)
        if not status.is_done("ik", fingerprints[trial.key]["ik"]):
            err = status.error("markers") or status.error("ik")
            if err and not any(
                f["trial"] == trial.name and f["subject"] == trial.subject for f in failures
            ):
                failures.append({"subject": trial.subject, "trial": trial.name, "stage": "resumed",
                                 "error": err["type"], "message": err["message"]})  # fmt: skip
            continue
        try:
            errors, info = score_trial(trial, cfg)
        except Exception as err:  # noqa: BLE001
            failures.append({"subject": trial.subject, "trial": trial.name, "stage": "score",
                             "error": type(err).__name__, "message": str(err)})  # fmt: skip
            continue
        shifts[trial.key] = info
        errors = errors.assign(
            subject=trial.subject, trial=trial.name, activity=metrics.classify_activity(trial.name)
        )
        rows.append(errors)
    per_trial = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    failures_df = pd.DataFrame(failures, columns=["subject", "trial", "stage", "error", "message"])
    tables = metrics.aggregate(per_trial) if not per_trial.empty else {}
    results_dir = cfg.out_dir / "results"
    report.write_report(results_dir, per_trial, tables, shifts, failures_df, cfg)
    return BenchmarkOutcome(per_trial, tables, failures_df, results_dir)
