"""Stage 2 of the benchmark: per-camera 2D keypoints → 3D markers in OpenSim's frame.

Pure array code: inputs are loaded keypoints and cameras, output is a marker trajectory ready
for a TRC file. The order of operations follows OpenCap: subject tracking, 2D low-pass,
undistortion, confidence-weighted DLT (here with reprojection-based camera exclusion), gap
filling of short holes, resampling to the TRC rate, rotation into OpenSim's Y-up frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from opencapbench.benchmark.config import MarkerSettings
from opencapbench.benchmark.errors import (
    BenchmarkInputError,
    InconsistentKeypointsError,
    TriangulationFailedError,
)
from opencapbench.camera import Camera
from opencapbench.geometry.filtering import (
    NOISE_BAND,
    CutoffChoice,
    auto_cutoff,
    butterworth_lowpass,
    fill_gaps,
    resample,
)
from opencapbench.geometry.frames import rotate_points
from opencapbench.geometry.projection import undistort_points
from opencapbench.geometry.tracking import select_and_track
from opencapbench.geometry.triangulation import TriangulationResult, triangulate_robust
from opencapbench.io.keypoint_store import Keypoints2D

log = logging.getLogger(__name__)


def _nanmedian(values: np.ndarray) -> float | None:
    """Median of the finite values, None when there are none (JSON-friendly)."""
    finite = values[np.isfinite(values)]
    return _rounded(np.median(finite)) if finite.size else None


def _rounded(value: float) -> float | None:
    """A number for JSON: 3 decimals, None when not finite."""
    return round(float(value), 3) if np.isfinite(value) else None


@dataclass
class TrialMarkers:
    """3D markers of one trial.

    Attributes:
        times: (T,) seconds from the first video frame, at ``trc_rate_hz``.
        names: K marker names (keypoint-set order).
        positions: (T, K, 3) metres in OpenSim's frame (Y up); NaN where untriangulated.
        triangulation: the raw triangulation at video rate (for reports).
        filled: (F, K) bool, frames filled by gap interpolation.
        camera_names: cameras used, in the order of ``triangulation``'s camera axis.
        cutoff: the 2D low-pass cut-off (Hz), the per-keypoint :class:`CutoffChoice` of
            ``--filter-hz auto``, or None when the keypoints were not filtered.
    """

    times: np.ndarray
    names: list[str]
    positions: np.ndarray
    triangulation: TriangulationResult
    filled: np.ndarray
    camera_names: list[str] = field(default_factory=list)
    cutoff: CutoffChoice | float | None = None

    def summary(self) -> dict:
        """Numbers worth logging per trial (fractions are over frames × keypoints).

        Camera exclusions (a camera dropped from a point for its reprojection error) are
        counted per camera and for the most affected keypoints.
        """
        tri = self.triangulation
        valid = np.isfinite(tri.points3d[..., 0])
        err = np.where(tri.used, tri.reproj_error, np.nan)  # (C, F, K) px
        return {
            **self._cutoff_summary(),
            "frames": int(tri.points3d.shape[0]),
            "triangulated_fraction": float(valid.mean()),
            "filled_fraction": float(self.filled.mean()),
            "excluded_camera_points": int(tri.excluded.sum()),
            "excluded_per_camera": {
                cam: int(n)
                for cam, n in zip(self.camera_names, tri.excluded.sum(axis=(1, 2)), strict=True)
            },
            "most_excluded_keypoints": {
                self.names[k]: int(n)
                for k, n in sorted(enumerate(tri.excluded.sum(axis=(0, 1))), key=lambda kn: -kn[1])[
                    :5
                ]
                if n > 0
            },
            "median_reprojection_px_per_camera": {
                cam: _nanmedian(err[c]) for c, cam in enumerate(self.camera_names)
            },
            "median_reprojection_px_per_keypoint": {
                name: _nanmedian(err[:, :, k]) for k, name in enumerate(self.names)
            },
            "median_reprojection_px": float(
                np.nanmedian(np.where(tri.used, tri.reproj_error, np.nan))
            )
            if tri.used.any()
            else float("nan"),
        }

    def _cutoff_summary(self) -> dict:
        """``filter_hz`` (the median over keypoints with ``auto``; None: not filtered) and,
        with ``auto``, the cut-off and estimated 2D noise of each keypoint."""
        if not isinstance(self.cutoff, CutoffChoice):
            return {"filter_hz": self.cutoff}
        return {
            "filter_hz": float(np.median(self.cutoff.cutoff_hz)),
            "filter_hz_per_keypoint": {
                name: float(hz) for name, hz in zip(self.names, self.cutoff.cutoff_hz, strict=True)
            },
            "noise_px_per_keypoint": {
                name: _rounded(sd) for name, sd in zip(self.names, self.cutoff.noise, strict=True)
            },
        }


def _check_consistent(
    keypoints: list[Keypoints2D], camera_names: list[str], label: str
) -> tuple[int, float]:
    """Common frame count and frame rate of the cameras; raises on a mismatch."""
    sets = {kp.keypoint_set for kp in keypoints}
    if len(sets) != 1:
        raise InconsistentKeypointsError(
            f"{label}: cameras use different keypoint sets: {sorted(sets)}"
        )
    rates = {round(float(kp.fps), 3) for kp in keypoints}
    if len(rates) != 1:
        raise InconsistentKeypointsError(
            f"{label}: cameras {camera_names} have different frame rates {sorted(rates)}; "
            "synchronise the videos first"
        )
    frames = [kp.keypoints.shape[0] for kp in keypoints]
    if len(set(frames)) != 1:
        log.warning(
            "%s: cameras %s have %s frames; all are cut to the first %d",
            label, camera_names, frames, min(frames),
        )  # fmt: skip
    return min(frames), float(keypoints[0].fps)


def track_and_clean(
    kp: Keypoints2D, n_frames: int, settings: MarkerSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Follow the subject in one camera and drop low-confidence detections.

    Returns:
        points (F, K, 2) pixels (NaN where unusable) and weights (F, K) in [0, 1].
    """
    points, scores, _ = select_and_track(
        kp.keypoints[:n_frames], kp.scores[:n_frames], kp.image_size
    )
    scores = np.nan_to_num(scores, nan=0.0)
    bad = (scores < settings.min_confidence) | ~np.isfinite(points).all(axis=-1)
    points = np.where(bad[..., None], np.nan, points)
    return points, np.where(bad, 0.0, scores)


def lowpass_keypoints(
    points2d: np.ndarray, weights: np.ndarray, fps: float, settings: MarkerSettings
) -> tuple[np.ndarray, np.ndarray, CutoffChoice | float]:
    """The 2D low-pass of one trial: bridge short gaps, choose the cut-off, filter.

    Args:
        points2d: (C, F, K, 2) pixels, NaN where missing.
        weights: (C, F, K) confidences, 0 where missing.
        fps: frame rate.
        settings: ``filter_hz`` (a cut-off or ``"auto"``), ``filter_auto_hz``,
            ``filter_order`` and ``max_gap_fill_frames``.

    Returns:
        ``(points2d, weights, cutoff)``: the filtered points with the bridged ones filled, their
        confidences (a bridged point takes its neighbours', interpolated), and the fixed
        cut-off or, with ``"auto"``, the :class:`CutoffChoice` of each keypoint (cameras and
        x/y pooled, so that every view of a keypoint is filtered alike).
    """
    gap = settings.max_gap_fill_frames
    if gap > 0:
        points2d, bridged = (
            np.stack(a) for a in zip(*(fill_gaps(p, gap) for p in points2d), strict=True)
        )
        # a bridged detection is triangulated with its neighbours' confidence, interpolated
        weights = np.stack(
            [fill_gaps(np.where(w > 0, w, np.nan), gap, "linear")[0] for w in weights]
        )
        weights = np.nan_to_num(weights, nan=0.0)
    else:
        bridged = np.zeros(points2d.shape, dtype=bool)
    if settings.filter_hz == "auto":
        choice = auto_cutoff(
            np.moveaxis(points2d, 0, 1),  # (F, C, K, 2)
            fps,
            auto_candidates(fps, settings.filter_auto_hz),
            settings.filter_order,
            groups=np.arange(points2d.shape[2])[None, :, None],
            scored=~np.moveaxis(bridged, 0, 1),
        )
        cutoff: CutoffChoice | float = choice
        per_column = choice.cutoff_hz[:, None]  # (K, 1)
    else:
        cutoff = per_column = float(settings.filter_hz)
    filtered = np.stack(
        [butterworth_lowpass(p, fps, per_column, settings.filter_order) for p in points2d]
    )
    return filtered, weights, cutoff


def auto_candidates(fps: float, bounds_hz: tuple[float, float]) -> np.ndarray:
    """The cut-offs ``--filter-hz auto`` tries: every 0.5 Hz within ``bounds_hz``, below the
    band where the noise is measured (:data:`~opencapbench.geometry.filtering.NOISE_BAND`)."""
    lo, hi = bounds_hz
    cands = np.arange(lo, hi + 1e-9, 0.5)
    cands = cands[cands < NOISE_BAND * fps / 2.0]
    if cands.size == 0:
        raise BenchmarkInputError(
            f"no automatic cut-off in {lo:g}-{hi:g} Hz lies below {NOISE_BAND * fps / 2:g} Hz at "
            f"{fps:g} fps; give --filter-hz a number"
        )
    return cands


def markers_from_keypoints(
    keypoints: list[Keypoints2D],
    cameras: list[Camera],
    keypoint_names: list[str],
    to_opensim: np.ndarray,
    settings: MarkerSettings | None = None,
    label: str = "trial",
) -> TrialMarkers:
    """Triangulate one trial.

    Args:
        keypoints: one :class:`Keypoints2D` per camera, same keypoint set and frame rate.
        cameras: calibrations in the same order.
        keypoint_names: the K names of the keypoint set.
        to_opensim: (3, 3) rotation from the calibration world into OpenSim's frame.
        settings: stage options.
        label: names the trial in warnings and errors.

    Raises:
        InconsistentKeypointsError: cameras disagree on keypoint set or frame rate.
        TriangulationFailedError: fewer than two frames have any triangulated marker.
    """
    settings = settings or MarkerSettings()
    names = [c.name for c in cameras]
    n_frames, fps = _check_consistent(keypoints, names, label)
    pts, wts = zip(*(track_and_clean(kp, n_frames, settings) for kp in keypoints), strict=True)
    points2d = np.stack(pts)  # (C, F, K, 2)
    weights = np.stack(wts)  # (C, F, K)
    cutoff = None
    if settings.filter_hz != 0:
        points2d, weights, cutoff = lowpass_keypoints(points2d, weights, fps, settings)
    points2d = np.stack(
        [undistort_points(p, cam) for p, cam in zip(points2d, cameras, strict=True)]
    )
    weights = np.where(np.isfinite(points2d).all(axis=-1), weights, 0.0)
    projections = np.stack([cam.projection_matrix for cam in cameras])
    tri = triangulate_robust(
        points2d,
        weights,
        projections,
        reproj_threshold_px=settings.reproj_threshold_px or None,
        min_cameras=settings.min_cameras,
    )
    points3d, filled = fill_gaps(tri.points3d, max_gap_frames=int(round(settings.max_gap_s * fps)))
    valid_frames = np.isfinite(points3d[..., 0]).any(axis=1)
    if valid_frames.sum() < 2:
        raise TriangulationFailedError(
            f"{label}: only {int(valid_frames.sum())} of {n_frames} frames have a triangulated marker "
            f"(cameras {names}); check calibration and keypoints"
        )
    # keep the span between the first and last frame with any marker
    first, last = np.flatnonzero(valid_frames)[[0, -1]]
    times = np.arange(n_frames) / fps
    new_times, resampled = resample(
        times[first : last + 1], points3d[first : last + 1], settings.trc_rate_hz
    )
    return TrialMarkers(
        times=new_times,
        names=list(keypoint_names),
        positions=rotate_points(resampled, to_opensim),
        triangulation=tri,
        filled=filled.all(axis=-1) if filled.ndim == 3 else filled,
        camera_names=names,
        cutoff=cutoff,
    )
