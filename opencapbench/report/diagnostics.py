"""Per-trial diagnostics of a run, read from ``<out>/status/<subject>/<trial>.json``, as tables.

The status files hold one entry per stage (``markers``, ``ik``, and ``sync`` / ``scale`` when
those stages ran).  Every key is optional: a table is returned only for what was recorded, and
the report says "not recorded" for the rest.  Keys read (all per trial):

* ``markers``: ``cameras``, ``frames``, ``filter_hz``, ``triangulated_fraction``,
  ``filled_fraction``, ``median_reprojection_px``, ``excluded_camera_points``,
  ``excluded_per_camera`` ``{camera: n}``, ``most_excluded_keypoints`` ``{keypoint: n}``,
  ``median_reprojection_px_per_camera`` ``{camera: px}``,
  ``median_reprojection_px_per_keypoint`` ``{keypoint: px}``, and with ``--filter-hz auto``
  ``filter_hz_per_keypoint`` ``{keypoint: Hz}`` and ``noise_px_per_keypoint``
  ``{keypoint: px}``;
* ``ik``: ``marker_rms_m``, ``seconds``, ``marker_rms_per_marker_m`` ``{marker: m}``;
* ``sync``: ``offsets_frames`` ``{camera: frames}``;
* ``scale``: ``scale_factors`` ``{body: [sx, sy, sz]}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

__all__ = ["read_status", "diagnostics_tables", "cameras_used"]

TrialKey = tuple[str, str]


def read_status(out_dir: str | Path) -> dict[TrialKey, dict[str, Any]]:
    """Every ``status/<subject>/<trial>.json`` under ``out_dir``: ``{(subject, trial): data}``.

    A file that cannot be parsed is logged and skipped (the report must still be written).
    """
    root = Path(out_dir) / "status"
    found: dict[TrialKey, dict[str, Any]] = {}
    for path in sorted(root.glob("*/*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            log.warning("%s: unreadable status file (%s); left out of the report", path, err)
            continue
        if isinstance(data, dict):
            found[(path.parent.name, path.stem)] = data
    return found


def _entry(data: Mapping[str, Any], stage: str) -> Mapping[str, Any]:
    """A stage's ledger entry with its ``info`` (what the stage recorded) at the top level."""
    entry = data.get(stage)
    if not isinstance(entry, Mapping):
        return {}
    info = entry.get("info")
    return {**entry, **info} if isinstance(info, Mapping) else entry


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _wide(
    status: Mapping[TrialKey, Mapping[str, Any]], stage: str, key: str, scale: float = 1.0
) -> pd.DataFrame | None:
    """Trial × item table of a ``{item: number}`` field; None when no trial recorded it."""
    rows = {}
    for trial, data in status.items():
        mapping = _entry(data, stage).get(key)
        if isinstance(mapping, Mapping) and mapping:
            rows[trial] = {str(k): _number(v) * scale for k, v in mapping.items()}
    if not rows:
        return None
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(list(rows), names=["subject", "trial"])
    return table


def diagnostics_tables(
    status: Mapping[TrialKey, Mapping[str, Any]], per_trial: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Tables of what the status files (and the per-trial table) recorded.

    Returns (only the entries that have data), each indexed by (subject, trial) unless noted:

    * ``markers``: cameras, frames, 2D cut-off (Hz; the median over keypoints with ``auto``),
      % of points triangulated / gap-filled, median reprojection error (px), camera-point
      exclusions;
    * ``filter_per_keypoint`` / ``noise_per_keypoint``: with ``--filter-hz auto``, the cut-off
      chosen for each keypoint (Hz) and its estimated 2D noise (px, the standard deviation);
    * ``reprojection_per_camera`` / ``reprojection_per_keypoint``: median px;
    * ``exclusions_per_camera``: points where a camera was excluded;
    * ``most_excluded_keypoints``: long table (subject, trial, keypoint, exclusions);
    * ``ik``: marker RMS (mm) and seconds; ``ik_per_marker``: RMS per marker (mm);
    * ``sync``: offset per camera (frames);
    * ``scale``: long table (subject, trial, body, sx, sy, sz);
    * ``coverage``: per trial, from the ``coverage`` column of ``per_trial``.
    """
    out: dict[str, pd.DataFrame] = {}
    rows = []
    for (subject, trial), data in status.items():
        m = _entry(data, "markers")
        if not m or m.get("state") == "failed":
            continue
        cams = m.get("cameras")
        rows.append({
            "subject": subject, "trial": trial,
            "cameras": ", ".join(map(str, cams)) if isinstance(cams, list) else "n/a",
            "frames": _number(m.get("frames")),
            "filter_hz": _number(m.get("filter_hz")),
            "triangulated_%": 100.0 * _number(m.get("triangulated_fraction")),
            "gap_filled_%": 100.0 * _number(m.get("filled_fraction")),
            "median_reprojection_px": _number(m.get("median_reprojection_px")),
            "excluded_camera_points": _number(m.get("excluded_camera_points")),
        })  # fmt: skip
    if rows:
        markers = pd.DataFrame(rows).set_index(["subject", "trial"])
        for col in ("frames", "excluded_camera_points"):
            markers[col] = markers[col].round().astype("Int64")
        out["markers"] = markers
    for name, key in (
        ("reprojection_per_camera", "median_reprojection_px_per_camera"),
        ("reprojection_per_keypoint", "median_reprojection_px_per_keypoint"),
        ("exclusions_per_camera", "excluded_per_camera"),
        ("filter_per_keypoint", "filter_hz_per_keypoint"),
        ("noise_per_keypoint", "noise_px_per_keypoint"),
    ):
        table = _wide(status, "markers", key)
        if table is not None:
            out[name] = table
    excluded = [
        {"subject": s, "trial": t, "keypoint": str(k), "exclusions": _number(n)}
        for (s, t), data in status.items()
        if isinstance(mk := _entry(data, "markers").get("most_excluded_keypoints"), Mapping)
        for k, n in mk.items()
    ]
    if excluded:
        out["most_excluded_keypoints"] = pd.DataFrame(excluded)
    ik_rows = [
        {"subject": s, "trial": t,
         "marker_rms_mm": 1000.0 * _number(_entry(data, "ik").get("marker_rms_m")),
         "seconds": _number(_entry(data, "ik").get("seconds"))}
        for (s, t), data in status.items()
        if _entry(data, "ik").get("state") == "done"
    ]  # fmt: skip
    if ik_rows:
        out["ik"] = pd.DataFrame(ik_rows).set_index(["subject", "trial"])
    per_marker = _wide(status, "ik", "marker_rms_per_marker_m", scale=1000.0)
    if per_marker is not None:
        out["ik_per_marker"] = per_marker
    sync = _wide(status, "sync", "offsets_frames")
    if sync is not None:
        out["sync"] = sync
    scale = [
        {"subject": s, "trial": t, "body": str(body),
         **dict(zip(("sx", "sy", "sz"), [_number(v) for v in list(f)[:3]], strict=False))}
        for (s, t), data in status.items()
        if isinstance(sf := _entry(data, "scale").get("scale_factors"), Mapping)
        for body, f in sf.items()
        if isinstance(f, (list, tuple))
    ]  # fmt: skip
    if scale:
        out["scale"] = pd.DataFrame(scale)
    if per_trial is not None and not per_trial.empty and "coverage" in per_trial.columns:
        cov = per_trial.groupby(["subject", "trial"], sort=False)["coverage"].first().to_frame()
        out["coverage"] = cov
    return {k: v.sort_index() if k not in ("most_excluded_keypoints", "scale") else v
            for k, v in out.items()}  # fmt: skip


def cameras_used(status: Mapping[TrialKey, Mapping[str, Any]]) -> list[str]:
    """Cameras that any trial triangulated with (``markers.cameras``), sorted."""
    names: set[str] = set()
    for data in status.values():
        cams = _entry(data, "markers").get("cameras")
        if isinstance(cams, list):
            names.update(map(str, cams))
    return sorted(names)
