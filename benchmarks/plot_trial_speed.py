"""Time to draw one trial's curve figure: what the plot stage does (``plot_trial_curves``: one
figure per process redrawn for each trial, quantised straight from the canvas) against a new
figure per trial saved by ``savefig`` (the previous way), with and without ``tight_layout``.

All three draw the same 12 panels from the same tables into a 100 dpi PNG.  Medians over
``--repeat`` runs.

    python benchmarks/plot_trial_speed.py --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opencapbench.benchmark.metrics import OCB_DOFS, dof_columns  # noqa: E402
from opencapbench.report.figures import (  # noqa: E402
    CURVE_DPI,
    plot_trial_curves,
    trial_curves_figure,
)


def _tables(seconds: float, rate: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = np.arange(0.0, seconds, 1.0 / rate)
    cols = [c for dof in OCB_DOFS for c in dof_columns(dof)]
    rng = np.random.default_rng(0)
    gt = pd.DataFrame({c: 20 * np.sin(2 * np.pi * t + i) for i, c in enumerate(cols)}, index=t)
    pred = gt + rng.normal(0.0, 1.0, gt.shape)
    gt.attrs["in_degrees"] = pred.attrs["in_degrees"] = True
    return pred, gt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--seconds", type=float, default=5.0, help="trial length (100 Hz)")
    args = p.parse_args()
    pred, gt = _tables(args.seconds, 100.0)
    names = ("new figure + tight_layout", "new figure", "reused figure (plot stage)")
    times: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for name in names:
                start = time.perf_counter()
                if name == names[2]:
                    plot_trial_curves(pred, gt, 0.0, Path(tmp) / "reused.png", "subject/trial")
                else:
                    fig = trial_curves_figure(pred, gt, 0.0, "subject/trial")
                    if name == names[0]:
                        fig.tight_layout()
                    fig.savefig(Path(tmp) / "new.png", dpi=CURVE_DPI)
                times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, value in med.items():
        print(f"{name:>28}: {value * 1000:7.0f} ms per trial figure (median of {args.repeat})")
    for name in names[:2]:
        print(f"{name} / reused figure = {med[name] / med[names[2]]:.2f}x")


if __name__ == "__main__":
    main()
