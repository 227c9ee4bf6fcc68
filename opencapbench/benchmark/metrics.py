"""Joint-angle error metrics of the OpenCapBench benchmark (pure functions, no file I/O).

The inputs are coordinate tables as returned by :func:`opencapbench.io.mot.read_mot`: a
DataFrame indexed by time in seconds, one column per OpenSim coordinate, with
``df.attrs["in_degrees"]`` (tables in radians are converted to degrees first).

Procedure (as OpenCapBench, see ``docs/file-formats.md`` and the metrics section of the docs):

1. :func:`best_time_shift` — the prediction and the mocap ground truth are not synchronised to
   the sample.  For every integer shift within ±``max_shift_s`` (±40 samples at 100 Hz) the mean
   absolute difference of ``knee_angle_r`` is computed on the overlapping span, then separately of
   ``knee_angle_l``; the final shift is ``int(mean(shift_r, shift_l))`` samples.
2. :func:`dof_errors` — after that shift, per-coordinate RMSE and MAE in degrees on the
   overlapping span (NaN-aware); right and left values are averaged into one number per DOF.
3. :func:`aggregate` — the OpenCapBench table is the mean RMSE per DOF over all trials of all
   subjects; MAE, per-activity and per-subject tables are added.

Sign convention: a shift ``s > 0`` means the prediction lags the ground truth, i.e.
``pred(t) ≈ gt(t - s)``; the aligned prediction is ``pred(t + s)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "OCB_DOFS",
    "BILATERAL_DOFS",
    "ACTIVITIES",
    "ERROR_COLUMNS",
    "dof_columns",
    "to_degrees",
    "sample_rate",
    "best_time_shift",
    "dof_errors",
    "classify_activity",
    "aggregate",
    "aligned_pairs",
    "bland_altman",
]

#: The 12 OpenCapBench DOFs in the column order of its results table.  Bilateral DOFs appear in
#: coordinate tables as ``<dof>_r`` / ``<dof>_l``.
OCB_DOFS: tuple[str, ...] = (
    "pelvis_tilt",
    "pelvis_list",
    "pelvis_rotation",
    "hip_flexion",
    "hip_adduction",
    "hip_rotation",
    "knee_angle",
    "ankle_angle",
    "subtalar_angle",
    "lumbar_extension",
    "lumbar_bending",
    "lumbar_rotation",
)

BILATERAL_DOFS = frozenset(
    {"hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle", "subtalar_angle"}
)

#: Activity labels of :func:`classify_activity`, in table order.
ACTIVITIES: tuple[str, ...] = ("walking", "squat", "sit-to-stand", "drop jump", "static", "other")

#: Columns of the :func:`dof_errors` result after ``dof``.
ERROR_COLUMNS: tuple[str, ...] = (
    "rmse",
    "mae",
    "bias",
    "rmse_r",
    "rmse_l",
    "mae_r",
    "mae_l",
    "n_frames",
)

_TRANSLATION = re.compile(r"_t[xyz]$")
_TIME_TOL = 1e-7  # seconds; far below any sampling period


def dof_columns(dof: str) -> list[str]:
    """Coordinate columns of one DOF: ``[dof_r, dof_l]`` when bilateral, else ``[dof]``."""
    return [f"{dof}_r", f"{dof}_l"] if dof in BILATERAL_DOFS else [dof]


def to_degrees(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with rotational columns in degrees.

    A table whose ``attrs["in_degrees"]`` is False is converted (columns ending ``_tx/_ty/_tz``
    are translations and left alone); otherwise ``df`` is returned unchanged.
    """
    if df.attrs.get("in_degrees", True):
        return df
    out = df.copy()
    rot = [c for c in out.columns if not _TRANSLATION.search(str(c))]
    out[rot] = np.rad2deg(out[rot].to_numpy(dtype=np.float64))
    out.attrs["in_degrees"] = True
    return out


def _times(df: pd.DataFrame, what: str) -> np.ndarray:
    t = np.asarray(df.index, dtype=np.float64)
    if t.size < 2:
        raise ValueError(f"{what} has {t.size} time samples; at least 2 are needed")
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        raise ValueError(f"{what}: time index must be finite and strictly increasing")
    return t


def sample_rate(df: pd.DataFrame) -> float:
    """Sampling rate in Hz from the median time step of ``df.index``."""
    return round(float(1.0 / np.median(np.diff(_times(df, "table")))), 6)


def _interp(t_src: np.ndarray, y: np.ndarray, t_query: np.ndarray) -> np.ndarray:
    """Linear interpolation; NaN outside ``t_src`` and next to NaN samples."""
    y = np.asarray(y, dtype=np.float64)
    t_query = np.asarray(t_query, dtype=np.float64)
    # times that differ from the ends only by rounding count as inside
    t_query = np.where(np.abs(t_query - t_src[0]) < _TIME_TOL, t_src[0], t_query)
    t_query = np.where(np.abs(t_query - t_src[-1]) < _TIME_TOL, t_src[-1], t_query)
    out = np.interp(t_query, t_src, y, left=np.nan, right=np.nan)
    nan = np.isnan(y)
    if nan.any():
        # a query touching a NaN sample (either neighbour) is NaN
        j = np.clip(np.searchsorted(t_src, t_query, side="left"), 1, t_src.size - 1)
        at_left = np.abs(t_query - t_src[j - 1]) < _TIME_TOL
        at_right = np.abs(t_query - t_src[j]) < _TIME_TOL
        bad = np.where(at_right, nan[j], np.where(at_left, nan[j - 1], nan[j - 1] | nan[j]))
        out[bad] = np.nan
    return out


def _uniform_grid(t: np.ndarray, rate: float) -> np.ndarray:
    n = int(np.floor((t[-1] - t[0]) * rate + 1e-6)) + 1
    return t[0] + np.arange(n) / rate


def _mae(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    d = a - b
    ok = np.isfinite(d)
    n = int(ok.sum())
    return (float(np.abs(d[ok]).mean()) if n else np.nan), n


def best_time_shift(
    pred: pd.DataFrame,
    gt: pd.DataFrame,
    max_shift_s: float = 0.4,
    rate_hz: float | None = None,
) -> tuple[float, dict]:
    """Time shift that best aligns a predicted coordinate table with the ground truth.

    Both tables are brought to a common uniform grid: the ground truth's own grid at its rate
    (or ``rate_hz``), onto which the prediction is linearly interpolated whatever its rate.
    For each integer shift ``k`` in ``[-N, N]`` (``N = round(max_shift_s * rate)``) the mean
    absolute error of ``knee_angle_r`` between ``pred(t + k/rate)`` and ``gt(t)`` is computed on
    the overlap (at least half of the shorter series), likewise ``knee_angle_l``; each side's
    best shift is kept (ties → the smaller ``|k|``) and the result is
    ``int(mean(k_r, k_l))`` samples, OpenCapBench's rule.  Without knee columns every shared
    coordinate is used instead.

    Returns:
        ``(shift_s, details)``; ``details`` has ``shift_s``, ``shift_samples``, ``rate_hz``,
        ``shift_r_samples``, ``shift_l_samples``, ``knee_mae_r_deg`` / ``knee_mae_l_deg`` (at each
        side's best shift), ``n_overlap`` (samples at the final shift), ``n_overlap_no_shift``
        and ``method`` (``"knee"`` or ``"all_coordinates"``); plain Python types.

    Raises:
        ValueError: no shared coordinate, or the tables do not overlap in time.
    """
    pred = to_degrees(pred)
    gt = to_degrees(gt)
    t_gt = _times(gt, "ground truth")
    t_pred = _times(pred, "prediction")
    rate = float(rate_hz) if rate_hz else sample_rate(gt)
    grid = _uniform_grid(t_gt, rate)
    if t_pred[-1] < grid[0] - max_shift_s or t_pred[0] > grid[-1] + max_shift_s:
        raise ValueError(
            f"prediction ({t_pred[0]:.3f}-{t_pred[-1]:.3f} s) and ground truth "
            f"({t_gt[0]:.3f}-{t_gt[-1]:.3f} s) do not overlap in time"
        )
    n_max = int(round(max_shift_s * rate))
    shifts = np.arange(-n_max, n_max + 1)
    pred_len = int(np.floor((t_pred[-1] - t_pred[0]) * rate + 1e-6)) + 1
    min_overlap = max(2, int(0.5 * min(grid.size, pred_len)))

    shared = [c for c in gt.columns if c in pred.columns]
    knees = [c for c in ("knee_angle_r", "knee_angle_l") if c in shared]
    method = "knee" if knees else "all_coordinates"
    groups = [[c] for c in knees] if knees else [shared]
    if not shared:
        raise ValueError("prediction and ground truth share no coordinate column")

    def search(cols: list[str]) -> tuple[int, float]:
        g = np.stack([_interp(t_gt, gt[c].to_numpy(), grid) for c in cols])
        best_k, best_err = 0, np.inf
        for k in sorted(shifts, key=abs):
            p = np.stack([_interp(t_pred, pred[c].to_numpy(), grid + k / rate) for c in cols])
            err, n = _mae(p, g)
            if n >= min_overlap and err < best_err - 1e-12:
                best_k, best_err = int(k), err
        return best_k, best_err

    found = [search(cols) for cols in groups]
    k_final = int(np.mean([k for k, _ in found]))  # truncation toward 0, as OpenCapBench

    def overlap(k: int) -> int:
        cols = groups[0]
        g = np.stack([_interp(t_gt, gt[c].to_numpy(), grid) for c in cols])
        p = np.stack([_interp(t_pred, pred[c].to_numpy(), grid + k / rate) for c in cols])
        return int(np.isfinite(p - g).all(axis=0).sum())

    by_side = dict(zip([cols[0] for cols in groups], found, strict=True)) if knees else {}
    r = by_side.get("knee_angle_r", (None, np.nan))
    left = by_side.get("knee_angle_l", (None, np.nan))
    details = {
        "shift_s": k_final / rate,
        "shift_samples": k_final,
        "rate_hz": rate,
        "shift_r_samples": r[0],
        "shift_l_samples": left[0],
        "knee_mae_r_deg": None if not np.isfinite(r[1]) else float(r[1]),
        "knee_mae_l_deg": None if not np.isfinite(left[1]) else float(left[1]),
        "n_overlap": overlap(k_final),
        "n_overlap_no_shift": overlap(0),
        "method": method,
    }
    return k_final / rate, details


def _side_errors(d: np.ndarray) -> tuple[float, float, float, int]:
    ok = np.isfinite(d)
    n = int(ok.sum())
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    d = d[ok]
    return float(np.sqrt(np.mean(d * d))), float(np.mean(np.abs(d))), float(np.mean(d)), n


def _nanmean(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else np.nan


def dof_errors(
    pred: pd.DataFrame,
    gt: pd.DataFrame,
    shift: float = 0.0,
    dofs: Sequence[str] = OCB_DOFS,
) -> pd.DataFrame:
    """Per-DOF joint-angle errors of a prediction against the ground truth, in degrees.

    Args:
        pred, gt: coordinate tables (time index in seconds).
        shift: time shift in seconds (:func:`best_time_shift`); the prediction at ``t + shift``
            is compared with the ground truth at ``t``, for every ground-truth sample whose
            shifted time lies within the prediction (linear interpolation).
        dofs: DOF names; bilateral ones are read from ``<dof>_r`` / ``<dof>_l``.

    Returns:
        One row per DOF (in ``dofs`` order) with columns ``dof``, ``rmse``, ``mae``, ``bias``
        (mean signed error pred − gt), ``rmse_r``, ``rmse_l``, ``mae_r``, ``mae_l`` (NaN for
        unilateral DOFs) and ``n_frames`` (samples used; the smaller side for bilateral DOFs).
        Bilateral values are the mean of the right and left values (the available side when only
        one has data).  A DOF missing from either table has NaN errors and ``n_frames = 0``.
    """
    pred = to_degrees(pred)
    gt = to_degrees(gt)
    t_gt = _times(gt, "ground truth")
    t_pred = _times(pred, "prediction")
    rows = []
    for dof in dofs:
        sides: dict[str, tuple[float, float, float, int]] = {}
        for col in dof_columns(dof):
            if col in pred.columns and col in gt.columns:
                p = _interp(t_pred, pred[col].to_numpy(), t_gt + float(shift))
                sides[col] = _side_errors(p - gt[col].to_numpy(dtype=np.float64))
            else:
                sides[col] = (np.nan, np.nan, np.nan, 0)
        vals = list(sides.values())
        row = {
            "dof": dof,
            "rmse": _nanmean([v[0] for v in vals]),
            "mae": _nanmean([v[1] for v in vals]),
            "bias": _nanmean([v[2] for v in vals]),
            "rmse_r": np.nan,
            "rmse_l": np.nan,
            "mae_r": np.nan,
            "mae_l": np.nan,
            "n_frames": min((v[3] for v in vals if v[3] > 0), default=0),
        }
        if dof in BILATERAL_DOFS:
            (rr, mr, _, _), (rl, ml, _, _) = sides[f"{dof}_r"], sides[f"{dof}_l"]
            row.update(rmse_r=rr, rmse_l=rl, mae_r=mr, mae_l=ml)
        rows.append(row)
    out = pd.DataFrame(rows, columns=["dof", *ERROR_COLUMNS])
    out["n_frames"] = out["n_frames"].astype(np.int64)
    return out


def classify_activity(trial_name: str) -> str:
    """Activity of an OpenCap LabValidation trial from its name (case-insensitive prefixes).

    ``walking*`` (incl. ``walkingTS*``) → ``"walking"``, ``squat*`` → ``"squat"``,
    ``STS*`` → ``"sit-to-stand"``, ``DJ*`` (incl. ``DJAsym*``) → ``"drop jump"``,
    ``static*`` → ``"static"``, anything else → ``"other"``.
    """
    name = str(trial_name).strip().lower()
    for prefix, activity in (
        ("walking", "walking"),
        ("squat", "squat"),
        ("sts", "sit-to-stand"),
        ("dj", "drop jump"),
        ("static", "static"),
    ):
        if name.startswith(prefix):
            return activity
    return "other"


def _natural_key(text: object) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(text))]


def _wide(per_trial: pd.DataFrame, metric: str, by: list[str], dofs: Sequence[str]) -> pd.DataFrame:
    """Mean of ``metric`` per group and DOF (columns DOFs + mean [+ n_trials for groups])."""
    trial_keys = [c for c in ("subject", "session", "trial") if c in per_trial.columns]
    per = (
        per_trial.groupby(trial_keys + ["dof"], sort=False)[metric]
        .mean()
        .unstack("dof")
        .reindex(columns=list(dofs))
    )
    per["mean"] = per[list(dofs)].mean(axis=1, skipna=True)
    per.columns.name = None
    if by == trial_keys:
        return per
    groups = per.reset_index().merge(
        per_trial[trial_keys + [c for c in by if c not in trial_keys]].drop_duplicates(),
        on=trial_keys,
    )
    table = groups.groupby(by)[[*dofs, "mean"]].mean()
    table["n_trials"] = groups.groupby(by).size()
    table.columns.name = None
    table["n_trials"] = table["n_trials"].astype(np.int64)
    return table


def aggregate(per_trial: pd.DataFrame, dofs: Sequence[str] = OCB_DOFS) -> dict[str, pd.DataFrame]:
    """Summary tables of per-trial errors.

    Args:
        per_trial: long table, one row per trial and DOF, with columns ``subject``, ``trial``,
            ``dof``, ``rmse``, ``mae`` and optionally ``session`` and ``activity`` (derived from
            the trial name with :func:`classify_activity` when absent) — the concatenated
            :func:`dof_errors` results.
        dofs: DOFs (table column order).

    Returns:
        dict of DataFrames:

        * ``overall`` — index = DOFs + ``"mean"``; columns ``rmse``, ``rmse_std``, ``mae``,
          ``mae_std`` (means and sample standard deviations over trials), ``n_trials``.  The
          ``rmse`` column is the OpenCapBench table; the ``mean`` row averages the DOFs.
        * ``opencapbench`` — the same numbers laid out as OpenCapBench's results table: rows
          ``RMSE`` and ``MAE``, columns DOFs + ``mean``.
        * ``per_activity_rmse`` / ``per_activity_mae`` — index activity, columns DOFs +
          ``mean`` + ``n_trials``.
        * ``per_subject_rmse`` / ``per_subject_mae`` — index subject, same columns.
        * ``per_trial_rmse`` / ``per_trial_mae`` — index (subject[, session], trial), columns
          DOFs + ``mean``.
    """
    dofs = list(dofs)
    if per_trial.empty:
        raise ValueError("no per-trial errors to aggregate")
    missing = [c for c in ("subject", "trial", "dof", "rmse", "mae") if c not in per_trial.columns]
    if missing:
        raise ValueError(f"per-trial table lacks columns {missing}")
    df = per_trial.copy()
    if "activity" not in df.columns:
        df["activity"] = df["trial"].map(classify_activity)
    trial_keys = [c for c in ("subject", "session", "trial") if c in df.columns]
    tables: dict[str, pd.DataFrame] = {}
    for metric in ("rmse", "mae"):
        per = _wide(df, metric, trial_keys, dofs)
        keys = [ix if isinstance(ix, tuple) else (ix,) for ix in per.index]
        per = per.iloc[sorted(range(len(per)), key=lambda i: [_natural_key(v) for v in keys[i]])]
        tables[f"per_trial_{metric}"] = per
        act = _wide(df, metric, ["activity"], dofs)
        order = [a for a in ACTIVITIES if a in act.index] + sorted(
            a for a in act.index if a not in ACTIVITIES
        )
        tables[f"per_activity_{metric}"] = act.loc[order]
        subj = _wide(df, metric, ["subject"], dofs)
        tables[f"per_subject_{metric}"] = subj.loc[sorted(subj.index, key=_natural_key)]

    overall = pd.DataFrame(index=pd.Index([*dofs, "mean"], name="dof"))
    for metric in ("rmse", "mae"):
        per = tables[f"per_trial_{metric}"][[*dofs, "mean"]]
        overall[metric] = per.mean(axis=0, skipna=True)
        overall[f"{metric}_std"] = per.std(axis=0, skipna=True, ddof=1)
    overall.loc["mean", "rmse"] = overall.loc[dofs, "rmse"].mean()
    overall.loc["mean", "mae"] = overall.loc[dofs, "mae"].mean()
    counts = tables["per_trial_rmse"][[*dofs, "mean"]].notna().sum(axis=0)
    overall["n_trials"] = counts.astype(np.int64)
    overall = overall[["rmse", "rmse_std", "mae", "mae_std", "n_trials"]]
    tables["overall"] = overall
    ocb = overall[["rmse", "mae"]].T
    ocb.index = pd.Index(["RMSE", "MAE"], name="metric")
    ocb.columns.name = None
    tables["opencapbench"] = ocb
    return {k: tables[k] for k in _TABLE_ORDER}


_TABLE_ORDER = (
    "overall",
    "opencapbench",
    "per_activity_rmse",
    "per_activity_mae",
    "per_subject_rmse",
    "per_subject_mae",
    "per_trial_rmse",
    "per_trial_mae",
)


def aligned_pairs(
    pred: pd.DataFrame, gt: pd.DataFrame, shift: float = 0.0, dofs: Sequence[str] = OCB_DOFS
) -> pd.DataFrame:
    """Per-sample (reference, predicted) angle pairs after the time shift, in degrees.

    The prediction at ``t + shift`` is paired with the ground truth at every ground-truth time
    ``t`` (linear interpolation, as :func:`dof_errors`); pairs with a NaN side are dropped.

    Returns:
        Long table with columns ``dof``, ``column`` (the coordinate, e.g. ``knee_angle_r``),
        ``time`` (ground-truth seconds), ``reference`` and ``predicted`` (degrees).
    """
    pred = to_degrees(pred)
    gt = to_degrees(gt)
    t_gt = _times(gt, "ground truth")
    t_pred = _times(pred, "prediction")
    parts = []
    for dof in dofs:
        for col in dof_columns(dof):
            if col not in pred.columns or col not in gt.columns:
                continue
            p = _interp(t_pred, pred[col].to_numpy(), t_gt + float(shift))
            g = gt[col].to_numpy(dtype=np.float64)
            ok = np.isfinite(p) & np.isfinite(g)
            parts.append(
                pd.DataFrame(
                    {
                        "dof": dof,
                        "column": col,
                        "time": t_gt[ok],
                        "reference": g[ok],
                        "predicted": p[ok],
                    }
                )  # fmt: skip
            )
    columns = ["dof", "column", "time", "reference", "predicted"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def bland_altman(reference: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Bland-Altman agreement of two measurements of the same quantity.

    Args:
        reference, predicted: (N,) paired values (NaN pairs are ignored), e.g. degrees.

    Returns:
        ``bias`` (mean of predicted - reference), ``sd`` (its sample standard deviation),
        ``loa_low`` / ``loa_high`` (the 95 % limits of agreement, bias -/+ 1.96 sd) and ``n``.
        Samples are treated as independent; frames of one trial are not, so the limits
        describe the spread of frame errors rather than a between-trial confidence interval.
    """
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    d = d[np.isfinite(d)]
    n = int(d.size)
    bias = float(d.mean()) if n else np.nan
    sd = float(d.std(ddof=1)) if n > 1 else np.nan
    return {"bias": bias, "sd": sd, "loa_low": bias - 1.96 * sd, "loa_high": bias + 1.96 * sd,
            "n": n}  # fmt: skip
