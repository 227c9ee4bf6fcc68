"""Tables of results: aligned Markdown, full-precision CSV, LaTeX (booktabs), JSON, best-value marks.

Every writer goes through :mod:`opencapbench.io.atomic`.  :func:`format_table` is also what the
console printout of ``ocb benchmark`` and ``ocb compare`` uses.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opencapbench.io.atomic import atomic_write

__all__ = [
    "format_table",
    "format_latex",
    "best_mask",
    "write_table_csv",
    "write_shifts_json",
    "jsonable",
]

_NA = "n/a"


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return _NA
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return _NA if not math.isfinite(float(value)) else f"{float(value):.{digits}f}"
    if value is pd.NA or value is pd.NaT:
        return _NA
    text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def format_table(
    df: pd.DataFrame, digits: int = 2, index: bool = True, bold: pd.DataFrame | None = None
) -> str:
    """Render ``df`` as an aligned GitHub-Markdown table (also readable on a console).

    Floats get ``digits`` decimals, integers none, NaN shows as ``n/a``; numeric columns are
    right-aligned.  With ``index=True`` the index levels come first (headed by their names).
    ``bold`` (same index and columns as ``df``, bool) wraps the marked cells in ``**…**``.
    """
    frame = df.reset_index() if index else df.reset_index(drop=True)
    if index and df.index.nlevels == 1 and df.index.name is None and "index" in frame.columns:
        frame = frame.rename(columns={"index": ""})
    headers = [str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    rows = [[_cell(v, digits) for v in row] for row in frame.itertuples(index=False, name=None)]
    if bold is not None:
        n_index = df.index.nlevels if index else 0
        mask = bold.reindex(index=df.index, columns=df.columns, fill_value=False).to_numpy(bool)
        for i, j in zip(*np.nonzero(mask), strict=True):
            rows[i][n_index + j] = f"**{rows[i][n_index + j]}**"
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


def best_mask(
    df: pd.DataFrame,
    columns: Sequence[str],
    rows: Sequence[Any] | None = None,
    group_level: int | str | None = None,
) -> pd.DataFrame:
    """Cells holding the lowest value of each column (ties all marked; NaN never).

    Args:
        df: a table of errors (lower is better).
        columns: the columns to mark (e.g. the DOFs and ``mean``; not ``n_trials``).
        rows: index labels that compete (default all); other rows are never marked, e.g.
            published reference rows.
        group_level: with a MultiIndex, the level within whose groups the best is taken (e.g.
            ``"activity"``); None compares all competing rows.

    Returns:
        bool DataFrame with the index and columns of ``df``.
    """
    mask = pd.DataFrame(False, index=df.index, columns=df.columns)
    competing = df.index.isin(list(rows)) if rows is not None else np.ones(len(df), bool)
    values = df[list(columns)].apply(pd.to_numeric, errors="coerce")
    values = values.where(np.broadcast_to(competing[:, None], values.shape))
    if group_level is None:
        best = values.min(axis=0)
        marks = values.eq(best, axis=1) & values.notna()
    else:
        best = values.groupby(level=group_level, sort=False).transform("min")
        marks = values.eq(best) & values.notna()
    mask[list(columns)] = marks.to_numpy(bool)
    return mask


def format_latex(
    df: pd.DataFrame,
    digits: int = 2,
    bold: pd.DataFrame | None = None,
    caption: str | None = None,
    label: str | None = None,
) -> str:
    """Render ``df`` as a LaTeX ``table`` with a booktabs ``tabular`` (pandas' Styler).

    Text is LaTeX-escaped (``hip_flexion`` → ``hip\\_flexion``); marked cells are
    ``\\textbf``; NaN is ``--``; the index levels become the first columns (a group label
    printed once per group).  Needs ``\\usepackage{booktabs}``.
    """
    n_index = df.index.nlevels
    frame = df.reset_index()
    if n_index > 1:  # a group label once, at the top of its group
        first = frame.iloc[:, 0].astype(str)
        frame.iloc[:, 0] = first.where(first.ne(first.shift()), "")
    frame.columns = ["" if str(c).startswith("level_") else str(c) for c in frame.columns]
    styler = frame.style.hide(axis="index").format(precision=digits, na_rep="--", escape="latex")
    styler = styler.format_index(escape="latex", axis=1)
    if bold is not None:
        mask = np.zeros(frame.shape, bool)
        mask[:, n_index:] = bold.reindex(
            index=df.index, columns=df.columns, fill_value=False
        ).to_numpy(bool)
        props = np.where(mask, "textbf:--rwrap;", "")
        styler = styler.apply(lambda _: props, axis=None)
    numeric = [pd.api.types.is_numeric_dtype(frame.iloc[:, j]) for j in range(frame.shape[1])]
    column_format = "".join("r" if n and j >= n_index else "l" for j, n in enumerate(numeric))
    return styler.to_latex(
        hrules=True,
        caption=caption,
        label=label,
        position_float="centering",
        column_format=column_format,
    )


def write_table_csv(df: pd.DataFrame, path: str | os.PathLike, index: bool = True) -> Path:
    """Write a table as CSV with full float precision, atomically."""
    path = Path(path)
    with atomic_write(path) as fh:
        df.to_csv(fh, index=index, lineterminator="\n")
    return path


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, paths and non-finite floats made JSON-ready."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
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
        json.dump(jsonable(dict(sorted(shifts.items()))), fh, indent=2, sort_keys=False)
        fh.write("\n")
    return path
