"""The work of the ``sync`` stage (``--sync auto``, :class:`~opencapbench.benchmark.stages.
SyncStage`): constant per-camera frame offsets estimated from the 2D keypoints, applied, and
every camera cut to the frames all share.

The stage sits between the keypoints (pose stage or a filled keypoint store) and the markers
stage: it consumes ``keypoints2d`` and produces ``keypoints2d``, the synchronised copies under
``<out>/synced/<subject>/<session>/<trial>/<camera>.npz``, which the markers stage then reads.
The offsets per camera go into the ledger's info (and from there into the report).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from opencapbench.benchmark.config import BenchmarkConfig
from opencapbench.errors import OCBError
from opencapbench.io.opencap_layout import Trial

__all__ = ["MIN_COMMON_FRAMES", "SyncError", "synced_dir", "synchronise_trial"]

log = logging.getLogger(__name__)

#: A trial whose cameras share fewer frames than this after synchronisation is refused.
MIN_COMMON_FRAMES = 10


class SyncError(OCBError):
    """The cameras of a trial cannot be synchronised (too few shared frames or frame rates
    that differ); the message names the trial."""


def synced_dir(cfg: BenchmarkConfig, trial: Trial) -> Path:
    """Where the synchronised keypoints of a trial go."""
    return cfg.out_dir / "synced" / trial.subject / trial.session / trial.name


def synchronise_trial(
    trial: Trial, cfg: BenchmarkConfig, keypoints_dir: Path | None = None
) -> tuple[Path, dict[str, Any]]:
    """Estimate, apply and record the camera offsets of one trial.

    Args:
        trial: the trial.
        cfg: the run configuration (cameras, markers.min_confidence, sync_max_offset_s).
        keypoints_dir: the trial's keypoints (default: its folder of the keypoint store).

    Returns:
        ``(folder of the synchronised keypoints, info)``; ``info`` holds ``offsets_frames``
        (camera → offset against the reference camera, positive = the camera shows events
        later), ``reference``, ``frames_before`` (camera → frames), ``frames`` (common frames
        kept), ``start_frames`` (camera → its first kept frame, to re-cut the videos) and ``reprojection_px`` (camera → RMS reprojection error at the chosen offset).

    Raises:
        SyncError: different frame rates, or fewer than :data:`MIN_COMMON_FRAMES` shared.
    """
    from opencapbench.benchmark.markers3d import track_and_clean
    from opencapbench.benchmark.trial_inputs import load_trial_inputs
    from opencapbench.geometry.projection import undistort_points
    from opencapbench.geometry.sync import apply_offsets, common_window, estimate_offsets
    from opencapbench.io.keypoint_store import Keypoints2D

    cameras, keypoints = load_trial_inputs(trial, cfg, keypoints_dir)
    names = [c.name for c in cameras]
    rates = {round(float(kp.fps), 3) for kp in keypoints}
    if len(rates) != 1:
        raise SyncError(f"{trial.key}: cameras {names} have different frame rates {sorted(rates)}")
    fps = float(keypoints[0].fps)
    points, weights = [], []
    for kp, cam in zip(keypoints, cameras, strict=True):
        p, w = track_and_clean(kp, kp.num_frames, cfg.markers)
        points.append(undistort_points(p, cam))
        weights.append(w)
    result = estimate_offsets(
        points,
        weights,
        np.stack([c.projection_matrix for c in cameras]),
        max_offset=int(round(cfg.sync_max_offset_s * fps)),
        min_weight=cfg.markers.min_confidence,
    )
    offsets = result.offsets
    frames_before = [kp.num_frames for kp in keypoints]
    cut_kp = apply_offsets([kp.keypoints for kp in keypoints], offsets)
    n_common = cut_kp[0].shape[0]
    offsets_by_camera = dict(zip(names, offsets.tolist(), strict=True))
    if n_common < MIN_COMMON_FRAMES:
        raise SyncError(
            f"{trial.key}: after synchronisation (offsets {offsets_by_camera} frames) the "
            f"cameras share only {n_common} of {frames_before} frames"
        )
    cut_scores = apply_offsets([kp.scores for kp in keypoints], offsets)
    cut_boxes = (
        apply_offsets([kp.bboxes for kp in keypoints], offsets)
        if all(kp.bboxes is not None for kp in keypoints)
        else [None] * len(keypoints)
    )
    out = synced_dir(cfg, trial)
    for name, kp, k, s, b in zip(names, keypoints, cut_kp, cut_scores, cut_boxes, strict=True):
        Keypoints2D(k, s, kp.fps, kp.keypoint_set, kp.image_size, bboxes=b).save(
            out / f"{name}.npz"
        )
    if len(set(frames_before)) > 1:
        log.warning(
            "%s: cameras %s had %s frames; synchronised and cut to the %d frames all share",
            trial.key, names, frames_before, n_common,
        )  # fmt: skip
    ref = names[result.reference]
    info = {
        "offsets_frames": offsets_by_camera,
        "reference": ref,
        "frames_before": dict(zip(names, frames_before, strict=True)),
        "frames": n_common,
        "start_frames": dict(
            zip(names, common_window(frames_before, offsets)[0].tolist(), strict=True)
        ),
        "reprojection_px": {
            n: round(float(e), 3) for n, e in zip(names, result.reprojection_px, strict=True)
            if np.isfinite(e)
        },
    }  # fmt: skip
    if np.any(offsets != 0):
        log.info("%s: camera offsets against %s: %s frames", trial.key, ref, info["offsets_frames"])
    return out, info
