"""OpenSim IK wall time: trials one after another in this process vs ``run_ik_many`` workers.

Run: ``python benchmarks/ik_parallel.py [--trials 10 --duration 2 --workers 2 --model PATH]``

A synthetic set of ``--trials`` trials (walking, squats, sit-to-stand at 100 Hz, SynthPose
markers) is generated first; IK then runs on the same TRC files twice: serially in-process
(the reference: what a plain loop over ``InverseKinematicsTool`` does) and with
:func:`opencapbench.osim.ik.run_ik_many` in ``--workers`` spawned processes.  Prints both wall
times, the speed-up and the IK throughput in frames per second per core.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from opencapbench.osim.ik import IKFailure, IKJob, run_ik_many
from opencapbench.synthetic import generate_synthetic_dataset


def trial_names(n: int) -> list[str]:
    """``n`` trial names cycling walking / squats / sit-to-stand."""
    prefixes = ("walking", "squats", "STS")
    return [f"{prefixes[i % 3]}{i // 3 + 1}" for i in range(n)]


def _cpu_seconds() -> float:
    """CPU time of this process plus its finished child processes (user + system), seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per trial")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", type=Path, default=None, help=".osim (default: built-in)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ocb_ik_bench_") as tmp:
        root = Path(tmp)
        info = generate_synthetic_dataset(
            root / "data",
            trials=trial_names(args.trials),
            n_cameras=2,
            duration_s=args.duration,
            fps=100.0,
            model_path=args.model,
            progress=False,
        )
        model = info.models["subject1"]
        marker_dir = root / "data" / "subject1" / "OpenSimData" / "Mocap" / "MarkerData"

        def jobs(tag: str) -> list[IKJob]:
            return [
                IKJob(model, marker_dir / f"{t}.trc", root / tag / f"{t}.mot") for t in info.trials
            ]

        timings, cpu = {}, {}
        for tag, workers in (("serial", 1), ("parallel", args.workers)):
            start, cpu0 = time.perf_counter(), _cpu_seconds()
            results = run_ik_many(jobs(tag), n_workers=workers, progress=False)
            timings[tag] = time.perf_counter() - start
            cpu[tag] = _cpu_seconds() - cpu0
            failed = [r for r in results if isinstance(r, IKFailure)]
            if failed:
                raise SystemExit(f"{len(failed)} IK trial(s) failed: {failed[0].error}")
            frames = sum(r.n_frames for r in results)

    cores = os.cpu_count() or 1
    model_name = args.model.name if args.model else "built-in compact model"
    print(
        f"IK on {args.trials} trials x {args.duration:g} s at 100 Hz ({frames} frames), "
        f"{model_name}, {cores} CPU cores, load average {os.getloadavg()[0]:.1f}"
    )
    serial, parallel = timings["serial"], timings["parallel"]
    print(
        f"  serial (in-process loop):        wall {serial:7.2f} s  {frames / serial:7.1f} "
        f"frames/s/core  (CPU {cpu['serial']:.1f} s, {frames / cpu['serial']:.0f} frames/CPU-s)"
    )
    print(
        f"  run_ik_many ({args.workers} spawned workers): wall {parallel:7.2f} s  "
        f"{frames / parallel / args.workers:7.1f} frames/s/core  (CPU {cpu['parallel']:.1f} s, "
        f"{frames / cpu['parallel']:.0f} frames/CPU-s)"
    )
    print(f"  speed-up (serial / parallel wall time): {serial / parallel:.2f}x")


if __name__ == "__main__":
    main()
