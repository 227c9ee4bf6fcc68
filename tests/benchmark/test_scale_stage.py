"""The static-trial scaling stage end to end (``scale = "static"``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from opencapbench.benchmark.config import BenchmarkConfig
from opencapbench.benchmark.metrics import OCB_DOFS
from opencapbench.benchmark.runner import run_benchmark
from opencapbench.synthetic import generate_synthetic_dataset

pytestmark = pytest.mark.slow

MAIN_SEGMENTS = ("pelvis", "femur_r", "femur_l", "tibia_r", "tibia_l", "torso")


def _run(root: Path, out: Path):
    cfg = BenchmarkConfig(
        data_dir=root, out_dir=out, keypoint_store=root / "keypoints", scale="static", plots=False
    )
    return run_benchmark(cfg)


def test_static_scaling_of_a_larger_subject(tmp_path) -> None:
    root = tmp_path / "data"
    generate_synthetic_dataset(
        root, trials=("static1", "walking1", "squats1"), n_cameras=4, duration_s=1.5,
        seed=8, length_scale=1.1, progress=False,
    )  # fmt: skip
    outcome = _run(root, tmp_path / "out")
    assert outcome.failures.empty, outcome.failures.to_string()
    assert set(outcome.per_trial["trial"]) == {"walking1", "squats1"}  # static1 is not scored
    ledger = json.loads((tmp_path / "out" / "status" / "_subjects" / "subject1.json").read_text())
    info = ledger["scale"]["info"]
    assert info["static_trial"] == "static1" and info["generic_model"] == "built-in"
    for body in MAIN_SEGMENTS:
        np.testing.assert_allclose(info["scale_factors"][body], 1.1, rtol=0.03, err_msg=body)
    overall = outcome.tables["overall"]
    rmse = overall["rmse"] if "rmse" in overall else overall.loc["rmse"]
    worst = max(float(rmse[d]) for d in OCB_DOFS)
    assert worst < 2.0, rmse


def test_missing_static_trial_fails_the_subject_by_name(tmp_path) -> None:
    root = tmp_path / "data"
    generate_synthetic_dataset(
        root, trials=("walking1",), n_cameras=2, duration_s=0.5, seed=8, progress=False
    )
    outcome = _run(root, tmp_path / "out")
    failures = outcome.failures
    assert (failures["error"] == "StaticTrialError").any(), failures.to_string()
    msg = failures.loc[failures["error"] == "StaticTrialError", "message"].iloc[0]
    assert "subject1: no static trial (static1)" in msg
    assert outcome.per_trial.empty


def test_static_trial_keypoints_come_from_its_videos_with_a_pose_model(tmp_path) -> None:
    """With ``--model``, the scale stage (a subject stage, before any trial's pose stage)
    detects the static trial's keypoints from its videos itself."""
    from opencapbench.benchmark.config import PoseSettings
    from opencapbench.inference.testing import make_tiny_rtdetr, write_synthetic_video
    from opencapbench.io.keypoint_store import Keypoints2D, store_path

    root = tmp_path / "data"
    info = generate_synthetic_dataset(
        root, trials=("static1", "walking1"), n_cameras=2, duration_s=0.2, progress=False
    )
    for cam in info.cameras:
        for trial in ("static1", "walking1"):
            video = root / "subject1/VideoData/Session0" / cam / trial / f"{trial}.mp4"
            write_synthetic_video(video, 6)
    repo = Path(__file__).resolve().parents[2]
    pose = PoseSettings(
        model=str(repo / "configs/pose/tiny_hrnet_test.py"), device="cpu",
        detector=str(make_tiny_rtdetr(tmp_path / "detector")),
    )  # fmt: skip
    out = tmp_path / "out"
    cfg = BenchmarkConfig(data_dir=root, out_dir=out, pose=pose, scale="static", plots=False)
    outcome = run_benchmark(cfg)
    for cam in info.cameras:
        kp = Keypoints2D.load(store_path(out / "keypoints", "subject1", "Session0", "static1", cam))
        assert kp.num_frames == 6 and kp.keypoint_set == "coco17"
    # the tiny random test detector finds nobody in the synthetic video: the subject's scale
    # step fails by name at triangulation, after the pose stage ran for the static trial
    ledger = json.loads((out / "status" / "_subjects" / "subject1.json").read_text())["scale"]
    assert ledger["state"] == "failed" and ledger["error"]["type"] == "MissingKeypointsError"
    assert "subject1/static1" in ledger["error"]["message"]
    assert outcome.per_trial.empty
