"""OpenSim inverse kinematics, in-process, one trial per call or many trials in parallel.

:func:`run_ik` builds the ``IKTaskSet`` itself (a weighted task for every marker present in
both the TRC file and the model), runs ``opensim.InverseKinematicsTool`` and writes the
``.mot`` atomically; by default it is plain OpenSim IK (model constraints and clamping as the
model has them).  OpenSim's console output goes to a per-trial log file.

:func:`run_ik_job` runs one :class:`IKJob` and returns an :class:`IKResult` or
:class:`IKFailure` (both picklable), for :class:`opencapbench.parallel.WorkerPool`;
:func:`run_ik_many` runs a list of jobs on such a pool.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from opencapbench.errors import OCBError
from opencapbench.io.atomic import atomic_path
from opencapbench.osim.logs import redirect_output
from opencapbench.recipes import load_marker_set

__all__ = [
    "DEFAULT_IK_WEIGHTS",
    "IKError",
    "IKFailure",
    "IKJob",
    "IKResult",
    "ik_outcome",
    "run_ik",
    "run_ik_job",
    "run_ik_many",
]

#: Marker weights of OpenCapBench's ``Setup_IK_mmpose_final_adjusted.xml`` for the SynthPose
#: markers (kept with the marker set in ``osim/data/synthpose_markers.yaml``).
DEFAULT_IK_WEIGHTS: dict[str, float] = dict(load_marker_set("synthpose_markers.yaml").ik_weights)

#: Weight of a marker present in the TRC file and the model but absent from the weights.
DEFAULT_WEIGHT = 1.0


class IKError(OCBError, RuntimeError):
    """Inverse kinematics could not run or produced no output; the message names the trial."""


@dataclass(frozen=True)
class IKJob:
    """One IK trial: inputs, output and settings (see :func:`run_ik`)."""

    model_path: Path
    trc_path: Path
    mot_path: Path
    weights: Mapping[str, float] | None = None
    time_range: tuple[float, float] | None = None
    accuracy: float = 1e-5
    log_path: Path | None = None
    unclamp: bool = False
    free_markerless_couplers: bool = False


@dataclass(frozen=True)
class IKResult:
    """A finished IK trial.

    Attributes:
        mot_path: the written motion file.
        n_frames: frames solved; frames where no task marker has data cannot be solved and are
            written as NaN rows.
        marker_rms_m: root-mean-square marker error over all frames and markers, metres
            (``sqrt(mean(per-frame RMS²))`` of OpenSim's marker-error report).
        seconds: wall time of the trial.
    """

    mot_path: Path
    n_frames: int
    marker_rms_m: float
    seconds: float


@dataclass(frozen=True)
class IKFailure:
    """A trial that failed: the job and the error message (``ExceptionType: message``)."""

    job: IKJob
    error: str


@dataclass(frozen=True)
class _Coupler:
    """A coordinate coupler: dependent coordinate = function(independent coordinates), in
    model units; ``*_rotational`` say which values are angles (degrees in a .mot).  Like
    OpenSim's own IK output, a dependent coordinate of motion type "coupled" (such as
    ``knee_angle_r_beta``) is written in model units (radians), not converted."""

    dependent: str
    dependent_rotational: bool
    independent: tuple[str, ...]
    independent_rotational: tuple[bool, ...]
    function: object


def _free_markerless_couplers(model) -> list[_Coupler]:
    """Stop enforcing coupler constraints whose dependent coordinate moves no marker.

    The dependent coordinate's joint child body and every body distal to it must carry no
    marker.  Returns the couplers that were freed (to fill their columns after IK).
    """
    import opensim

    rotational = opensim.Coordinate.Rotational
    marker_bodies = set()
    for i in range(model.getNumMarkers()):
        marker_bodies.add(model.getMarkerSet().get(i).getParentFrame().findBaseFrame().getName())
    children: dict[str, list[str]] = {}
    joints = model.getJointSet()
    for i in range(joints.getSize()):
        j = joints.get(i)
        parent = j.getParentFrame().findBaseFrame().getName()
        children.setdefault(parent, []).append(j.getChildFrame().findBaseFrame().getName())
    freed = []
    coords = model.updCoordinateSet()
    constraints = model.updConstraintSet()
    for i in range(constraints.getSize()):
        cc = opensim.CoordinateCouplerConstraint.safeDownCast(constraints.get(i))
        if cc is None or not cc.get_isEnforced():
            continue
        dep = coords.get(cc.getDependentCoordinateName())
        stack, moved = [dep.getJoint().getChildFrame().findBaseFrame().getName()], set()
        while stack:
            body = stack.pop()
            if body not in moved:
                moved.add(body)
                stack.extend(children.get(body, []))
        if moved & marker_bodies:
            continue
        names = cc.getIndependentCoordinateNames()
        indep = tuple(names.get(k) for k in range(names.getSize()))
        cc.set_isEnforced(False)
        freed.append(
            _Coupler(
                dep.getName(),
                dep.getMotionType() == rotational,
                indep,
                tuple(coords.get(n).getMotionType() == rotational for n in indep),
                cc.getFunction().clone(),
            )
        )
    return freed


def _postprocess_mot(
    mot_path: Path, couplers: Sequence[_Coupler], all_times: np.ndarray | None
) -> None:
    """Rewrite an IK ``.mot`` (degrees): dependent columns from their couplers, and, when
    ``all_times`` is given, NaN rows for the frames that were skipped (no marker data)."""
    import opensim

    from opencapbench.io.mot import read_mot, write_mot

    df = read_mot(mot_path)
    if all_times is not None:
        # OpenSim prints times with 8 decimals; match rows on the rounded time.
        df.index = np.round(df.index.to_numpy(dtype=float), 6)
        df = df.reindex(np.round(all_times, 6))
    for c in couplers:
        if c.dependent not in df.columns or not all(n in df.columns for n in c.independent):
            continue
        x = opensim.Vector(len(c.independent), 0.0)
        values = np.empty(len(df))
        indep = [
            np.deg2rad(df[n].to_numpy()) if rot else df[n].to_numpy()
            for n, rot in zip(c.independent, c.independent_rotational, strict=True)
        ]
        for row in range(len(df)):
            args = [float(v[row]) for v in indep]
            if not np.all(np.isfinite(args)):
                values[row] = np.nan  # a skipped frame
                continue
            for k, v in enumerate(args):
                x.set(k, v)
            values[row] = c.function.calcValue(x)
        df[c.dependent] = np.rad2deg(values) if c.dependent_rotational else values
    write_mot(mot_path, df.index.to_numpy(), list(df.columns), df.to_numpy(), in_degrees=True)


def _read_storage(path: Path) -> tuple[list[str], np.ndarray]:
    """Column labels and (rows, columns) values of an OpenSim ``.sto``/``.mot`` text file.

    numpy only (no pandas import in IK workers); used for OpenSim's own reports.
    """
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    try:
        end = next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader")
    except StopIteration:
        raise IKError(f"{path}: no 'endheader' line; not an OpenSim storage file") from None
    labels = [label.strip() for label in lines[end + 1].split("\t")] if len(lines) > end + 1 else []
    rows = [line for line in lines[end + 2 :] if line.strip()]
    if not rows:
        return labels, np.empty((0, len(labels)))
    try:
        values = np.loadtxt(rows, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise IKError(f"{path}: unreadable numbers ({exc})") from exc
    if values.shape[1] != len(labels):
        raise IKError(f"{path}: {len(labels)} column labels but {values.shape[1]} values a row")
    return labels, values


def _marker_error_rms(path: Path) -> tuple[int, float]:
    """Frames and overall marker RMS (m) from an ``*_ik_marker_errors.sto`` report."""
    labels, values = _read_storage(path)
    if "marker_error_RMS" not in labels:
        raise IKError(f"{path}: no 'marker_error_RMS' column (columns: {labels})")
    rms = values[:, labels.index("marker_error_RMS")]
    return len(rms), float(np.sqrt(np.nanmean(rms**2))) if rms.size else math.nan


def run_ik(
    model_path: str | os.PathLike,
    trc_path: str | os.PathLike,
    mot_path: str | os.PathLike,
    weights: Mapping[str, float] | None = None,
    time_range: tuple[float, float] | None = None,
    accuracy: float = 1e-5,
    log_path: str | os.PathLike | None = None,
    unclamp: bool = False,
    free_markerless_couplers: bool = False,
) -> IKResult:
    """Run OpenSim IK for one trial in this process.

    Args:
        model_path: ``.osim`` model carrying the markers.
        trc_path: marker trajectories (metres, OpenSim frame).
        mot_path: output ``.mot`` (degrees), written atomically.
        weights: marker name → weight (default :data:`DEFAULT_IK_WEIGHTS`); markers in both
            the TRC and the model but not in ``weights`` get weight 1.  A weight of 0 drops
            the marker.
        time_range: ``(start, end)`` seconds; default the whole TRC.
        accuracy: IK solver accuracy (OpenCap/OpenCapBench: 1e-5).
        log_path: OpenSim's log for this trial (default ``mot_path`` with suffix ``.log``).
        unclamp: ignore the model's coordinate clamping (range bounds); OpenCap keeps them
            clamped.
        free_markerless_couplers: the fast option: do not enforce coordinate-coupler
            constraints whose dependent coordinate moves no marker (LaiUhlrich2022's patellae:
            ``knee_angle_*_beta``), then fill that coordinate's column from the coupler.  The
            marker cost is the same but the solver stops elsewhere: several times faster on
            LaiUhlrich2022, and no longer equal to plain OpenSim IK at the same accuracy.
            The defaults (False, False) are plain OpenSim IK; ``docs/opensim.md`` has the
            measured speed and deviation of each variant.

    Returns:
        :class:`IKResult`.

    Raises:
        FileNotFoundError: model or TRC missing.
        IKError: no marker in common between TRC and model, or OpenSim failed (see the log).
        opencapbench.io.trc.TrcFileError: malformed TRC.
    """
    import opensim

    from opencapbench.io.trc import read_trc, write_trc

    t0 = time.perf_counter()
    model_path, trc_path, mot_path = Path(model_path), Path(trc_path), Path(mot_path)
    log_path = Path(log_path) if log_path is not None else mot_path.with_suffix(".log")
    for p, what in ((model_path, "OpenSim model"), (trc_path, "TRC file")):
        if not p.is_file():
            raise FileNotFoundError(f"{what} not found: {p}")
    trc = read_trc(trc_path)
    if trc.times.size < 1:
        raise IKError(f"{trc_path}: no frames")
    weights = DEFAULT_IK_WEIGHTS if weights is None else weights

    with redirect_output(log_path):
        model = opensim.Model(str(model_path))
        if unclamp:
            cs = model.updCoordinateSet()
            for i in range(cs.getSize()):
                cs.get(i).set_clamped(False)
        model.initSystem()
    model_markers = {model.getMarkerSet().get(i).getName() for i in range(model.getNumMarkers())}
    freed = _free_markerless_couplers(model) if free_markerless_couplers else []
    tasks = opensim.IKTaskSet()
    used = []
    for name in trc.marker_names:
        w = float(weights.get(name, DEFAULT_WEIGHT))
        if name not in model_markers or w <= 0:
            continue
        if np.all(np.isnan(trc.marker(name))):
            continue
        task = opensim.IKMarkerTask()
        task.setName(name)
        task.setWeight(w)
        task.setApply(True)
        tasks.cloneAndAppend(task)
        used.append(name)
    if not used:
        raise IKError(
            f"{trc_path}: no marker of the TRC file is on model {model_path.name} "
            f"(TRC has {trc.marker_names[:5]}..., model has {sorted(model_markers)[:5]}...)"
        )
    start, end = (float(trc.times[0]), float(trc.times[-1])) if time_range is None else time_range
    in_range = (trc.times >= start - 1e-9) & (trc.times <= end + 1e-9)
    # OpenSim's IK aborts the whole trial on a frame where no task marker has data.
    cols = [trc.marker_names.index(n) for n in used]
    solvable = np.isfinite(trc.positions[:, cols]).all(axis=-1).any(axis=1) & in_range
    if not solvable.any():
        raise IKError(f"{trc_path}: no frame in [{start}, {end}] s has any marker to fit")
    skip_frames = bool((in_range & ~solvable).any())

    tool = opensim.InverseKinematicsTool()
    tool.setName(mot_path.stem)
    tool.setModel(model)
    tool.set_IKTaskSet(tasks)
    tool.setStartTime(start)
    tool.setEndTime(end)
    tool.set_accuracy(accuracy)
    tool.set_constraint_weight(math.inf)
    tool.set_report_errors(True)
    tool.set_report_marker_locations(False)
    with tempfile.TemporaryDirectory(prefix="ocb_ik_") as results, atomic_path(mot_path) as tmp:
        tool.setResultsDir(results)
        tool.set_output_motion_file(str(tmp))
        marker_file = trc_path
        if skip_frames:
            marker_file = Path(results) / trc_path.name
            write_trc(
                marker_file,
                trc.times[solvable],
                trc.marker_names,
                trc.positions[solvable],
                trc.rate_hz,
            )
        tool.set_marker_file(str(marker_file))
        with redirect_output(log_path):
            try:
                ok = tool.run()
            except RuntimeError as exc:
                raise IKError(f"OpenSim IK failed on {trc_path}: {exc} (log: {log_path})") from exc
        if not ok or not tmp.is_file() or tmp.stat().st_size == 0:
            raise IKError(f"OpenSim IK produced no motion for {trc_path} (log: {log_path})")
        if freed or skip_frames:
            _postprocess_mot(tmp, freed, trc.times[in_range] if skip_frames else None)
        errors = Path(results) / f"{mot_path.stem}_ik_marker_errors.sto"
        n_frames, rms = _marker_error_rms(errors) if errors.is_file() else (0, math.nan)
    return IKResult(mot_path, n_frames, rms, time.perf_counter() - t0)


def run_ik_job(job: IKJob) -> IKResult | IKFailure:
    """Run one :class:`IKJob` (:func:`run_ik`); any exception becomes an :class:`IKFailure`.

    A module-level function with picklable arguments and results, to submit to a
    :class:`opencapbench.parallel.WorkerPool` as each trial's TRC is written.
    """
    try:
        return run_ik(
            job.model_path,
            job.trc_path,
            job.mot_path,
            weights=job.weights,
            time_range=job.time_range,
            accuracy=job.accuracy,
            log_path=job.log_path,
            unclamp=job.unclamp,
            free_markerless_couplers=job.free_markerless_couplers,
        )
    except Exception as exc:  # one trial's failure must not stop the others
        return IKFailure(job, f"{type(exc).__name__}: {exc}")


_BROKEN_HINT = (
    "(an IK worker process died: OpenSim crashed or ran out of memory, or, when this is called "
    'from a Python script, the script lacks an `if __name__ == "__main__":` guard, which '
    "spawned worker processes need; n_workers=1 runs the trials in this process)"
)


def ik_outcome(job: IKJob, future: cf.Future) -> IKResult | IKFailure:
    """The outcome of a finished :func:`run_ik_job` future; a worker that died (OpenSim
    crashed, out of memory) or a cancelled trial becomes an :class:`IKFailure`."""
    try:
        return future.result()
    except cf.CancelledError:
        return IKFailure(job, "CancelledError: the run stopped before this trial's IK")
    except BrokenProcessPool as exc:
        return IKFailure(job, f"{type(exc).__name__}: {exc} {_BROKEN_HINT}")
    except Exception as exc:
        return IKFailure(job, f"{type(exc).__name__}: {exc}")


def run_ik_many(
    jobs: Sequence[IKJob], n_workers: int = 1, progress: bool = True
) -> list[IKResult | IKFailure]:
    """Run many IK trials, in parallel processes when ``n_workers > 1``.

    A convenience over :class:`opencapbench.parallel.WorkerPool` and :func:`run_ik_job` for a
    list of jobs known in advance; the longest trials (largest TRC files) start first.

    Args:
        jobs: the trials.
        n_workers: worker processes (``spawn`` context); 1 runs them here, one after another.
        progress: show a progress bar.

    Returns:
        One :class:`IKResult` or :class:`IKFailure` per job, in job order.  A worker that dies
        (e.g. OpenSim crashes) turns its pending trials into failures.
    """
    from opencapbench.console import progress as progress_bar
    from opencapbench.parallel import WorkerPool

    jobs = list(jobs)
    results: list[IKResult | IKFailure | None] = [None] * len(jobs)

    def size(i: int) -> int:
        try:
            return Path(jobs[i].trc_path).stat().st_size
        except OSError:
            return 0

    order = sorted(range(len(jobs)), key=size, reverse=True)
    if n_workers <= 1 or len(jobs) <= 1:  # here, with a live progress bar
        for i in progress_bar(order, desc="IK", unit="trial") if progress else order:
            results[i] = run_ik_job(jobs[i])
        return [r for r in results if r is not None]
    with WorkerPool(min(n_workers, len(jobs))) as pool:
        futures = {pool.submit(run_ik_job, jobs[i]): i for i in order}
        done = cf.as_completed(futures)
        if progress:
            done = progress_bar(done, desc="IK", total=len(jobs), unit="trial")
        for fut in done:
            i = futures[fut]
            results[i] = ik_outcome(jobs[i], fut)
    return [r for r in results if r is not None]
