"""Results tables and files: Markdown/LaTeX rendering, best marks, CSV round trips, the published
rows and ``opencapbench_table.md``, the report without anything scored."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from opencapbench.benchmark.metrics import OCB_DOFS, aggregate, dof_columns, dof_errors
from opencapbench.io.mot import write_mot
from opencapbench.report import RunInfo, write_results
from opencapbench.report.figures import trial_figure_paths
from opencapbench.report.published import opencapbench_table_markdown, published_rmse
from opencapbench.report.results import config_toml
from opencapbench.report.tables import best_mask, format_latex, format_table


def _coords(t: np.ndarray, offset: float = 0.0) -> pd.DataFrame:
    cols = [c for dof in OCB_DOFS for c in dof_columns(dof)]
    data = {c: 20 * np.sin(2 * np.pi * t + i) + offset for i, c in enumerate(cols)}
    df = pd.DataFrame(data, index=pd.Index(t, name="time"))
    df.attrs["in_degrees"] = True
    return df


def _per_trial() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for subject, trial in [("subject2", "walking1"), ("subject2", "STS1"), ("subject3", "DJ1")]:
        e = dof_errors(_coords(np.arange(0, 1, 0.01), offset=0), _coords(np.arange(0, 1, 0.01)))
        e["rmse"] = rng.uniform(1, 10, len(e))
        e["mae"] = e["rmse"] * rng.uniform(0.5, 1.0, len(e))
        rows.append(e.assign(subject=subject, trial=trial))
    return pd.concat(rows, ignore_index=True)


def test_format_table() -> None:
    df = pd.DataFrame(
        {"rmse": [1.234, np.nan], "n": [3, 4], "name": ["a", "b|c"]},
        index=pd.Index(["x", "y"], name="dof"),
    )
    text = format_table(df)
    lines = text.splitlines()
    assert lines[0].split("|")[1].strip() == "dof"
    assert lines[1].startswith("|-") and lines[1].count("|") == 5 and ":|" in lines[1]
    assert "1.23" in lines[2] and "n/a" in lines[3] and "b\\|c" in lines[3]
    assert len({len(line) for line in lines}) == 1  # aligned
    assert "1.2340" in format_table(df, digits=4)
    bold = pd.DataFrame({"rmse": [True, False], "n": [False, True]}, index=df.index)
    marked = format_table(df, bold=bold).splitlines()
    assert "**1.23**" in marked[2] and "**4**" in marked[3] and "**3**" not in marked[2]
    assert len({len(line) for line in marked}) == 1


def test_best_mask_lowest_per_column_ties_groups_and_reference_rows() -> None:
    df = pd.DataFrame(
        {"a": [1.0, 2.0, 0.5, 1.0], "b": [3.0, 3.0, np.nan, 9.0], "n": [1, 2, 3, 4]},
        index=["r1", "r2", "pub", "r3"],
    )
    mask = best_mask(df, ["a", "b"], rows=["r1", "r2", "r3"])
    # 'pub' (0.5) does not compete; r1 and r3 tie on a; r1 and r2 tie on b; n never marked
    assert mask["a"].tolist() == [True, False, False, True]
    assert mask["b"].tolist() == [True, True, False, False]
    assert not mask["n"].any()
    grouped = pd.DataFrame(
        {"a": [1.0, 2.0, 5.0, 4.0]},
        index=pd.MultiIndex.from_tuples(
            [("walk", "x"), ("walk", "y"), ("squat", "x"), ("squat", "y")], names=["act", "run"]
        ),
    )
    assert best_mask(grouped, ["a"], group_level="act")["a"].tolist() == [True, False, False, True]


def test_format_latex_booktabs_escaped_and_bold() -> None:
    df = pd.DataFrame(
        {"hip_flexion": [1.234, 2.5], "n_trials": [3, 4]},
        index=pd.Index(["run_a", "b"], name="run"),
    )
    bold = pd.DataFrame({"hip_flexion": [False, True], "n_trials": [False, False]}, index=df.index)
    tex = format_latex(df, digits=2, bold=bold, caption="RMSE", label="tab:x")
    lines = tex.splitlines()
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert rule in lines
    assert "run & hip\\_flexion & n\\_trials \\\\" in lines
    assert "run\\_a & 1.23 & 3 \\\\" in lines
    assert "b & \\textbf{2.50} & 4 \\\\" in lines
    assert "\\begin{tabular}{lrr}" in lines and "\\caption{RMSE}" in lines


def test_published_rows_match_the_paper() -> None:
    pub = published_rmse()
    assert list(pub.columns[:12]) == list(OCB_DOFS) and pub.shape == (8, 14)
    # the means of the prior-art note (its own arithmetic) check the transcription of each row
    expected_mean = [12.78, 9.23, 8.59, 7.85, 6.75, 6.83, 6.36, 5.23]
    np.testing.assert_allclose(pub["mean"].to_numpy(), expected_mean, atol=0.006)
    # the figure orders the pelvis columns tilt, rotation, list
    row = pub.loc["SynthPose HRNet-W48"]
    assert (row["pelvis_tilt"], row["pelvis_rotation"], row["pelvis_list"]) == (5.9, 2.9, 3.5)
    assert pub.loc["OpenCap (HRNet-W48 + LSTM augmenter)", "knee_angle"] == 4.3


def test_opencapbench_table_markdown_puts_the_run_beside_the_published_rows() -> None:
    rmse = pd.Series(np.arange(1.0, 13.0), index=list(OCB_DOFS))
    md = opencapbench_table_markdown(rmse, "my-model", n_trials=7)
    lines = [line for line in md.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["method", *OCB_DOFS, "mean"]
    ours = [c.strip() for c in lines[2].strip("|").split("|")]
    assert ours[0].startswith("**my-model**")
    assert [float(v) for v in ours[1:]] == [*np.arange(1.0, 13.0), 6.5]
    assert len(lines) == 2 + 1 + 8 and "7 trial(s)" in md


def test_config_toml_is_toml_not_a_repr() -> None:
    from dataclasses import dataclass, field
    from pathlib import Path

    import tomllib

    @dataclass
    class Inner:
        filter_hz: float = 12.0
        threshold: float | None = None

    @dataclass
    class Cfg:
        data_dir: Path = Path("/data")
        subjects: tuple[str, ...] = ("s1", "s2")
        inner: Inner = field(default_factory=Inner)

    text = config_toml(Cfg())
    assert tomllib.loads(text) == {
        "data_dir": "/data", "subjects": ["s1", "s2"], "inner": {"filter_hz": 12.0}
    }  # fmt: skip
    assert config_toml("a = 1\n") == "a = 1\n"


def test_write_results_files_and_csv_round_trip(tmp_path) -> None:
    per_trial = _per_trial()
    tables = aggregate(per_trial)
    shifts = {
        "subject2/walking1": {"shift_s": 0.05, "shift_samples": 5, "n_overlap": 195,
                              "knee_mae_l_deg": np.float64(np.nan)},
        "subject2/STS1": {"shift_s": -0.01, "shift_samples": np.int64(-1), "n_overlap": 99},
    }  # fmt: skip
    failures = pd.DataFrame(
        [{"subject": "subject3", "trial": "DJ2", "stage": "ik", "error": "E", "message": "m"}]
    )
    out = tmp_path / "results"
    run = RunInfo(name="modelX", cameras="2-cameras", n_trials=4, config={"cameras": "2-cameras"})
    written = write_results(out, per_trial, tables, shifts, failures, run, plots=False)

    for name in ("overall", "opencapbench", "per_activity_rmse", "per_activity_mae",
                 "per_subject_rmse", "per_subject_mae", "per_trial_rmse", "per_trial_mae"):  # fmt: skip
        assert written[name].is_file(), name
    for f in ("report.md", "report.html", "shifts.json", "per_trial.csv", "failures.csv",
              "run.json", "opencapbench_table.md"):  # fmt: skip
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert not list(out.rglob(".*"))  # no temporary files left

    overall = pd.read_csv(out / "overall.csv", index_col=0)
    pd.testing.assert_frame_equal(overall, tables["overall"], check_names=False, check_dtype=False)
    per_act = pd.read_csv(out / "per_activity_mae.csv", index_col=0)
    pd.testing.assert_frame_equal(
        per_act, tables["per_activity_mae"], check_names=False, check_dtype=False
    )
    per_tr = pd.read_csv(out / "per_trial_rmse.csv", index_col=[0, 1])
    np.testing.assert_array_equal(per_tr.to_numpy(), tables["per_trial_rmse"].to_numpy())
    back = pd.read_csv(out / "per_trial.csv")
    np.testing.assert_array_equal(back["rmse"].to_numpy(), per_trial["rmse"].to_numpy())

    js = json.loads((out / "shifts.json").read_text())
    assert js["subject2/STS1"]["shift_samples"] == -1
    assert js["subject2/walking1"]["knee_mae_l_deg"] is None
    assert json.loads((out / "run.json").read_text()) == {
        "name": "modelX", "cameras": "2-cameras", "cameras_used": [], "n_trials": 4,
        "n_scored": 3,
    }  # fmt: skip

    table_md = (out / "opencapbench_table.md").read_text()
    ours = next(line for line in table_md.splitlines() if "modelX" in line)
    values = [float(v) for v in ours.strip("|").split("|")[1:]]
    np.testing.assert_allclose(values[:12], tables["overall"]["rmse"][list(OCB_DOFS)], atol=0.051)

    md = (out / "report.md").read_text()
    assert "## Overall error per DOF" in md and "| pelvis_tilt" in md
    assert "## Trials not scored" in md and "DJ2" in md
    assert format_table(tables["overall"]) in md
    assert "modelX · cameras 2-cameras · 4 trial(s)" in md


def test_report_with_nothing_scored(tmp_path) -> None:
    failures = pd.DataFrame(
        [{"subject": "s", "trial": "t", "stage": "markers", "error": "E", "message": "m"}]
    )
    written = write_results(tmp_path, pd.DataFrame(), {}, {}, failures, RunInfo("run", n_trials=1))
    assert (tmp_path / "report.md").is_file() and "overall" not in written
    assert "0 trial(s) scored" in (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    assert "No trial could be scored (1 trial(s) in the run)" in html
    assert not (tmp_path / "opencapbench_table.md").exists()


def test_curve_plot_failure_does_not_sink_report(tmp_path) -> None:
    per_trial = _per_trial()
    shifts = {"subject2/walking1": {"shift_s": 0.0, "pred_mot": tmp_path / "missing.mot",
                                    "gt_mot": tmp_path / "missing.mot"}}  # fmt: skip
    run = RunInfo(name="r", n_trials=3)
    # only the curves are asked for: the summary figures need no MOT file
    written = write_results(tmp_path / "r", per_trial, None, shifts, None, run, formats=("svg",))
    assert "could not be drawn" in (tmp_path / "r" / "report.md").read_text()
    assert "subject2/walking1: MotFileError" in (tmp_path / "r" / "report.html").read_text()
    assert written["dof_errors.svg"].is_file()


def test_summary_figures_drawn_in_worker_processes_equal_the_serial_ones(tmp_path) -> None:
    """The benchmark hands its pool to ``write_results``: one job per figure and format.  The
    files, the Bland-Altman table and the PNG pixels are those of the serial path."""
    import concurrent.futures as cf

    from PIL import Image

    t = np.arange(0, 2.0, 0.01)
    cols = list(_coords(t).columns)
    shifts = {}
    for i, trial in enumerate(["walking1", "squats1"]):
        pred = write_mot(tmp_path / f"{trial}.mot", t, cols, _coords(t, 0.5 * i + 1).to_numpy())
        gt = write_mot(tmp_path / f"gt_{trial}.mot", t, cols, _coords(t).to_numpy())
        shifts[f"s1/{trial}"] = {"shift_s": 0.0, "pred_mot": pred, "gt_mot": gt}
    per_trial = pd.concat(
        [dof_errors(_coords(t, 0.5 * i + 1), _coords(t), 0.0).assign(subject="s1", trial=trial)
         for i, trial in enumerate(["walking1", "squats1"])], ignore_index=True,
    )  # fmt: skip
    run = RunInfo(name="r", n_trials=2)
    serial = write_results(tmp_path / "serial", per_trial, None, shifts, None, run)
    with cf.ProcessPoolExecutor(2) as pool:
        pooled = write_results(tmp_path / "pool", per_trial, None, shifts, None, run, executor=pool)
    figures = sorted(k for k in serial if k.startswith(("dof_errors", "bland_altman")))
    assert figures == sorted(k for k in pooled if k.startswith(("dof_errors", "bland_altman")))
    assert {"dof_errors.png", "dof_errors.pdf", "dof_errors.svg", "bland_altman.pdf"} <= set(
        figures
    )
    for name in ("dof_errors.png", "bland_altman.png"):
        a, b = (np.asarray(Image.open(w[name])) for w in (serial, pooled))
        np.testing.assert_array_equal(a, b)
    assert serial["bland_altman_stats"].read_text() == pooled["bland_altman_stats"].read_text()
    bias = pd.read_csv(pooled["bland_altman_stats"], index_col=0)["bias"]
    assert bias.to_numpy() == pytest.approx(1.25)  # offsets 1 and 1.5 degrees, pooled
    html = (tmp_path / "pool" / "report.html").read_text()
    assert html.count("data:image/png;base64") >= 2 + 3  # summary figures and curves embedded


def test_write_results_draws_missing_curves_and_reuses_fresh_ones(tmp_path) -> None:
    t = np.arange(0, 2.0, 0.01)
    cols = list(_coords(t).columns)
    pred = write_mot(tmp_path / "walking1.mot", t, cols, _coords(t - 0.05, 1.0).to_numpy())
    gt = write_mot(tmp_path / "gt.mot", t, cols, _coords(t).to_numpy())
    shifts = {"s1/walking1": {"shift_s": 0.05, "pred_mot": pred, "gt_mot": gt}}
    per_trial = dof_errors(_coords(t - 0.05, 1.0), _coords(t), 0.05)
    per_trial = per_trial.assign(subject="s1", trial="walking1")
    run = RunInfo(name="r", n_trials=1)
    out = tmp_path / "res"
    written = write_results(out, per_trial, None, shifts, None, run, formats=("png",))
    curves = sorted(p for k, p in written.items() if k.startswith("curves:"))
    # a walking trial: curves against time and time-normalised
    assert [p.name for p in curves] == ["s1_walking1.png", "s1_walking1_normalised.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in curves)
    assert {p.suffix for k, p in written.items() if k.startswith("dof_errors")} == {".png"}
    stamps = [p.stat().st_mtime_ns for p in curves]
    write_results(out, per_trial, None, shifts, None, run, plots=True, formats=("png",))
    assert [p.stat().st_mtime_ns for p in curves] == stamps  # fresh curves are not redrawn
    assert trial_figure_paths(tmp_path / "squats1.mot", out / "x") == [out / "x.png"]
