"""Time and peak memory of the camera-synchronisation stage against the triangulation it
precedes, on one synthetic trial (default: 5 cameras, 10 s at 60 fps, 2 px noise, 5 % drops,
offsets up to 6 frames).

Run: ``python benchmarks/sync_speed.py [--cameras 5 --seconds 10 --repeat 3]``

Both sides start from the same loaded keypoints and calibrations. "sync" is what the stage
computes: subject tracking and confidence cleaning, undistortion, offset estimation
(:func:`opencapbench.geometry.sync.estimate_offsets`) and the cut to the common frames.
"triangulation" is the markers stage's numeric core
(:func:`opencapbench.benchmark.markers3d.markers_from_keypoints`). Prints the best wall time
of ``--repeat`` runs and the tracemalloc peak of one run of each, and their ratios.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from opencapbench.benchmark.config import MarkerSettings
from opencapbench.benchmark.markers3d import markers_from_keypoints, track_and_clean
from opencapbench.geometry.frames import placement_rotation
from opencapbench.geometry.projection import undistort_points
from opencapbench.geometry.sync import apply_offsets, estimate_offsets
from opencapbench.io.calibration import read_opencap_calibration
from opencapbench.io.keypoint_store import Keypoints2D
from opencapbench.keypoints import get_keypoint_set
from opencapbench.synthetic import generate_synthetic_dataset


def _measure(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Best wall time (s) of ``repeat`` runs, tracemalloc peak (MiB) of one run, result."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--trial", default="walking1")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        info = generate_synthetic_dataset(
            root, trials=(args.trial,), n_cameras=args.cameras, duration_s=args.seconds,
            noise_px=2.0, dropout=0.05, seed=0, max_offset_frames=6, progress=False,
        )  # fmt: skip
        cams, kps = [], []
        for name in info.cameras:
            calib = root / "subject1" / "VideoData" / "Session0" / name
            cams.append(read_opencap_calibration(calib / "cameraIntrinsicsExtrinsics.pickle"))
            kps.append(
                Keypoints2D.load(
                    info.keypoint_store / "subject1" / "Session0" / args.trial / f"{name}.npz"
                )
            )
        truth = info.truth["subject1"]["sync_offsets_frames"][args.trial]
    settings = MarkerSettings()
    fps = info.fps

    def sync():
        pts, wts = [], []
        for kp, cam in zip(kps, cams, strict=True):
            p, w = track_and_clean(kp, kp.num_frames, settings)
            pts.append(undistort_points(p, cam))
            wts.append(w)
        res = estimate_offsets(
            pts, wts, np.stack([c.projection_matrix for c in cams]), max_offset=int(0.5 * fps)
        )
        apply_offsets([kp.keypoints for kp in kps], res.offsets)
        apply_offsets([kp.scores for kp in kps], res.offsets)
        return res

    names = list(get_keypoint_set(kps[0].keypoint_set).names)
    rotation = placement_rotation(info.placement)

    def triangulate():
        return markers_from_keypoints(kps, cams, names, rotation, settings)

    t_sync, m_sync, res = _measure(sync, args.repeat)
    t_tri, m_tri, _ = _measure(triangulate, args.repeat)
    true = np.array([truth[c] for c in info.cameras])
    print(
        f"trial: {args.trial}, {args.cameras} cameras x {info.n_frames} frames x "
        f"{len(names)} keypoints; offsets true {(true - true[0]).tolist()}, "
        f"found {res.offsets.tolist()}"
    )
    print(f"{'':14s}{'time (s)':>10s}{'peak (MiB)':>12s}")
    print(f"{'sync':14s}{t_sync:10.3f}{m_sync:12.1f}")
    print(f"{'triangulation':14s}{t_tri:10.3f}{m_tri:12.1f}")
    print(f"{'ratio':14s}{t_sync / t_tri:10.2f}{m_sync / m_tri:12.2f}")


if __name__ == "__main__":
    main()
