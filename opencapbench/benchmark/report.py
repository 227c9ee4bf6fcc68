"""The runner's entry point to the results: a thin wrapper over :mod:`opencapbench.report`.

Kept so that ``runner.run_benchmark`` and ``ocb benchmark``'s printout keep working while the
runner moves to :func:`opencapbench.report.write_results` with an explicit
:class:`~opencapbench.report.RunInfo`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from opencapbench.report.results import RunInfo, write_results
from opencapbench.report.tables import format_table, write_shifts_json, write_table_csv

__all__ = ["format_table", "write_table_csv", "write_shifts_json", "write_report"]


def write_report(
    out_dir: str | os.PathLike,
    per_trial: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame] | None = None,
    shifts: Mapping[str, Mapping[str, Any]] | None = None,
    failures: pd.DataFrame | None = None,
    cfg: Any = None,
    plots: bool = True,
) -> dict[str, Path]:
    """:func:`~opencapbench.report.write_results` with the :class:`RunInfo` taken from ``cfg``
    (a ``BenchmarkConfig``; its ``out_dir`` feeds the diagnostics).  The number of trials is
    the scored ones plus the failures."""
    keys = set()
    if not per_trial.empty:
        keys |= set(map(tuple, per_trial[["subject", "trial"]].drop_duplicates().to_numpy()))
    if failures is not None and not failures.empty:
        keys |= set(map(tuple, failures[["subject", "trial"]].to_numpy()))
    if cfg is not None:
        run = RunInfo.from_benchmark_config(cfg, n_trials=len(keys))
    else:
        run = RunInfo(name=Path(out_dir).resolve().parent.name or "run", n_trials=len(keys))
    return write_results(out_dir, per_trial, tables, shifts, failures, run, plots=plots)
