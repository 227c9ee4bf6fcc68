"""Benchmark metrics: time alignment, RMSE/MAE per DOF, left/right averaging, aggregation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opencapbench.benchmark.metrics import (
    OCB_DOFS,
    aggregate,
    best_time_shift,
    classify_activity,
    dof_columns,
    dof_errors,
)

RATE = 100.0


def _curve(t: np.ndarray, phase: float) -> np.ndarray:
    """A smooth, non-periodic-looking joint-angle curve in degrees."""
    return 40 * np.sin(2 * np.pi * 0.9 * t + phase) + 15 * np.sin(2 * np.pi * 2.3 * t + 2 * phase)


def _table(t: np.ndarray, delay: float = 0.0, offset: float = 0.0) -> pd.DataFrame:
    cols = [c for dof in OCB_DOFS for c in dof_columns(dof)]
    data = {c: _curve(t - delay, i * 0.37) + offset for i, c in enumerate(cols)}
    data["pelvis_tx"] = np.linspace(0, 1, t.size)  # not a DOF
    df = pd.DataFrame(data, index=pd.Index(t, name="time"))
    df.attrs["in_degrees"] = True
    return df


def test_shift_and_constant_offset_recovered() -> None:
    t = np.arange(0, 4.0, 1 / RATE)
    gt = _table(t)
    pred = _table(t, delay=0.13, offset=2.0)  # pred(t) = gt(t - 0.13) + 2°
    shift, details = best_time_shift(pred, gt, max_shift_s=0.4)
    assert abs(shift - 0.13) <= 1 / RATE + 1e-9
    assert details["shift_samples"] == round(shift * RATE) and details["method"] == "knee"
    assert details["n_overlap"] < details["n_overlap_no_shift"] == t.size
    errors = dof_errors(pred, gt, shift)
    assert list(errors["dof"]) == list(OCB_DOFS)
    np.testing.assert_allclose(errors["rmse"], 2.0, atol=1e-9)
    np.testing.assert_allclose(errors["mae"], 2.0, atol=1e-9)
    np.testing.assert_allclose(errors["bias"], 2.0, atol=1e-9)
    # on the overlapping span only: 13 ground-truth samples have no shifted prediction
    assert (errors["n_frames"] == t.size - 13).all()


def test_shift_with_different_rates_and_negative_lag() -> None:
    t_gt = np.arange(0, 3.0, 1 / RATE)
    t_pred = np.arange(0.05, 3.0, 1 / 60.0)  # 60 Hz prediction starting later
    gt = _table(t_gt)
    pred = _table(t_pred, delay=-0.21)  # prediction leads by 0.21 s
    shift, details = best_time_shift(pred, gt)
    assert abs(shift + 0.21) <= 1 / RATE + 1e-9
    assert details["rate_hz"] == pytest.approx(RATE)
    errors = dof_errors(pred, gt, shift).set_index("dof")
    assert (errors["rmse"] < 0.5).all()  # only linear-interpolation error remains


def test_shift_combines_sides_like_opencapbench() -> None:
    t = np.arange(0, 4.0, 1 / RATE)
    gt = _table(t)
    pred = gt.copy()
    pred["knee_angle_r"] = np.interp(t - 0.10, t, gt["knee_angle_r"])
    pred["knee_angle_l"] = np.interp(t - 0.05, t, gt["knee_angle_l"])
    _, d = best_time_shift(pred, gt)
    assert (d["shift_r_samples"], d["shift_l_samples"]) == (10, 5)
    assert d["shift_samples"] == 7  # int(mean(10, 5)) = int(7.5)


def test_rmse_vs_mae_known_noise_and_radians() -> None:
    t = np.arange(0, 1.0, 1 / RATE)
    gt = _table(t)
    pred = gt.copy()
    # errors of ±1 on 3/4 of samples and ±3 on 1/4 → MAE = 1.5, RMSE = sqrt(3)
    pattern = np.array([1.0, -1.0, 3.0, -1.0])
    noise = np.tile(pattern, t.size // 4)
    pred["pelvis_tilt"] = gt["pelvis_tilt"] + noise
    pred["hip_flexion_r"] = gt["hip_flexion_r"] + noise
    pred["hip_flexion_l"] = gt["hip_flexion_l"] + 2 * noise
    pred["lumbar_bending"] = np.nan  # missing prediction → NaN error, no frames
    rad = np.deg2rad(pred)
    rad["pelvis_tx"] = pred["pelvis_tx"]
    rad.attrs["in_degrees"] = False
    for p in (pred, rad):
        e = dof_errors(p, gt, 0.0).set_index("dof")
        assert e.loc["pelvis_tilt", "mae"] == pytest.approx(1.5)
        assert e.loc["pelvis_tilt", "rmse"] == pytest.approx(np.sqrt(3.0))
        assert np.isnan(e.loc["pelvis_tilt", "rmse_r"])
        # left/right averaging
        assert e.loc["hip_flexion", "rmse_r"] == pytest.approx(np.sqrt(3.0))
        assert e.loc["hip_flexion", "rmse_l"] == pytest.approx(2 * np.sqrt(3.0))
        assert e.loc["hip_flexion", "rmse"] == pytest.approx(1.5 * np.sqrt(3.0))
        assert e.loc["hip_flexion", "mae"] == pytest.approx(2.25)
        assert np.isnan(e.loc["lumbar_bending", "rmse"])
        assert e.loc["lumbar_bending", "n_frames"] == 0
        assert e.loc["knee_angle", "rmse"] == pytest.approx(0.0, abs=1e-9)


def test_one_sided_dof_and_nan_samples() -> None:
    t = np.arange(0, 1.0, 1 / RATE)
    gt = _table(t)
    pred = gt + 1.0
    pred.attrs["in_degrees"] = True
    pred = pred.drop(columns=["ankle_angle_l"])
    pred.loc[pred.index[:10], "knee_angle_r"] = np.nan
    e = dof_errors(pred, gt).set_index("dof")
    assert e.loc["ankle_angle", "rmse"] == pytest.approx(1.0)  # right side only
    assert np.isnan(e.loc["ankle_angle", "rmse_l"])
    assert e.loc["knee_angle", "rmse"] == pytest.approx(1.0)
    assert e.loc["knee_angle", "n_frames"] == t.size - 10


def test_no_overlap_is_an_error() -> None:
    gt = _table(np.arange(0, 1.0, 0.01))
    pred = _table(np.arange(5.0, 6.0, 0.01))
    with pytest.raises(ValueError, match="overlap"):
        best_time_shift(pred, gt)


@pytest.mark.parametrize(
    ("name", "activity"),
    [
        ("walking1", "walking"),
        ("walkingTS2", "walking"),
        ("squats1", "squat"),
        ("STS1", "sit-to-stand"),
        ("DJ3", "drop jump"),
        ("DJAsym1", "drop jump"),
        ("static1", "static"),
        ("extrinsics", "other"),
    ],
)
def test_classify_activity(name, activity) -> None:
    assert classify_activity(name) == activity


def _per_trial() -> pd.DataFrame:
    rows = []
    for subject, trial, base in [
        ("subject2", "walking1", 1.0),
        ("subject2", "squats1", 3.0),
        ("subject10", "walking2", 5.0),
    ]:
        for i, dof in enumerate(OCB_DOFS):
            rows.append(
                {"dof": dof, "rmse": base + i, "mae": (base + i) / 2, "subject": subject,
                 "trial": trial}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_aggregate_tables() -> None:
    tables = aggregate(_per_trial())
    overall = tables["overall"]
    assert list(overall.index) == [*OCB_DOFS, "mean"]
    assert overall.loc["pelvis_tilt", "rmse"] == pytest.approx(3.0)  # mean of 1, 3, 5
    assert overall.loc["pelvis_tilt", "rmse_std"] == pytest.approx(2.0)
    assert overall.loc["knee_angle", "mae"] == pytest.approx(4.5)
    assert overall.loc["mean", "rmse"] == pytest.approx(3.0 + 5.5)
    assert (overall["n_trials"] == 3).all()
    ocb = tables["opencapbench"]
    assert list(ocb.columns) == [*OCB_DOFS, "mean"] and list(ocb.index) == ["RMSE", "MAE"]
    act = tables["per_activity_rmse"]
    assert list(act.index) == ["walking", "squat"]
    assert act.loc["walking", "pelvis_tilt"] == pytest.approx(3.0)
    assert act.loc["walking", "n_trials"] == 2
    subj = tables["per_subject_mae"]
    assert list(subj.index) == ["subject2", "subject10"]  # natural order
    assert subj.loc["subject2", "pelvis_tilt"] == pytest.approx(1.0)
    per = tables["per_trial_rmse"]
    assert per.loc[("subject10", "walking2"), "mean"] == pytest.approx(10.5)
    assert per.index.tolist()[0] == ("subject2", "squats1")


def test_aggregate_rejects_empty_and_incomplete() -> None:
    with pytest.raises(ValueError, match="no per-trial"):
        aggregate(pd.DataFrame())
    with pytest.raises(ValueError, match="subject"):
        aggregate(_per_trial().drop(columns=["subject"]))
