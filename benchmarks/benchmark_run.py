"""Wall time of a whole ``ocb benchmark`` run, this tree against a baseline revision, same data.

Run: ``python benchmarks/benchmark_run.py [--baseline 7f44c90] [--durations 2 8] [--subjects 4]
[--workers 2]``

For each trial length the built-in synthetic generator (``ocb make-synthetic``, this tree) writes
``--subjects`` subjects × 3 trials (walking, squats, sit-to-stand; 12 trials by default) with
2 px noise and 5 % dropped detections.  The baseline revision is checked out into a temporary
``git worktree``; both trees then run ``python -m opencapbench.cli benchmark`` on the same
data, one after the other, each in a fresh output folder and with ``PYTHONPATH`` pointing at
its own tree.  Printed per trial length: wall and CPU time of each side, the ratio, the time of
each stage where the run writes ``OUT/results/timings.json`` (``{stage: seconds}``), and whether
``results/overall.csv`` is identical to the last digit.  The worktree is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _ocb(tree: Path, *args: str, log: Path) -> tuple[float, float]:
    """Run ``python -m opencapbench.cli ARGS`` from ``tree``; returns (wall s, CPU s)."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    cpu0, t0 = _children_cpu(), time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "opencapbench.cli", *args],
            cwd=tree,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode not in (0, 1):  # 1: some trial failed, still a finished run
        raise SystemExit(f"`ocb {' '.join(args)}` in {tree} exited {proc.returncode}; see {log}")
    return wall, cpu


def _stages(out: Path) -> dict[str, float]:
    path = out / "results" / "timings.json"
    if not path.is_file():
        return {}
    return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}


def _table(out: Path) -> str | None:
    path = out / "results" / "overall.csv"
    return path.read_text() if path.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="7f44c90", help="git revision to compare with")
    parser.add_argument("--durations", type=float, nargs="+", default=[2.0, 8.0])
    parser.add_argument("--subjects", type=int, default=4, help="3 trials each")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--noise-px", type=float, default=2.0)
    parser.add_argument("--dropout", type=float, default=0.05)
    parser.add_argument("--keep", type=Path, default=None, help="keep outputs in this folder")
    parser.add_argument(
        "--same-settings", action="store_true",
        help="run this tree as the baseline ran (--filter-hz 12 --gap-fill 0 --sync none), so the "
        "tables must be identical and only the speed differs",
    )  # fmt: skip
    args = parser.parse_args()

    def git(*words: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *words], capture_output=True, text=True, check=True
        ).stdout.strip()

    rev = git("rev-parse", "--short", args.baseline)
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    tmp = Path(tempfile.mkdtemp(prefix="ocb_bench_run_"))
    base_tree = tmp / "baseline"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(base_tree), rev],
        check=True,
    )
    work = args.keep or tmp
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"baseline {args.baseline} ({rev}) against this tree ({head}{' + changes' if dirty else ''})"
    )
    print(f"{args.subjects * 3} trials per run, --workers {args.workers}, {os.cpu_count()} CPUs")
    try:
        for duration in args.durations:
            data = work / f"data_{duration:g}s"
            _ocb(
                REPO,
                "make-synthetic",
                str(data),
                "--subjects",
                str(args.subjects),
                "--duration",
                str(duration),
                "--noise-px",
                str(args.noise_px),
                "--dropout",
                str(args.dropout),
                log=work / f"make_{duration:g}s.log",
            )
            runs = {}
            for side, tree in (("baseline", base_tree), ("this tree", REPO)):
                out = work / f"out_{'base' if tree == base_tree else 'new'}_{duration:g}s"
                wall, cpu = _ocb(
                    tree,
                    "benchmark",
                    str(data),
                    "-o",
                    str(out),
                    "--keypoints",
                    str(data / "keypoints"),
                    "--workers",
                    str(args.workers),
                    *(
                        ["--filter-hz", "12", "--gap-fill", "0", "--sync", "none"]
                        if args.same_settings and tree == REPO
                        else []
                    ),
                    log=out.with_suffix(".log"),
                )
                runs[side] = (wall, cpu, _stages(out), _table(out))
            (bw, bc, bs, bt), (nw, nc, ns, nt) = runs["baseline"], runs["this tree"]
            print(f"\n{args.subjects * 3} trials x {duration:g} s")
            print(f"  {'':24s} {'baseline':>10s} {'this tree':>10s} {'ratio':>7s}")
            print(f"  {'wall (s)':24s} {bw:10.1f} {nw:10.1f} {bw / nw:6.2f}x")
            print(f"  {'CPU, all processes (s)':24s} {bc:10.1f} {nc:10.1f} {bc / nc:6.2f}x")
            for stage in list(bs) + [s for s in ns if s not in bs]:
                b, n = bs.get(stage), ns.get(stage)
                cells = [f"{v:10.1f}" if v is not None else f"{'-':>10s}" for v in (b, n)]
                ratio = f"{b / n:6.2f}x" if b and n else ""
                print(f"  {'stage ' + stage:24s} {cells[0]} {cells[1]} {ratio}")
            if not bs and not ns:
                print("  (no results/timings.json on either side: wall time only)")
            same = bt is not None and bt == nt
            print(f"  results/overall.csv identical: {same}")
            if bt is None or nt is None:
                print("  (a run wrote no results/overall.csv; see its .log)")
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)],
            check=False,
        )
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
