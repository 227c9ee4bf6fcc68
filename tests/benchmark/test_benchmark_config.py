"""One run configuration: TOML round trip, overrides, range checks, and a run reproduced from
its own results/config.toml."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from opencapbench.benchmark.config import BenchmarkConfig, ConfigError, MarkerSettings
from opencapbench.cli import main
from opencapbench.synthetic import generate_synthetic_dataset


def test_toml_round_trip_keeps_every_setting(tmp_path: Path) -> None:
    cfg = BenchmarkConfig(
        data_dir=tmp_path / "d", out_dir=tmp_path / "o", subjects=("subject2",),
        cameras="2-cameras", markers=MarkerSettings(filter_hz=6.0, reproj_threshold_px=0.0),
        ik_weights={"r_knee": 5.0}, workers=3, max_shift_s=0.2,
    )  # fmt: skip
    path = tmp_path / "run.toml"
    path.write_text(cfg.to_toml())
    back = BenchmarkConfig.from_toml(path)
    assert back == cfg
    over = BenchmarkConfig.from_toml(path, **{"markers.filter_hz": 9.0, "workers": 1})
    assert over.markers.filter_hz == 9.0 and over.workers == 1
    assert over.markers.reproj_threshold_px == 0.0 and over.ik_weights == {"r_knee": 5.0}
    # the default automatic cut-off and its bounds travel as TOML too
    auto = BenchmarkConfig(tmp_path / "d", tmp_path / "o",
                           markers=MarkerSettings(filter_auto_hz=(4.0, 10.0)))  # fmt: skip
    assert 'filter_hz = "auto"' in auto.to_toml() and "filter_auto_hz = [" in auto.to_toml()
    path.write_text(auto.to_toml())
    assert BenchmarkConfig.from_toml(path) == auto
    assert BenchmarkConfig.from_toml(path, **{"markers.filter_hz": "12"}).markers.filter_hz == 12.0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('data_dir = "d"\nout_dir = "o"\nworkerz = 2\n', "workerz"),
        ('data_dir = "d"\nout_dir = "o"\n[markers]\nfilter_hz = -5\n', "markers.filter_hz"),
        ('data_dir = "d"\nout_dir = "o"\n[markers]\nfilter_hz = "fast"\n', "'auto' or a cut-off"),
        ('data_dir = "d"\nout_dir = "o"\n[markers]\nfilter_auto_hz = [12, 3]\n', "filter_auto_hz"),
        ('data_dir = "d"\nout_dir = "o"\n[markers]\nmin_confidence = 1.5\n', "min_confidence"),
        ('data_dir = "d"\nout_dir = "o"\nworkers = 0\n', "workers"),
        ('data_dir = "d"\nout_dir = "o"\ncameras = "Cam1"\n', "cameras"),
        ('out_dir = "o"\n', "data_dir"),
        ("data_dir = [\n", "cannot read"),
    ],
)
def test_bad_configuration_is_a_named_error(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        BenchmarkConfig.from_toml(path)


@pytest.mark.parametrize(
    "option",
    [
        ["--workers", "0"],
        ["--min-confidence", "1.5"],
        ["--filter-hz", "-5"],
        ["--filter-hz", "fast"],
    ],  # fmt: skip
)
def test_out_of_range_options_are_usage_errors(tmp_path: Path, option: list[str]) -> None:
    result = CliRunner().invoke(main, ["benchmark", str(tmp_path), *option])
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output


def test_unknown_camera_is_refused_up_front_with_the_cameras_found(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for cam in ("Cam0", "Cam1"):
        (root / "subject1/VideoData/Session0" / cam / "walking1").mkdir(parents=True)
    result = CliRunner().invoke(main, ["benchmark", str(root), "--cameras", "Cam1,Cam7"])
    assert result.exit_code == 1
    assert "ConfigError" in result.output and "Cam7" in result.output
    assert "['Cam0', 'Cam1']" in result.output


def test_unknown_subject_is_one_line_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "subject1" / "VideoData").mkdir(parents=True)
    result = CliRunner().invoke(main, ["benchmark", str(tmp_path), "--subject", "subject9"])
    assert result.exit_code == 1
    assert result.output.startswith("error: DatasetLayoutError:")
    assert "subject9" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_results_config_toml_reproduces_the_run(tmp_path: Path) -> None:
    root = tmp_path / "data"
    generate_synthetic_dataset(
        root, trials=("squats1",), n_cameras=3, duration_s=0.5, noise_px=1.0, progress=False
    )
    first = tmp_path / "first"
    args = ["benchmark", str(root), "-o", str(first), "--keypoints", str(root / "keypoints"),
            "--filter-hz", "8", "--cameras", "Cam1,Cam2,Cam3", "-j", "1", "--no-plots"]  # fmt: skip
    assert CliRunner().invoke(main, args).exit_code == 0
    resolved = first / "results" / "config.toml"
    assert "filter_hz = 8.0" in resolved.read_text()
    second = tmp_path / "second"
    rerun = CliRunner().invoke(main, ["benchmark", "--config", str(resolved), "-o", str(second)])
    assert rerun.exit_code == 0, rerun.output
    for table in ("overall.csv", "per_trial.csv", "opencapbench.csv"):
        a = pd.read_csv(first / "results" / table)
        b = pd.read_csv(second / "results" / table)
        pd.testing.assert_frame_equal(a, b)
    cfg = BenchmarkConfig.from_toml(second / "results" / "config.toml")
    assert (
        cfg.out_dir == second and cfg.markers.filter_hz == 8.0 and cfg.cameras == "Cam1,Cam2,Cam3"
    )
