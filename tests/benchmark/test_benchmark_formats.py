"""Pose2Sim-style inputs give the same joint angles as the native ones.

The calibration is converted to a Pose2Sim TOML (and the pickles removed) and the keypoints
go through OpenPose JSON and back, via the CLI commands; the benchmark must reproduce the
native run's errors.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from opencapbench.benchmark.runner import BenchmarkConfig, run_benchmark
from opencapbench.cli import main
from opencapbench.io.keypoint_store import Keypoints2D, store_path
from opencapbench.io.openpose_json import export_openpose_json
from opencapbench.synthetic import generate_synthetic_dataset

pytestmark = pytest.mark.slow


def test_toml_calibration_and_openpose_json_round_trip(tmp_path: Path) -> None:
    root = tmp_path / "data"
    info = generate_synthetic_dataset(
        root, trials=("walking1",), n_cameras=3, duration_s=0.5, noise_px=1.0, progress=False
    )
    native = run_benchmark(
        BenchmarkConfig(root, tmp_path / "native", keypoint_store=root / "keypoints")
    )
    assert native.failures.empty

    session = root / "subject1/VideoData/Session0"
    cli = CliRunner()
    result = cli.invoke(
        main, ["convert-calibration", str(session), str(session / "calibration.toml")]
    )
    assert result.exit_code == 0, result.output
    for cam in info.cameras:
        (session / cam / "cameraIntrinsicsExtrinsics.pickle").unlink()

    store = tmp_path / "imported"
    for cam in info.cameras:
        kp = Keypoints2D.load(
            store_path(root / "keypoints", "subject1", "Session0", "walking1", cam)
        )
        json_dir = tmp_path / "json" / cam
        export_openpose_json(kp, json_dir, cam)
        args = ["import-keypoints", str(json_dir), "--format", "openpose", "--store", str(store),
                "--subject", "subject1", "--trial", "walking1", "--camera", cam,
                "--fps", str(kp.fps), "--image-size", *map(str, kp.image_size)]  # fmt: skip
        result = cli.invoke(main, args)
        assert result.exit_code == 0, result.output

    converted = run_benchmark(BenchmarkConfig(root, tmp_path / "converted", keypoint_store=store))
    assert converted.failures.empty
    a = native.per_trial.set_index("dof")["rmse"]
    b = converted.per_trial.set_index("dof")["rmse"]
    # JSON stores pixels as decimal text: agreement to a few thousandths of a degree
    np.testing.assert_allclose(b.loc[a.index], a, atol=0.02)
    shutil.rmtree(tmp_path / "json")
