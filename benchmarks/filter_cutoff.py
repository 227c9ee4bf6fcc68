"""Worst-DOF error of the whole benchmark chain against the 2D low-pass cut-off, noise-free and
noisy, with the per-run filter and the gap-aware one.

Run: ``python benchmarks/filter_cutoff.py [--cutoffs auto 12 9 6 4 0] [--seeds 2 5] [--duration 1]``

For each seed the built-in synthetic generator writes one subject × (walking, squats,
sit-to-stand) with 4 cameras three times: noise-free, with 2 px noise, and with 2 px noise and
5 % dropped detections.  ``run_benchmark`` (sync off, no plots) then scores each cut-off
(0 = no filter; ``auto`` = the per-keypoint choice of least estimated error, the default):
noise-free (what smoothing costs on exact keypoints; the worst DOF is named),
2 px without drop-outs (the floor any drop-out handling can reach), and 2 px with drop-outs
through the per-run filter (``max_gap_fill_frames=0``) and the gap-aware default.  Printed: the
worst DOF's RMSE (degrees) of every cell, the gain of the gap-aware filter, the range of the
cut-offs ``auto`` chose (noise-free and gap-aware noisy runs), and per seed the default chain
(gap-aware, ``auto``) against the chain before the gap-aware filter (per-run, 12 Hz).  This is
accuracy, not speed: the figures are the evidence for the defaults in ``docs/geometry.md``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from opencapbench.benchmark.config import BenchmarkConfig, MarkerSettings, parse_cutoff
from opencapbench.benchmark.metrics import OCB_DOFS
from opencapbench.benchmark.runner import run_benchmark
from opencapbench.report.diagnostics import diagnostics_tables, read_status
from opencapbench.synthetic import generate_synthetic_dataset


def chosen_cutoffs(out: Path) -> str:
    """``min-max`` of the per-keypoint cut-offs an ``auto`` run chose, over its trials."""
    table = diagnostics_tables(read_status(out)).get("filter_per_keypoint")
    if table is None:
        return "not recorded"
    hz = table.to_numpy().ravel()
    return f"{np.nanmin(hz):g}-{np.nanmax(hz):g} Hz (median {np.nanmedian(hz):g})"


def worst_dof(
    data: Path, out: Path, cutoff: float | str, gap_fill: int, workers: int
) -> tuple[float, str]:
    """Largest per-DOF RMSE (degrees) of one benchmark run, and that DOF."""
    cfg = BenchmarkConfig(
        data_dir=data,
        out_dir=out,
        keypoint_store=data / "keypoints",
        markers=MarkerSettings(filter_hz=cutoff, max_gap_fill_frames=gap_fill),
        sync="none",
        plots=False,
        workers=workers,
    )
    outcome = run_benchmark(cfg)
    if not outcome.failures.empty:
        raise SystemExit(outcome.failures.to_string())
    rmse = outcome.tables["overall"]["rmse"]
    dof = max(OCB_DOFS, key=lambda d: float(rmse[d]))
    return float(rmse[dof]), dof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoffs", type=parse_cutoff, nargs="+",
                        default=["auto", 12.0, 9.0, 6.0, 4.0, 0.0])  # fmt: skip
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 5])
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per trial")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    gap = MarkerSettings().max_gap_fill_frames
    print("worst-DOF RMSE (deg), 1 subject x 3 trials, 4 cameras; noisy = 2 px noise")
    print(f"{'seed':>4} {'cut-off':>8} {'noise-free':>27} {'noisy, no drops':>16} "
          f"{'5 % drops, per-run':>19} {'gap-aware':>10} {'gain':>7}")  # fmt: skip
    results: dict[tuple[int, float | str], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ocb_cutoff_") as tmp:
        root = Path(tmp)
        for seed in args.seeds:
            data = {}
            for kind, noise, drop in (("clean", 0.0, 0.0), ("noise", 2.0, 0.0),
                                      ("drops", 2.0, 0.05)):  # fmt: skip
                data[kind] = root / f"{kind}{seed}"
                generate_synthetic_dataset(
                    data[kind], n_cameras=4, duration_s=args.duration, noise_px=noise,
                    dropout=drop, seed=seed, progress=False,
                )  # fmt: skip
            for cutoff in args.cutoffs:
                tag = f"{seed}_{cutoff}"
                clean, clean_dof = worst_dof(data["clean"], root / f"c{tag}", cutoff, gap,
                                             args.workers)  # fmt: skip
                floor, _ = worst_dof(data["noise"], root / f"f{tag}", cutoff, gap, args.workers)
                old, _ = worst_dof(data["drops"], root / f"o{tag}", cutoff, 0, args.workers)
                new, _ = worst_dof(data["drops"], root / f"n{tag}", cutoff, gap, args.workers)
                results[seed, cutoff] = (old, new)
                label = "none" if cutoff == 0 else cutoff if cutoff == "auto" else f"{cutoff:g} Hz"
                print(f"{seed:>4} {label:>8} {clean:6.2f} ({clean_dof:>18s}) {floor:16.2f} "
                      f"{old:19.2f} {new:10.2f} {100 * (new - old) / old:+6.1f}%", flush=True)  # fmt: skip
                if cutoff == "auto":
                    print(f"{'':13} auto chose: noise-free {chosen_cutoffs(root / f'c{tag}')}, "
                          f"noisy {chosen_cutoffs(root / f'n{tag}')}", flush=True)  # fmt: skip
            if (seed, "auto") in results and (seed, 12.0) in results:
                before, now = results[seed, 12.0][0], results[seed, "auto"][1]
                print(f"{seed:>4} default before (per-run, 12 Hz) {before:.2f} -> now (gap-aware, "
                      f"auto) {now:.2f}: {100 * (now - before) / before:+.1f}%", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
