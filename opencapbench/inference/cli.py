"""``ocb infer``: person detection + 2D keypoints on images, image folders and videos."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from opencapbench.device import check_precision, device_options, resolve_device
from opencapbench.inference.boxes_file import FileBoxes
from opencapbench.inference.catalog import DEFAULT_DETECTOR, DEFAULT_MODEL, list_models
from opencapbench.inference.errors import (
    BoxesFileError,
    ModelIntegrityError,
    ModelNotAvailableError,
    UnknownModelError,
)
from opencapbench.io.paths import safe_component
from opencapbench.ledger import Ledger, WarningRecorder, digest, failures_table, file_stamp

log = logging.getLogger(__name__)


@dataclass
class InferSettings:
    """What every input of one ``ocb infer`` run shares."""

    out_dir: Path
    model_label: str
    boxes: Path | None
    single_input: bool
    det_interval: int
    max_persons: int
    batch_size: int
    overlay: str
    table_fmt: str
    openpose: bool
    progress: bool
    kpt_thr: float = 0.3
    overlay_low: str = "hide"
    overlay_color: str = "side"
    overlay_labels: bool = False


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}_{n}", n + 1
    taken.add(out)
    return out


def _boxes_for(boxes: Path | None, name: str, single: bool) -> FileBoxes | None:
    if boxes is None:
        return None
    if boxes.is_dir():
        for suffix in (".json", ".csv"):
            if (boxes / f"{name}{suffix}").is_file():
                return FileBoxes.from_file(boxes / f"{name}{suffix}")
        raise BoxesFileError(f"{boxes}: no {name}.json or {name}.csv boxes file for input {name!r}")
    if not single:
        raise BoxesFileError(
            f"--boxes {boxes} is one file but there are several inputs; give a folder of <name>.json|csv"
        )
    return FileBoxes.from_file(boxes)


@click.command("infer")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-m",
    "--model",
    default=DEFAULT_MODEL,
    show_default=True,
    help=f"Pose model: one of {', '.join(list_models())}; an MMPose config .py (with --checkpoint); or a ViTPose folder.",
)
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Weights (.pth) for a local MMPose config, or replacing the published weights of a registered HRNet model.",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("ocb_infer"),
    show_default=True,
    help="Output folder.",
)
@device_options
@click.option(
    "--detector",
    default=DEFAULT_DETECTOR.repo_id,
    show_default=True,
    help="RT-DETR Hugging Face repo id or local folder.",
)
@click.option(
    "--det-threshold",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Person detection score threshold.",
)
@click.option(
    "--det-interval",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Detect every N frames; boxes are tracked in between.",
)
@click.option(
    "--max-persons",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Person slots per frame; 1 = the subject (largest, then tracked).",
)
@click.option(
    "--boxes",
    type=click.Path(exists=True, path_type=Path),
    help="Person boxes instead of the detector: a JSON/CSV file (one input) or a folder of <input name>.json|csv.",
)
@click.option(
    "--flip-test/--no-flip-test",
    default=True,
    show_default=True,
    help="Average with the mirrored crop.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Person crops per forward pass (default: CPU 1, CPU with --amp bf16 8, CUDA 32).",
)
@click.option(
    "--overlay",
    type=click.Choice(["none", "video", "images"]),
    default="none",
    show_default=True,
    help="Also write frames with the skeleton drawn.",
)
@click.option(
    "--kpt-thr",
    type=click.FloatRange(0, 1),
    default=0.3,
    show_default=True,
    help="Overlay: keypoints scoring below this are hidden (or hollow, --overlay-low).",
)
@click.option(
    "--overlay-low",
    type=click.Choice(["hide", "hollow"]),
    default="hide",
    show_default=True,
    help="Overlay: how keypoints below --kpt-thr are drawn.",
)
@click.option(
    "--overlay-color",
    type=click.Choice(["side", "score"]),
    default="side",
    show_default=True,
    help="Overlay: colour by body side, or by score (red to green).",
)
@click.option("--overlay-labels", is_flag=True, help="Overlay: write each keypoint's name.")
@click.option(
    "--pose2sim-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the Pose2Sim Config.toml skeleton of the model's keypoint set here.",
)
@click.option(
    "--table",
    "table_fmt",
    type=click.Choice(["auto", "csv", "parquet"]),
    default="auto",
    show_default=True,
    help="Table format (auto: parquet if pyarrow is installed, else CSV).",
)
@click.option(
    "--openpose/--no-openpose",
    default=True,
    show_default=True,
    help="Also write OpenPose per-frame JSON (<name>_json/).",
)
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show a progress bar."
)
def infer(
    inputs: tuple[Path, ...],
    model: str,
    checkpoint: Path | None,
    out_dir: Path,
    device: str,
    amp: str,
    detector: str,
    det_threshold: float,
    det_interval: int,
    max_persons: int,
    boxes: Path | None,
    flip_test: bool,
    batch_size: int | None,
    overlay: str,
    kpt_thr: float,
    overlay_low: str,
    overlay_color: str,
    overlay_labels: bool,
    pose2sim_config: Path | None,
    table_fmt: str,
    openpose: bool,
    progress: bool,
) -> None:
    """Detect people and estimate 2D keypoints on INPUTS (images, image folders, videos).

    For each input NAME the output folder receives NAME.keypoints.json (all frames),
    NAME_json/ (OpenPose per-frame JSON), NAME.keypoints.parquet|csv (one row per keypoint),
    NAME.npz (keypoint store) and, with --overlay, NAME.overlay.mp4 or NAME_overlay/.
    An input that cannot be read is reported and skipped; the exit status is 1 if any failed.
    """
    from opencapbench.inference.video import collect_inputs

    jobs = collect_inputs(inputs)
    device = resolve_device(device)
    amp = check_precision(device, amp)  # before any model is loaded
    if batch_size is None:
        from opencapbench.inference.models import default_batch_size

        batch_size = default_batch_size(device, amp)
    from opencapbench.inference.models import LazyModels

    models = LazyModels(
        model,
        detector,
        checkpoint,
        device=device,
        amp=amp,
        flip_test=flip_test,
        batch_size=batch_size,
        det_threshold=det_threshold,
    )
    settings = InferSettings(
        out_dir=out_dir,
        model_label=str(model),
        boxes=boxes,
        single_input=len(jobs) == 1,
        det_interval=det_interval,
        max_persons=max_persons,
        batch_size=batch_size,
        overlay=overlay,
        table_fmt=table_fmt,
        openpose=openpose,
        progress=progress,
        kpt_thr=kpt_thr,
        overlay_low=overlay_low,
        overlay_color=overlay_color,
        overlay_labels=overlay_labels,
    )
    ledgers: list[Ledger] = []
    taken: set[str] = set()
    fatal: str = ""
    reused = 0
    for name, spec in jobs:
        name = _unique(name, taken)
        ledger = Ledger(out_dir / "status" / f"{safe_component(name, 'input name')}.json", name)
        ledgers.append(ledger)
        fp = _fingerprint(spec, settings, models)
        if ledger.is_done("infer", fp):
            reused += 1
            continue
        if fatal:
            ledger.mark_failed("infer", f"not processed: {fatal}", fp)
            continue
        try:
            with WarningRecorder() as rec:
                written, info = _process_one(name, spec, settings, models)
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the others
            ledger.mark_failed("infer", exc, fp)
            log.error("%s: %s: %s", name, type(exc).__name__, exc)
            if isinstance(exc, ModelNotAvailableError | UnknownModelError | ModelIntegrityError):
                fatal = "the model could not be loaded"  # no later input can succeed
            continue
        ledger.mark_done("infer", fp, written, {"source": _source_label(spec), **info},
                         rec.messages)  # fmt: skip
    _write_summary(out_dir, ledgers, jobs)
    if pose2sim_config is not None and any(lg.is_done("infer") for lg in ledgers):
        from opencapbench.inference.models import keypoint_set_name
        from opencapbench.io.pose2sim_config import write_pose2sim_skeleton
        from opencapbench.keypoints import get_keypoint_set

        kps = get_keypoint_set(keypoint_set_name(models.pose))
        click.echo(f"Pose2Sim skeleton: {write_pose2sim_skeleton(kps, pose2sim_config)}")
    failures = failures_table(ledgers)
    if not failures.empty or (out_dir / "failures.csv").exists():
        from opencapbench.io.atomic import atomic_path

        with atomic_path(out_dir / "failures.csv") as tmp:
            failures.to_csv(tmp, index=False)
    click.echo(
        f"{len(ledgers) - len(failures)}/{len(ledgers)} inputs processed "
        f"({reused} reused from an earlier run); outputs in {out_dir}"
    )
    for row in failures.itertuples():
        click.echo(f"FAILED {row.item}: {row.error}: {row.message}", err=True)
    if not failures.empty:
        sys.exit(1)


def _source_label(spec) -> str:
    return str(spec if not isinstance(spec, list) else (spec[0].parent if spec else ""))


def _fingerprint(spec, st: InferSettings, models) -> str:
    """What an input's outputs depend on: its files and every setting of the run."""
    from dataclasses import asdict

    files = spec if isinstance(spec, list) else [spec]
    settings = {k: v for k, v in asdict(st).items() if k not in ("out_dir", "progress")}
    model = {"model": str(models.model_spec), "checkpoint": str(models.checkpoint),
             "amp": models.amp, "flip_test": models.flip_test,
             "detector": str(models.detector_spec), "det_threshold": models.det_threshold}  # fmt: skip
    return digest(
        {"settings": settings, "model": model,
         "files": [file_stamp(Path(f)) for f in files if Path(f).is_file()]}
    )  # fmt: skip


def _process_one(name: str, spec, st: InferSettings, models) -> tuple[dict[str, Path], dict]:
    """Run one input and write its outputs; returns the paths written and what to record."""
    from opencapbench.inference import outputs
    from opencapbench.inference.models import keypoint_set_name
    from opencapbench.inference.overlay import OverlayStyle, OverlayWriter
    from opencapbench.inference.pipeline import PipelineOptions, run_pose
    from opencapbench.inference.video import open_source
    from opencapbench.keypoints import get_keypoint_set

    source = open_source(name, spec)
    file_boxes = _boxes_for(st.boxes, name, st.single_input)
    pose_model = models.pose
    det = None if file_boxes is not None else models.detector
    options = PipelineOptions(
        det_interval=st.det_interval,
        max_persons=st.max_persons,
        pose_batch=max(16, st.batch_size),
        progress=st.progress,
    )
    out_dir = st.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    sink = None
    if st.overlay != "none":
        kps = get_keypoint_set(keypoint_set_name(pose_model))
        as_images = st.overlay == "images"
        target = out_dir / (f"{name}_overlay" if as_images else f"{name}.overlay.mp4")
        style = OverlayStyle(st.kpt_thr, st.overlay_low, st.overlay_color, st.overlay_labels)
        sink = OverlayWriter(
            target, kps, source.fps, source.image_size, as_images=as_images, style=style
        )
    try:
        result = run_pose(
            source, pose_model, detector=det, file_boxes=file_boxes, options=options, sink=sink
        )
    finally:
        if sink is not None:
            sink.close()
    import numpy as np

    for index in getattr(source, "unreadable", ()):
        result.keypoints[index] = np.nan
        result.scores[index] = 0.0
    processing = result.num_frames / max(result.elapsed_s, 1e-9)
    info = {
        "frames": result.num_frames,
        "video_fps": source.fps,
        "processed_frames_per_s": processing,
    }
    meta = {"model": st.model_label, "boxes": "file" if file_boxes is not None else "detector"}
    written = {"json": outputs.write_json(result, out_dir / f"{name}.keypoints.json", meta)}
    written["table"] = outputs.write_table(result, out_dir / f"{name}.keypoints", st.table_fmt)
    written["store"] = result.save(out_dir / f"{name}.npz")
    if st.openpose:
        outputs.write_openpose(result, out_dir / f"{name}_json", name)
        written["openpose"] = out_dir / f"{name}_json"
    if sink is not None:
        written["overlay"] = sink.path
    log.info("%s: %d frames, %.2f frames/s", name, result.num_frames, processing)
    return written, info


def _write_summary(out_dir: Path, ledgers: list[Ledger], jobs) -> None:
    """``summary.json``: one entry per input, from its ledger (``video_fps`` is the input's
    frame rate, ``processed_frames_per_s`` the speed of this run)."""
    from opencapbench.io.atomic import atomic_write

    entries = []
    for ledger in ledgers:
        entry = ledger.entry("infer")
        ok = entry.get("state") == "done"
        entries.append({
            "name": ledger.item, "ok": ok, **entry.get("info", {}),
            "outputs": sorted(entry.get("outputs", {}).values()),
            "warnings": entry.get("warnings", []),
            "error": "" if ok else "{type}: {message}".format(**entry.get("error", {"type": "", "message": ""})),
        })  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(out_dir / "summary.json") as fh:
        json.dump({"inputs": entries}, fh, indent=1)
