"""End to end: synthetic OpenCap-layout dataset → ocb benchmark → joint-angle errors.

The synthetic motions have known joint angles (the ground-truth .mot), so the benchmark's
per-DOF errors measure the whole chain: tracking, filtering, undistortion, triangulation,
gap filling, resampling, frame rotation, marker placement and OpenSim IK.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from opencapbench.benchmark.markers3d import MarkerSettings
from opencapbench.benchmark.metrics import OCB_DOFS
from opencapbench.benchmark.runner import BenchmarkConfig, run_benchmark
from opencapbench.synthetic import generate_synthetic_dataset

pytestmark = pytest.mark.slow

TRIALS = ("walking1", "squats1", "STS1")


def _benchmark(root: Path, out: Path, filter_hz: float = MarkerSettings.filter_hz):
    cfg = BenchmarkConfig(
        data_dir=root,
        out_dir=out,
        keypoint_store=root / "keypoints",
        markers=MarkerSettings(filter_hz=filter_hz),
    )
    return run_benchmark(cfg)


def _assert_all_dofs_below(outcome, limit_deg: float) -> None:
    overall = outcome.tables["overall"]
    assert outcome.failures.empty, outcome.failures.to_string()
    assert set(outcome.per_trial["trial"]) == set(TRIALS)
    rmse = overall["rmse"] if "rmse" in overall else overall.loc["rmse"]
    for dof in OCB_DOFS:
        assert np.isfinite(rmse[dof]), dof
        assert rmse[dof] < limit_deg, (dof, float(rmse[dof]), limit_deg)


@pytest.fixture(scope="module")
def clean_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clean")
    generate_synthetic_dataset(root, n_cameras=4, duration_s=1.0, noise_px=0.0, dropout=0.0, seed=1)
    return root


def test_noise_free_four_cameras_under_one_degree(clean_dataset, tmp_path) -> None:
    outcome = _benchmark(clean_dataset, tmp_path / "out", filter_hz=0)
    _assert_all_dofs_below(outcome, 1.0)
    # every stage that ran has its seconds; the report is timed apart from the trials' total
    timings = json.loads((tmp_path / "out" / "results" / "timings.json").read_text())
    assert {"markers", "ik", "score", "plot", "total", "report"} <= set(timings)
    assert all(v >= 0 for v in timings.values())
    assert timings["ik"] > 0 and timings["report"] > 0


def test_noisy_dropouts_under_four_degrees(tmp_path) -> None:
    root = tmp_path / "noisy"
    generate_synthetic_dataset(
        root, n_cameras=4, duration_s=1.0, noise_px=2.0, dropout=0.05, seed=2
    )
    outcome = _benchmark(root, tmp_path / "out")
    _assert_all_dofs_below(outcome, 4.0)


def test_laiuhlrich2022_chain(shared_dir, tmp_path) -> None:
    model = shared_dir / "reference" / "opensim" / "LaiUhlrich2022.osim"
    root = tmp_path / "lai"
    generate_synthetic_dataset(
        root, n_cameras=4, duration_s=1.0, noise_px=0.0, dropout=0.0, seed=3, model_path=model
    )
    clean = _benchmark(root, tmp_path / "clean", filter_hz=0)
    _assert_all_dofs_below(clean, 1.0)
    noisy_root = tmp_path / "lai_noisy"
    generate_synthetic_dataset(
        noisy_root,
        n_cameras=4,
        duration_s=1.0,
        noise_px=2.0,
        dropout=0.05,
        seed=4,
        model_path=model,
    )
    _assert_all_dofs_below(_benchmark(noisy_root, tmp_path / "noisy"), 4.0)
