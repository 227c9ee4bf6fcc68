"""Time-series conditioning of keypoint trajectories: low-pass filtering, gap filling, resampling.

All functions take arrays with **time on axis 0**, shape (T, ...) (e.g. (F, K, 2) pixels or
(F, K, 3) metres), treat NaN as "missing" and never invent samples outside what they document.
Columns (everything after axis 0) that share the same missing-sample pattern are processed
together in one vectorised call.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

__all__ = [
    "CutoffChoice",
    "auto_cutoff",
    "butterworth_lowpass",
    "fill_gaps",
    "finite_runs",
    "gap_aware_lowpass",
    "resample",
]


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
    x: np.ndarray,
    fps: float,
    cutoff_hz: float | np.ndarray,
    order: int = 4,
    max_gap_frames: int = 0,
) -> np.ndarray:
    """Zero-phase Butterworth low-pass along time, run by run over finite samples.

    The filter is ``butter(order // 2, wn, output="sos")`` applied forwards and backwards
    (``sosfiltfilt``), so the effective order is ``order`` and there is no phase lag (as in
    OpenCap).  Each contiguous run of finite samples of each column is filtered on its own;
    runs not longer than the filter's edge padding (``3 · (2·sections + 1)`` samples, 9 for
    order 4) are returned unchanged, and NaN samples stay NaN.  Runs are filtered in batches
    (:class:`_RunBatches`), with the same result as one ``sosfiltfilt`` call per run.

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
            with its 30 Hz default).  An array broadcastable to ``x.shape[1:]`` gives each
            column its own cut-off (e.g. (K, 1) for (T, K, 2) keypoints; see
            :func:`auto_cutoff`).
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
    x: np.ndarray,
    fps: float,
    cutoff_hz: float | np.ndarray,
    order: int = 4,
    max_gap_frames: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill internal gaps up to ``max_gap_frames``, low-pass, keep the longer gaps missing.

    Same filter and arguments as :func:`butterworth_lowpass`.

    Returns:
        ``(filtered, filled)``: (T, ...) float64 samples, with the bridged gaps holding filtered
        interpolated values and the longer gaps NaN, and the (T, ...) bool mask of the bridged
        samples.
    """
    a = np.array(x, dtype=np.float64)
    cut = np.broadcast_to(np.asarray(cutoff_hz, dtype=np.float64), a.shape[1:]).reshape(-1)
    if order < 2 or order % 2:
        raise ValueError(f"order must be an even integer >= 2 (two-pass filter), got {order}")
    if not (fps > 0 and np.all(cut > 0)):
        raise ValueError(
            f"fps and cutoff_hz must be positive, got fps={fps}, cutoff_hz={cutoff_hz}"
        )
    if a.shape[0] == 0:
        return a, np.zeros(a.shape, dtype=bool)
    if max_gap_frames > 0:
        a, filled = fill_gaps(a, max_gap_frames)
    else:
        filled = np.zeros(a.shape, dtype=bool)
    flat = a.reshape(a.shape[0], -1)
    out = flat.copy()
    starts, stops, columns = _column_runs(np.isfinite(flat))
    for hz in np.unique(cut):
        sos, padlen = _butter(fps, float(hz), order)
        keep = (stops - starts > padlen) & (cut[columns] == hz)
        _RunBatches(flat, starts[keep], stops[keep], columns[keep], padlen).filter(sos, out)
    return out.reshape(a.shape), filled


#: the noise of :func:`auto_cutoff` is measured above this fraction of the Nyquist frequency
NOISE_BAND = 0.8


class CutoffChoice(NamedTuple):
    """What :func:`auto_cutoff` chose, per group of columns.

    Attributes:
        cutoff_hz: (G,) chosen cut-off (the highest candidate for a group without samples).
        noise: (G,) estimated standard deviation of the white noise, in the unit of ``x``.
        risk: (N, G) estimated mean squared error of the filtered samples at each candidate,
            in the unit of ``x`` squared (NaN for a group without samples).
        candidates_hz: (N,) the candidates, ascending.
    """

    cutoff_hz: np.ndarray
    noise: np.ndarray
    risk: np.ndarray
    candidates_hz: np.ndarray


def auto_cutoff(
    x: np.ndarray,
    fps: float,
    candidates_hz: np.ndarray,
    order: int = 4,
    groups: np.ndarray | None = None,
    scored: np.ndarray | None = None,
) -> CutoffChoice:
    """The cut-off of least estimated error, per group of columns (Stein's unbiased risk).

    Model: each column is a smooth signal plus white noise of one variance per group.  The
    residual of the zero-phase filter at cut-off ``f`` holds the signal it removes plus the
    noise it removes, so the error of the filtered samples against the unknown signal is
    estimated from the residual (Stein, 1981):

        risk(f) = mean(residual(f)²) + σ² · (2 · mean(G_f) − 1),

    where ``2 σ² · mean(G_f)`` is the noise the filter keeps (``G_f``: the diagonal of the
    filter as a matrix, computed per run length, so the run ends, where the filter passes more
    noise, are counted exactly).  σ² comes from the residual at ``NOISE_BAND`` · Nyquist, above
    the band of human movement, divided by the share of white noise that residual keeps.
    Noise correlated in time (slow drift) looks like signal, so it raises the chosen cut-off
    rather than lowering it.  This is the quantity Winter's residual analysis reads off a
    plot, minimised instead of intersected.

    Args:
        x: (T, ...) samples, time on axis 0, NaN = missing; runs are filtered as in
            :func:`gap_aware_lowpass` (fill short gaps first to filter across them).
        fps: sampling rate in Hz.
        candidates_hz: (N,) cut-offs to try, each below ``NOISE_BAND · fps / 2``.
        order: effective filter order, as in :func:`butterworth_lowpass`.
        groups: int array broadcastable to ``x.shape[1:]``: the group (0..G-1) of each column
            (e.g. the keypoint, pooling cameras and x/y); default one group.
        scored: (T, ...) bool, the samples the risk counts (e.g. not the bridged ones);
            default all finite.  Samples of runs too short to filter never count.

    Returns:
        :class:`CutoffChoice`.
    """
    a = np.array(x, dtype=np.float64)
    flat = a.reshape(a.shape[0], -1)
    n_frames, n_cols = flat.shape
    cands = np.sort(np.asarray(candidates_hz, dtype=np.float64).ravel())
    noise_hz = NOISE_BAND * fps / 2.0
    if cands.size == 0 or cands[0] <= 0 or cands[-1] >= noise_hz:
        raise ValueError(
            f"candidate cut-offs must lie in (0, {noise_hz:g}) Hz at {fps:g} fps "
            f"({NOISE_BAND:g} × Nyquist), got {cands.tolist()}"
        )
    if groups is None:
        col_group = np.zeros(n_cols, dtype=np.intp)
    else:
        col_group = np.broadcast_to(np.asarray(groups, dtype=np.intp), a.shape[1:]).reshape(-1)
    n_groups = int(col_group.max()) + 1 if n_cols else 0

    padlen = _butter(fps, noise_hz, order)[1]  # the same for every cut-off of this order
    keep = np.ones(flat.shape, dtype=bool)
    if scored is not None:
        keep = np.broadcast_to(scored, a.shape).reshape(flat.shape)
    # the risk is scored on x as it will be filtered; the noise on the unbridged samples only,
    # where it is white (a bridged sample interpolates its neighbours' noise)
    runs = _scored_runs(flat, keep, padlen)
    noise_x = np.where(keep, flat, np.nan)
    noise_runs = _scored_runs(noise_x, keep, padlen)
    n = np.bincount(col_group, weights=runs.counted.sum(axis=0), minlength=n_groups)

    def squared_residual(x: np.ndarray, r: _Runs, hz: float) -> np.ndarray:
        filtered = x.copy()
        r.batches.filter(_butter(fps, hz, order)[0], filtered)
        res = np.where(r.counted, x - filtered, 0.0)
        return np.bincount(col_group, weights=(res * res).sum(axis=0), minlength=n_groups)

    def noise_terms(r: _Runs, hz: float) -> tuple[np.ndarray, np.ndarray]:
        """Per group, over the counted samples: the sum of the filter matrix's diagonal (the
        share of each sample's own noise it keeps) and of the squared rows of I - A (the
        noise its residual keeps), exact for each run length."""
        kept, removed = np.zeros(n_groups), np.zeros(n_groups)
        lengths = r.stops - r.starts
        for length in np.unique(lengths):
            sel = np.flatnonzero(lengths == length)
            diag, rows = _run_noise_gains(float(fps), float(hz), order, int(length))
            w = r.counted[r.starts[sel, None] + np.arange(length), r.columns[sel, None]]  # (R, L)
            g = col_group[r.columns[sel]]
            kept += np.bincount(g, weights=w @ diag, minlength=n_groups)
            removed += np.bincount(g, weights=w @ rows, minlength=n_groups)
        return kept, removed

    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (
            squared_residual(noise_x, noise_runs, noise_hz) / noise_terms(noise_runs, noise_hz)[1]
        )
        risk = np.stack(
            [
                (squared_residual(flat, runs, hz) + variance * (2.0 * noise_terms(runs, hz)[0] - n))
                / n
                for hz in cands
            ]
        )
    best = np.where(n > 0, cands[np.argmin(np.nan_to_num(risk, nan=np.inf), axis=0)], cands[-1])
    return CutoffChoice(best, np.sqrt(variance), risk, cands)


class _Runs(NamedTuple):
    """The runs of a (T, M) array long enough to filter (``starts``, ``stops``, ``columns``,
    each (R,)), the (T, M) mask of their samples that count, and their filter batches."""

    starts: np.ndarray
    stops: np.ndarray
    columns: np.ndarray
    counted: np.ndarray
    batches: _RunBatches


def _scored_runs(x: np.ndarray, scored: np.ndarray, padlen: int) -> _Runs:
    """:class:`_Runs` of the finite samples of (T, M) ``x``: runs longer than ``padlen``."""
    finite = np.isfinite(x)
    starts, stops, columns = _column_runs(finite)
    long = stops - starts > padlen
    starts, stops, columns = starts[long], stops[long], columns[long]
    edges = np.zeros((finite.shape[0] + 1, finite.shape[1]), dtype=np.int32)
    np.add.at(edges, (starts, columns), 1)
    np.add.at(edges, (stops, columns), -1)
    counted = (np.cumsum(edges[:-1], axis=0) > 0) & scored
    return _Runs(starts, stops, columns, counted, _RunBatches(x, starts, stops, columns, padlen))


@functools.lru_cache(maxsize=4096)
def _run_noise_gains(
    fps: float, cutoff_hz: float, order: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """For the zero-phase filter as an (L, L) matrix ``A`` on one run of ``length`` samples:
    ``A[i, i]`` and ``sum_j (I - A)[i, j]²`` for each position ``i`` (read-only, cached: the
    same run lengths recur from trial to trial).

    Both differ from their values inside a long run only near the run's ends, where the
    filter's edge extension pins the output to the data; runs longer than the margin on both
    sides (8 periods of the cut-off) take the middle value in between, so the cost is bounded
    by the cut-off, not the run length.
    """
    from scipy.signal import sosfiltfilt

    sos, padlen = _butter(fps, cutoff_hz, order)
    margin = int(np.ceil(8 * fps / cutoff_hz)) + padlen
    n = min(length, 2 * margin + 1)
    a = sosfiltfilt(sos, np.eye(n), axis=0, padlen=padlen)  # column j: response to sample j
    diag, rows = np.diag(a).copy(), ((np.eye(n) - a) ** 2).sum(axis=1)
    if n < length:
        middle = np.full(length - 2 * margin, 0.0)
        diag = np.concatenate([diag[:margin], middle + diag[margin], diag[-margin:]])
        rows = np.concatenate([rows[:margin], middle + rows[margin], rows[-margin:]])
    diag.flags.writeable = rows.flags.writeable = False
    return diag, rows


def _butter(fps: float, cutoff_hz: float, order: int) -> tuple[np.ndarray, int]:
    """One pass of the zero-phase filter as second-order sections, and its edge padding."""
    from scipy.signal import butter  # here: importing this module stays cheap

    wn = cutoff_hz / (fps / 2.0)
    if wn >= 1.0:
        warnings.warn(
            f"cut-off {cutoff_hz} Hz is at or above Nyquist ({fps / 2} Hz at {fps} fps); "
            "clamping the normalised cut-off to 0.99 (almost no filtering)",
            RuntimeWarning,
            stacklevel=4,
        )
        wn = 0.99
    sos = butter(order // 2, wn, btype="low", output="sos")
    return sos, 3 * (2 * len(sos) + 1)


class _RunBatches:
    """``sosfiltfilt(sos, run, padlen=padlen)`` of every run ``x[starts[r]:stops[r],
    columns[r]]``, runs of any length batched into a few ``sosfilt`` calls.

    scipy's algorithm, row by row: odd extension by ``padlen``, a forward pass from the steady
    state of the first sample, a backward pass from that of the last.  The passes are causal,
    so a run can sit left-aligned in a longer zero-padded row without changing its samples:
    one (runs, longest) array per length class is filtered along its rows, and each row
    computes exactly what ``sosfiltfilt`` computes on the run alone (the same operations in the
    same order), at about ten calls per array instead of one per distinct run length.  The
    extended arrays and index maps depend on the runs and ``padlen`` only, so they are built
    once and :meth:`filter` can be called for several cut-offs of one order.
    """

    def __init__(
        self,
        x: np.ndarray,
        starts: np.ndarray,
        stops: np.ndarray,
        columns: np.ndarray,
        padlen: int,
    ) -> None:
        #: per length class: extended rows (R, E), 1.0 inside a row's extension (R, E), the
        #: flat reversal map (R, E), the flat source of each run sample, its (row, column)
        self.classes: list[tuple[np.ndarray, ...]] = []
        ext_len = stops - starts + 2 * padlen
        # length classes (powers of two): padding wastes at most half of each array
        klass = np.floor(np.log2(np.maximum(ext_len, 1))).astype(int)
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
            width = ext.shape[1]
            rows = np.arange(sel.size)[:, None]
            # each row reversed, again left-aligned (flat indices into the (R, E) array)
            back = rows * width + np.where(inside, e - 1 - j, 0)
            # run sample t sits at extended position padlen + t, reversed e - 1 - padlen - t
            t = np.arange(int(n.max()))[None, :]
            r_idx, t_idx = np.nonzero(t < n)
            src = r_idx * width + (e[r_idx, 0] - 1 - padlen - t_idx)
            dest = (s[r_idx, 0] + t_idx, c[r_idx, 0])
            self.classes.append((ext, inside.astype(np.float64), back, src, *dest))

    def filter(self, sos: np.ndarray, out: np.ndarray) -> None:
        """Write the filtered runs into ``out`` (the array the runs index)."""
        from scipy.signal import sosfilt, sosfilt_zi

        zi = sosfilt_zi(sos)[:, None, :]  # (sections, 1, 2), scaled per row below
        for ext, inside, back, src, dest_t, dest_c in self.classes:
            y, _ = sosfilt(sos, ext, axis=-1, zi=zi * ext[:, 0][None, :, None])
            y = np.take(y, back) * inside  # the padding is zero (or -0.0), never read back
            y, _ = sosfilt(sos, y, axis=-1, zi=zi * y[:, 0][None, :, None])
            out[dest_t, dest_c] = np.take(y, src)


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
