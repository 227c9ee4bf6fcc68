"""The diagnostic overlay of a benchmark trial: its triangulated markers (the run's TRC)
reprojected into every camera's video, or onto black frames when the dataset has no video,
each joined to the tracked 2D keypoint it was triangulated from.

Discs are the reprojected markers (left blue, right orange, midline yellow), white dots the 2D
keypoints, red lines the reprojection errors: where the white dots leave their discs,
triangulation, calibration or the frame rotation is off for that camera.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from opencapbench.benchmark.errors import BenchmarkInputError
from opencapbench.benchmark.markers3d import track_and_clean
from opencapbench.benchmark.shard import load_run_config
from opencapbench.benchmark.stages import trc_path
from opencapbench.benchmark.trial_inputs import load_trial_inputs
from opencapbench.geometry.frames import placement_rotation
from opencapbench.inference.overlay import trial_reprojection_videos
from opencapbench.io.opencap_layout import discover_trials
from opencapbench.io.session import read_session_metadata
from opencapbench.io.trc import read_trc
from opencapbench.keypoints import get_keypoint_set

__all__ = ["write_trial_reprojection"]

log = logging.getLogger(__name__)


def write_trial_reprojection(
    out_dir: str | Path, trial_key: str, dest: str | Path | None = None, labels: bool = False
) -> list[Path]:
    """Write ``<camera>.reprojection.mp4`` (H.264) for one trial of a benchmark run.

    Args:
        out_dir: the run's output folder (``ocb benchmark -o``).
        trial_key: ``subject/trial``, e.g. ``subject2/walking1``.
        dest: output folder (default ``OUT/overlays/<subject>/<trial>``).
        labels: write the marker names.

    Returns:
        The videos written, one per camera used by the run.
    """
    out_dir = Path(out_dir)
    subject, sep, name = trial_key.partition("/")
    if not sep or not subject or not name or "/" in name:
        raise BenchmarkInputError(f"trial must be given as SUBJECT/TRIAL, not {trial_key!r}")
    cfg = load_run_config(out_dir)
    trial = discover_trials(cfg.data_dir, (subject,), (name,), cfg.keypoint_store)[0]
    trc_file = trc_path(cfg, trial)
    if not trc_file.is_file():
        raise BenchmarkInputError(
            f"{trc_file} does not exist: the run has no markers for {trial_key} "
            f"(not run yet, or it failed: see {out_dir / 'status' / subject / (name + '.json')})"
        )
    trc = read_trc(trc_file)
    cameras, keypoints = load_trial_inputs(trial, cfg)
    kps = get_keypoint_set(keypoints[0].keypoint_set)
    # TRC columns in keypoint-set order (NaN for a marker the file lacks)
    positions = np.full((len(trc.times), kps.num_keypoints, 3), np.nan)
    for k, marker in enumerate(kps.names):
        if marker in trc.marker_names:
            positions[:, k] = trc.marker(marker)
    meta = read_session_metadata(trial.metadata_path)
    n_frames = min(len(kp.keypoints) for kp in keypoints)
    detections = {
        cam.name: track_and_clean(kp, n_frames, cfg.markers)[0]
        for cam, kp in zip(cameras, keypoints, strict=True)
    }
    target = Path(dest) if dest is not None else out_dir / "overlays" / subject / name
    return trial_reprojection_videos(
        target, trc.times, positions, cameras, placement_rotation(meta.placement, meta.upside_down),
        float(keypoints[0].fps), n_frames, videos=trial.videos, detections=detections, kps=kps,
        labels=labels,
    )  # fmt: skip
