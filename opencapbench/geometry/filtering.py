"""Time-series conditioning of keypoint trajectories: low-pass filtering, gap filling, resampling.

All functions take arrays with **time on axis 0**, shape (T, ...) (e.g. (F, K, 2) pixels or
(F, K, 3) metres), treat NaN as "missing" and never invent samples outside what they document.
Columns (everything after axis 0) that share the same missing-sample pattern are processed
together in one vectorised call.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

__all__ = ["butterworth_lowpass", "fill_gaps", "finite_runs", "gap_aware_lowpass", "resample"]


def finite_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index pairs of the contiguous True runs of a 1-D bool array."""
    v = np.concatenate([[False], np.asarray(valid, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(v.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _pattern_groups(finite: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(row_mask (T,), column_indices)`` for each distinct finite-pattern of (T, M)."""
    patterns, inverse = np.unique(finite.T, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for g, pattern in enumerate(patterns):
        yield pattern, np.flatnonzero(inverse == g)


def _column_runs(finite: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every contiguous True run of every column of a (T, M) bool array.

    Returns:
        ``(starts, stops, columns)``, each (R,) int: run ``r`` covers rows
        ``starts[r]:stops[r]`` of column ``columns[r]``.
    """
    t, m = finite.shape
    padded = np.zeros((m, t + 2), dtype=np.int8)
    padded[:, 1:-1] = finite.T
    d = np.diff(padded, axis=1)  # (M, T + 1), row-major: runs come out column by column
    columns, starts = np.nonzero(d == 1)
    _, stops = np.nonzero(d == -1)
    return starts, stops, columns


def butterworth_lowpass(
    x: np.ndarray, fps: float, cutoff_hz: float, order: int = 4, max_gap_frames: int = 0
) -> np.ndarray:
    """Zero-phase Butterworth low-pass along time, run by run over finite samples.

    The filter is ``butter(order // 2, wn, output="sos")`` applied forwards and backwards
    (``sosfiltfilt``), so the effective order is ``order`` and there is no phase lag (as in
    OpenCap).  Each contiguous run of finite samples of each column is filtered on its own;
    runs not longer than the filter's edge padding (``3 · (2·sections + 1)`` samples, 9 for
    order 4) are returned unchanged, and NaN samples stay NaN.  Runs are filtered in batches
    (:func:`_filtfilt_runs`), with the same result as one ``sosfiltfilt`` call per run.

    With ``max_gap_frames > 0`` the filter is gap-aware: internal gaps up to that many frames
    are first filled (:func:`fill_gaps`, PCHIP), so the runs on both sides of a short gap are
    filtered as one; the filled samples are then set back to NaN (use
    :func:`gap_aware_lowpass` to keep them).

    Args:
        x: (T, ...) samples, time on axis 0 (any unit; unchanged).
        fps: sampling rate in Hz.
        cutoff_hz: cut-off in Hz, the −3 dB point of one pass, hence the −6 dB point of the
            zero-phase result (gain ``1 / (1 + (f / cutoff)^order)``; no Winter correction, as in
            OpenCap and Pose2Sim).  At or above Nyquist (``fps / 2``) the normalised cut-off is
            clamped to 0.99 with a warning (a near no-op, which is what OpenCap does at 60 fps
            with its 30 Hz default).
        order: effective (two-pass) filter order; even, >= 2.
        max_gap_frames: longest internal gap (frames) bridged before filtering; 0 filters each
            run of finite samples separately.

    Returns:
        (T, ...) float64 filtered samples.
    """
    filtered, filled = gap_aware_lowpass(x, fps, cutoff_hz, order, max_gap_frames)
    filtered[filled] = np.nan
    return filtered


def gap_aware_lowpass(
    x: np.ndarray, fps: float, cutoff_hz: float, order: int = 4, max_gap_frames: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Fill internal gaps up to ``max_gap_frames``, low-pass, keep the longer gaps missing.

    Same filter and arguments as :func:`butterworth_lowpass`.

    Returns:
        ``(filtered, filled)``: (T, ...) float64 samples, with the bridged gaps holding filtered
        interpolated values and the longer gaps NaN, and the (T, ...) bool mask of the bridged
        samples.
    """
    from scipy.signal import butter  # here: importing this module stays cheap

    if order < 2 or order % 2:
        raise ValueError(f"order must be an even integer >= 2 (two-pass filter), got {order}")
    if not (fps > 0 and cutoff_hz > 0):
        raise ValueError(
            f"fps and cutoff_hz must be positive, got fps={fps}, cutoff_hz={cutoff_hz}"
        )
    wn = cutoff_hz / (fps / 2.0)
    if wn >= 1.0:
        warnings.warn(
            f"cut-off {cutoff_hz} Hz is at or above Nyquist ({fps / 2} Hz at {fps} fps); "
            "clamping the normalised cut-off to 0.99 (almost no filtering)",
            RuntimeWarning,
            stacklevel=3,
        )
        wn = 0.99
    sos = butter(order // 2, wn, btype="low", output="sos")
    padlen = 3 * (2 * len(sos) + 1)

    a = np.array(x, dtype=np.float64)
    if a.shape[0] == 0:
        return a, np.zeros(a.shape, dtype=bool)
    if max_gap_frames > 0:
        a, filled = fill_gaps(a, max_gap_frames)
    else:
        filled = np.zeros(a.shape, dtype=bool)
    flat = a.reshape(a.shape[0], -1)
    out = flat.copy()
    starts, stops, columns = _column_runs(np.isfinite(flat))
    keep = stops - starts > padlen
    _filtfilt_runs(sos, padlen, flat, out, starts[keep], stops[keep], columns[keep])
    return out.reshape(a.shape), filled


def _filtfilt_runs(
    sos: np.ndarray,
    padlen: int,
    x: np.ndarray,
    out: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    columns: np.ndarray,
) -> None:
    """``sosfiltfilt(sos, run, padlen=padlen)`` of every run ``x[starts[r]:stops[r],
    columns[r]]`` into ``out``, runs of any length batched into a few ``sosfilt`` calls.

    scipy's algorithm, row by row: odd extension by ``padlen``, a forward pass from the steady
    state of the first sample, a backward pass from that of the last.  The passes are causal,
    so a run can sit left-aligned in a longer zero-padded row without changing its samples:
    one (runs, longest) array per length class is filtered along its rows, and each row
    computes exactly what ``sosfiltfilt`` computes on the run alone (the same operations in the
    same order), at about ten calls per array instead of one per distinct run length.
    """
    from scipy.signal import sosfilt, sosfilt_zi

    if starts.size == 0:
        return
    zi = sosfilt_zi(sos)[:, None, :]  # (sections, 1, 2), scaled per row below
    ext_len = stops - starts + 2 * padlen
    # length classes (powers of two): padding wastes at most half of each array
    klass = np.floor(np.log2(ext_len)).astype(int)
    for k in np.unique(klass):
        sel = np.flatnonzero(klass == k)
        s, n, c = starts[sel, None], (stops - starts)[sel, None], columns[sel, None]
        e = ext_len[sel, None]
        j = np.arange(int(e.max()))[None, :]  # (1, E) position in the extended row
        i = j - padlen  # index into the run
        inside = j < e
        mirror = np.where(i < 0, -i, np.where(i >= n, 2 * (n - 1) - i, i))
        mirror = np.where(inside, mirror, 0)
        val = x[s + mirror, c]
        first, last = x[s[:, 0], c[:, 0]][:, None], x[s[:, 0] + n[:, 0] - 1, c[:, 0]][:, None]
        ext = np.where(i < 0, 2.0 * first - val, np.where(i >= n, 2.0 * last - val, val))
        ext = np.where(inside, ext, 0.0)
        y, _ = sosfilt(sos, ext, axis=-1, zi=zi * ext[:, 0][None, :, None])
        # backward pass: each row's forward output reversed, again left-aligned
        back = np.where(inside, e - 1 - j, 0)
        rows = np.arange(sel.size)[:, None]
        y = np.where(inside, y[rows, back], 0.0)
        y, _ = sosfilt(sos, y, axis=-1, zi=zi * y[:, 0][None, :, None])
        # run sample t sits at extended position padlen + t, reversed position e - 1 - padlen - t
        t = np.arange(int(n.max()))[None, :]
        ok = t < n
        src = np.where(ok, e - 1 - padlen - t, 0)
        res = y[rows, src]
        r_idx, t_idx = np.nonzero(ok)
        out[s[r_idx, 0] + t_idx, c[r_idx, 0]] = res[r_idx, t_idx]


def fill_gaps(
    x: np.ndarray, max_gap_frames: int, method: str = "pchip"
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate internal runs of missing samples no longer than ``max_gap_frames``.

    Each column is interpolated along time from **all** its finite samples (so the curve
    through a gap follows the data on both sides).  Leading and trailing missing runs, and
    internal runs longer than ``max_gap_frames``, stay NaN.  OpenCap fills gaps shorter than
    ``fps / 5`` frames with PCHIP.

    Args:
        x: (T, ...) samples, time on axis 0, NaN = missing.
        max_gap_frames: longest run of consecutive missing samples to fill (frames).
        method: ``"pchip"`` (shape-preserving, no overshoot; scipy ``PchipInterpolator``),
            ``"cubic"`` (not-a-knot cubic spline; reproduces cubic polynomials exactly) or
            ``"linear"``.

    Returns:
        ``(filled, filled_mask)``: (T, ...) float64 samples and (T, ...) bool, True where a
        sample was filled.
    """
    from scipy.interpolate import CubicSpline, PchipInterpolator

    if method not in ("pchip", "cubic", "linear"):
        raise ValueError(f"unknown gap-filling method {method!r}; use 'pchip', 'cubic' or 'linear'")
    if max_gap_frames < 0:
        raise ValueError(f"max_gap_frames must be >= 0, got {max_gap_frames}")
    a = np.array(x, dtype=np.float64)
    flat = a.reshape(a.shape[0], -1)
    out = flat.copy()
    mask = np.zeros(flat.shape, dtype=bool)
    t = np.arange(flat.shape[0], dtype=np.float64)
    for pattern, cols in _pattern_groups(np.isfinite(flat)):
        known = np.flatnonzero(pattern)
        if known.size < 2:
            continue
        to_fill = np.zeros_like(pattern)
        for start, stop in finite_runs(~pattern):
            if start > 0 and stop < pattern.size and stop - start <= max_gap_frames:
                to_fill[start:stop] = True
        if not to_fill.any():
            continue
        y = flat[known][:, cols]
        rows = t[to_fill]
        if method == "linear":
            vals = np.stack([np.interp(rows, known, y[:, j]) for j in range(y.shape[1])], axis=1)
        elif method == "pchip":
            vals = PchipInterpolator(known, y, axis=0)(rows)
        else:
            vals = CubicSpline(known, y, axis=0)(rows)
        out[np.ix_(to_fill, cols)] = vals
        mask[np.ix_(to_fill, cols)] = True
    return out.reshape(a.shape), mask.reshape(a.shape)


def resample(times: np.ndarray, x: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation onto a uniform time grid.

    Args:
        times: (T,) strictly increasing sample times in seconds.
        x: (T, ...) samples, time on axis 0.
        rate_hz: output rate in Hz; the grid is ``times[0] + n / rate_hz`` up to ``times[-1]``.

    Returns:
        ``(new_times (N,), new_x (N, ...))``.  An output sample between two inputs is NaN if
        either neighbour is NaN; one that falls exactly on an input sample copies it.
    """
    t = np.asarray(times, dtype=np.float64)
    a = np.asarray(x, dtype=np.float64)
    if t.ndim != 1 or a.shape[0] != t.size:
        raise ValueError(f"times must be (T,) matching x's first axis; got {t.shape} and {a.shape}")
    if rate_hz <= 0:
        raise ValueError(f"rate_hz must be positive, got {rate_hz}")
    if t.size < 2:
        return t.copy(), a.copy()
    if not np.all(np.diff(t) > 0):
        raise ValueError("times must be strictly increasing")
    n = int(np.floor((t[-1] - t[0]) * rate_hz + 1e-9)) + 1
    new_t = t[0] + np.arange(n) / rate_hz
    i = np.clip(np.searchsorted(t, new_t, side="right") - 1, 0, t.size - 2)
    frac = (new_t - t[i]) / (t[i + 1] - t[i])
    frac = frac.reshape((-1,) + (1,) * (a.ndim - 1))
    with np.errstate(invalid="ignore"):
        new_x = a[i] * (1.0 - frac) + a[i + 1] * frac
    new_x = np.where(frac == 0.0, a[i], np.where(frac == 1.0, a[i + 1], new_x))
    return new_t, new_x
