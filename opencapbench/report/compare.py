"""``ocb compare``: benchmark runs side by side, as the results table of a paper.

Pure table building on the runs' per-trial errors (``results/per_trial.csv``), so each run's row
equals that run's own ``overall.csv``; file writing sits in :func:`write_comparison`.
Paired differences use the trials two runs share: mean difference (second run − first), its
95 % confidence interval (Student t), the paired t-test (``scipy.stats.ttest_rel``) and the
Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, two-sided) per DOF.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from opencapbench.benchmark.metrics import ACTIVITIES, OCB_DOFS, aggregate
from opencapbench.io.atomic import atomic_write
from opencapbench.report.errors import RunResultsError
from opencapbench.report.published import PUBLISHED_SOURCE, published_rmse
from opencapbench.report.results import RUN_FILE
from opencapbench.report.tables import best_mask, format_latex, format_table, write_table_csv

log = logging.getLogger(__name__)

__all__ = [
    "Run",
    "load_run",
    "comparison_tables",
    "comparison_marks",
    "paired_differences",
    "comparison_markdown",
    "write_comparison",
]

#: the compared columns: the 12 DOFs in OpenCapBench's order, then their mean
COLUMNS: tuple[str, ...] = (*OCB_DOFS, "mean")
_TRIAL_KEYS = ("subject", "session", "trial")


@dataclass
class Run:
    """One benchmark run's results.

    Attributes:
        name: the row label (unique among compared runs).
        results_dir: its ``results/`` folder.
        cameras: its camera set-up (``run.json``; ``"n/a"`` when not recorded).
        per_trial: the long per-trial, per-DOF table.
        tables: :func:`~opencapbench.benchmark.metrics.aggregate` of ``per_trial``.
    """

    name: str
    results_dir: Path
    cameras: str
    per_trial: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(repr=False)


def _results_dir(path: Path) -> Path:
    for candidate in (path, path / "results"):
        if (candidate / "per_trial.csv").is_file():
            return candidate
    raise RunResultsError(
        f"{path}: no per_trial.csv in it or in {path / 'results'}; give the output folder of "
        "an `ocb benchmark` run (or its results/ folder) with at least one scored trial"
    )


def load_run(path: str | os.PathLike, name: str | None = None) -> Run:
    """Read a run from its output folder (or its ``results/`` folder).

    The name is ``name``, else ``run.json``'s ``name``, else the folder's name.

    Raises:
        RunResultsError: no ``per_trial.csv``, or it lacks the columns of the per-trial table.
    """
    path = Path(path)
    results = _results_dir(path)
    meta: dict = {}
    if (results / RUN_FILE).is_file():
        try:
            meta = json.loads((results / RUN_FILE).read_text(encoding="utf-8"))
        except ValueError as err:
            log.warning("%s: unreadable (%s); the folder name names the run", results / RUN_FILE, err)  # fmt: skip
    per_trial = pd.read_csv(results / "per_trial.csv")
    missing = [c for c in ("subject", "trial", "dof", "rmse", "mae") if c not in per_trial]
    if missing:
        raise RunResultsError(f"{results / 'per_trial.csv'}: missing columns {missing}")
    if per_trial.empty:
        raise RunResultsError(f"{results / 'per_trial.csv'}: no scored trial")
    default = path.name if path.name != "results" else path.parent.name
    cams = meta.get("cameras", "n/a")
    if cams == "all" and meta.get("cameras_used"):
        cams = f"all ({', '.join(meta['cameras_used'])})"
    return Run(
        name=str(name or meta.get("name") or default),
        results_dir=results,
        cameras=str(cams),
        per_trial=per_trial,
        tables=aggregate(per_trial),
    )


def _unique_names(runs: Sequence[Run]) -> list[str]:
    """Run names made unique by their folder paths when two coincide."""
    names = [r.name for r in runs]
    for i, run in enumerate(runs):
        if names.count(run.name) > 1:
            names[i] = f"{run.name} ({run.results_dir.parent})"
    if len(set(names)) < len(names):
        names = [f"{n} #{i + 1}" for i, n in enumerate(names)]
    return names


def comparison_tables(runs: Sequence[Run], with_published: bool = False) -> dict[str, pd.DataFrame]:
    """The comparison tables, runs as rows, columns the 12 DOFs + ``mean`` (+ ``n_trials``).

    Returns:
        ``rmse`` and ``mae`` (index ``run``; with ``with_published`` the RMSE table gains the
        published rows, index ``published: <method>``, ``n_trials`` empty);
        ``per_activity_rmse`` / ``per_activity_mae`` (index activity, run) when the runs hold
        activities; ``per_cameras_rmse`` / ``per_cameras_mae`` (index cameras, run) when the
        runs differ in camera set-up.  Values are degrees, identical to each run's own tables.
    """
    names = _unique_names(runs)
    cols = [*COLUMNS, "n_trials"]
    out: dict[str, pd.DataFrame] = {}
    for metric in ("rmse", "mae"):
        rows = []
        for name, run in zip(names, runs, strict=True):
            overall = run.tables["overall"]
            row = overall[metric].reindex(list(COLUMNS))
            row["n_trials"] = len(run.tables[f"per_trial_{metric}"])
            rows.append(row.rename(name))
        table = pd.DataFrame(rows)[cols]
        table.index.name = "run"
        if metric == "rmse" and with_published:
            pub = published_rmse()[list(COLUMNS)]
            pub.index = [f"published: {m}" for m in pub.index]
            table = pd.concat([table, pub.assign(n_trials=np.nan)])
            table.index.name = "run"
        table["n_trials"] = table["n_trials"].astype("Int64")
        out[metric] = table

        parts = []
        for name, run in zip(names, runs, strict=True):
            act = run.tables[f"per_activity_{metric}"].reindex(columns=cols)
            parts.append(act.assign(run=name).set_index("run", append=True))
        per_act = pd.concat(parts)
        order = {a: i for i, a in enumerate(ACTIVITIES)}
        acts = sorted(per_act.index.get_level_values(0).unique(), key=lambda a: (order.get(a, 99), a))  # fmt: skip
        per_act = pd.concat([per_act.xs(a, level=0, drop_level=False) for a in acts])
        per_act.index.names = ["activity", "run"]
        per_act["n_trials"] = per_act["n_trials"].astype("Int64")
        out[f"per_activity_{metric}"] = per_act

        setups = [r.cameras for r in runs]
        if len(set(setups)) > 1:
            per_cam = out[metric].loc[names].copy()
            per_cam.index = pd.MultiIndex.from_arrays([setups, names], names=["cameras", "run"])
            out[f"per_cameras_{metric}"] = per_cam.sort_index(level=0, sort_remaining=False)
    return out


def comparison_marks(name: str, table: pd.DataFrame, run_names: Sequence[str]) -> pd.DataFrame:
    """Best (lowest) value per column among the runs (published rows never compete; within
    each activity or camera set-up for the grouped tables); nothing with a single run."""
    if len(set(run_names)) < 2:
        return pd.DataFrame(False, index=table.index, columns=table.columns)
    if isinstance(table.index, pd.MultiIndex):
        competing = [ix for ix in table.index if ix[-1] in set(run_names)]
        return best_mask(table, list(COLUMNS), rows=competing, group_level=0)
    return best_mask(table, list(COLUMNS), rows=[n for n in table.index if n in set(run_names)])


def _shared_trials(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of two per-trial wide tables that name the same trial, in the same order."""
    keys = [k for k in _TRIAL_KEYS if k in a.index.names and k in b.index.names]
    a2 = a.reset_index().set_index(keys)
    b2 = b.reset_index().set_index(keys)
    shared = a2.index.intersection(b2.index, sort=False)
    return a2.loc[shared], b2.loc[shared]


def paired_differences(runs: Sequence[Run], metric: str = "rmse") -> pd.DataFrame:
    """Paired comparison of every pair of runs over the trials both scored, per DOF and mean.

    For runs ``a`` (earlier on the command line) and ``b``: ``d = b − a`` per shared trial
    (degrees).  Columns: ``run_a``, ``run_b``, ``metric``, ``dof``, ``n_trials``,
    ``mean_a``, ``mean_b``, ``mean_diff``, ``ci_low`` / ``ci_high`` (95 % CI of the mean
    difference, Student t with n − 1 degrees of freedom), ``t`` and ``p_ttest``
    (``scipy.stats.ttest_rel(b, a)``), ``p_wilcoxon`` (``scipy.stats.wilcoxon(b, a)``,
    two-sided; NaN when every difference is 0).  Fewer than 2 shared trials give NaN tests.
    """
    from scipy import stats

    names = _unique_names(runs)
    rows = []
    for (i, ra), (j, rb) in combinations(enumerate(runs), 2):
        a, b = _shared_trials(ra.tables[f"per_trial_{metric}"], rb.tables[f"per_trial_{metric}"])
        for dof in COLUMNS:
            x = a[dof].to_numpy(dtype=float) if dof in a else np.array([])
            y = b[dof].to_numpy(dtype=float) if dof in b else np.array([])
            ok = np.isfinite(x) & np.isfinite(y)
            x, y = x[ok], y[ok]
            n = int(x.size)
            row = {"run_a": names[i], "run_b": names[j], "metric": metric, "dof": dof,
                   "n_trials": n, "mean_a": np.nan, "mean_b": np.nan, "mean_diff": np.nan,
                   "ci_low": np.nan, "ci_high": np.nan, "t": np.nan, "p_ttest": np.nan,
                   "p_wilcoxon": np.nan}  # fmt: skip
            if n:
                row.update(mean_a=x.mean(), mean_b=y.mean(), mean_diff=float(np.mean(y - x)))
            d = y - x
            if n >= 2 and np.any(d != d[0]):
                res = stats.ttest_rel(y, x)
                ci = res.confidence_interval(0.95)
                row.update(t=float(res.statistic), p_ttest=float(res.pvalue),
                           ci_low=float(ci.low), ci_high=float(ci.high))  # fmt: skip
            elif n >= 2:  # constant difference: no spread, the interval is the point
                row.update(ci_low=float(d[0]), ci_high=float(d[0]))
            if n >= 2 and np.any(d != 0):
                row["p_wilcoxon"] = float(stats.wilcoxon(y, x).pvalue)
            rows.append(row)
    columns = ["run_a", "run_b", "metric", "dof", "n_trials", "mean_a", "mean_b", "mean_diff",
               "ci_low", "ci_high", "t", "p_ttest", "p_wilcoxon"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _paired_view(paired: pd.DataFrame, run_a: str, run_b: str, metric: str) -> pd.DataFrame:
    """One pair's rows, readable: DOF, n, mean difference, CI, p values as text."""
    part = paired[(paired.run_a == run_a) & (paired.run_b == run_b) & (paired.metric == metric)]
    view = part.set_index("dof")[["n_trials", "mean_a", "mean_b", "mean_diff"]].copy()
    view["95% CI"] = [
        f"[{lo:+.2f}, {hi:+.2f}]" if np.isfinite(lo) else "n/a"
        for lo, hi in zip(part["ci_low"], part["ci_high"], strict=True)
    ]
    view["p (paired t)"] = [_p_text(p) for p in part["p_ttest"]]
    view["p (Wilcoxon)"] = [_p_text(p) for p in part["p_wilcoxon"]]
    return view


_TITLES = {
    "rmse": "RMSE per DOF (degrees, mean over each run's trials)",
    "mae": "MAE per DOF (degrees, mean over each run's trials)",
    "per_activity_rmse": "RMSE per activity (degrees)",
    "per_activity_mae": "MAE per activity (degrees)",
    "per_cameras_rmse": "RMSE per camera set-up (degrees)",
    "per_cameras_mae": "MAE per camera set-up (degrees)",
}


def comparison_markdown(
    runs: Sequence[Run], tables: dict[str, pd.DataFrame], paired: pd.DataFrame, digits: int = 2
) -> str:
    """The whole comparison as Markdown (best values in bold)."""
    names = _unique_names(runs)
    lines = ["# Comparison of benchmark runs", ""]
    lines += [f"- **{n}**: {r.results_dir} (cameras: {r.cameras}, "
              f"{len(r.tables['per_trial_rmse'])} trial(s))" for n, r in zip(names, runs, strict=True)]  # fmt: skip
    lines += ["", "Bold: the lowest value per column among the runs (per activity / camera "
              "set-up in the grouped tables). Bilateral DOFs average right and left.", ""]  # fmt: skip
    for name, title in _TITLES.items():
        if name not in tables:
            continue
        table = tables[name]
        lines += [f"## {title}", "", format_table(table, digits, bold=comparison_marks(name, table, names)), ""]  # fmt: skip
        if name == "rmse" and any(str(i).startswith("published: ") for i in table.index):
            lines += [f"Published rows: {PUBLISHED_SOURCE}; measured on the real OpenCap "
                      "videos, they compare with a run only when it ran on that dataset.", ""]  # fmt: skip
    if not paired.empty:
        lines += ["## Paired differences over shared trials", "",
                  "`mean_diff` = second run − first run (degrees; negative: the second run is "
                  "better), 95 % CI of the mean difference (Student t), paired t-test "
                  "(scipy.stats.ttest_rel) and Wilcoxon signed-rank test (scipy.stats.wilcoxon), "
                  "two-sided, per DOF; not corrected for multiple comparisons.", ""]  # fmt: skip
        for (a, b, metric), _ in paired.groupby(["run_a", "run_b", "metric"], sort=False):
            lines += [f"### {b} − {a}, {metric.upper()}", "",
                      format_table(_paired_view(paired, a, b, metric), digits), ""]  # fmt: skip
    return "\n".join(lines)


def write_comparison(
    out_dir: str | os.PathLike,
    runs: Sequence[Run],
    tables: dict[str, pd.DataFrame],
    paired: pd.DataFrame,
    digits: int = 2,
) -> dict[str, Path]:
    """Write ``comparison.md``, ``comparison.tex`` (booktabs) and one CSV per table
    (``<table>.csv``, ``paired_differences.csv``) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = _unique_names(runs)
    written: dict[str, Path] = {}
    for name, table in tables.items():
        written[name] = write_table_csv(table, out / f"{name}.csv")
    written["paired_differences"] = write_table_csv(paired, out / "paired_differences.csv", index=False)  # fmt: skip
    with atomic_write(out / "comparison.md") as fh:
        fh.write(comparison_markdown(runs, tables, paired, digits))
    written["markdown"] = out / "comparison.md"
    tex = ["% ocb compare: needs \\usepackage{booktabs}", ""]
    for name, title in _TITLES.items():
        if name in tables:
            table = tables[name]
            tex += [format_latex(table, digits, bold=comparison_marks(name, table, names),
                                 caption=title + "; bold: best run per column",
                                 label=f"tab:{name.replace('_', '-')}"), ""]  # fmt: skip
    for (a, b, metric), _ in paired.groupby(["run_a", "run_b", "metric"], sort=False):
        view = _paired_view(paired, a, b, metric)
        tex += [format_latex(view, digits, caption=f"{b} $-$ {a}, {metric.upper()} (degrees): "
                             "paired differences over shared trials"), ""]  # fmt: skip
    with atomic_write(out / "comparison.tex") as fh:
        fh.write("\n".join(tex))
    written["latex"] = out / "comparison.tex"
    return written
