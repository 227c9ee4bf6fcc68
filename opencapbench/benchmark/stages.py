"""The benchmark as an explicit list of stages, and the contract a new stage follows.

A stage is a small object with:

- ``name``: its key in the per-trial ledger and in ``results/timings.json``;
- ``scope``: ``"subject"`` (run once per subject, before any trial stage) or ``"trial"``;
- ``consumes`` / ``produces``: artifact keys (``"keypoints2d"``, ``"model"``, ``"trc"``,
  ``"mot"``, ``"scores"``…). A stage that consumes a key gets the output of the *latest
  earlier* stage producing it (a trial's own, or its subject's for subject-scope producers), so
  a marker-augmenter stage between markers and IK (produces ``"trc"``) or a scaling stage after
  the subject model (produces ``"model"``) is added by inserting one entry: IK picks the new
  artifact up unchanged;
- ``parallel``: True to run in a worker process (IK, plots); the stage, its item and inputs must
  then be picklable;
- ``settings(cfg) -> dict``: what of the configuration its output depends on;
- ``input_files(item, cfg) -> list[Path]``: data files its output depends on;
- ``run(item, inputs, cfg) -> StageResult``: do the work for one subject or trial; ``inputs``
  maps each consumed key to its path. Raise an :class:`~opencapbench.errors.OCBError` for bad
  input; log a warning for what the report should show (it is recorded in the ledger).

A stage's fingerprint is a digest of its settings, its input files (size and mtime) and the
fingerprints of the stages whose artifacts it consumes; it is done when the ledger says so with
that fingerprint, so changing a setting redoes exactly the affected stages. See
:func:`default_stages` for the list and :mod:`opencapbench.benchmark.runner` for the scheduler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from opencapbench.benchmark.config import BenchmarkConfig
from opencapbench.io.opencap_layout import Subject, Trial
from opencapbench.ledger import Ledger, WarningRecorder, digest, file_stamp

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    """What one stage produced for one item: artifact files and the info the report shows."""

    outputs: dict[str, Path] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


class Stage:
    """Base class of the benchmark stages (see the module docstring)."""

    name: ClassVar[str] = ""
    scope: ClassVar[str] = "trial"
    consumes: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = ()
    parallel: ClassVar[bool] = False

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        return {}

    def input_files(self, item: Subject | Trial, cfg: BenchmarkConfig) -> list[Path]:
        return []

    def run(
        self, item: Subject | Trial, inputs: Mapping[str, Path], cfg: BenchmarkConfig
    ) -> StageResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<stage {self.name}>"


# ---------------------------------------------------------------------- output paths


def trc_path(cfg: BenchmarkConfig, trial: Trial) -> Path:
    return cfg.out_dir / "trc" / trial.subject / f"{trial.name}.trc"


def mot_path(cfg: BenchmarkConfig, trial: Trial) -> Path:
    return cfg.out_dir / "ik" / trial.subject / f"{trial.name}.mot"


def scores_path(cfg: BenchmarkConfig, trial: Trial) -> Path:
    return cfg.out_dir / "scores" / trial.subject / f"{trial.name}.csv"


def ledger_path(cfg: BenchmarkConfig, item: Subject | Trial) -> Path:
    if isinstance(item, Subject):
        return cfg.out_dir / "status" / "_subjects" / f"{item.name}.json"
    return cfg.out_dir / "status" / item.subject / f"{item.name}.json"


def item_key(item: Subject | Trial) -> str:
    return item.name if isinstance(item, Subject) else item.key


def open_ledger(cfg: BenchmarkConfig, item: Subject | Trial) -> Ledger:
    return Ledger(ledger_path(cfg, item), item_key(item))


# ---------------------------------------------------------------------- the stages


class SubjectModelStage(Stage):
    """The subject's mocap-scaled model with the run's marker set attached (the keypoint set's
    recipe: SynthPose, OpenPose-style or the augmenter's markers), after the early check that
    they land on it."""

    name = "model"
    scope = "subject"
    produces = ("model",)

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        from opencapbench.benchmark.families import run_recipe

        recipe = run_recipe(cfg)
        return {"keypoint_set": recipe.keypoint_set, "marker_set": recipe.marker_set}

    def input_files(self, item: Subject, cfg: BenchmarkConfig) -> list[Path]:
        return [item.mocap_model] if item.mocap_model is not None else []

    def run(self, item: Subject, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        from opencapbench.benchmark.errors import MissingModelError
        from opencapbench.benchmark.families import check_run
        from opencapbench.osim.markers import place_marker_set

        source = item.mocap_model
        if source is None:
            raise MissingModelError(f"{item.name}: no scaled model (*.osim) in {item.model_dir}")
        recipe = check_run(cfg, [item])
        out = cfg.out_dir / "models" / f"{item.name}.osim"
        report = place_marker_set(source, out, recipe)
        methods = {m: len(report.by_method(m)) for m in ("kept", "copied", "scaled", "skipped")}
        return StageResult(
            {"model": out},
            {"source": str(source), "keypoint_set": recipe.keypoint_set,
             "marker_set": recipe.marker_set, "markers": methods},
        )  # fmt: skip


class PoseStage(Stage):
    """Detection + top-down pose on every camera video of a trial → the keypoint store."""

    name = "pose"
    produces = ("keypoints2d",)

    def __init__(self) -> None:
        self._models = None  # pose model and detector, loaded on first use, kept for the run

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        return asdict(cfg.pose)

    def input_files(self, item: Trial, cfg: BenchmarkConfig) -> list[Path]:
        return [item.videos[c] for c in sorted(item.videos)]

    def run(self, item: Trial, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        from opencapbench.benchmark.errors import MissingVideoError, PoseStageError
        from opencapbench.device import resolve_device
        from opencapbench.inference.models import LazyModels
        from opencapbench.inference.pose_stage import VideoJob, run_pose_stage

        if not item.videos:
            raise MissingVideoError(f"{item.key}: no video in {item.session_dir}/Cam*/{item.name}/")
        if self._models is None:
            self._models = LazyModels(
                cfg.pose.model, cfg.pose.detector, checkpoint=cfg.pose.checkpoint,
                device=resolve_device(cfg.pose.device), amp=cfg.pose.amp,
                det_threshold=cfg.pose.det_threshold,
            )  # fmt: skip
        jobs = [
            VideoJob(item.subject, item.session, item.name, cam, path)
            for cam, path in sorted(item.videos.items())
        ]
        report = run_pose_stage(
            jobs, cfg.keypoint_store, self._models, device=self._models.device, force=True
        )
        if report.failed:
            raise PoseStageError(
                "; ".join(f"{key}: {msg}" for key, msg in sorted(report.failed.items()))
            )
        trial_dir = cfg.keypoint_store / item.subject / item.session / item.name
        return StageResult(
            {"keypoints2d": trial_dir},
            {
                "videos": len(jobs),
                "frames": report.frames,
                "frames_per_s": report.frames_per_second,
            },
        )


class MarkersStage(Stage):
    """Keypoint store + calibration → 3D markers in OpenSim's frame → ``trc/<subject>/<trial>.trc``."""

    name = "markers"
    consumes = ("keypoints2d",)
    produces = ("trc",)

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        from opencapbench.benchmark.families import run_keypoint_set

        return {"markers": asdict(cfg.markers), "cameras": cfg.cameras,
                "keypoint_set": run_keypoint_set(cfg)}  # fmt: skip

    def input_files(self, item: Trial, cfg: BenchmarkConfig) -> list[Path]:
        store = cfg.keypoint_store / item.subject / item.session / item.name
        files = sorted(store.glob("*.npz"))
        files += sorted(item.session_dir.glob("*/cameraIntrinsicsExtrinsics.pickle"))
        files += [p for p in (item.calibration_toml, item.metadata_path) if p.is_file()]
        return files

    def run(self, item: Trial, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        from opencapbench.benchmark.trial_inputs import build_trc

        path = trc_path(cfg, item)
        summary = build_trc(item, cfg, path, inputs.get("keypoints2d"))
        return StageResult({"trc": path}, summary)


class IKStage(Stage):
    """OpenSim inverse kinematics of the trial's markers on the subject model → ``ik/…mot``."""

    name = "ik"
    consumes = ("model", "trc")
    produces = ("mot",)
    parallel = True

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        return {"weights": _ik_weights(cfg)}

    def run(self, item: Trial, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        from opencapbench.osim.ik import run_ik

        out = mot_path(cfg, item)
        result = run_ik(
            inputs["model"], inputs["trc"], out, weights=_ik_weights(cfg),
            log_path=out.with_suffix(".log"),
        )  # fmt: skip
        return StageResult(
            {"mot": out},
            {"n_frames": result.n_frames, "marker_rms_m": result.marker_rms_m},
        )


class SyncStage(Stage):
    """``--sync auto``: per-camera frame offsets estimated from the keypoints, applied, and the
    cameras cut to their common frames → ``synced/…/<camera>.npz`` (offsets in the info);
    see :mod:`opencapbench.benchmark.camera_sync`."""

    name = "sync"
    consumes = ("keypoints2d",)
    produces = ("keypoints2d",)

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        return {"sync": cfg.sync, "max_offset_s": cfg.sync_max_offset_s,
                "min_confidence": cfg.markers.min_confidence, "cameras": cfg.cameras}  # fmt: skip

    def input_files(self, item: Trial, cfg: BenchmarkConfig) -> list[Path]:
        store = cfg.keypoint_store / item.subject / item.session / item.name
        files = sorted(store.glob("*.npz"))
        files += sorted(item.session_dir.glob("*/cameraIntrinsicsExtrinsics.pickle"))
        return files + [p for p in (item.calibration_toml,) if p.is_file()]

    def run(self, item: Trial, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        from opencapbench.benchmark.camera_sync import synchronise_trial

        out, info = synchronise_trial(item, cfg, inputs.get("keypoints2d"))
        return StageResult({"keypoints2d": out}, info)


class ScaleStage(Stage):
    """``--scale static``: the generic model (``--generic-model``, default the built-in one)
    scaled to the subject from its ``static1`` trial → ``models/<subject>.osim`` (scale factors
    in the info); see :mod:`opencapbench.benchmark.static_scaling`."""

    name = "scale"
    scope = "subject"
    produces = ("model",)

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        return {"generic_model": str(cfg.generic_model) if cfg.generic_model else "built-in",
                "markers": asdict(cfg.markers), "cameras": cfg.cameras}  # fmt: skip

    def input_files(self, item: Subject, cfg: BenchmarkConfig) -> list[Path]:
        files = [item.metadata_path] + ([cfg.generic_model] if cfg.generic_model else [])
        files += sorted((cfg.keypoint_store / item.name).glob("Session*/static*/*.npz"))
        return files + sorted(item.video_root.glob("Session*/*/cameraIntrinsicsExtrinsics.pickle"))

    def run(self, item: Subject, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        from opencapbench.benchmark.static_scaling import find_static_trial, scale_subject

        static_trc = trc_path(cfg, find_static_trial(item, cfg))
        pose = PoseStage() if cfg.pose.model else None
        out, info = scale_subject(item, cfg, static_trc, pose)
        return StageResult({"model": out}, info)


class AugmenterStage(Stage):
    """OpenCap's LSTM marker augmenter: triangulated OpenPose-style markers → TRC with the 43
    anatomical markers appended (``trc/<subject>/<trial>_augmented_<version>.trc``), for IK."""

    name = "augmenter"
    consumes = ("trc",)
    produces = ("trc",)

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        a = cfg.augmenter
        return {"version": a.version, "rate_hz": a.rate_hz, "offset": a.vertical_offset,
                "model_dir": a.model_dir}  # fmt: skip

    def input_files(self, item: Trial, cfg: BenchmarkConfig) -> list[Path]:
        return [item.metadata_path] if item.metadata_path.is_file() else []

    def run(self, item: Trial, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        from opencapbench.augmenter import AugmenterError, augment_trc
        from opencapbench.io.session import read_session_metadata

        meta = read_session_metadata(item.metadata_path)
        if not meta.height_m or not meta.mass_kg:
            raise AugmenterError(
                f"{item.metadata_path}: the marker augmenter needs height_m and mass_kg"
            )
        version = cfg.augmenter.version or "v0.3"
        out = trc_path(cfg, item).with_name(f"{item.name}_augmented_{version}.trc")
        info = augment_trc(
            inputs["trc"], out, meta.height_m, meta.mass_kg, version,
            cfg.augmenter.model_dir, cfg.augmenter.rate_hz, cfg.augmenter.vertical_offset,
        )  # fmt: skip
        return StageResult({"trc": out}, info)


def _ik_weights(cfg: BenchmarkConfig) -> dict[str, float]:
    """``cfg.ik_weights``, else the IK weights of the run's marker recipe."""
    from opencapbench.benchmark.families import run_recipe

    return dict(cfg.ik_weights) if cfg.ik_weights is not None else run_recipe(cfg).ik_weights


class ScoreStage(Stage):
    """Time-aligned per-DOF errors against the mocap ground truth → ``scores/…csv``."""

    name = "score"
    consumes = ("mot",)
    produces = ("scores",)

    def settings(self, cfg: BenchmarkConfig) -> dict[str, Any]:
        return {"max_shift_s": cfg.max_shift_s}

    def input_files(self, item: Trial, cfg: BenchmarkConfig) -> list[Path]:
        return [item.gt_mot] if item.gt_mot is not None else []

    def run(self, item: Trial, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        from opencapbench.benchmark import metrics
        from opencapbench.benchmark.errors import GroundTruthError, MissingGroundTruthError
        from opencapbench.io.atomic import atomic_path
        from opencapbench.io.mot import read_mot

        if item.gt_mot is None:
            raise MissingGroundTruthError(
                f"{item.key}: no ground truth {item.subject}/OpenSimData/Mocap/IK/{item.name}.mot"
            )
        pred = read_mot(inputs["mot"])
        gt = read_mot(item.gt_mot)
        needed = [c for dof in metrics.OCB_DOFS for c in metrics.dof_columns(dof)]
        for table, path in ((gt, item.gt_mot), (pred, inputs["mot"])):
            missing = [c for c in needed if c not in table.columns]
            if missing:
                raise GroundTruthError(
                    f"{item.key}: {path} lacks the coordinate column(s) {missing}; every one of "
                    "the 12 DOFs is needed on both sides to score a trial"
                )
        shift_s, details = metrics.best_time_shift(pred, gt, max_shift_s=cfg.max_shift_s)
        errors = metrics.dof_errors(pred, gt, shift_s)
        coverage = float(errors["n_frames"].min()) / len(gt)
        if coverage < 0.9:
            log.warning(
                "%s: scored on %d of %d ground-truth frames (%.0f %%)",
                item.key, errors["n_frames"].min(), len(gt), 100 * coverage,
            )  # fmt: skip
        errors = errors.assign(
            coverage=coverage, subject=item.subject, session=item.session, trial=item.name,
            activity=metrics.classify_activity(item.name),
        )  # fmt: skip
        out = scores_path(cfg, item)
        with atomic_path(out) as tmp:
            errors.to_csv(tmp, index=False)
        return StageResult(
            {"scores": out},
            {"shift_s": shift_s, **details, "coverage": coverage,
             "pred_mot": str(inputs["mot"]), "gt_mot": str(item.gt_mot)},
        )  # fmt: skip


class PlotStage(Stage):
    """Predicted against ground-truth angle curves of one trial (drawn in a worker)."""

    name = "plot"
    consumes = ("mot", "scores")
    produces = ("curves",)
    parallel = True

    def run(self, item: Trial, inputs: Mapping[str, Path], cfg: BenchmarkConfig) -> StageResult:
        import json

        from opencapbench.report import RunInfo, plot_trial
        from opencapbench.report.results import curve_stem

        entry = json.loads(ledger_path(cfg, item).read_text())["score"]["info"]
        run = RunInfo(cfg.run_name, cameras=cfg.cameras, n_trials=1)
        paths = plot_trial(
            inputs["mot"], item.gt_mot, float(entry["shift_s"]),
            curve_stem(cfg.out_dir / "results", item.subject, item.name), run.title(item.key),
        )  # fmt: skip
        return StageResult({f"curves{i}": p for i, p in enumerate(paths)}, {})


def default_stages(cfg: BenchmarkConfig) -> list[Stage]:
    """The stages of a run, in order: the benchmark reads from top to bottom."""
    stages: list[Stage] = [ScaleStage() if cfg.scale == "static" else SubjectModelStage()]
    if cfg.pose.model:
        stages.append(PoseStage())
    if cfg.sync == "auto":
        stages.append(SyncStage())
    stages.append(MarkersStage())
    if cfg.augmenter.version:
        stages.append(AugmenterStage())
    stages += [IKStage(), ScoreStage()]
    if cfg.plots:
        stages.append(PlotStage())
    return stages


# ---------------------------------------------------------------------- execution of one step


def execute(
    stage: Stage,
    item: Subject | Trial,
    inputs: Mapping[str, Path],
    cfg: BenchmarkConfig,
    fingerprint: str,
    downstream: tuple[str, ...],
) -> bool:
    """Run one stage on one item and record the outcome in its ledger at once.

    Runs in this process or in a worker; a named error of the input, or any other exception,
    is recorded as the item's failure (never raised), so one bad trial never stops the rest.

    Returns:
        True when the stage finished.
    """
    ledger = open_ledger(cfg, item)
    records = WarningRecorder()
    start = time.perf_counter()
    try:
        with records:
            result = stage.run(item, inputs, cfg)
    except Exception as err:  # noqa: BLE001 - recorded for this item; the run goes on
        ledger.mark_failed(stage.name, err, fingerprint, records.messages, downstream)
        log.error("[%s] %s: %s: %s", stage.name, item_key(item), type(err).__name__, err)
        return False
    info = {**result.info, "seconds": round(time.perf_counter() - start, 3)}
    ledger.mark_done(stage.name, fingerprint, result.outputs, info, records.messages, downstream)
    return True


def stage_fingerprint(
    stage: Stage, item: Subject | Trial, cfg: BenchmarkConfig, upstream: Mapping[str, str]
) -> str:
    """Digest of the stage's settings, input files and the fingerprints it consumes."""
    files = [file_stamp(p) for p in stage.input_files(item, cfg) if p.exists()]
    return digest(
        {"stage": stage.name, "settings": stage.settings(cfg), "files": files,
         "upstream": dict(sorted(upstream.items()))}
    )  # fmt: skip
