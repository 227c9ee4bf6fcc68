"""Figures of a benchmark run: per-trial angle curves, the per-DOF error chart, Bland-Altman plots.

Everything draws on matplotlib's object API with the Agg canvas (no pyplot, no global backend
switch), so the functions run in worker processes.  Layouts are fixed with explicit
``subplots_adjust`` geometry (``tight_layout`` cost a third of the plotting time), and a
process redraws one curves figure for every trial instead of building one per trial
(``benchmarks/plot_trial_speed.py``).  Summary figures are written as SVG and PDF (vector;
dense scatter points rasterised) beside a 300 dpi PNG; per-trial curves as PNG only (one per
trial, embedded in ``report.html``).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from opencapbench.benchmark.metrics import (
    BILATERAL_DOFS,
    OCB_DOFS,
    bland_altman,
    classify_activity,
    dof_columns,
    dof_errors,
    to_degrees,
)
from opencapbench.io.atomic import atomic_path

__all__ = [
    "SUMMARY_FORMATS",
    "MIN_ANGLE_RANGE_DEG",
    "plot_trial",
    "trial_figure_paths",
    "plot_trial_curves",
    "plot_dof_errors",
    "plot_bland_altman",
    "plot_keypoint_noise",
    "trial_curves_figure",
    "dof_errors_figure",
    "bland_altman_figure",
    "keypoint_noise_figure",
]

#: formats of the summary figures (the PNG at ``SUMMARY_DPI``)
SUMMARY_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
SUMMARY_DPI = 300
CURVE_DPI = 100
#: smallest y-range of an angle panel, so that 0.005 deg of noise does not fill it
MIN_ANGLE_RANGE_DEG = 5.0

# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies)
RIGHT = "#0072B2"  # blue
LEFT = "#D55E00"  # vermillion
SINGLE = "#000000"
ACCENT = "#009E73"  # bluish green
_METRIC_COLOURS = {"rmse": "#56B4E9", "mae": "#E69F00"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=None)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path, dpi: int) -> Path:
    fmt = path.suffix.lstrip(".").lower()
    # zlib level 1: a 300 dpi summary PNG is written 1.6x faster and is ~15 % larger
    extra = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_metadata(path), **extra)
    return path


def _save_palette_png(fig, path: Path, dpi: int, colors: int = 128) -> Path:
    """A PNG with an adaptive palette: line plots need few colours, and the file is about a
    third of the RGBA one (per-trial curves are embedded in ``report.html``, one per trial).

    The canvas is drawn once and quantised from its pixel buffer: going through ``savefig``
    would encode and decode an RGBA PNG first."""
    from PIL import Image

    fig.set_dpi(dpi)
    fig.canvas.draw()
    rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    pal = rgb.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    with atomic_path(path) as tmp:
        pal.save(tmp, format="PNG")
    return path


def _metadata(path: Path) -> dict | None:
    # fixed metadata keeps SVG/PDF output byte-stable between runs
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return {"Date": None}
    if suffix == ".pdf":
        return {"CreationDate": None}
    return None


def _save_summary(fig, out_stem: Path, formats: Sequence[str]) -> list[Path]:
    return [_save(fig, out_stem.with_suffix(f".{fmt}"), SUMMARY_DPI) for fmt in formats]


def _min_range(ax, lo: float, hi: float, min_range: float) -> None:
    """Y-limits covering ``[lo, hi]`` with a margin, at least ``min_range`` wide."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return
    span = hi - lo
    if span < min_range:
        mid = 0.5 * (lo + hi)
        ax.set_ylim(mid - 0.5 * min_range, mid + 0.5 * min_range)
    else:
        ax.set_ylim(lo - 0.05 * span, hi + 0.05 * span)


# --------------------------------------------------------------------------------------------
# per-trial curves
# --------------------------------------------------------------------------------------------


def _style(dof: str, col: str) -> tuple[str, str]:
    """Colour and legend side of one coordinate column."""
    if dof in BILATERAL_DOFS:
        return (LEFT, "left") if col.endswith("_l") else (RIGHT, "right")
    return SINGLE, "single"


#: (mocap, video) line widths; the right side is drawn wider and first, so a symmetric motion
#: (left on top of right) still shows both sides
_WIDTH = {"right": (2.4, 1.6), "left": (1.4, 1.1), "single": (1.8, 1.3)}


def _legend_handles():
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color=RIGHT, lw=_WIDTH["right"][0], label="mocap, right"),
        Line2D([], [], color=RIGHT, lw=_WIDTH["right"][1], ls="--", label="video, right"),
        Line2D([], [], color=LEFT, lw=_WIDTH["left"][0], label="mocap, left"),
        Line2D([], [], color=LEFT, lw=_WIDTH["left"][1], ls="--", label="video, left"),
        Line2D([], [], color=SINGLE, lw=1.8, label="mocap (pelvis, lumbar)"),
        Line2D([], [], color=SINGLE, lw=1.3, ls="--", label="video (pelvis, lumbar)"),
    ]


def plot_trial_curves(
    pred: pd.DataFrame,
    gt: pd.DataFrame,
    shift_s: float,
    path: str | os.PathLike,
    title: str = "",
    dofs: Sequence[str] = OCB_DOFS,
    normalised: bool = False,
    dpi: int = CURVE_DPI,
) -> Path:
    """Write :func:`trial_curves_figure` to ``path`` (its suffix picks the format).

    Draws on this process's reusable figure of the same layout (:func:`_reusable_curves`)."""
    fig = _reusable_curves(tuple(dofs), normalised).show(pred, gt, shift_s, title)
    path = Path(path)
    if path.suffix.lower() == ".png":
        return _save_palette_png(fig, path, dpi)
    return _save(fig, path, dpi)


def trial_curves_figure(
    pred: pd.DataFrame,
    gt: pd.DataFrame,
    shift_s: float,
    title: str = "",
    dofs: Sequence[str] = OCB_DOFS,
    normalised: bool = False,
):
    """Mocap (solid) and time-aligned video (dashed) angles of one trial, one panel per DOF.

    Right side blue, left side vermillion, single DOFs black; the legend sits above the panels.
    Each panel's title gives the DOF's RMSE after the shift; its y-range is at least
    :data:`MIN_ANGLE_RANGE_DEG`.  With ``normalised`` the x-axis is 0-100 % of the span where
    both curves exist (a walking trial's cycles line up across trials).

    Args:
        pred, gt: coordinate tables (:func:`~opencapbench.io.mot.read_mot`), radians or degrees.
        shift_s: the time shift of :func:`~opencapbench.benchmark.metrics.best_time_shift`;
            the prediction is drawn at ``t - shift_s``.

    Returns:
        A new matplotlib ``Figure`` (Agg canvas).
    """
    return _TrialCurves(tuple(dofs), normalised).show(pred, gt, shift_s, title)


class _TrialCurves:
    """The figure of :func:`trial_curves_figure`, built once and redrawn for any trial.

    Building the panels (axes, ticks, legend) is about a third of the time of a figure, and a
    run draws one or two per trial, so :func:`plot_trial_curves` keeps one per layout and
    process and :meth:`show` only replaces the data, limits and texts.
    """

    NCOLS = 4

    def __init__(self, dofs: tuple[str, ...], normalised: bool) -> None:
        from matplotlib.ticker import MaxNLocator

        self.dofs, self.normalised = dofs, normalised
        nrows = max(1, math.ceil(len(dofs) / self.NCOLS))
        fig = _figure(16.0, 2.55 * nrows + 1.3)
        h = fig.get_figheight()
        top = 1.0 - 1.15 / h
        fig.subplots_adjust(left=0.05, right=0.99, bottom=0.55 / h, top=top, wspace=0.22,
                            hspace=0.32)  # fmt: skip
        # one shared time axis, labelled under the lowest panel of each column: tick creation
        # and text layout are most of the drawing time, so panels carry only what they show
        grid = fig.subplots(nrows, self.NCOLS, sharex=True, squeeze=False)
        for ax in grid.ravel()[len(dofs) :]:
            ax.remove()
        self.axes = dict(zip(dofs, grid.flat, strict=False))
        self.titles = {}
        #: column → (mocap line, video line); the right side first, so it is drawn below
        self.lines = {}
        for i, (dof, ax) in enumerate(self.axes.items()):
            for col in dof_columns(dof):
                colour, side = _style(dof, col)
                lw_mocap, lw_video = _WIDTH[side]
                (mocap,) = ax.plot([], [], color=colour, lw=lw_mocap)
                (video,) = ax.plot([], [], color=colour, lw=lw_video, ls="--")
                self.lines[col] = (mocap, video)
            # an explicit y skips matplotlib's search for a title position clear of the ticks
            self.titles[dof] = ax.set_title("", fontsize=9, y=1.0, pad=4)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.25)
            if i + self.NCOLS >= len(dofs):  # no panel below: this one carries the time axis
                ax.xaxis.set_tick_params(labelbottom=True)
                ax.set_xlabel("% of trial" if normalised else "time (s)", fontsize=8)
            if i % self.NCOLS == 0:
                ax.set_ylabel("angle (°)", fontsize=8)
        grid.flat[0].xaxis.set_major_locator(MaxNLocator(nbins=5))  # shared by every panel
        fig.legend(handles=_legend_handles(), loc="upper center", ncol=6, fontsize=8.5,
                   frameon=False, bbox_to_anchor=(0.5, top + 0.75 / h))  # fmt: skip
        self.suptitle = fig.suptitle("", fontsize=11, y=1.0 - 0.12 / h, va="top")
        self.fig = fig

    def show(self, pred: pd.DataFrame, gt: pd.DataFrame, shift_s: float, title: str):
        """The figure with this trial's curves (arguments of :func:`trial_curves_figure`)."""
        pred = to_degrees(pred)
        gt = to_degrees(gt)
        errors = dof_errors(pred, gt, shift_s, self.dofs).set_index("dof")
        t_gt = np.asarray(gt.index, dtype=float)
        t_pred = np.asarray(pred.index, dtype=float) - shift_s
        if self.normalised:
            t0, t1 = max(t_gt[0], t_pred[0]), min(t_gt[-1], t_pred[-1])
            if not t1 > t0:
                raise ValueError("prediction and ground truth do not overlap in time")

            def to_pct(t: np.ndarray) -> np.ndarray:
                pct = 100.0 * (t - t0) / (t1 - t0)
                return np.where((pct >= -1e-9) & (pct <= 100 + 1e-9), pct, np.nan)

            t_gt, t_pred = to_pct(t_gt), to_pct(t_pred)
        for dof, ax in self.axes.items():
            values = []
            for col in dof_columns(dof):
                for line, table, t in zip(self.lines[col], (gt, pred), (t_gt, t_pred),
                                          strict=True):  # fmt: skip
                    if col in table.columns:
                        y = table[col].to_numpy(dtype=float)
                        line.set_data(t, y)
                        values.append(y[np.isfinite(t)])
                    else:
                        line.set_data([], [])
            finite = np.concatenate(values) if values else np.array([])
            finite = finite[np.isfinite(finite)]
            if finite.size:
                _min_range(ax, float(finite.min()), float(finite.max()), MIN_ANGLE_RANGE_DEG)
            else:
                ax.set_ylim(-0.5 * MIN_ANGLE_RANGE_DEG, 0.5 * MIN_ANGLE_RANGE_DEG)
            rmse = errors.loc[dof, "rmse"] if dof in errors.index else np.nan
            rmse_text = f"{rmse:.2f}°" if np.isfinite(rmse) else "n/a"
            self.titles[dof].set_text(f"{dof}   RMSE {rmse_text}")
        first = next(iter(self.axes.values()))
        if self.normalised:
            first.set_xlim(0, 100)
        else:  # matplotlib's default 5 % margins around both curves
            times = np.concatenate([t_gt, t_pred])
            lo, hi = float(np.nanmin(times)), float(np.nanmax(times))
            pad = 0.05 * (hi - lo) if hi > lo else 0.5
            first.set_xlim(lo - pad, hi + pad)
        self.suptitle.set_text(f"{title}   (time shift {shift_s * 1000:.0f} ms)" if title else "")
        return self.fig


@functools.lru_cache(maxsize=4)
def _reusable_curves(dofs: tuple[str, ...], normalised: bool) -> _TrialCurves:
    """This process's curves figure of one layout (see :class:`_TrialCurves`)."""
    return _TrialCurves(dofs, normalised)


def plot_trial(
    pred_mot: Path, gt_mot: Path, shift_s: float, out_stem: Path, title: str
) -> list[Path]:
    """Curve figures of one trial from its IK output and ground-truth ``.mot`` files.

    Picklable (top-level, imports matplotlib on use) so the runner can call it in worker
    processes as each trial finishes.  Writes ``<out_stem>.png`` (angles against time) and, for
    walking trials (``classify_activity`` of the prediction file's name), also
    ``<out_stem>_normalised.png`` (0-100 % of the trial).

    Returns:
        The paths written.
    """
    from opencapbench.io.mot import read_mot

    pred = read_mot(pred_mot)
    gt = read_mot(gt_mot)
    paths = trial_figure_paths(pred_mot, out_stem)
    written = [plot_trial_curves(pred, gt, shift_s, paths[0], title)]
    if len(paths) > 1:
        written.append(
            plot_trial_curves(pred, gt, shift_s, paths[1], f"time-normalised: {title}",
                              normalised=True)
        )  # fmt: skip
    return written


def trial_figure_paths(pred_mot: str | os.PathLike, out_stem: str | os.PathLike) -> list[Path]:
    """The files :func:`plot_trial` writes for a trial: the curves against time, and for a
    walking trial (by the prediction file's name) the time-normalised curves."""
    out_stem = Path(out_stem)
    paths = [out_stem.with_name(out_stem.name + ".png")]
    if classify_activity(Path(pred_mot).stem) == "walking":
        paths.append(out_stem.with_name(out_stem.name + "_normalised.png"))
    return paths


# --------------------------------------------------------------------------------------------
# per-DOF error chart
# --------------------------------------------------------------------------------------------


def plot_dof_errors(
    per_trial: Mapping[str, pd.DataFrame],
    out_stem: str | os.PathLike,
    title: str,
    dofs: Sequence[str] = OCB_DOFS,
    formats: Sequence[str] = SUMMARY_FORMATS,
) -> list[Path]:
    """Write :func:`dof_errors_figure` as ``<out_stem>.<format>`` for each of ``formats``."""
    return _save_summary(dof_errors_figure(per_trial, title, dofs), Path(out_stem), formats)


def dof_errors_figure(
    per_trial: Mapping[str, pd.DataFrame], title: str, dofs: Sequence[str] = OCB_DOFS
):
    """Per-DOF error chart: one panel per metric, bars = mean over trials, every trial a dot.

    Args:
        per_trial: ``{"rmse": per_trial_rmse, "mae": per_trial_mae}`` tables of
            :func:`~opencapbench.benchmark.metrics.aggregate` (rows trials, columns DOFs +
            ``mean``), degrees.
        title: the figure's title (run, camera set-up, number of trials).

    Whiskers are ±1 sample standard deviation over trials (clipped at 0, which the y-axis never
    goes below); the legend says so.  Dots are jittered horizontally with a fixed pattern.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    metrics_ = [m for m in ("rmse", "mae") if m in per_trial]
    columns = [*[d for d in dofs], "mean"]
    fig = _figure(12.0, 3.1 * len(metrics_) + 1.5)
    h = fig.get_figheight()
    fig.subplots_adjust(left=0.065, right=0.78, bottom=1.05 / h, top=1.0 - 0.7 / h, hspace=0.12)
    x = np.arange(len(columns), dtype=float)
    x[-1] += 0.6  # the mean stands apart
    axes = []
    for row, metric in enumerate(metrics_):
        table = per_trial[metric].reindex(columns=columns)
        values = table.to_numpy(dtype=float)
        ax = fig.add_subplot(len(metrics_), 1, row + 1)
        axes.append(ax)
        mean = np.nanmean(np.where(np.isfinite(values), values, np.nan), axis=0)
        n = np.isfinite(values).sum(axis=0)
        sd = np.array([np.nanstd(values[:, j], ddof=1) if n[j] > 1 else np.nan
                       for j in range(values.shape[1])])  # fmt: skip
        lower = np.minimum(np.nan_to_num(sd), np.nan_to_num(mean))
        ax.bar(x, np.nan_to_num(mean), width=0.62, color=_METRIC_COLOURS[metric], zorder=1,
               edgecolor="none")  # fmt: skip
        ax.errorbar(x, np.nan_to_num(mean), yerr=[lower, np.nan_to_num(sd)], fmt="none",
                    ecolor="#333333", elinewidth=1.2, capsize=4, zorder=3)  # fmt: skip
        k = values.shape[0]
        jitter = (np.arange(k) - (k - 1) / 2) / max(k, 1) * 0.42 if k > 1 else np.zeros(1)
        for j in range(values.shape[1]):
            ok = np.isfinite(values[:, j])
            ax.scatter(x[j] + jitter[ok], values[ok, j], s=12, color="#222222", alpha=0.75,
                       linewidths=0, zorder=4)  # fmt: skip
        top_value = np.nanmax(
            np.concatenate([values[np.isfinite(values)], mean + np.nan_to_num(sd)])
        )
        ax.set_ylim(0, max(1.0, 1.08 * float(top_value)) if np.isfinite(top_value) else 1.0)
        ax.set_ylabel(f"{metric.upper()} (°)")
        ax.set_xlim(x[0] - 0.6, x[-1] + 0.6)
        ax.set_xticks(x)
        ax.grid(axis="y", alpha=0.3, zorder=0)
        ax.set_axisbelow(True)
        ax.axvline(x[-1] - 0.8, color="#999999", lw=0.8)
        if row < len(metrics_) - 1:
            ax.set_xticklabels([])
        else:
            ax.set_xticklabels(columns, rotation=35, ha="right")
    n_trials = int(per_trial[metrics_[0]].shape[0]) if metrics_ else 0
    handles = [
        *[Patch(color=_METRIC_COLOURS[m], label=f"{m.upper()}: mean over {n_trials} trials")
          for m in metrics_],
        Line2D([], [], color="#333333", marker="_", markersize=10, lw=1.2,
               label="whiskers: ±1 SD over trials"),
        Line2D([], [], color="#222222", marker="o", ls="none", markersize=4, label="one trial"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.79, 1.0 - 0.7 / h),
               fontsize=8.5, frameon=False)  # fmt: skip
    fig.suptitle(title, fontsize=11, y=1.0 - 0.15 / h, va="top")
    return fig


# --------------------------------------------------------------------------------------------
# Bland-Altman
# --------------------------------------------------------------------------------------------


def plot_bland_altman(
    pairs: pd.DataFrame,
    out_stem: str | os.PathLike,
    title: str,
    dofs: Sequence[str] = OCB_DOFS,
    formats: Sequence[str] = SUMMARY_FORMATS,
) -> tuple[list[Path], pd.DataFrame]:
    """Write :func:`bland_altman_figure` as ``<out_stem>.<format>``; returns the paths and the
    per-DOF statistics."""
    fig, stats = bland_altman_figure(pairs, title, dofs)
    return _save_summary(fig, Path(out_stem), formats), stats


def bland_altman_figure(pairs: pd.DataFrame, title: str, dofs: Sequence[str] = OCB_DOFS):
    """Bland-Altman plot per DOF: video − mocap against their mean, every frame of every trial.

    Args:
        pairs: the concatenated :func:`~opencapbench.benchmark.metrics.aligned_pairs` of all
            trials (columns ``dof``, ``column``, ``reference``, ``predicted``), degrees.
        title: the figure's title (run, camera set-up, number of trials).

    Right and left sides of a bilateral DOF are pooled (coloured apart); the solid line is the
    bias, the dashed lines the 95 % limits of agreement (bias ± 1.96 SD of the frame
    differences).  The scatter is rasterised so the SVG and PDF stay small.

    Returns:
        ``(figure, stats)``; ``stats`` has one row per DOF: ``bias``, ``sd``, ``loa_low``,
        ``loa_high``, ``n`` (degrees; ``n`` frames).
    """
    ncols = 4
    nrows = max(1, math.ceil(len(dofs) / ncols))
    fig = _figure(14.0, 2.6 * nrows + 1.6)
    h = fig.get_figheight()
    fig.subplots_adjust(left=0.055, right=0.99, bottom=0.85 / h, top=1.0 - 1.1 / h,
                        wspace=0.25, hspace=0.45)  # fmt: skip
    rows = []
    for i, dof in enumerate(dofs):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        sub = pairs[pairs["dof"] == dof] if not pairs.empty else pairs
        ref = sub["reference"].to_numpy(dtype=float) if len(sub) else np.array([])
        prd = sub["predicted"].to_numpy(dtype=float) if len(sub) else np.array([])
        stats = bland_altman(ref, prd)
        rows.append({"dof": dof, **stats})
        for col in dof_columns(dof):
            part = sub[sub["column"] == col] if len(sub) else sub
            if not len(part):
                continue
            r = part["reference"].to_numpy(dtype=float)
            p = part["predicted"].to_numpy(dtype=float)
            colour, _ = _style(dof, col)
            ax.scatter(0.5 * (r + p), p - r, s=3, color=colour, alpha=0.35, linewidths=0,
                       rasterized=True)  # fmt: skip
        ax.axhline(0.0, color="#999999", lw=0.8)
        if stats["n"] > 1:
            ax.axhline(stats["bias"], color=ACCENT, lw=1.5)
            for level in (stats["loa_low"], stats["loa_high"]):
                ax.axhline(level, color=ACCENT, lw=1.2, ls="--")
            half = max(abs(stats["loa_low"]), abs(stats["loa_high"]),
                       float(np.nanmax(np.abs(prd - ref))) if prd.size else 0.0, 1.0)  # fmt: skip
            ax.set_ylim(-1.1 * half, 1.1 * half)
            # under the spines (zorder 2.5), so its box does not hide the frame
            ax.text(0.975, 0.965, f"bias {stats['bias']:+.2f}°\nLoA [{stats['loa_low']:+.2f}, "
                    f"{stats['loa_high']:+.2f}]°", transform=ax.transAxes, ha="right", va="top",
                    fontsize=7.5, zorder=2.4,
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})  # fmt: skip
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")
        ax.set_title(dof, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
        if i // ncols == nrows - 1:
            ax.set_xlabel("mean of video and mocap (°)", fontsize=8)
        if i % ncols == 0:
            ax.set_ylabel("video − mocap (°)", fontsize=8)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=RIGHT, marker="o", ls="none", markersize=4, label="frame, right"),
        Line2D([], [], color=LEFT, marker="o", ls="none", markersize=4, label="frame, left"),
        Line2D([], [], color=SINGLE, marker="o", ls="none", markersize=4,
               label="frame (pelvis, lumbar)"),
        Line2D([], [], color=ACCENT, lw=1.5, label="bias (mean difference)"),
        Line2D([], [], color=ACCENT, lw=1.2, ls="--",
               label="95 % limits of agreement (bias ± 1.96 SD)"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, 1.0 - 0.5 / h))  # fmt: skip
    fig.suptitle(title, fontsize=11, y=1.0 - 0.12 / h, va="top")
    stats_df = pd.DataFrame(rows).set_index("dof")
    stats_df["n"] = stats_df["n"].astype(np.int64)
    return fig, stats_df


def plot_keypoint_noise(
    cutoff_hz: pd.DataFrame,
    noise_px: pd.DataFrame,
    out_stem: str | os.PathLike,
    title: str,
    formats: Sequence[str] = SUMMARY_FORMATS,
) -> list[Path]:
    """Write :func:`keypoint_noise_figure` as ``<out_stem>.<format>`` for each of ``formats``."""
    return _save_summary(keypoint_noise_figure(cutoff_hz, noise_px, title), Path(out_stem), formats)


def keypoint_noise_figure(cutoff_hz: pd.DataFrame, noise_px: pd.DataFrame, title: str):
    """The 2D noise ``--filter-hz auto`` measured on each keypoint, and the cut-off it chose.

    Args:
        cutoff_hz: trials × keypoints, Hz (the diagnostics table ``filter_per_keypoint``).
        noise_px: trials × keypoints, px (``noise_per_keypoint``; standard deviation).
        title: the figure's title (run, camera set-up, number of trials).

    Keypoints in the tables' order along x; a dot is the median over trials, the bar the range.
    """
    names = list(dict.fromkeys([*noise_px.columns, *cutoff_hz.columns]))
    fig = _figure(max(8.0, 0.2 * len(names) + 2.0), 6.2)
    h = fig.get_figheight()
    fig.subplots_adjust(left=0.07, right=0.99, bottom=1.1 / h, top=1.0 - 0.55 / h, hspace=0.1)
    x = np.arange(len(names))
    panels = (
        (noise_px, "2D noise (px, SD)", ACCENT),
        (cutoff_hz, "cut-off chosen (Hz)", RIGHT),
    )
    for row, (table, label, colour) in enumerate(panels):
        ax = fig.add_subplot(2, 1, row + 1)
        values = table.reindex(columns=names).to_numpy(dtype=float)
        with warnings.catch_warnings():  # a keypoint no trial measured is an all-NaN column
            warnings.simplefilter("ignore", RuntimeWarning)
            mid, lo, hi = (f(values, axis=0) for f in (np.nanmedian, np.nanmin, np.nanmax))
        ok = np.isfinite(mid)
        ax.vlines(x[ok], lo[ok], hi[ok], color=colour, alpha=0.45, lw=3)
        ax.scatter(x[ok], mid[ok], s=16, color=colour, zorder=3, linewidths=0)
        ax.set_ylabel(label, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.set_xlim(-0.7, len(names) - 0.3)
        ax.grid(axis="y", alpha=0.25)
        ax.tick_params(labelsize=8)
        ax.set_xticks(x)
        ax.set_xticklabels(names if row == 1 else [], rotation=90, fontsize=7)
    fig.suptitle(f"{title}: median over trials (dot) and range (bar)", fontsize=11,
                 y=1.0 - 0.12 / h, va="top")  # fmt: skip
    return fig
