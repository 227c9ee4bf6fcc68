"""``ocb compare`` on two real benchmark runs of synthetic data (noise-free and noisy).

The comparison's numbers must equal each run's own tables, the best value per column must be
marked, and the paired statistics must equal scipy's on the same per-trial numbers (computed here
independently from the runs' CSV files).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from opencapbench.benchmark.metrics import OCB_DOFS
from opencapbench.report.compare import (
    comparison_markdown,
    comparison_marks,
    comparison_tables,
    load_run,
    paired_differences,
)
from opencapbench.report.errors import RunResultsError
from opencapbench.report.published import published_rmse

pytestmark = pytest.mark.slow

COLUMNS = [*OCB_DOFS, "mean"]


@pytest.fixture(scope="session")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """Benchmark outputs of a noise-free and a noisy synthetic data set (same trials)."""
    from opencapbench.benchmark.markers3d import MarkerSettings
    from opencapbench.benchmark.runner import BenchmarkConfig, run_benchmark
    from opencapbench.synthetic import generate_synthetic_dataset

    root = tmp_path_factory.mktemp("compare")
    outs = []
    # the comparison reads tables only: no figures, to keep the fixture quick
    for name, noise, dropout, filter_hz in (("clean", 0.0, 0.0, 0.0), ("noisy", 2.0, 0.05, 12.0)):
        data = root / f"data_{name}"
        generate_synthetic_dataset(data, n_cameras=2, duration_s=1.0, noise_px=noise,
                                   dropout=dropout, seed=7)  # fmt: skip
        cfg = BenchmarkConfig(data_dir=data, out_dir=root / name, keypoint_store=data / "keypoints",
                              markers=MarkerSettings(filter_hz=filter_hz), workers=1,
                              plots=False)  # fmt: skip
        outcome = run_benchmark(cfg)
        assert outcome.failures.empty, outcome.failures.to_string()
        outs.append(root / name)
    return outs[0], outs[1]


def test_table_equals_each_runs_own_tables(two_runs) -> None:
    runs = [load_run(p) for p in two_runs]
    assert [r.name for r in runs] == ["clean", "noisy"]
    tables = comparison_tables(runs)
    for path, run in zip(two_runs, runs, strict=True):
        own = pd.read_csv(path / "results" / "overall.csv", index_col=0)
        for metric in ("rmse", "mae"):
            row = tables[metric].loc[run.name]
            np.testing.assert_allclose(row[COLUMNS].to_numpy(float), own.loc[COLUMNS, metric],
                                       rtol=1e-12)  # fmt: skip
            assert row["n_trials"] == 3
        own_act = pd.read_csv(path / "results" / "per_activity_rmse.csv", index_col=0)
        ours = tables["per_activity_rmse"].xs(run.name, level="run")
        assert list(ours.index) == list(own_act.index)
        np.testing.assert_allclose(ours[COLUMNS].to_numpy(float), own_act[COLUMNS].to_numpy(),
                                   rtol=1e-12)  # fmt: skip
    # one camera set-up shared by both runs: no per-set-up table
    assert "per_cameras_rmse" not in tables


def test_best_value_per_column_is_marked(two_runs) -> None:
    runs = [load_run(p) for p in two_runs]
    tables = comparison_tables(runs, with_published=True)
    table = tables["rmse"]
    mask = comparison_marks("rmse", table, ["clean", "noisy"])
    for col in COLUMNS:
        runs_only = table.loc[["clean", "noisy"], col].astype(float)
        assert mask.loc[["clean", "noisy"], col].tolist() == (runs_only == runs_only.min()).tolist()
        assert not mask.loc[table.index.str.startswith("published: "), col].any()
    assert not mask["n_trials"].any()
    # noise-free keypoints beat noisy ones on the mean, and the Markdown says so in bold
    assert table.loc["clean", "mean"] < table.loc["noisy", "mean"]
    md = comparison_markdown(runs, tables, paired_differences(runs))
    clean_line = next(line for line in md.splitlines() if line.startswith("| clean "))
    assert f"**{table.loc['clean', 'mean']:.2f}**" in clean_line
    # published rows are the paper's, unmarked
    pub = published_rmse()
    for method in pub.index:
        np.testing.assert_allclose(table.loc[f"published: {method}", COLUMNS].to_numpy(float),
                                   pub.loc[method, COLUMNS].to_numpy(float))  # fmt: skip


def test_paired_statistics_equal_scipys_on_the_same_numbers(two_runs) -> None:
    runs = [load_run(p) for p in two_runs]
    paired = paired_differences(runs, "rmse").set_index("dof")
    a = pd.read_csv(
        two_runs[0] / "results" / "per_trial_rmse.csv", index_col=[0, 1, 2]
    )  # subject, session, trial
    b = pd.read_csv(
        two_runs[1] / "results" / "per_trial_rmse.csv", index_col=[0, 1, 2]
    )  # subject, session, trial
    a, b = a.sort_index(), b.loc[a.sort_index().index]
    for dof in COLUMNS:
        x, y = a[dof].to_numpy(), b[dof].to_numpy()
        d = y - x
        n = d.size
        ref = stats.ttest_rel(y, x)
        half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
        row = paired.loc[dof]
        assert row["n_trials"] == 3 and row["run_a"] == "clean" and row["run_b"] == "noisy"
        np.testing.assert_allclose(row["mean_diff"], d.mean(), rtol=1e-12)
        np.testing.assert_allclose([row["ci_low"], row["ci_high"]],
                                   [d.mean() - half, d.mean() + half], rtol=1e-9)  # fmt: skip
        np.testing.assert_allclose([row["t"], row["p_ttest"]], [ref.statistic, ref.pvalue],
                                   rtol=1e-12)  # fmt: skip
        np.testing.assert_allclose(row["p_wilcoxon"], stats.wilcoxon(d).pvalue, rtol=1e-12)
        assert row["mean_diff"] > 0  # the noisy run is worse on every DOF


def test_cli_writes_markdown_csv_and_latex(two_runs, tmp_path) -> None:
    from opencapbench.report.cli import compare

    out = tmp_path / "cmp"
    args = [str(two_runs[0]), str(two_runs[1] / "results"), "-o", str(out), "--with-published"]
    result = CliRunner().invoke(compare, args)
    assert result.exit_code == 0, result.output
    assert "## RMSE per DOF" in result.output and "published: SynthPose HRNet-W48" in result.output
    for name in ("comparison.md", "comparison.tex", "rmse.csv", "mae.csv", "per_activity_rmse.csv",
                 "per_activity_mae.csv", "paired_differences.csv"):  # fmt: skip
        assert (out / name).is_file(), name
    rmse = pd.read_csv(out / "rmse.csv", index_col=0)
    own = pd.read_csv(two_runs[1] / "results" / "overall.csv", index_col=0)
    np.testing.assert_allclose(rmse.loc["noisy", COLUMNS].to_numpy(float), own.loc[COLUMNS, "rmse"])
    tex = (out / "comparison.tex").read_text()
    assert tex.count("\\toprule") == tex.count("\\bottomrule") >= 5
    assert "\\textbf{" in tex and "pelvis\\_tilt" in tex
    paired = pd.read_csv(out / "paired_differences.csv")
    assert set(paired["metric"]) == {"rmse", "mae"} and len(paired) == 2 * len(COLUMNS)


def test_camera_setups_and_duplicate_names(two_runs) -> None:
    clean, noisy = (load_run(p) for p in two_runs)
    runs = [dataclasses.replace(clean, cameras="2-cameras"),
            dataclasses.replace(noisy, cameras="3-cameras"),
            dataclasses.replace(noisy, name="clean", cameras="3-cameras")]  # fmt: skip
    tables = comparison_tables(runs)
    names = list(tables["rmse"].index)
    assert len(set(names)) == 3 and names[1] == "noisy"
    per_cam = tables["per_cameras_rmse"]
    assert list(per_cam.index.get_level_values("cameras")) == [
        "2-cameras",
        "3-cameras",
        "3-cameras",
    ]
    mask = comparison_marks("per_cameras_rmse", per_cam, names)
    assert mask.loc["2-cameras", "mean"].all()  # alone in its group, so the best there
    three = per_cam.loc["3-cameras", "mean"]
    assert mask.loc["3-cameras", "mean"].tolist() == (three == three.min()).tolist()


def test_a_single_run_marks_nothing(two_runs) -> None:
    run = load_run(two_runs[0])
    tables = comparison_tables([run])
    assert not comparison_marks("rmse", tables["rmse"], [run.name]).to_numpy().any()
    assert paired_differences([run]).empty


def test_a_folder_without_results_is_refused(tmp_path) -> None:
    with pytest.raises(RunResultsError, match=str(tmp_path)):
        load_run(tmp_path)
