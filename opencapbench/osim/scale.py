"""Scaling a generic model to a subject from a static trial with OpenSim's ScaleTool.

The set-up follows OpenCapBench's ``Setup_scaling_RajagopalModified2016_withArms_KA_mmpose_final
.xml`` (facts in ``docs/benchmark.md``): body scale factors from marker-pair distances
(:data:`MEASUREMENTS`, mass distribution preserved), then the marker placer puts the model in
the static pose by IK (marker weights :data:`PLACER_MARKER_WEIGHTS`, weak coordinate tasks
:data:`PLACER_COORDINATE_TASKS` holding the legs and trunk near neutral) and moves the
unfixed markers onto the measured ones.  The time range is a window in which the subject
stands still (:func:`find_still_window`, as OpenCap's ``getScaleTimeRange``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import opensim

from opencapbench.errors import OCBError
from opencapbench.io.atomic import atomic_path
from opencapbench.io.trc import read_trc
from opencapbench.osim.logs import load_model, redirect_output

__all__ = [
    "MEASUREMENTS",
    "PLACER_COORDINATE_TASKS",
    "PLACER_MARKER_WEIGHTS",
    "ScaleResult",
    "ScalingError",
    "StaticTrialError",
    "find_still_window",
    "prepare_generic_model",
    "scale_model",
]

log = logging.getLogger(__name__)


class StaticTrialError(OCBError, ValueError):
    """The static trial is missing, or the subject never stands still in it."""


class ScalingError(OCBError, RuntimeError):
    """OpenSim's ScaleTool failed or gave implausible scale factors; the message names them."""


#: Measurement name → (marker pairs, {body: axes}); OpenCapBench's scaling set-up.  Bodies a
#: model lacks (e.g. the patellae of the built-in model) are skipped.
MEASUREMENTS: dict[str, tuple[tuple[tuple[str, str], ...], dict[str, str]]] = {
    "foot": (
        (("r_calc", "r_toe"), ("r_calc", "r_5meta"), ("l_calc", "l_toe"), ("l_calc", "l_5meta")),
        {b: "X Y Z" for b in ("talus_r", "calcn_r", "toes_r", "talus_l", "calcn_l", "toes_l")},
    ),
    "tibia_r": ((("r_knee", "r_ankle"), ("r_mknee", "r_mankle")), {"tibia_r": "X Y Z"}),
    "femur_r": ((("r_ASIS", "r_knee"),), {"femur_r": "X Y Z", "patella_r": "X Y Z"}),
    "tibia_l": ((("l_knee", "l_ankle"), ("l_mknee", "l_mankle")), {"tibia_l": "X Y Z"}),
    "femur_l": ((("l_ASIS", "l_knee"),), {"femur_l": "X Y Z", "patella_l": "X Y Z"}),
    "pelvisXY": ((("r_ASIS", "r_PSIS"), ("l_ASIS", "l_PSIS")), {"pelvis": "X Y"}),
    "pelvisZ": ((("l_ASIS", "r_ASIS"),), {"pelvis": "Z"}),
    "torsoXY": (
        (("rshoulder", "r_PSIS"), ("lshoulder", "l_PSIS"), ("C7", "r_PSIS"), ("C7", "l_PSIS")),
        {"torso": "X Y", "scapulaPhantom_r": "X Y", "scapulaPhantom_l": "X Y"},
    ),
    "torsoZ": (
        (("rshoulder", "lshoulder"),),
        {"torso": "Z", "scapulaPhantom_r": "Z", "scapulaPhantom_l": "Z"},
    ),
    "humerus": (
        (
            ("rshoulder", "r_lelbow"),
            ("rshoulder", "r_melbow"),
            ("lshoulder", "l_lelbow"),
            ("lshoulder", "l_melbow"),
        ),
        {"humerus_r": "X Y Z", "humerus_l": "X Y Z"},
    ),  # fmt: skip
    "radius": (
        (
            ("r_mwrist", "r_lelbow"),
            ("r_lwrist", "r_melbow"),
            ("l_mwrist", "l_lelbow"),
            ("l_lwrist", "l_melbow"),
        ),
        {b: "X Y Z" for b in ("ulna_r", "radius_r", "hand_r", "ulna_l", "radius_l", "hand_l")},
    ),  # fmt: skip
}

#: Marker placer IK weights (OpenCapBench: 10 on the legs and pelvis, 20 on C7, 1-5 arms).
PLACER_MARKER_WEIGHTS: dict[str, float] = {
    "C7": 20.0, "rshoulder": 5.0, "lshoulder": 5.0, "sternum": 10.0,
    **{f"{s}_{m}": 10.0 for s in ("r", "l")
       for m in ("ASIS", "PSIS", "knee", "mknee", "ankle", "mankle", "toe", "5meta", "calc")},
    "r_lelbow": 1.0, "l_lelbow": 1.0,
    "r_mwrist": 5.0, "r_lwrist": 5.0, "l_mwrist": 5.0, "l_lwrist": 5.0,
}  # fmt: skip

#: Marker placer coordinate tasks: coordinate → (weight, value in degrees).
PLACER_COORDINATE_TASKS: dict[str, tuple[float, float]] = {
    **{f"{c}_{s}": (0.1, 0.0) for s in ("r", "l") for c in ("hip_flexion", "knee_angle")},
    **{f"knee_adduction_{s}": (0.1, 0.0) for s in ("r", "l")},
    **{f"ankle_angle_{s}": (0.1, 5.0) for s in ("r", "l")},
    **{c: (0.1, 0.0) for c in ("lumbar_extension", "lumbar_bending", "lumbar_rotation")},
}

#: Scale factors outside this range mean bad markers or extrinsics (OpenCap's sanity check).
PLAUSIBLE_FACTORS = (0.5, 2.0)


def find_still_window(
    positions: np.ndarray,
    fps: float,
    longest_s: float = 1.0,
    shortest_s: float = 0.1,
    thresholds_m: tuple[float, ...] = (0.003, 0.006, 0.009, 0.012, 0.015),
) -> tuple[int, int] | None:
    """The longest window in which no marker moves relative to the others (OpenCap's rule).

    Every marker is taken relative to the centroid of the markers of its frame; a window is
    still when each coordinate of each marker stays within a threshold (peak to peak).  The
    window length shrinks from ``longest_s`` to ``shortest_s`` (0.1 s steps) at the strictest
    threshold before the threshold is relaxed.

    Args:
        positions: (F, M, 3) metres; NaN = missing (a marker missing in a window is ignored).
        fps: frame rate, Hz.
        longest_s, shortest_s: window lengths tried, seconds.
        thresholds_m: peak-to-peak limits tried in order, metres.

    Returns:
        ``(start, stop)`` frame indices (stop exclusive) of the stillest window of the first
        length and threshold that succeed, or None when the subject never stands still.
    """
    pos = np.asarray(positions, dtype=np.float64)
    F = pos.shape[0]
    rel = (pos - np.nanmean(pos, axis=1, keepdims=True)).reshape(F, -1)  # (F, 3M)
    lengths = []
    n = int(round(longest_s * fps))
    while n >= max(int(round(shortest_s * fps)), 2):
        lengths.append(n)
        n -= max(int(round(0.1 * fps)), 1)
    spans: dict[int, np.ndarray] = {}
    for threshold in thresholds_m:
        for n in lengths:
            if n > F:
                continue
            if n not in spans:
                win = np.lib.stride_tricks.sliding_window_view(rel, n, axis=0)  # (F-n+1, 3M, n)
                ok = np.isfinite(win)
                ptp = np.where(ok, win, -np.inf).max(-1) - np.where(ok, win, np.inf).min(-1)
                # a coordinate missing from the whole window is ignored (ptp is -inf or NaN)
                spans[n] = np.where(np.isfinite(ptp), ptp, -np.inf).max(axis=1)
            worst = spans[n]
            best = int(np.argmin(worst))
            if np.isfinite(worst[best]) and worst[best] <= threshold:
                return best, best + n
    return None


@dataclass
class ScaleResult:
    """A scaled model.

    Attributes:
        model_path: the scaled model with its markers placed.
        factors: body → (x, y, z) scale factors applied by the ScaleTool.
        time_range: ``(start, end)`` seconds of the static window used.
    """

    model_path: Path
    factors: dict[str, tuple[float, float, float]]
    time_range: tuple[float, float]

    def info(self) -> dict:
        """JSON-ready summary for the ledger and the report (factors rounded to 1e-4)."""
        return {
            "time_range_s": [round(t, 4) for t in self.time_range],
            "scale_factors": {b: [round(v, 4) for v in f] for b, f in self.factors.items()},
        }


def prepare_generic_model(
    out_path: str | os.PathLike, generic_model: str | os.PathLike | None = None
) -> Path:
    """The unscaled generic model with the SynthPose markers, ready for :func:`scale_model`.

    Args:
        out_path: where to write it (atomic).
        generic_model: a Rajagopal/Lai-family ``.osim`` (e.g. LaiUhlrich2022); None for the
            built-in compact model at its generic size (1.70 m, 75.337 kg).

    Returns:
        ``out_path``.
    """
    from opencapbench.osim.markers import attach_synthpose_markers
    from opencapbench.osim.model_builder import (
        GENERIC_HEIGHT_M,
        GENERIC_MASS_KG,
        write_compact_model,
    )

    out_path = Path(out_path)
    if generic_model is None:
        write_compact_model(out_path, GENERIC_HEIGHT_M, GENERIC_MASS_KG)
        generic_model = out_path
    attach_synthpose_markers(generic_model, out_path)
    return out_path


def _array_str(items) -> opensim.ArrayStr:
    arr = opensim.ArrayStr()
    for item in items:
        arr.append(item)
    return arr


def _time_range(t0: float, t1: float) -> opensim.ArrayDouble:
    arr = opensim.ArrayDouble()
    arr.append(t0)
    arr.append(t1)
    return arr


def _read_scale_file(path: Path) -> dict[str, tuple[float, float, float]]:
    """Body → factors from a ScaleTool ``output_scale_file``."""
    out = {}
    for scale in ET.parse(path).getroot().iter("Scale"):
        body = (scale.findtext("segment") or "").strip()
        values = tuple(float(v) for v in (scale.findtext("scales") or "").split())
        if body and len(values) == 3:
            out[body] = values
    return out


def scale_model(
    generic_model: str | os.PathLike,
    static_trc: str | os.PathLike,
    out_path: str | os.PathLike,
    mass_kg: float,
    height_m: float,
    name: str = "subject",
    log_path: str | os.PathLike | None = None,
) -> ScaleResult:
    """Scale a generic model carrying the SynthPose markers to a subject's static trial.

    Args:
        generic_model: unscaled ``.osim`` with the SynthPose markers (see
            :func:`opencapbench.osim.markers.attach_synthpose_markers`).
        static_trc: the static trial's markers (metres, OpenSim frame).
        out_path: the scaled model (atomic write).
        mass_kg, height_m: the subject's (``sessionMetadata.yaml``); the mass is distributed
            like the generic model's.
        name: names the subject in errors and in the model.
        log_path: OpenSim's console log (default ``out_path`` with suffix ``.log``).

    Returns:
        :class:`ScaleResult`.

    Raises:
        StaticTrialError: the TRC is missing or the subject never stands still for 0.1 s.
        ScalingError: the ScaleTool failed, or a factor is outside :data:`PLAUSIBLE_FACTORS`.
    """
    static_trc, out_path = Path(static_trc), Path(out_path)
    if not static_trc.is_file():
        raise StaticTrialError(f"{name}: static trial markers {static_trc} are missing")
    trc = read_trc(static_trc)
    window = find_still_window(trc.positions, trc.rate_hz)
    if window is None:
        raise StaticTrialError(
            f"{name}: in {static_trc} the subject never stands still for 0.1 s (markers move "
            f"more than 15 mm relative to each other); scaling needs a static pose"
        )
    t0, t1 = float(trc.times[window[0]]), float(trc.times[window[1] - 1])
    model = load_model(generic_model)
    bodies = {model.getBodySet().get(i).getName() for i in range(model.getBodySet().getSize())}
    model_markers = {
        model.getMarkerSet().get(i).getName() for i in range(model.getMarkerSet().getSize())
    }
    markers = model_markers & set(trc.marker_names)

    tool = opensim.ScaleTool()
    tool.setName(name)
    tool.setSubjectMass(float(mass_kg))
    tool.setSubjectHeight(float(height_m))
    tool.getGenericModelMaker().setModelFileName(os.fspath(Path(generic_model).resolve()))
    scaler = tool.getModelScaler()
    scaler.setApply(True)
    scaler.setScalingOrder(_array_str(["measurements"]))
    scaler.setMarkerFileName(os.fspath(static_trc.resolve()))
    scaler.setTimeRange(_time_range(t0, t1))
    scaler.setPreserveMassDist(True)
    used: list[str] = []
    for mname, (pairs, body_axes) in MEASUREMENTS.items():
        pairs = [p for p in pairs if set(p) <= markers]
        body_axes = {b: a for b, a in body_axes.items() if b in bodies}
        if not pairs or not body_axes:
            continue
        m = opensim.Measurement()
        m.setName(mname)
        m.setApply(True)
        for a, b in pairs:
            m.getMarkerPairSet().cloneAndAppend(opensim.MarkerPair(a, b))
        for body, axes in body_axes.items():
            bs = opensim.BodyScale()
            bs.setName(body)
            bs.setAxisNames(_array_str(axes.split()))
            m.getBodyScaleSet().cloneAndAppend(bs)
        scaler.addMeasurement(m)
        used.append(mname)
    if not used:
        raise ScalingError(
            f"{name}: no scaling measurement has its markers in both {static_trc} and "
            f"{generic_model} (expected SynthPose marker names such as r_knee, r_ankle)"
        )
    placer = tool.getMarkerPlacer()
    placer.setApply(True)
    placer.setMarkerFileName(os.fspath(static_trc.resolve()))
    placer.setTimeRange(_time_range(t0, t1))
    placer.setMoveModelMarkers(True)
    tasks = placer.getIKTaskSet()
    for marker in sorted(markers):
        task = opensim.IKMarkerTask()
        task.setName(marker)
        task.setApply(True)
        task.setWeight(PLACER_MARKER_WEIGHTS.get(marker, 1.0))
        tasks.cloneAndAppend(task)
    coords = model.getCoordinateSet()
    for coord, (weight, value_deg) in PLACER_COORDINATE_TASKS.items():
        if not coords.contains(coord):
            continue
        task = opensim.IKCoordinateTask()
        task.setName(coord)
        task.setApply(True)
        task.setWeight(weight)
        task.setValueType(opensim.IKCoordinateTask.ManualValue)
        task.setValue(float(np.deg2rad(value_deg)))
        tasks.cloneAndAppend(task)

    log_path = Path(log_path) if log_path is not None else out_path.with_suffix(".log")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ocb_scale_") as tmp:
        tmp_dir = Path(tmp)
        scaled = tmp_dir / "scaled.osim"
        placed = tmp_dir / "placed.osim"
        scale_file = tmp_dir / "scale_set.xml"
        scaler.setOutputModelFileName(os.fspath(scaled))
        scaler.setOutputScaleFileName(os.fspath(scale_file))
        placer.setOutputModelFileName(os.fspath(placed))
        with redirect_output(log_path):
            ok = tool.run()
        if not ok or not placed.is_file() or not scale_file.is_file():
            raise ScalingError(
                f"{name}: OpenSim's ScaleTool failed on {static_trc}; see {log_path}"
            )
        factors = {b: f for b, f in _read_scale_file(scale_file).items() if b in bodies}
        lo, hi = PLAUSIBLE_FACTORS
        bad = {b: f for b, f in factors.items() if not all(lo <= v <= hi for v in f)}
        if bad:
            raise ScalingError(
                f"{name}: implausible scale factors from {static_trc}: "
                + ", ".join(f"{b} {np.round(f, 3).tolist()}" for b, f in sorted(bad.items()))
                + " (bad markers or camera extrinsics?)"
            )
        scaled_model = load_model(placed)
        scaled_model.setName(name)
        with atomic_path(out_path) as tmp_out:
            scaled_model.printToXML(os.fspath(tmp_out))
    log.info("%s: scaled %s from %s (%.2f-%.2f s)", name, generic_model, static_trc, t0, t1)
    return ScaleResult(out_path, factors, (t0, t1))
