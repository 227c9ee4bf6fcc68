"""`ocb benchmark`, `ocb make-synthetic` and `ocb demo`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import click

from opencapbench.benchmark.markers3d import MarkerSettings
from opencapbench.io.atomic import atomic_write

_SHARED_OPTIONS = [
    click.option("--cameras", default="all", show_default=True,
                 help="'all', an OpenCapBench set-up (2-cameras, 3-cameras, 5-cameras) or a list like Cam1,Cam3."),
    click.option("--filter-hz", type=float, default=MarkerSettings.filter_hz, show_default=True,
                 help="2D zero-phase Butterworth cutoff (Hz); 0 disables. OpenCapBench used 30 (no-op at 60 fps)."),
    click.option("--reproj-threshold", type=float, default=MarkerSettings.reproj_threshold_px,
                 show_default=True, help="Exclude a camera from a point above this reprojection error (px); 0 disables."),
    click.option("--min-confidence", type=float, default=MarkerSettings.min_confidence, show_default=True,
                 help="Ignore 2D detections below this score."),
    click.option("--workers", type=int, default=2, show_default=True, help="Parallel OpenSim IK processes."),
]  # fmt: skip


def _shared_options(func):
    for option in reversed(_SHARED_OPTIONS):
        func = option(func)
    return func


def _settings(filter_hz: float, reproj_threshold: float, min_confidence: float) -> MarkerSettings:
    return MarkerSettings(
        filter_hz=filter_hz,
        reproj_threshold_px=reproj_threshold or None,
        min_confidence=min_confidence,
    )


def _run_and_print(cfg, pose_stage=None) -> int:
    from opencapbench.benchmark.report import format_table
    from opencapbench.benchmark.runner import run_benchmark

    outcome = run_benchmark(cfg, pose_stage=pose_stage)
    if outcome.tables:
        click.echo("\nJoint-angle error per DOF (degrees, left/right averaged, all trials):")
        click.echo(format_table(outcome.tables["overall"]))
    if not outcome.failures.empty:
        click.echo(f"\n{len(outcome.failures)} trial(s) could not be scored:", err=True)
        for row in outcome.failures.itertuples():
            click.echo(
                f"  {row.subject}/{row.trial} [{row.stage}] {row.error}: {row.message}", err=True
            )
    click.echo(f"\nTables and plots: {outcome.results_dir}")
    return 1 if not outcome.failures.empty else 0


def _video_pose_stage(model: str, checkpoint: str | None, detector: str | None, device: str):
    """The stage that fills the keypoint store from the trial videos (``--model``)."""

    def stage(trials, cfg) -> None:
        from opencapbench.device import resolve_device
        from opencapbench.inference.models import load_pose_model
        from opencapbench.inference.pose_stage import VideoJob, is_cached, run_pose_stage
        from opencapbench.io.keypoint_store import store_path

        dev = resolve_device(device)
        jobs = [
            VideoJob(t.subject, t.session, t.name, cam, path)
            for t in trials
            for cam, path in sorted(t.videos.items())
        ]
        if not jobs:
            raise click.UsageError(f"--model given but no trial videos found in {cfg.data_dir}")
        todo = [
            j for j in jobs
            if cfg.force or not is_cached(
                store_path(cfg.keypoint_store, j.subject, j.session, j.trial, j.camera), j.path
            )
        ]  # fmt: skip
        # load the (large) model only when some video still needs it
        estimator = load_pose_model(model, checkpoint=checkpoint, device=dev) if todo else model
        report = run_pose_stage(
            jobs, cfg.keypoint_store, estimator, detector=detector, device=dev, force=cfg.force
        )
        click.echo(
            f"pose: {len(report.written)} video(s) processed ({report.frames_per_second:.1f} frames/s), "
            f"{len(report.reused)} reused from the keypoint store, {len(report.failed)} failed"
        )
        for key, message in report.failed.items():
            click.echo(f"  {key}: {message}", err=True)

    return stage


@click.command("benchmark")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("outputs/benchmark"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--keypoints",
    "keypoint_store",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keypoint store root (default: OUT/keypoints).",
)
@click.option(
    "--model",
    "pose_model",
    default=None,
    help="Pose model name or MMPose config; runs detection + pose on the videos first.",
)
@click.option("--checkpoint", default=None, help="Checkpoint for a local --model config.")
@click.option(
    "--detector",
    default=None,
    help="RT-DETR hub id or local folder for --model (default: PekingU/rtdetr_r50vd_coco_o365).",
)
@click.option(
    "--device", default="auto", show_default=True, help="Device for --model (auto, cpu, cuda)."
)
@click.option("--subject", "subjects", multiple=True, help="Only these subjects (repeatable).")
@click.option("--trial", "trials", multiple=True, help="Only these trials (repeatable).")
@click.option("--force", is_flag=True, help="Redo finished trials instead of resuming.")
@_shared_options
def benchmark(data_dir, out_dir, keypoint_store, pose_model, checkpoint, detector, device,
              subjects, trials, force, cameras, filter_hz, reproj_threshold, min_confidence, workers) -> None:  # fmt: skip
    """OpenCapBench on DATA_DIR (OpenCap LabValidation layout).

    2D keypoints (from the keypoint store, or from the videos with --model) are triangulated
    into 3D markers (TRC), run through OpenSim inverse kinematics on each subject's
    mocap-scaled model with the SynthPose markers attached (MOT), and compared with the
    motion-capture ground truth: per-DOF RMSE and MAE per trial, activity and subject.
    Re-running resumes: finished trials are skipped.
    """
    from opencapbench.benchmark.runner import BenchmarkConfig

    cfg = BenchmarkConfig(
        data_dir=data_dir, out_dir=out_dir, keypoint_store=keypoint_store, subjects=subjects,
        trials=trials, cameras=cameras, markers=_settings(filter_hz, reproj_threshold, min_confidence),
        workers=workers, force=force,
    )  # fmt: skip
    pose_stage = None
    if pose_model:
        pose_stage = _video_pose_stage(pose_model, checkpoint, detector, device)
    sys.exit(_run_and_print(cfg, pose_stage))


@click.command("make-synthetic")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--subjects", type=int, default=1, show_default=True)
@click.option("--cameras", "n_cameras", type=click.IntRange(2, 5), default=4, show_default=True)
@click.option("--duration", type=float, default=2.0, show_default=True, help="Seconds per trial.")
@click.option(
    "--noise-px", type=float, default=0.0, show_default=True, help="2D Gaussian noise (px)."
)
@click.option(
    "--dropout", type=float, default=0.0, show_default=True, help="Fraction of dropped detections."
)
@click.option(
    "--osim-model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Drive this OpenSim model (e.g. LaiUhlrich2022.osim) instead of the built-in one.",
)
@click.option("--seed", type=int, default=0, show_default=True)
def make_synthetic(
    root, subjects, n_cameras, duration, noise_px, dropout, osim_model, seed
) -> None:
    """Write a synthetic OpenCap-layout dataset with known joint angles to ROOT.

    ROOT/subjectN holds the dataset (calibrations, ground-truth .mot, scaled model) and
    ROOT/keypoints the 2D keypoints of every camera, ready for
    `ocb benchmark ROOT --keypoints ROOT/keypoints`.
    """
    from opencapbench.benchmark.synthetic import generate_synthetic_dataset

    info = generate_synthetic_dataset(
        root, subjects=subjects, n_cameras=n_cameras, duration_s=duration, noise_px=noise_px,
        dropout=dropout, seed=seed, model_path=osim_model,
    )  # fmt: skip
    click.echo(f"Synthetic dataset written to {root}: {info}")


@click.command("demo")
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("ocb_demo"),
    show_default=True,
    help="Output folder (synthetic data, then the benchmark's outputs).",
)
@click.option(
    "--noise-px", type=float, default=2.0, show_default=True, help="2D Gaussian noise (px)."
)
@click.option("--dropout", type=float, default=0.05, show_default=True,
              help="Fraction of dropped detections.")  # fmt: skip
@click.option("--workers", type=int, default=2, show_default=True, help="Parallel IK processes.")
def demo(out_dir, noise_px, dropout, workers) -> None:
    """The main job on built-in data: make a synthetic 4-camera dataset, then benchmark it.

    Walking, squat and sit-to-stand trials of the built-in OpenSim model are projected into
    four virtual iPhones with 2D noise and dropped detections, then run through the full
    benchmark. Prints the per-DOF error table; tables and plots go to OUT/results.
    """
    from opencapbench.benchmark.runner import BenchmarkConfig
    from opencapbench.benchmark.synthetic import generate_synthetic_dataset

    data_root = out_dir / "synthetic"
    settings = {"n_cameras": 4, "noise_px": noise_px, "dropout": dropout}
    stamp = data_root / "settings.json"
    # the data are regenerated only when missing or made with other settings, so a re-run
    # resumes the benchmark instead of redoing it
    if not stamp.is_file() or json.loads(stamp.read_text()) != settings:
        if data_root.exists():
            shutil.rmtree(data_root)
        generate_synthetic_dataset(data_root, **settings)
        with atomic_write(stamp) as fh:
            json.dump(settings, fh)
    cfg = BenchmarkConfig(
        data_dir=data_root, out_dir=out_dir / "benchmark",
        keypoint_store=data_root / "keypoints", workers=workers,
    )  # fmt: skip
    sys.exit(_run_and_print(cfg))
