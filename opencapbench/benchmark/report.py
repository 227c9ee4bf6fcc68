"""Benchmark report: CSV and Markdown tables, ``shifts.json`` and plots (all writes atomic).

:func:`write_report` writes, under ``out_dir``:

=============================  ==============================================================
``report.md``                  every table below in Markdown, plus failures
``overall.csv``                per DOF (+ ``mean``): rmse, rmse_std, mae, mae_std, n_trials
``opencapbench.csv``           OpenCapBench's layout: rows RMSE / MAE, columns 12 DOFs + mean
``per_activity_{rmse,mae}.csv`` activity × DOF (+ mean, n_trials)
``per_subject_{rmse,mae}.csv``  subject × DOF
``per_trial_{rmse,mae}.csv``    (subject, trial) × DOF
``per_trial.csv``              the long per-trial, per-DOF table as given (all columns)
``failures.csv``               trials that could not be scored (when given)
``shifts.json``                per trial: the time shift and overlap counts
``plots/dof_errors.png``       bar chart of per-DOF RMSE and MAE, error bars = std over trials
``plots/curves/<subject>_<trial>.png``  predicted vs ground-truth angles, 12 DOFs
=============================  ==============================================================

CSV files keep full float precision (``pandas.read_csv(path, index_col=...)`` gives back the
numbers).  :func:`format_table` renders a DataFrame as an aligned Markdown table; the console
printout of ``ocb benchmark`` uses it too.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opencapbench.benchmark.metrics import (
    BILATERAL_DOFS,
    OCB_DOFS,
    aggregate,
    dof_columns,
    dof_errors,
    to_degrees,
)
from opencapbench.io.atomic import atomic_path, atomic_write

log = logging.getLogger(__name__)

__all__ = [
    "format_table",
    "write_table_csv",
    "write_shifts_json",
    "plot_dof_bars",
    "plot_trial_curves",
    "write_report",
]

_NA = "n/a"


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return _NA
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _NA if not math.isfinite(float(value)) else f"{float(value):.{digits}f}"
    text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def format_table(df: pd.DataFrame, digits: int = 2, index: bool = True) -> str:
    """Render ``df`` as an aligned GitHub-Markdown table (also readable on a console).

    Floats get ``digits`` decimals, integers none, NaN shows as ``n/a``; numeric columns are
    right-aligned.  With ``index=True`` the index levels come first (headed by their names).
    """
    frame = df.reset_index() if index else df.reset_index(drop=True)
    if index and df.index.nlevels == 1 and df.index.name is None and "index" in frame.columns:
        frame = frame.rename(columns={"index": ""})
    headers = [str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    rows = [[_cell(v, digits) for v in row] for row in frame.itertuples(index=False, name=None)]
    widths = [max([len(h), 3, *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    sep = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else ("-" * (w + 2))
            for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def write_table_csv(df: pd.DataFrame, path: str | os.PathLike, index: bool = True) -> Path:
    """Write a table as CSV with full float precision, atomically."""
    path = Path(path)
    with atomic_write(path) as fh:
        df.to_csv(fh, index=index, lineterminator="\n")
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, os.PathLike):
        return str(value)
    return value


def write_shifts_json(shifts: Mapping[str, Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write per-trial time-shift details (``{"subject/trial": {...}}``) as JSON, atomically.

    NaN becomes ``null``; numpy types and paths become plain JSON values.
    """
    path = Path(path)
    with atomic_write(path) as fh:
        json.dump(_jsonable(dict(sorted(shifts.items()))), fh, indent=2, sort_keys=False)
        fh.write("\n")
    return path


# --------------------------------------------------------------------------------------------
# plots (matplotlib's object API with the Agg canvas: no global backend switching)
# --------------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
    return path


def plot_dof_bars(
    overall: pd.DataFrame, path: str | os.PathLike, dofs: Sequence[str] = OCB_DOFS, title: str = ""
) -> Path:
    """Bar chart of per-DOF RMSE and MAE (degrees) with ±1 std over trials as error bars.

    Args:
        overall: the ``overall`` table of :func:`~opencapbench.benchmark.metrics.aggregate`.
        path: output image (``.png`` / ``.svg`` / ``.pdf``).
    """
    dofs = [d for d in dofs if d in overall.index]
    x = np.arange(len(dofs))
    fig = _figure(max(8.0, 0.8 * len(dofs) + 2), 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for offset, metric, color in ((-0.2, "rmse", "#1f77b4"), (0.2, "mae", "#ff7f0e")):
        values = overall.loc[dofs, metric].to_numpy(dtype=float)
        std = overall.loc[dofs, f"{metric}_std"].to_numpy(dtype=float)
        ax.bar(
            x + offset,
            np.nan_to_num(values),
            width=0.4,
            yerr=np.nan_to_num(std),
            capsize=3,
            label=metric.upper(),
            color=color,
        )
    ax.set_xticks(x)
    ax.set_xticklabels(dofs, rotation=35, ha="right")
    ax.set_ylabel("error (deg)")
    if "mean" in overall.index:
        title = (title + "  " if title else "") + (
            f"mean RMSE {overall.loc['mean', 'rmse']:.2f}°, MAE {overall.loc['mean', 'mae']:.2f}°"
        )
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_trial_curves(
    pred: pd.DataFrame,
    gt: pd.DataFrame,
    shift_s: float,
    path: str | os.PathLike,
    title: str = "",
    dofs: Sequence[str] = OCB_DOFS,
) -> Path:
    """Predicted (dashed, time-aligned) vs ground-truth (solid) angles of one trial, one panel per DOF.

    Right side in blue, left side in red; each panel's title gives its RMSE after the shift.
    """
    pred = to_degrees(pred)
    gt = to_degrees(gt)
    errors = dof_errors(pred, gt, shift_s, dofs).set_index("dof")
    ncols = 4
    nrows = max(1, math.ceil(len(dofs) / ncols))
    fig = _figure(4.0 * ncols, 2.6 * nrows)
    t_pred = np.asarray(pred.index, dtype=float) - shift_s
    t_gt = np.asarray(gt.index, dtype=float)
    legend_dof = next((d for d in dofs if d in BILATERAL_DOFS), dofs[0] if dofs else None)
    for i, dof in enumerate(dofs):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for col in dof_columns(dof):
            color = "#d62728" if col.endswith("_l") and dof in BILATERAL_DOFS else "#1f77b4"
            side = col[-1].upper() if dof in BILATERAL_DOFS else ""
            if col in gt.columns:
                ax.plot(t_gt, gt[col].to_numpy(), color=color, lw=1.2, label=f"mocap {side}")
            if col in pred.columns:
                ax.plot(t_pred, pred[col].to_numpy(), color=color, lw=1.2, ls="--",
                        label=f"video {side}")  # fmt: skip
        rmse = errors.loc[dof, "rmse"]
        ax.set_title(f"{dof}  RMSE {_cell(rmse, 1)}°", fontsize=9)
        ax.tick_params(labelsize=7)
        if dof == legend_dof:
            ax.legend(fontsize=6, loc="best")
        if i // ncols == nrows - 1:
            ax.set_xlabel("time (s)", fontsize=8)
        if i % ncols == 0:
            ax.set_ylabel("angle (deg)", fontsize=8)
    if title:
        fig.suptitle(f"{title}  (shift {shift_s * 1000:.0f} ms)", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# the whole report
# --------------------------------------------------------------------------------------------

_CSV_TABLES = {
    "overall": "overall.csv",
    "opencapbench": "opencapbench.csv",
    "per_activity_rmse": "per_activity_rmse.csv",
    "per_activity_mae": "per_activity_mae.csv",
    "per_subject_rmse": "per_subject_rmse.csv",
    "per_subject_mae": "per_subject_mae.csv",
    "per_trial_rmse": "per_trial_rmse.csv",
    "per_trial_mae": "per_trial_mae.csv",
}

_MD_SECTIONS = (
    ("overall", "Overall error per DOF (degrees; mean and std over trials)"),
    ("opencapbench", "OpenCapBench table (mean over all trials, degrees)"),
    ("per_activity_rmse", "RMSE per activity"),
    ("per_activity_mae", "MAE per activity"),
    ("per_subject_rmse", "RMSE per subject"),
    ("per_subject_mae", "MAE per subject"),
    ("per_trial_rmse", "RMSE per trial"),
    ("per_trial_mae", "MAE per trial"),
)


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _config_lines(cfg: Any) -> list[str]:
    if cfg is None:
        return []
    lines = []
    for attr in ("data_dir", "keypoint_store", "cameras", "markers", "max_shift_s"):
        if hasattr(cfg, attr):
            lines.append(f"- `{attr}`: `{getattr(cfg, attr)}`")
    return lines


def _curve_inputs(
    shifts: Mapping[str, Mapping[str, Any]] | None,
    curves: Mapping[str, tuple[pd.DataFrame, pd.DataFrame, float]] | None,
) -> dict[str, tuple[Any, Any, float]]:
    """Trials to plot: explicit ``curves``, else shifts entries carrying ``pred_mot``/``gt_mot``."""
    if curves is not None:
        return dict(curves)
    out: dict[str, tuple[Any, Any, float]] = {}
    for key, info in (shifts or {}).items():
        if isinstance(info, Mapping) and info.get("pred_mot") and info.get("gt_mot"):
            out[key] = (info["pred_mot"], info["gt_mot"], float(info.get("shift_s", 0.0)))
    return out


def write_report(
    out_dir: str | os.PathLike,
    per_trial: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame] | None = None,
    shifts: Mapping[str, Mapping[str, Any]] | None = None,
    failures: pd.DataFrame | None = None,
    cfg: Any = None,
    curves: Mapping[str, tuple[pd.DataFrame, pd.DataFrame, float]] | None = None,
    plots: bool = True,
) -> dict[str, Path]:
    """Write every table, ``shifts.json`` and the plots of a benchmark run into ``out_dir``.

    Args:
        out_dir: results folder (created).
        per_trial: long per-trial table (concatenated :func:`dof_errors` with ``subject``,
            ``trial``, ``activity``); may be empty when nothing could be scored.
        tables: :func:`aggregate` of ``per_trial``; computed when None.
        shifts: ``{"subject/trial": details}`` from
            :func:`~opencapbench.benchmark.metrics.best_time_shift`.  Entries that also hold
            ``pred_mot`` and ``gt_mot`` paths get a curve plot.
        failures: trials that could not be scored (``subject, trial, stage, error, message``).
        cfg: the run configuration; a few of its fields are listed in ``report.md``.
        curves: ``{"subject/trial": (pred, gt, shift_s)}`` with DataFrames or ``.mot`` paths;
            overrides the paths found in ``shifts``.
        plots: False skips all images.

    Returns:
        name → path of every file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if tables is None or (not tables and not per_trial.empty):
        tables = aggregate(per_trial) if not per_trial.empty else {}
    if not per_trial.empty:
        written["per_trial"] = write_table_csv(per_trial, out / "per_trial.csv", index=False)
    for name, filename in _CSV_TABLES.items():
        if name in tables:
            written[name] = write_table_csv(tables[name], out / filename)
    if failures is not None:
        written["failures"] = write_table_csv(failures, out / "failures.csv", index=False)
    written["shifts"] = write_shifts_json(shifts or {}, out / "shifts.json")

    md = ["# OpenCapBench joint-angle errors", ""]
    cfg_lines = _config_lines(cfg)
    if cfg_lines:
        md += ["Run settings:", "", *cfg_lines, ""]
    n_trials = (
        per_trial[["subject", "trial"]].drop_duplicates().shape[0] if not per_trial.empty else 0
    )
    md += [
        f"{n_trials} trial(s) scored. Errors are in degrees, after the time shift that minimises "
        "the knee-angle error; bilateral DOFs average right and left.",
        "",
    ]
    for name, heading in _MD_SECTIONS:
        if name in tables:
            md += [f"## {heading}", "", format_table(tables[name]), ""]
    if shifts:
        rows = [
            {
                "trial": key,
                "shift_ms": 1000.0 * float(v.get("shift_s", np.nan)),
                "n_overlap": v.get("n_overlap"),
                "n_overlap_no_shift": v.get("n_overlap_no_shift"),
            }
            for key, v in sorted(shifts.items())
        ]
        md += ["## Time shifts", "", format_table(pd.DataFrame(rows), index=False, digits=0), ""]
    if failures is not None and not failures.empty:
        md += ["## Trials not scored", "", format_table(failures, index=False), ""]

    if plots and "overall" in tables:
        written["dof_errors_plot"] = plot_dof_bars(
            tables["overall"], out / "plots" / "dof_errors.png"
        )
        md += ["## Plots", "", "![per-DOF errors](plots/dof_errors.png)", ""]
    if plots:
        from opencapbench.io.mot import read_mot

        curve_errors = []
        for key, (pred, gt, shift_s) in sorted(_curve_inputs(shifts, curves).items()):
            path = out / "plots" / "curves" / f"{_safe_name(key.replace('/', '_'))}.png"
            try:
                pred_df = pred if isinstance(pred, pd.DataFrame) else read_mot(pred)
                gt_df = gt if isinstance(gt, pd.DataFrame) else read_mot(gt)
                written[f"curves:{key}"] = plot_trial_curves(
                    pred_df, gt_df, shift_s, path, title=key
                )
            except Exception as err:  # noqa: BLE001 - a plot must not sink the report
                log.warning("no curve plot for %s: %s: %s", key, type(err).__name__, err)
                curve_errors.append(f"- {key}: {type(err).__name__}: {err}")
        if curve_errors:
            md += ["Curve plots that could not be drawn:", "", *curve_errors, ""]
    with atomic_write(out / "report.md") as fh:
        fh.write("\n".join(md))
    written["report"] = out / "report.md"
    return written
