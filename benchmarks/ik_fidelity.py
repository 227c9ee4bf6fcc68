"""How far each IK shortcut lands from plain OpenSim IK, and what it saves.

Run: ``python benchmarks/ik_fidelity.py --model ../shared/reference/opensim/LaiUhlrich2022.osim
[--duration 1 --noise-mm 5]``

A synthetic subject (the model scaled to a random height, SynthPose markers attached) performs
walking, squats and sit-to-stand at 100 Hz; IK runs on the noise-free marker trajectories and on
the same trajectories plus Gaussian noise (``--noise-mm`` per coordinate).  The reference is
plain OpenSim IK: couplers enforced, coordinates clamped as the model has them, accuracy 1e-5
(OpenCap's setting); ``--reference converged`` compares with the same solve at accuracy 1e-7
instead.  Each variant prints, over the 12 OpenCapBench DOFs (both sides), the largest per-DOF
RMS and the maximum difference from the reference in degrees, the worst-DOF RMS error against
the known angles of the noise-free trials, and its CPU time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from opencapbench.benchmark.metrics import OCB_DOFS, dof_columns
from opencapbench.io.mot import read_mot
from opencapbench.io.trc import read_trc, write_trc
from opencapbench.osim.ik import run_ik
from opencapbench.synthetic import generate_synthetic_dataset

#: name → (free_markerless_couplers, unclamp, accuracy); the first is the reference.
VARIANTS: dict[str, tuple[bool, bool, float]] = {
    "plain OpenSim (enforced, clamped, 1e-5)": (False, False, 1e-5),
    "freed couplers, clamped, 1e-5": (True, False, 1e-5),
    "freed couplers, unclamped, 1e-5": (True, True, 1e-5),
    "freed couplers, unclamped, 1e-6": (True, True, 1e-6),
    "freed couplers, unclamped, 1e-7": (True, True, 1e-7),
    "freed couplers, clamped, 1e-7": (True, False, 1e-7),
    "enforced, unclamped, 1e-5": (False, True, 1e-5),
    "enforced, clamped, 1e-7": (False, False, 1e-7),
}
COLUMNS = [c for dof in OCB_DOFS for c in dof_columns(dof)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help=".osim, e.g. LaiUhlrich2022")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per trial")
    parser.add_argument("--noise-mm", type=float, default=5.0)
    parser.add_argument("--only", nargs="*", default=None, help="variant name prefixes to run")
    parser.add_argument("--reference", choices=("plain", "converged"), default="plain")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="ocb_ik_fid_") as tmp:
        root = Path(tmp)
        info = generate_synthetic_dataset(
            root / "data",
            n_cameras=2,
            duration_s=args.duration,
            fps=100.0,
            model_path=args.model,
            progress=False,
        )
        model = info.models["subject1"]
        marker_dir = root / "data" / "subject1" / "OpenSimData" / "Mocap" / "MarkerData"
        trcs = {}
        for trial in info.trials:
            trc = read_trc(marker_dir / f"{trial}.trc")
            trcs[f"{trial} clean"] = marker_dir / f"{trial}.trc"
            noisy = trc.positions + rng.normal(0, args.noise_mm / 1000, trc.positions.shape)
            trcs[f"{trial} noisy"] = write_trc(
                root / f"{trial}_noisy.trc", trc.times, trc.marker_names, noisy, trc.rate_hz
            )
        reference = (
            "plain OpenSim (enforced, clamped, 1e-5)"
            if args.reference == "plain"
            else "enforced, clamped, 1e-7"
        )
        variants = {reference: VARIANTS[reference]}
        variants.update(
            (k, v)
            for k, v in VARIANTS.items()
            if k != reference and (args.only is None or any(k.startswith(p) for p in args.only))
        )
        gt_dir = root / "data" / "subject1" / "OpenSimData" / "Mocap" / "IK"
        truth = {
            f"{trial} clean": read_mot(gt_dir / f"{trial}.mot")[COLUMNS].to_numpy()
            for trial in info.trials
        }
        angles: dict[str, dict[str, np.ndarray]] = {}
        for name, (free, unclamp, acc) in variants.items():
            cpu = time.process_time()
            per_trial = {}
            for label, trc in trcs.items():
                out = root / "ik" / name.replace(" ", "_").replace(",", "") / f"{label}.mot"
                run_ik(
                    model, trc, out, accuracy=acc, unclamp=unclamp, free_markerless_couplers=free
                )
                per_trial[label] = read_mot(out)[COLUMNS].to_numpy()
            cpu = time.process_time() - cpu
            angles[name] = per_trial
            ref = angles[reference]
            frames = sum(a.shape[0] for a in per_trial.values())
            line = f"{name:42s} CPU {cpu:6.1f} s ({1000 * cpu / frames:5.1f} ms/frame)"
            for kind in ("clean", "noisy"):
                d = np.concatenate(
                    [per_trial[k] - ref[k] for k in per_trial if k.endswith(kind)], axis=0
                )
                rms = np.sqrt(np.mean(d**2, axis=0))
                worst = int(np.argmax(np.abs(d).max(axis=0)))
                line += (
                    f" | {kind}: RMS max over DOFs {rms.max():.4f} deg, "
                    f"max {np.abs(d).max():.4f} deg ({COLUMNS[worst]})"
                )
            d = np.concatenate([per_trial[k] - truth[k] for k in truth], axis=0)
            line += (
                f" | truth (clean): worst-DOF RMS {np.sqrt(np.mean(d**2, axis=0)).max():.4f} deg"
            )
            print(line, flush=True)


if __name__ == "__main__":
    main()
