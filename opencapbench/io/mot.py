"""OpenSim motion (``.mot``) files: the IK output format.

Written files reproduce OpenSim 4.6's IK output header exactly::

    Coordinates
    version=1
    nRows=<T>
    nColumns=<D + 1>            (includes the time column)
    inDegrees=yes
    <blank>
    Units are S.I. units (second, meters, Newtons, ...)
    If the header above contains a line with 'inDegrees', this indicates whether rotational values are in degrees (yes) or radians (no).
    <blank>
    endheader
    time<TAB>pelvis_tilt<TAB>...

followed by tab-separated, right-aligned ``%16.8f`` values.  Missing values are written as
``NaN``.

:func:`read_mot` returns a :class:`pandas.DataFrame` indexed by ``time`` (seconds) with one
column per coordinate and ``df.attrs["in_degrees"]``.  It accepts any header length ending in
``endheader`` (Sports2D's ``nColumns`` without the time column, extra or missing header lines,
``.sto`` files), tab- or space-separated values, and raises :class:`MotFileError` on anything
else.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from opencapbench.errors import OCBError
from opencapbench.io.atomic import atomic_write

__all__ = ["MotFileError", "write_mot", "read_mot"]

_UNITS_LINE = "Units are S.I. units (second, meters, Newtons, ...)"
_DEGREES_LINE = (
    "If the header above contains a line with 'inDegrees', this indicates whether rotational "
    "values are in degrees (yes) or radians (no)."
)


class MotFileError(OCBError, ValueError):
    """A motion file is malformed; the message names the file and the line."""


def _fmt(v: float) -> str:
    return f"{'NaN':>16}" if math.isnan(v) else f"{v:16.8f}"


def write_mot(
    path: str | os.PathLike,
    times: np.ndarray,
    columns: Sequence[str],
    values: np.ndarray,
    in_degrees: bool = True,
    name: str = "Coordinates",
) -> Path:
    """Write an OpenSim ``.mot`` file with the 4.6 IK-output header, atomically.

    Args:
        path: output file.
        times: (T,) seconds.
        columns: D coordinate names (without ``time``).
        values: (T, D); rotations in degrees when ``in_degrees`` else radians, translations in
            metres.  NaN is written as ``NaN``.
        in_degrees: value of the ``inDegrees`` header line.
        name: the first header line.
    """
    path = Path(path)
    times = np.asarray(times, dtype=np.float64).ravel()
    vals = np.asarray(values, dtype=np.float64)
    cols = [str(c) for c in columns]
    if vals.ndim == 1 and len(cols) == 1:
        vals = vals[:, None]
    if vals.shape != (times.size, len(cols)):
        raise ValueError(f"values shape {vals.shape} must be (T, D) = ({times.size}, {len(cols)})")
    if len(set(cols)) != len(cols) or any(c.lower() == "time" for c in cols):
        raise ValueError("column names must be unique and must not include 'time'")
    for c in cols:
        if not c or any(ch.isspace() for ch in c):
            raise ValueError(f"invalid column name {c!r} (empty or contains whitespace)")
    if not np.all(np.isfinite(times)):
        raise ValueError("times must be finite")
    if "\n" in name or "\r" in name:
        raise ValueError("name must be a single line")
    header = [
        name,
        "version=1",
        f"nRows={times.size}",
        f"nColumns={len(cols) + 1}",
        f"inDegrees={'yes' if in_degrees else 'no'}",
        "",
        _UNITS_LINE,
        _DEGREES_LINE,
        "",
        "endheader",
        "\t".join(["time", *cols]),
    ]
    with atomic_write(path) as fh:
        fh.write("\n".join(header) + "\n")
        for i in range(times.size):
            fh.write("\t".join([_fmt(times[i])] + [_fmt(v) for v in vals[i].tolist()]) + "\n")
    return path


_KV = re.compile(r"^\s*([A-Za-z_][\w ]*?)\s*=\s*(.*?)\s*$")


def _parse_value(text: str) -> float:
    text = text.strip()
    if not text:
        return math.nan
    return float(text)


def read_mot(path: str | os.PathLike) -> pd.DataFrame:
    """Read an OpenSim ``.mot`` / ``.sto`` file.

    Returns:
        DataFrame indexed by ``time`` (float seconds, index name ``"time"``), one float column
        per coordinate.  ``df.attrs``: ``in_degrees`` (bool; True when the header has no
        ``inDegrees`` line, as in every IK output), ``name`` (first header line), ``header``
        (dict of the ``key=value`` header lines), ``path``.

    Raises:
        MotFileError: no ``endheader``, no ``time`` column, duplicate columns, ragged or
            non-numeric rows, fewer or more rows than the header's ``nRows``.
    """
    path = Path(path)
    if not path.is_file():
        raise MotFileError(f"{path}: motion file not found")
    try:
        with open(path, encoding="utf-8-sig") as fh:
            lines = fh.read().splitlines()
    except UnicodeDecodeError:
        raise MotFileError(f"{path}: not a text file") from None
    end = next((i for i, ln in enumerate(lines) if ln.strip().lower() == "endheader"), None)
    if end is None:
        raise MotFileError(f"{path}: no 'endheader' line; not an OpenSim motion file")
    header: dict[str, str] = {}
    for ln in lines[:end]:
        m = _KV.match(ln)
        if m:
            header[m.group(1).strip()] = m.group(2)
    in_deg_text = next((v for k, v in header.items() if k.lower() == "indegrees"), "yes")
    in_degrees = in_deg_text.strip().lower() not in ("no", "false", "0")
    label_idx = next((i for i in range(end + 1, len(lines)) if lines[i].strip()), None)
    if label_idx is None:
        raise MotFileError(f"{path}: no column-label line after 'endheader'")
    label_line = lines[label_idx]
    use_tabs = "\t" in label_line

    def split(line: str) -> list[str]:
        return line.strip("\r\n").split("\t") if use_tabs else line.split()

    labels = [c.strip() for c in split(label_line)]
    while labels and not labels[-1]:
        labels.pop()
    if not labels or labels[0].lower() != "time":
        raise MotFileError(
            f"{path}: line {label_idx + 1}: the first column must be 'time', got {labels[:3]}"
        )
    if len(set(labels)) != len(labels) or any(not c for c in labels):
        raise MotFileError(f"{path}: line {label_idx + 1}: empty or duplicate column names")
    ncols = len(labels)
    rows: list[list[float]] = []
    for lineno in range(label_idx + 1, len(lines)):
        line = lines[lineno]
        if not line.strip():
            continue
        cells = split(line)
        while len(cells) > ncols and not cells[-1].strip():
            cells.pop()
        if len(cells) != ncols:
            raise MotFileError(
                f"{path}: line {lineno + 1} has {len(cells)} values, expected {ncols}"
            )
        try:
            rows.append([_parse_value(c) for c in cells])
        except ValueError as exc:
            raise MotFileError(f"{path}: line {lineno + 1}: {exc}") from None
    data = np.array(rows, dtype=np.float64).reshape(len(rows), ncols)
    if np.isnan(data[:, 0]).any():
        raise MotFileError(f"{path}: the time column has missing values")
    declared = next((v for k, v in header.items() if k.lower() == "nrows"), None)
    if declared is not None and declared.strip().isdigit() and int(declared) != len(rows):
        raise MotFileError(
            f"{path}: the header says nRows={declared.strip()} but {len(rows)} data rows were "
            "read (truncated or edited file)"
        )
    df = pd.DataFrame(data[:, 1:], columns=labels[1:], index=pd.Index(data[:, 0], name="time"))
    df.attrs["in_degrees"] = in_degrees
    df.attrs["name"] = lines[0].strip() if end > 0 else ""
    df.attrs["header"] = header
    df.attrs["path"] = str(path)
    return df
