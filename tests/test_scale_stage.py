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
