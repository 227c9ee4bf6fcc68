"""`ocb benchmark`, `ocb make-synthetic` and `ocb demo`.

Only click and the light configuration module are imported here, so ``--help`` is instant;
the run itself is imported when a command executes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from opencapbench.benchmark.config import (
    CAMERA_SETUPS,
    SCALE_MODES,
    SYNC_MODES,
    BenchmarkConfig,
    ConfigError,
    MarkerSettings,
    parse_cutoff,
)
from opencapbench.benchmark.shard import SHARD_HELP, ShardParam

_MARKERS = MarkerSettings()
_DEFAULTS = BenchmarkConfig(".", ".")


class _CutoffParam(click.ParamType):
    """``--filter-hz``: a cut-off in Hz or ``auto``."""

    name = "HZ|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        try:
            return parse_cutoff(value, "--filter-hz")
        except ConfigError as err:
            self.fail(str(err), param, ctx)


#: option name → configuration key (dotted for nested settings), for options that differ
_CONFIG_KEYS = {
    "filter_hz": "markers.filter_hz",
    "reproj_threshold": "markers.reproj_threshold_px",
    "min_confidence": "markers.min_confidence",
    "gap_fill": "markers.max_gap_fill_frames",
    "pose_model": "pose.model",
    "checkpoint": "pose.checkpoint",
    "detector": "pose.detector",
    "device": "pose.device",
    "amp": "pose.amp",
    "det_threshold": "pose.det_threshold",
    "augmenter": "augmenter.version",
    "augmenter_dir": "augmenter.model_dir",
}

_RUN_OPTIONS = [
    click.option("--cameras", default="all", show_default=True,
                 help=f"'all', an OpenCapBench set-up ({', '.join(CAMERA_SETUPS)}) or a list like Cam1,Cam3."),
    click.option("--filter-hz", type=_CutoffParam(), default=_MARKERS.filter_hz, show_default=True,
                 help="2D zero-phase Butterworth cut-off (Hz); auto: per keypoint, the one of least "
                      "estimated error in 3-12 Hz; 0 disables. OpenCap: 12 for gait; OpenCapBench "
                      "used 30 (no-op at 60 fps)."),
    click.option("--gap-fill", type=click.IntRange(min=0), default=_MARKERS.max_gap_fill_frames,
                 show_default=True, help="Bridge 2D gaps up to this many frames before the filter; 0: filter each run alone."),
    click.option("--reproj-threshold", type=click.FloatRange(min=0), default=_MARKERS.reproj_threshold_px,
                 show_default=True, help="Exclude a camera from a point above this reprojection error (px); 0 disables."),
    click.option("--min-confidence", type=click.FloatRange(0, 1), default=_MARKERS.min_confidence,
                 show_default=True, help="Ignore 2D detections below this score."),
    click.option("-j", "--workers", type=click.IntRange(min=1), default=2, show_default=True,
                 help="Worker processes for IK and plots (1: all in this process)."),
    click.option("--sync", type=click.Choice(SYNC_MODES), default=_DEFAULTS.sync, show_default=True,
                 help="Camera synchronisation: auto estimates each camera's frame offset from the "
                      "keypoints; none takes the videos as synchronous (OpenCapBench)."),
    click.option("--scale", type=click.Choice(SCALE_MODES), default=_DEFAULTS.scale, show_default=True,
                 help="Subject model: mocap (the dataset's mocap-scaled model) or static (the "
                      "generic model scaled from the static1 trial)."),
    click.option("--generic-model", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 default=None, help="Generic .osim for --scale static (default: the built-in model)."),
]  # fmt: skip


def _run_options(func):
    for option in reversed(_RUN_OPTIONS):
        func = option(func)
    return func


def _run_and_print(cfg: BenchmarkConfig, shard=None) -> int:
    from opencapbench.benchmark.runner import run_benchmark

    return _print_outcome(run_benchmark(cfg, shard=shard))


def _print_outcome(outcome) -> int:
    from opencapbench.report.tables import format_table

    click.echo(
        "steps (run / reused): "
        + ", ".join(f"{name} {ran}/{reused}" for name, (ran, reused) in outcome.steps.items())
    )
    if outcome.tables:
        which = "all trials" if outcome.whole_run else "this shard's trials"
        click.echo(f"\nJoint-angle error per DOF (degrees, left/right averaged, {which}):")
        click.echo(format_table(outcome.tables["overall"]))
    if not outcome.warnings.empty:
        click.echo(
            f"\n{len(outcome.warnings)} warning(s): see {outcome.results_dir / 'warnings.csv'}"
        )
    if not outcome.failures.empty:
        click.echo(f"\n{len(outcome.failures)} step(s) failed:", err=True)
        for row in outcome.failures.itertuples():
            click.echo(
                f"  {row.subject}/{row.session}/{row.trial} [{row.stage}] {row.error}: {row.message}",
                err=True,
            )
    if outcome.whole_run:
        click.echo(f"\nTables and plots: {outcome.results_dir}")
    else:
        click.echo(
            f"\nOther shards' trials are not finished: the last shard to finish writes the tables to "
            f"{outcome.results_dir}, or run `ocb merge {outcome.results_dir.parent}` after them."
        )
    return 1 if not outcome.failures.empty else 0


def _explicit(ctx: click.Context, params: dict[str, Any]) -> dict[str, Any]:
    """The options the user gave on the command line (not defaults), as configuration keys."""
    out = {}
    for name, value in params.items():
        if ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, None):
            continue
        out[_CONFIG_KEYS.get(name, name)] = value
    return out


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return data


FAMILIES_HELP = """
\b
Model families (rows of the OpenCapBench table) and the keypoint sets they use:
  SynthPose (HRNet-W48, ViTPose-B/H)   synthpose52: 52 keypoints, anatomical markers
  2D COCO-WholeBody / HALPE models     halpe26, coco_wholebody: OpenPose-style markers
  SMPL mesh methods (CLIFF, VirtualMarker) markers35: the 35 anatomical markers
  OpenCap (HRNet + LSTM augmenter)     halpe26 / coco_wholebody + --augmenter
The keypoint set is --keypoint-set, else the keypoint store's, else the registered --model's;
docs/benchmark.md has the details.
"""


@click.command("benchmark", epilog=FAMILIES_HELP)
@click.argument(
    "data_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None, help="Run configuration (TOML; e.g. a previous run's results/config.toml). "
    "Options given on the command line override it.",
)  # fmt: skip
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("outputs/benchmark"), show_default=True, help="Output folder.")  # fmt: skip
@click.option("--keypoints", "keypoint_store", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Keypoint store root (default: OUT/keypoints).")  # fmt: skip
@click.option("--model", "pose_model", default=None,
              help="Pose model name or MMPose config; runs detection + pose on the videos first.")  # fmt: skip
@click.option("--checkpoint", default=None, help="Checkpoint for a local --model config.")
@click.option("--detector", default=None,
              help="RT-DETR hub id or local folder for --model (default: the catalog's detector).")  # fmt: skip
@click.option("--device", default="auto", show_default=True, help="Device for --model (auto, cpu, cuda, cuda:1).")  # fmt: skip
@click.option("--amp", type=click.Choice(["none", "bf16", "fp16"]), default="none", show_default=True,
              help="Mixed precision of the pose model.")  # fmt: skip
@click.option("--det-threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Person-detector score threshold.")  # fmt: skip
@click.option("--subject", "subjects", multiple=True, help="Only these subjects (repeatable).")
@click.option("--trial", "trials", multiple=True, help="Only these trials (repeatable).")
@click.option("--force", is_flag=True, help="Redo finished steps instead of resuming.")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Per-trial curve plots.")
@click.option("--toml-frame", type=click.Choice(["pose2sim", "checkerboard"]), default=None,
              help="World frame of a session's calibration.toml that does not state it "
              "([metadata] world_frame): pose2sim (Z up) or checkerboard (OpenCap's board).")  # fmt: skip
@click.option("--keypoint-set", default=None,
              help="Keypoint set of the keypoints (synthpose52, markers35, halpe26, coco_wholebody, "
              "coco17, body25); it picks the marker recipe. Default: read from the keypoint store.")  # fmt: skip
@click.option("--augmenter", type=click.Choice(["v0.1", "v0.2", "v0.3"]), default=None,
              help="Run OpenCap's LSTM marker augmenter between the 3D markers and IK (v0.3: "
              "OpenCap's default; v0.1: the OpenCap paper). Needs halpe26, coco_wholebody or body25.")  # fmt: skip
@click.option("--augmenter-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Local copy of opencap-core's MarkerAugmenter/LSTM folders (default: downloaded "
              "once, SHA-256 checked, cached in ~/.cache/opencapbench).")  # fmt: skip
@click.option("--shard", type=ShardParam(), default=None, help=SHARD_HELP)
@_run_options
@click.pass_context
def benchmark(
    ctx: click.Context,
    data_dir: Path | None,
    config_file: Path | None,
    shard=None,
    **options: Any,
) -> None:
    """OpenCapBench on DATA_DIR (OpenCap LabValidation layout).

    2D keypoints (from the keypoint store, or from the videos with --model) are triangulated
    into 3D markers (TRC), run through OpenSim inverse kinematics on each subject's
    mocap-scaled model with the keypoint set's markers attached (MOT), and compared with the
    motion-capture ground truth: per-DOF RMSE and MAE per trial, activity and subject.
    Re-running resumes: finished steps are skipped. The resolved settings are written to
    OUT/results/config.toml; `--config` with that file reproduces the run.
    """
    given = _explicit(ctx, options)
    if data_dir is not None:
        given["data_dir"] = data_dir
    if config_file is not None:
        cfg = BenchmarkConfig.from_toml(config_file, **given)
    else:
        if data_dir is None:
            raise click.UsageError("give DATA_DIR or --config")
        defaults = {_CONFIG_KEYS.get(k, k): v for k, v in options.items()}
        cfg = BenchmarkConfig.from_dict(_nest({**defaults, **given}))
    sys.exit(_run_and_print(cfg, shard))


@click.command("make-synthetic")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--subjects", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--cameras", "n_cameras", type=click.IntRange(2, 5), default=4, show_default=True)
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="Seconds per trial.")  # fmt: skip
@click.option("--noise-px", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="2D Gaussian noise (px).")  # fmt: skip
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0,
              show_default=True, help="Fraction of dropped detections.")  # fmt: skip
@click.option(
    "--osim-model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Drive this OpenSim model (e.g. LaiUhlrich2022.osim) instead of the built-in one.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--static/--no-static", default=False, show_default=True,
              help="Add a static1 trial (standing still) for --scale static.")  # fmt: skip
@click.option("--max-offset-frames", type=click.IntRange(0, 60), default=0, show_default=True,
              help="Per-camera constant frame offsets drawn in [-N, N] (unsynchronised cameras).")  # fmt: skip
@click.option("--max-missing-frames", type=click.IntRange(min=0), default=0, show_default=True,
              help="Each camera loses up to N last frames.")  # fmt: skip
@click.option("--length-scale", type=click.FloatRange(0.5, 1.5), default=None,
              help="Subjects this many times the generic model's size (default: random heights).")  # fmt: skip
def make_synthetic(
    root: Path, subjects: int, n_cameras: int, duration: float, noise_px: float,
    dropout: float, osim_model: Path | None, seed: int, static: bool, max_offset_frames: int,
    max_missing_frames: int, length_scale: float | None,
) -> None:  # fmt: skip
    """Write a synthetic OpenCap-layout dataset with known joint angles to ROOT.

    ROOT/subjectN holds the dataset (calibrations, ground-truth .mot, scaled model) and
    ROOT/keypoints the 2D keypoints of every camera, ready for
    `ocb benchmark ROOT --keypoints ROOT/keypoints`.
    """
    from opencapbench.synthetic import generate_synthetic_dataset

    trials = ("static1",) * static + ("walking1", "squats1", "STS1")
    info = generate_synthetic_dataset(
        root, subjects=subjects, trials=trials, n_cameras=n_cameras, duration_s=duration,
        noise_px=noise_px, dropout=dropout, seed=seed, model_path=osim_model,
        max_offset_frames=max_offset_frames, max_missing_frames=max_missing_frames,
        length_scale=length_scale,
    )  # fmt: skip
    click.echo(f"Synthetic dataset written to {root}: {info}")


@click.command("demo")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("ocb_demo"), show_default=True,
              help="Output folder (synthetic data, then the benchmark's outputs).")  # fmt: skip
@click.option("--noise-px", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="2D Gaussian noise (px).")  # fmt: skip
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.05,
              show_default=True, help="Fraction of dropped detections.")  # fmt: skip
@click.option("-j", "--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Worker processes for IK and plots.")  # fmt: skip
def demo(out_dir: Path, noise_px: float, dropout: float, workers: int) -> None:
    """The main job on built-in data: make a synthetic 4-camera dataset, then benchmark it.

    Walking, squat and sit-to-stand trials of the built-in OpenSim model are projected into
    four virtual iPhones with 2D noise and dropped detections, then run through the full
    benchmark. Prints the per-DOF error table; tables, plots and report.html go to
    OUT/benchmark/results.
    """
    import shutil

    from opencapbench.ledger import Ledger, digest
    from opencapbench.synthetic import generate_synthetic_dataset

    data_root = out_dir / "synthetic"
    settings = {"n_cameras": 4, "noise_px": noise_px, "dropout": dropout}
    # the data are regenerated only when missing or made with other settings, so a re-run
    # resumes the benchmark instead of redoing it
    ledger = Ledger(out_dir / "status" / "demo.json", "demo")
    if not ledger.is_done("synthetic", digest(settings)):
        if data_root.exists():
            shutil.rmtree(data_root)
        generate_synthetic_dataset(data_root, **settings)
        ledger.mark_done("synthetic", digest(settings), {"data": data_root}, settings)
    cfg = BenchmarkConfig(
        data_dir=data_root, out_dir=out_dir / "benchmark",
        keypoint_store=data_root / "keypoints", workers=workers,
    )  # fmt: skip
    sys.exit(_run_and_print(cfg))


# ---------------------------------------------------------------------- sharded runs


@click.command("merge")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def merge(out_dir: Path) -> None:
    """Rebuild OUT_DIR/results from every trial's ledger, running no step.

    For runs split with `ocb benchmark --shard I/N` into one output folder: run it after the
    last shard (e.g. as a dependent SLURM job). See docs/cluster.md.
    """
    from opencapbench.benchmark.runner import _results
    from opencapbench.benchmark.shard import merge_inputs

    sys.exit(_print_outcome(_results(*merge_inputs(out_dir))))
