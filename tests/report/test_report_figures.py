"""Paper figures: what each shows, checked on the matplotlib objects (no pixels compared)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from opencapbench.benchmark.metrics import (
    BILATERAL_DOFS,
    OCB_DOFS,
    aligned_pairs,
    bland_altman,
    dof_columns,
)
from opencapbench.report.figures import (
    LEFT,
    MIN_ANGLE_RANGE_DEG,
    RIGHT,
    SINGLE,
    bland_altman_figure,
    dof_errors_figure,
    keypoint_noise_figure,
    plot_dof_errors,
    plot_trial_curves,
    trial_curves_figure,
)

COLS = [c for dof in OCB_DOFS for c in dof_columns(dof)]


def _table(t: np.ndarray, fn) -> pd.DataFrame:
    df = pd.DataFrame({c: fn(t, i) for i, c in enumerate(COLS)}, index=pd.Index(t, name="time"))
    df.attrs["in_degrees"] = True
    return df


def test_bland_altman_statistics() -> None:
    ref = np.array([0.0, 1.0, 2.0, 3.0, np.nan])
    pred = np.array([1.0, 1.0, 3.0, 5.0, 7.0])
    stats = bland_altman(ref, pred)
    sd = np.sqrt(((1 - 1) ** 2 + (0 - 1) ** 2 + (1 - 1) ** 2 + (2 - 1) ** 2) / 3)
    assert stats["n"] == 4 and stats["bias"] == 1.0
    np.testing.assert_allclose([stats["sd"], stats["loa_low"], stats["loa_high"]],
                               [sd, 1 - 1.96 * sd, 1 + 1.96 * sd])  # fmt: skip


def test_aligned_pairs_applies_the_shift() -> None:
    t = np.arange(0, 1.0, 0.01)
    gt = _table(t, lambda t, i: 2.0 * t + i)
    pred = _table(t, lambda t, i: 2.0 * (t - 0.05) + i)  # lags the truth by 50 ms
    pairs = aligned_pairs(pred, gt, shift=0.05)
    # gt(t) is paired with pred(t + 0.05) = gt(t): exact for a linear signal
    np.testing.assert_allclose(pairs["predicted"], pairs["reference"], atol=1e-9)
    n_inside = int(np.sum(t + 0.05 <= t[-1] + 1e-9))
    assert len(pairs) == n_inside * len(COLS)
    assert set(pairs.loc[pairs.dof == "knee_angle", "column"]) == {"knee_angle_r", "knee_angle_l"}


def test_trial_curves_legend_outside_colours_and_minimum_range() -> None:
    t = np.arange(0, 2.0, 0.01)
    # tiny wiggles (0.005 deg) on most DOFs, a large motion on the knees
    gt = _table(t, lambda t, i: 10.0 + 0.005 * np.sin(5 * t + i))
    gt["knee_angle_r"] = 60 * np.sin(np.pi * t) ** 2
    pred = gt + 0.003
    pred.attrs["in_degrees"] = True
    fig = trial_curves_figure(pred, gt, 0.0, "run X · cameras 2-cameras · 5 trial(s)")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = fig.axes
    assert len(axes) == 12
    legend = fig.legends[0].get_window_extent(renderer)
    assert not any(legend.overlaps(ax.get_window_extent(renderer)) for ax in axes)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:4] == ["mocap, right", "video, right", "mocap, left", "video, left"]
    assert "run X · cameras 2-cameras · 5 trial(s)" in fig._suptitle.get_text()
    for ax, dof in zip(axes, OCB_DOFS, strict=True):
        lo, hi = ax.get_ylim()
        colours = {to_hex(line.get_color()) for line in ax.get_lines()}
        styles = {line.get_linestyle() for line in ax.get_lines()}
        assert styles == {"-", "--"}  # mocap solid, video dashed
        if dof in BILATERAL_DOFS:
            assert colours == {RIGHT.lower(), LEFT.lower()}, dof
        else:
            assert colours == {SINGLE.lower()}, dof
        if dof == "knee_angle":
            assert lo <= 0.0 and hi >= 60.0
        else:
            assert np.isclose(hi - lo, MIN_ANGLE_RANGE_DEG), dof
            assert lo < 10.0 < hi


def test_time_normalised_curves_span_0_to_100() -> None:
    t = np.arange(0.0, 1.5, 0.01)
    gt = _table(t, lambda t, i: 20 * np.sin(2 * np.pi * t + i))
    pred = _table(t, lambda t, i: 20 * np.sin(2 * np.pi * (t - 0.1) + i))
    fig = trial_curves_figure(pred, gt, 0.1, "walking", normalised=True)
    for ax in fig.axes:
        assert ax.get_xlim() == (0.0, 100.0)
        for line in ax.get_lines():
            x = np.asarray(line.get_xdata(), float)
            x = x[np.isfinite(x)]
            assert x.min() >= -1e-9 and x.max() <= 100 + 1e-9
            assert x.max() > 99.0
    assert fig.axes[-1].get_xlabel() == "% of trial"


def test_a_reused_curves_figure_draws_what_a_new_one_draws(tmp_path) -> None:
    """``plot_trial_curves`` redraws one figure per process: a trial drawn after another must
    give the pixels of the same trial drawn on a new figure (data, limits, titles, missing
    columns all replaced)."""
    from PIL import Image

    from opencapbench.report.figures import _reusable_curves

    t_a, t_b = np.arange(0.0, 3.0, 0.01), np.arange(0.0, 1.2, 0.01)
    gt_a = _table(t_a, lambda t, i: 50 * np.sin(3 * t + i))
    pred_a = _table(t_a, lambda t, i: 50 * np.sin(3 * t + i) + 4.0)
    gt_b = _table(t_b, lambda t, i: 5 * np.cos(2 * t + i))
    pred_b = _table(t_b, lambda t, i: 5 * np.cos(2 * (t - 0.02) + i)).drop(columns=["knee_angle_l"])
    pred_b.attrs["in_degrees"] = True
    for normalised in (False, True):
        _reusable_curves.cache_clear()
        fresh = plot_trial_curves(
            pred_b, gt_b, 0.02, tmp_path / "fresh.png", "B", normalised=normalised
        )
        _reusable_curves.cache_clear()
        plot_trial_curves(pred_a, gt_a, 0.0, tmp_path / "a.png", "A trial", normalised=normalised)
        reused = plot_trial_curves(
            pred_b, gt_b, 0.02, tmp_path / "reused.png", "B", normalised=normalised
        )
        assert _reusable_curves.cache_info().hits == 1
        pixels = [np.asarray(Image.open(p).convert("RGB")) for p in (fresh, reused)]
        assert pixels[0].shape == (895, 1600, 3)
        np.testing.assert_array_equal(pixels[0], pixels[1])
        a = np.asarray(Image.open(tmp_path / "a.png").convert("RGB"))
        assert (a != pixels[0]).any(axis=-1).mean() > 0.01  # and A looked different


def _per_trial_tables() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(3)
    index = pd.MultiIndex.from_tuples(
        [("s1", f"t{i}") for i in range(5)], names=["subject", "trial"]
    )
    out = {}
    for metric in ("rmse", "mae"):
        table = pd.DataFrame(rng.uniform(0.2, 8.0, (5, 12)), index=index, columns=list(OCB_DOFS))
        table["mean"] = table.mean(axis=1)
        out[metric] = table
    return out


def test_dof_error_chart_bars_dots_whiskers_and_zero_floor() -> None:
    tables = _per_trial_tables()
    fig = dof_errors_figure(tables, "run X · cameras all · 5 trial(s)")
    fig.canvas.draw()
    axes = fig.axes
    assert len(axes) == 2
    for ax, metric in zip(axes, ("rmse", "mae"), strict=True):
        values = tables[metric][[*OCB_DOFS, "mean"]].to_numpy()
        assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] >= values.max()
        heights = [p.get_height() for p in ax.patches]
        np.testing.assert_allclose(heights, values.mean(axis=0))
        dots = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections
                               if c.get_offsets().shape[0] == 5])  # fmt: skip
        np.testing.assert_allclose(np.sort(dots), np.sort(values.T.ravel()))
        whisker_tops = max(
            seg[:, 1].max() for c in ax.collections for seg in getattr(c, "get_segments", list)()
        )
        sd = values.std(axis=0, ddof=1)
        np.testing.assert_allclose(whisker_tops, (values.mean(axis=0) + sd).max())
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "whiskers: ±1 SD over trials" in labels and "one trial" in labels
    assert "RMSE: mean over 5 trials" in labels


def test_summary_figures_are_vector_and_300_dpi_png(tmp_path) -> None:
    from PIL import Image

    paths = plot_dof_errors(_per_trial_tables(), tmp_path / "dof", "t")
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
    assert paths[1].read_text().lstrip().startswith("<?xml") and "<svg" in paths[1].read_text()
    assert paths[2].read_bytes()[:5] == b"%PDF-"
    with Image.open(paths[0]) as im:
        fig_w = dof_errors_figure(_per_trial_tables(), "t").get_figwidth()
        assert im.size[0] == round(fig_w * 300)


def test_bland_altman_figure_bias_and_limits() -> None:
    t = np.arange(0, 2.0, 0.01)
    rng = np.random.default_rng(1)
    gt = _table(t, lambda t, i: 30 * np.sin(2 * np.pi * t + i))
    pred = gt + 0.5 + rng.normal(0, 1.0, gt.shape)
    pred.attrs["in_degrees"] = True
    pairs = aligned_pairs(pred, gt)
    fig, stats = bland_altman_figure(pairs, "run")
    for ax, dof in zip(fig.axes, OCB_DOFS, strict=True):
        cols = dof_columns(dof)
        d = (pred[cols] - gt[cols]).to_numpy().ravel()
        np.testing.assert_allclose(stats.loc[dof, "bias"], d.mean())
        np.testing.assert_allclose(stats.loc[dof, "sd"], d.std(ddof=1))
        assert stats.loc[dof, "n"] == d.size
        levels = sorted({round(float(line.get_ydata()[0]), 9) for line in ax.get_lines()})
        expected = sorted(
            round(v, 9) for v in (0.0, d.mean(), d.mean() - 1.96 * d.std(ddof=1),
                                  d.mean() + 1.96 * d.std(ddof=1))
        )  # fmt: skip
        np.testing.assert_allclose(levels, expected)
        assert ax.get_ylabel() in ("", "video − mocap (°)")


def test_keypoint_noise_figure_medians_and_ranges_per_keypoint() -> None:
    """One dot per keypoint at the median over trials, a bar over the range; a keypoint no
    trial measured is left out, not drawn at 0."""
    index = pd.MultiIndex.from_tuples([("s1", "walking1"), ("s1", "squats1"), ("s2", "STS1")])
    noise = pd.DataFrame({"nose": [1.0, 2.0, 4.0], "r_toe": [3.0, 3.5, 2.5],
                          "l_toe": [np.nan] * 3}, index=index)  # fmt: skip
    cutoff = pd.DataFrame({"nose": [3.0, 3.5, 6.0], "r_toe": [12.0, 9.0, 10.0],
                           "l_toe": [np.nan] * 3}, index=index)  # fmt: skip
    fig = keypoint_noise_figure(cutoff, noise, "run X")
    fig.canvas.draw()
    top, bottom = fig.axes
    for ax, table in ((top, noise), (bottom, cutoff)):
        dots = ax.collections[-1].get_offsets()
        np.testing.assert_allclose(
            dots, [[0, table["nose"].median()], [1, table["r_toe"].median()]]
        )
        bars = ax.collections[0].get_segments()
        np.testing.assert_allclose([b[:, 1] for b in bars],
                                   [[table["nose"].min(), table["nose"].max()],
                                    [table["r_toe"].min(), table["r_toe"].max()]])  # fmt: skip
    assert [t.get_text() for t in bottom.get_xticklabels()] == ["nose", "r_toe", "l_toe"]
