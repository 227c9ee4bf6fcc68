"""Benchmark report: every file is written, CSVs read back to the same numbers, plots exist."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from opencapbench.benchmark.metrics import OCB_DOFS, aggregate, dof_columns, dof_errors
from opencapbench.benchmark.report import format_table, write_report
from opencapbench.io.mot import write_mot


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


def test_write_report_files_and_csv_round_trip(tmp_path) -> None:
    per_trial = _per_trial()
    tables = aggregate(per_trial)
    t = np.arange(0, 2.0, 0.01)
    pred_path = write_mot(
        tmp_path / "pred.mot", t, list(_coords(t).columns), _coords(t - 0.05, 1.0).to_numpy()
    )
    gt_path = write_mot(tmp_path / "gt.mot", t, list(_coords(t).columns), _coords(t).to_numpy())
    shifts = {
        "subject2/walking1": {"shift_s": 0.05, "shift_samples": 5, "n_overlap": 195,
                              "pred_mot": pred_path, "gt_mot": gt_path,
                              "knee_mae_l_deg": np.float64(np.nan)},
        "subject2/STS1": {"shift_s": -0.01, "shift_samples": np.int64(-1), "n_overlap": 99},
    }  # fmt: skip
    failures = pd.DataFrame(
        [{"subject": "subject3", "trial": "DJ2", "stage": "ik", "error": "E", "message": "m"}]
    )
    out = tmp_path / "results"
    written = write_report(out, per_trial, tables, shifts, failures, cfg=None)

    for name in ("overall", "opencapbench", "per_activity_rmse", "per_activity_mae",
                 "per_subject_rmse", "per_subject_mae", "per_trial_rmse", "per_trial_mae"):  # fmt: skip
        assert written[name].is_file(), name
    for f in ("report.md", "shifts.json", "per_trial.csv", "failures.csv",
              "plots/dof_errors.png", "plots/curves/subject2_walking1.png"):  # fmt: skip
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
    ocb = pd.read_csv(out / "opencapbench.csv", index_col=0)
    assert list(ocb.columns) == [*OCB_DOFS, "mean"]

    js = json.loads((out / "shifts.json").read_text())
    assert js["subject2/STS1"]["shift_samples"] == -1
    assert js["subject2/walking1"]["knee_mae_l_deg"] is None
    assert js["subject2/walking1"]["gt_mot"] == str(gt_path)

    md = (out / "report.md").read_text()
    assert "## Overall error per DOF" in md and "| pelvis_tilt" in md
    assert "## Trials not scored" in md and "DJ2" in md
    assert format_table(tables["overall"]) in md


def test_report_with_nothing_scored(tmp_path) -> None:
    failures = pd.DataFrame(
        [{"subject": "s", "trial": "t", "stage": "markers", "error": "E", "message": "m"}]
    )
    written = write_report(tmp_path, pd.DataFrame(), {}, {}, failures)
    assert (tmp_path / "report.md").is_file() and "overall" not in written
    assert "0 trial(s) scored" in (tmp_path / "report.md").read_text()


def test_curve_plot_failure_does_not_sink_report(tmp_path) -> None:
    per_trial = _per_trial()
    shifts = {"subject2/walking1": {"shift_s": 0.0, "pred_mot": tmp_path / "missing.mot",
                                    "gt_mot": tmp_path / "missing.mot"}}  # fmt: skip
    write_report(tmp_path / "r", per_trial, None, shifts, plots=True)
    assert "could not be drawn" in (tmp_path / "r" / "report.md").read_text()
