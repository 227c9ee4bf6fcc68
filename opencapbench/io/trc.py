"""OpenSim TRC marker files (tab-separated, 5 header lines).

Written files look like (``<TAB>`` = tab)::

    PathFileType<TAB>4<TAB>(X/Y/Z)<TAB>walking1.trc
    DataRate<TAB>CameraRate<TAB>NumFrames<TAB>NumMarkers<TAB>Units<TAB>OrigDataRate<TAB>OrigDataStartFrame<TAB>OrigNumFrames
    100.0<TAB>100.0<TAB>250<TAB>52<TAB>m<TAB>100.0<TAB>1<TAB>250
    Frame#<TAB>Time<TAB>nose<TAB><TAB><TAB>left_eye<TAB><TAB><TAB>...
    <TAB><TAB>X1<TAB>Y1<TAB>Z1<TAB>X2<TAB>Y2<TAB>Z2...
    1<TAB>0.00000000<TAB>0.12345678<TAB>...

``Frame#`` counts from 1, units are metres, a missing marker coordinate is ``NaN``.
OpenSim 4.6 (``TimeSeriesTableVec3``), OpenCap, Pose2Sim and pandas read this layout.
The reader also accepts the optional blank 6th line, empty cells, ``nan``, and mm / cm units
(converted to metres).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from opencapbench.errors import OCBError
from opencapbench.io.atomic import atomic_write

__all__ = ["TrcData", "TrcFileError", "write_trc", "read_trc"]

_UNIT_SCALE = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}


class TrcFileError(OCBError, ValueError):
    """A TRC file is malformed; the message names the file and the line."""


@dataclass
class TrcData:
    """Contents of a TRC file.

    Attributes:
        times: (T,) seconds.
        marker_names: M marker labels in column order.
        positions: (T, M, 3) float64, **metres** whatever the file's units; NaN = missing.
        rate_hz: ``DataRate`` of the header.
        units: the units written in the file (``"m"``, ``"mm"``, ...); ``positions`` are
            always in metres.
        frame_numbers: (T,) the ``Frame#`` column.
    """

    times: np.ndarray
    marker_names: list[str]
    positions: np.ndarray
    rate_hz: float
    units: str = "m"
    frame_numbers: np.ndarray | None = None

    def marker(self, name: str) -> np.ndarray:
        """Trajectory (T, 3) of one marker, metres."""
        try:
            return self.positions[:, self.marker_names.index(name)]
        except ValueError:
            raise KeyError(f"marker {name!r} is not in the TRC file") from None


def _fmt(v: float) -> str:
    return "NaN" if math.isnan(v) else f"{v:.8f}"


def write_trc(
    path: str | os.PathLike,
    times: np.ndarray,
    marker_names: Sequence[str],
    positions: np.ndarray,
    rate_hz: float,
) -> Path:
    """Write an OpenSim TRC file (metres, ``Frame#`` from 1), atomically.

    Args:
        path: output ``.trc`` file.
        times: (T,) seconds, increasing.
        marker_names: M labels; no tabs, no duplicates.
        positions: (T, M, 3) metres in the OpenSim frame (Y up); NaN = missing.
        rate_hz: ``DataRate`` / ``CameraRate`` of the header.
    """
    path = Path(path)
    times = np.asarray(times, dtype=np.float64).ravel()
    pos = np.asarray(positions, dtype=np.float64)
    names = [str(n) for n in marker_names]
    t_count = times.size
    if pos.ndim != 3 or pos.shape[2] != 3:
        raise ValueError(f"positions must have shape (T, M, 3), got {pos.shape}")
    if pos.shape[0] != t_count or pos.shape[1] != len(names):
        raise ValueError(
            f"positions {pos.shape} do not match {t_count} times and {len(names)} marker names"
        )
    if len(set(names)) != len(names):
        raise ValueError("duplicate marker names")
    for n in names:
        if not n or any(c in n for c in "\t\r\n"):
            raise ValueError(f"invalid marker name {n!r}")
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        raise ValueError("times must be finite and strictly increasing")
    if not (np.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz must be positive, got {rate_hz}")
    rate = repr(float(rate_hz))
    m_count = len(names)
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t"
        "OrigDataStartFrame\tOrigNumFrames",
        f"{rate}\t{rate}\t{t_count}\t{m_count}\tm\t{rate}\t1\t{t_count}",
        "\t".join(["Frame#", "Time"] + [f"{n}\t\t" for n in names]),
        "\t".join(["", ""] + [f"X{i}\tY{i}\tZ{i}" for i in range(1, m_count + 1)]),
    ]
    flat = pos.reshape(t_count, m_count * 3)
    with atomic_write(path) as fh:
        fh.write("\n".join(lines) + "\n")
        for i in range(t_count):
            row = "\t".join(_fmt(v) for v in flat[i].tolist())
            fh.write(f"{i + 1}\t{times[i]:.8f}\t{row}\n")
    return path


def _cell(text: str) -> float:
    text = text.strip()
    return float(text) if text else math.nan


def read_trc(path: str | os.PathLike) -> TrcData:
    """Read a TRC file; positions are returned in metres (mm / cm files are converted).

    Raises:
        TrcFileError: missing header lines or fields, unknown units, non-numeric cells.
    """
    path = Path(path)
    if not path.is_file():
        raise TrcFileError(f"{path}: TRC file not found")
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        lines = fh.read().splitlines()
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise TrcFileError(f"{path}: not a TRC file (line 1 must start with 'PathFileType')")
    keys = [k.strip() for k in lines[1].split("\t")]
    vals = [v.strip() for v in lines[2].split("\t")]
    header = dict(zip(keys, vals, strict=False))
    try:
        rate = float(header["DataRate"])
    except (KeyError, ValueError):
        raise TrcFileError(f"{path}: line 3 has no valid DataRate ({lines[2]!r})") from None
    units = header.get("Units", "m") or "m"
    if units not in _UNIT_SCALE:
        raise TrcFileError(f"{path}: unsupported Units {units!r} (expected m, mm or cm)")
    label_cells = lines[3].split("\t")
    if len(label_cells) < 2 or label_cells[0].strip() != "Frame#":
        raise TrcFileError(f"{path}: line 4 must start with 'Frame#\\tTime'")
    names = [c.strip() for c in label_cells[2:] if c.strip()]
    m_count = len(names)
    ncols = 2 + 3 * m_count
    rows: list[list[float]] = []
    for lineno, line in enumerate(lines[5:], start=6):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) > ncols and all(not c.strip() for c in cells[ncols:]):
            cells = cells[:ncols]
        if len(cells) > ncols:
            raise TrcFileError(f"{path}: line {lineno} has {len(cells)} columns, expected {ncols}")
        try:
            row = [_cell(c) for c in cells]
        except ValueError as exc:
            raise TrcFileError(f"{path}: line {lineno}: {exc}") from None
        row.extend([math.nan] * (ncols - len(row)))
        rows.append(row)
    data = np.array(rows, dtype=np.float64).reshape(len(rows), ncols)
    positions = data[:, 2:].reshape(len(rows), m_count, 3) * _UNIT_SCALE[units]
    return TrcData(
        times=data[:, 1].copy(),
        marker_names=names,
        positions=positions,
        rate_hz=rate,
        units=units,
        frame_numbers=data[:, 0].copy(),
    )
