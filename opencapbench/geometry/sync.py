"""Camera time synchronisation from 2D keypoints: constant integer frame offsets per camera.

The cameras of one trial see the same motion; a camera that started late shows every event
some frames later.  Each camera's offset against a reference camera is estimated in two
steps, as OpenCap does (``utilsSync.py``, see ``docs/benchmark.md``):

1. **cross-correlation** of a motion signal (the mean vertical image velocity of the confident
   keypoints) against the reference camera's gives candidate lags (the strongest peaks);
2. **reprojection**: for each candidate ± a few frames, the two cameras' keypoints are
   triangulated at that lag and the lag with the smallest mean squared reprojection error
   wins.  A last pass settles every camera against the triangulation of *all* cameras.

Convention: ``offsets[c] = L`` means an event seen at frame ``n`` of the reference camera is
seen at frame ``n + L`` of camera ``c`` (OpenCap's lag sign); the reference camera has 0.
:func:`common_window` and :func:`apply_offsets` cut every camera to the frames all share.
Pure numpy, no I/O; pixels and frames throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from opencapbench.geometry.triangulation import reprojection_errors, triangulate_dlt

__all__ = [
    "SyncResult",
    "apply_offsets",
    "common_window",
    "correlation_by_lag",
    "estimate_offsets",
    "vertical_velocity_signal",
]


@dataclass
class SyncResult:
    """Output of :func:`estimate_offsets` for C cameras.

    Attributes:
        offsets: (C,) int frames; the reference camera has 0 (sign: see module docs).
        coarse: (C,) int, the best cross-correlation lag of each camera.
        reprojection_px: (C,) RMS reprojection error (pixels) at the chosen lag: of the
            camera pair, or with more than two cameras of the final all-camera pass; NaN for
            the reference camera and when not scorable (then the offset is 0).
        reference: index of the reference camera.
    """

    offsets: np.ndarray
    coarse: np.ndarray
    reprojection_px: np.ndarray
    reference: int


def vertical_velocity_signal(
    points: np.ndarray, weights: np.ndarray, min_weight: float = 0.3, sigma_frames: float = 1.0
) -> np.ndarray:
    """Mean vertical image velocity of the keypoints of one camera, standardised.

    Args:
        points: (F, K, 2) pixels; NaN = missing.
        weights: (F, K) confidences; below ``min_weight`` counts as missing.
        min_weight: confidence threshold.
        sigma_frames: Gaussian smoothing of each keypoint's track before differencing.

    Returns:
        (F,) zero-mean, unit-variance signal (frame 0 holds the first difference too); zeros
        when no keypoint has two valid frames.
    """
    y = np.where(weights >= min_weight, points[..., 1], np.nan)  # (F, K)
    F = y.shape[0]
    valid = np.isfinite(y)
    keep = valid.sum(axis=0) >= 2
    if F < 3 or not keep.any():
        return np.zeros(F)
    y, valid = y[:, keep], valid[:, keep]
    idx = np.arange(F)
    # linear interpolation over gaps, per keypoint (flat beyond the ends)
    filled = np.stack(
        [np.interp(idx, idx[valid[:, k]], y[valid[:, k], k]) for k in range(y.shape[1])], axis=1
    )
    if sigma_frames > 0:
        filled = gaussian_filter1d(filled, sigma_frames, axis=0, mode="nearest")
    vel = np.gradient(filled, axis=0)
    sig = vel.mean(axis=1)
    sig = sig - sig.mean()
    sd = sig.std()
    return sig / sd if sd > 0 else np.zeros(F)


def correlation_by_lag(reference: np.ndarray, signal: np.ndarray, max_lag: int) -> np.ndarray:
    """Pearson correlation of ``signal[n + L]`` with ``reference[n]`` for every lag L.

    Args:
        reference: (F0,) signal of the reference camera.
        signal: (F1,) signal of the other camera.
        max_lag: lags ``-max_lag .. max_lag`` are evaluated.

    Returns:
        (2 max_lag + 1,) correlations (index ``L + max_lag``); NaN where the overlap is
        shorter than a quarter of the shorter signal.
    """
    F0, F1 = reference.size, signal.size
    lags = np.arange(-max_lag, max_lag + 1)
    padded = np.full(F1 + 2 * max_lag + F0, np.nan)
    padded[max_lag : max_lag + F1] = signal
    # row i = signal[n + lags[i]] for n = 0..F0-1
    windows = np.lib.stride_tricks.sliding_window_view(padded, F0)[: lags.size]
    ref = np.broadcast_to(reference, windows.shape)
    ok = np.isfinite(windows)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(ok, windows, 0.0)
        b = np.where(ok, ref, 0.0)
        ma, mb = a.sum(1) / n, b.sum(1) / n
        da, db = np.where(ok, a - ma[:, None], 0.0), np.where(ok, b - mb[:, None], 0.0)
        r = (da * db).sum(1) / np.sqrt((da * da).sum(1) * (db * db).sum(1))
    return np.where(n >= max(min(F0, F1) // 4, 3), r, np.nan)


def common_window(n_frames: Sequence[int], offsets: Sequence[int]) -> tuple[np.ndarray, int]:
    """The frames every camera shares once the offsets are removed.

    Camera ``c``'s frame ``i`` is reference frame ``i - offsets[c]``.

    Args:
        n_frames: (C,) frame counts.
        offsets: (C,) integer offsets.

    Returns:
        ``(starts (C,), length)``: camera ``c`` keeps frames ``starts[c] : starts[c] + length``
        (length 0 when the cameras share no frame).
    """
    n = np.asarray(n_frames, dtype=np.int64)
    off = np.asarray(offsets, dtype=np.int64)
    lo = int(np.max(-off))  # first shared frame on the reference clock
    hi = int(np.min(n - off))
    length = max(hi - lo, 0)
    return lo + off, length


def apply_offsets(arrays: Sequence[np.ndarray], offsets: Sequence[int]) -> list[np.ndarray]:
    """Cut each camera's frame-major array to the common window (see :func:`common_window`).

    Args:
        arrays: C arrays whose first axis is frames (e.g. (F_c, P, K, 2) keypoints).
        offsets: (C,) integer offsets.

    Returns:
        C arrays with the same number of frames, frame ``j`` of each showing the same instant.
    """
    starts, length = common_window([a.shape[0] for a in arrays], offsets)
    return [a[s : s + length] for a, s in zip(arrays, starts, strict=True)]


def _scored_frames(n_ref: int, n_other: np.ndarray, lags: np.ndarray, n_max: int) -> np.ndarray:
    """Reference frames ``n`` at which every other camera ``m`` has a frame ``n + lag`` for
    each of its candidate lags; up to ``n_max`` of them, evenly spaced, 3 frames clear of the
    ends.

    Args:
        n_ref: reference frame count.
        n_other: (M,) frame counts of the other cameras.
        lags: (M, L) candidate lags of each other camera.
        n_max: most frames returned.
    """
    lo = max(0, int(np.max(-lags.min(axis=1)))) + 3
    hi = min(n_ref, int(np.min(n_other - lags.max(axis=1)))) - 3
    if hi - lo < 2:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(lo, hi - 1, min(n_max, hi - lo)).round().astype(np.int64))


def _mean_sq_reprojection(
    points: np.ndarray, weights: np.ndarray, projections: np.ndarray
) -> np.ndarray:
    """Mean squared reprojection error per candidate.

    Args:
        points: (C, L, S, K, 2) undistorted pixels, L candidates × S frames.
        weights: (C, L, S, K).
        projections: (C, 3, 4).

    Returns:
        (L,) mean over cameras and points of the squared error (px²); NaN if none.
    """
    C, L, S, K, _ = points.shape
    X, n_used = triangulate_dlt(
        points.reshape(C, L * S, K, 2), weights.reshape(C, L * S, K), projections
    )
    err = reprojection_errors(X, points.reshape(C, L * S, K, 2), projections)
    use = (n_used >= 2)[None] & (weights.reshape(C, L * S, K) > 0) & np.isfinite(err)
    sq = np.where(use, err, 0.0) ** 2
    total = sq.reshape(C, L, S * K).sum(axis=(0, 2))
    count = use.reshape(C, L, S * K).sum(axis=(0, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _gather(
    points: np.ndarray, weights: np.ndarray, frames: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """points[frames], weights[frames] with NaN / 0 outside the camera's range."""
    inside = (frames >= 0) & (frames < points.shape[0])
    f = np.clip(frames, 0, points.shape[0] - 1)
    p = np.where(inside[..., None, None], points[f], np.nan)
    w = np.where(inside[..., None], weights[f], 0.0)
    return p, w


def estimate_offsets(
    points2d: Sequence[np.ndarray],
    weights: Sequence[np.ndarray],
    projections: np.ndarray,
    max_offset: int,
    refine: int = 3,
    n_candidates: int = 3,
    reference: int = 0,
    n_scored_frames: int = 60,
    min_weight: float = 0.3,
) -> SyncResult:
    """Estimate each camera's constant integer frame offset against a reference camera.

    Args:
        points2d: C arrays (F_c, K, 2) of **undistorted** pixels (one person); NaN = missing.
            Frame counts may differ.
        weights: C arrays (F_c, K) of confidences; below ``min_weight`` = missing.
        projections: (C, 3, 4) ``K [R | t]``.
        max_offset: largest |offset| searched by cross-correlation, frames; at most a third
            of the shortest camera minus ``refine + 3`` frames is searched, so that every
            candidate is scored on the same frames.
        refine: every lag within ± this many frames of a candidate is scored by reprojection.
        n_candidates: strongest cross-correlation peaks tried per camera.
        reference: index of the reference camera (offset 0).
        n_scored_frames: frames (evenly spaced) scored per reprojection test.
        min_weight: confidence threshold.

    Returns:
        :class:`SyncResult`.

    Raises:
        ValueError: fewer than 2 cameras, mismatched inputs, a negative ``max_offset`` or
            ``refine``, or a ``reference`` that is not a camera index.
    """
    C = len(points2d)
    if C < 2 or len(weights) != C or np.shape(projections) != (C, 3, 4):
        raise ValueError(
            f"need >= 2 cameras with matching points, weights and (C, 3, 4) projections; got "
            f"{C} point arrays, {len(weights)} weight arrays, projections {np.shape(projections)}"
        )
    if max_offset < 0 or refine < 0:
        raise ValueError(f"max_offset and refine must be >= 0, got {max_offset}, {refine}")
    if not 0 <= reference < C:
        raise ValueError(f"reference must index one of the {C} cameras, got {reference}")
    pts = [np.asarray(p, dtype=np.float64) for p in points2d]
    wts = [
        np.where((np.asarray(w, dtype=np.float64) >= min_weight) & np.isfinite(p).all(-1), w, 0.0)
        for p, w in zip(pts, weights, strict=True)
    ]
    P = np.asarray(projections, dtype=np.float64)
    n_frames = np.array([p.shape[0] for p in pts])
    # a short trial cannot tell large offsets apart: keep a third of it for scoring
    max_offset = int(min(max_offset, max(n_frames.min() // 3 - 3 - refine, 0)))
    signals = [vertical_velocity_signal(p, w, min_weight) for p, w in zip(pts, wts, strict=True)]

    offsets = np.zeros(C, dtype=np.int64)
    coarse = np.zeros(C, dtype=np.int64)
    rms = np.full(C, np.nan)
    ref = reference
    for c in range(C):
        if c == ref:
            continue
        r = correlation_by_lag(signals[ref], signals[c], max_offset)
        lags_all = np.arange(-max_offset, max_offset + 1)
        if np.all(np.isnan(r)):
            cands = np.array([0])
        else:
            rr = np.nan_to_num(r, nan=-np.inf)
            coarse[c] = lags_all[int(np.argmax(rr))]
            peaks, _ = find_peaks(np.concatenate([[-np.inf], rr, [-np.inf]]))
            peaks -= 1
            peaks = peaks[np.argsort(rr[peaks])[::-1][:n_candidates]]
            cands = lags_all[peaks] if peaks.size else np.array([coarse[c]])
        trial = np.unique((cands[:, None] + np.arange(-refine, refine + 1)).ravel())
        trial = trial[np.abs(trial) <= max_offset + refine]
        frames = _scored_frames(n_frames[ref], n_frames[[c]], trial[None], n_scored_frames)
        if frames.size == 0:  # too short to score: leave the camera as it is
            continue
        pr, wr = _gather(pts[ref], wts[ref], np.broadcast_to(frames, (trial.size, frames.size)))
        pc, wc = _gather(pts[c], wts[c], frames[None] + trial[:, None])
        score = _mean_sq_reprojection(np.stack([pr, pc]), np.stack([wr, wc]), P[[ref, c]])
        if np.isfinite(score).any():
            best = int(np.nanargmin(score))
            offsets[c], rms[c] = trial[best], float(np.sqrt(score[best]))

    # settle every camera against all the others (coordinate descent, a few passes)
    if C > 2:
        for _ in range(3):
            changed = False
            for c in range(C):
                if c == ref:
                    continue
                trial = offsets[c] + np.arange(-refine, refine + 1)
                lags = np.repeat(offsets[:, None], trial.size, axis=1)
                lags[c] = trial
                frames = _scored_frames(
                    n_frames[ref],
                    np.delete(n_frames, ref),
                    np.delete(lags, ref, 0),
                    n_scored_frames,
                )
                if frames.size == 0:
                    continue
                gathered = [
                    _gather(pts[k], wts[k], frames[None] + lags[k][:, None]) for k in range(C)
                ]
                score = _mean_sq_reprojection(
                    np.stack([g[0] for g in gathered]), np.stack([g[1] for g in gathered]), P
                )
                if not np.isfinite(score).any():
                    continue
                best = int(np.nanargmin(score))
                rms[c] = float(np.sqrt(score[best]))
                if trial[best] != offsets[c]:
                    offsets[c] = trial[best]
                    changed = True
            if not changed:
                break
    return SyncResult(offsets=offsets, coarse=coarse, reprojection_px=rms, reference=ref)
