"""Camera synchronisation from 2D keypoints (``opencapbench.geometry.sync``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from opencapbench.geometry.projection import undistort_points
from opencapbench.geometry.sync import (
    apply_offsets,
    common_window,
    correlation_by_lag,
    estimate_offsets,
    vertical_velocity_signal,
)
from opencapbench.io.calibration import read_opencap_calibration
from opencapbench.io.keypoint_store import Keypoints2D
from opencapbench.synthetic import generate_synthetic_dataset

TRIALS = ("walking1", "squats1", "STS1")


def test_common_window_and_apply_offsets() -> None:
    # camera 1 sees events 2 frames later, camera 2 one frame earlier and is shorter
    n, off = [10, 12, 8], [0, 2, -1]
    starts, length = common_window(n, off)
    # reference clock: cam0 0..9, cam1 -2..9, cam2 1..8 -> shared 1..8 (8 frames)
    assert starts.tolist() == [1, 3, 0] and length == 8
    clocks = [np.arange(k) - o for k, o in zip(n, off, strict=True)]  # reference frame shown
    cut = apply_offsets(clocks, off)
    assert all(np.array_equal(c, np.arange(1, 9)) for c in cut)
    assert common_window([5, 5], [0, 9])[1] == 0  # nothing shared


def test_correlation_peaks_at_the_shift() -> None:
    rng = np.random.default_rng(0)
    ref = np.convolve(rng.normal(size=300), np.ones(5) / 5, mode="same")
    later = np.concatenate([rng.normal(size=7), ref])[:280]  # event at n appears at n + 7
    r = correlation_by_lag(ref, later, 20)
    assert int(np.nanargmax(r)) - 20 == 7
    assert r[27] == pytest.approx(1.0, abs=1e-9)


def test_vertical_velocity_signal_ignores_missing_points() -> None:
    t = np.arange(100)
    pts = np.zeros((100, 3, 2))
    pts[..., 1] = (np.sin(t / 8.0) * 20)[:, None]
    w = np.ones((100, 3))
    w[40:50, 0] = 0.0  # a gap, interpolated over
    pts[:, 2] = np.nan  # never seen
    sig = vertical_velocity_signal(pts, w, sigma_frames=0)
    expected = np.gradient(np.sin(t / 8.0))
    expected = (expected - expected.mean()) / expected.std()
    assert np.corrcoef(sig, expected)[0, 1] > 0.99
    assert np.all(vertical_velocity_signal(np.full((10, 2, 2), np.nan), np.ones((10, 2))) == 0)


def test_rejects_bad_inputs() -> None:
    p = [np.zeros((10, 3, 2))]
    with pytest.raises(ValueError, match="2 cameras"):
        estimate_offsets(p, [np.ones((10, 3))], np.zeros((1, 3, 4)), 3)
    with pytest.raises(ValueError, match="max_offset"):
        estimate_offsets(p * 2, [np.ones((10, 3))] * 2, np.zeros((2, 3, 4)), -1)
    with pytest.raises(ValueError, match="reference"):
        estimate_offsets(p * 2, [np.ones((10, 3))] * 2, np.zeros((2, 3, 4)), 3, reference=2)


def _load(root: Path, trial: str, cameras) -> tuple[list, list, np.ndarray]:
    pts, wts, P = [], [], []
    for cam in cameras:
        kp = Keypoints2D.load(root / "keypoints" / "subject1" / "Session0" / trial / f"{cam}.npz")
        calib = root / "subject1" / "VideoData" / "Session0" / cam
        c = read_opencap_calibration(calib / "cameraIntrinsicsExtrinsics.pickle")
        pts.append(undistort_points(kp.keypoints[:, 0].astype(np.float64), c))
        wts.append(kp.scores[:, 0].astype(np.float64))
        P.append(c.projection_matrix)
    return pts, wts, np.stack(P)


@pytest.fixture(scope="module", params=[0.0, 2.0], ids=["noise-free", "2px"])
def offset_dataset(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("sync")
    info = generate_synthetic_dataset(
        root,
        trials=TRIALS,
        n_cameras=4,
        duration_s=2.0,
        noise_px=request.param,
        seed=11,
        max_offset_frames=6,
        max_missing_frames=3,
        progress=False,
    )
    return root, info


@pytest.mark.parametrize("trial", TRIALS)
def test_recovers_offsets_exactly(offset_dataset, trial) -> None:
    root, info = offset_dataset
    truth = info.truth["subject1"]["sync_offsets_frames"][trial]
    true = np.array([truth[c] for c in info.cameras])
    assert np.any(true != true[0])  # the data really are out of sync
    pts, wts, P = _load(root, trial, info.cameras)
    result = estimate_offsets(pts, wts, P, max_offset=30)
    np.testing.assert_array_equal(result.offsets, true - true[0])
    assert result.reference == 0 and result.offsets[0] == 0
    # aligned, every camera shows the same instant: triangulation reprojects to the noise level
    assert np.nanmax(result.reprojection_px) < 3.0


def test_two_cameras_and_another_reference(offset_dataset) -> None:
    root, info = offset_dataset
    truth = info.truth["subject1"]["sync_offsets_frames"]["walking1"]
    cams = info.cameras[1:3]
    pts, wts, P = _load(root, "walking1", cams)
    result = estimate_offsets(pts, wts, P, max_offset=30, reference=1)
    assert result.offsets.tolist() == [truth[cams[0]] - truth[cams[1]], 0]


def test_short_synchronous_trial_keeps_zero_offsets(tmp_path) -> None:
    info = generate_synthetic_dataset(
        tmp_path, trials=("squats1",), n_cameras=3, duration_s=0.4, noise_px=2.0, dropout=0.05,
        seed=3, progress=False,
    )  # fmt: skip
    pts, wts, P = _load(tmp_path, "squats1", info.cameras)
    result = estimate_offsets(pts, wts, P, max_offset=30)  # 24 frames: searches ±2 only
    assert result.offsets.tolist() == [0, 0, 0]
