"""An interrupted benchmark keeps every finished step: SIGINT or SIGKILL during IK, then a
re-run that solves IK only for the unfinished trials and gives the uninterrupted tables; IK
workers never outlive a killed parent."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from opencapbench.synthetic import generate_synthetic_dataset

pytestmark = pytest.mark.slow

TRIALS = ("walking1", "squats1", "STS1")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("interrupt")
    generate_synthetic_dataset(
        root, subjects=2, trials=TRIALS, n_cameras=3, duration_s=2.0, seed=3, progress=False
    )
    return root


def _cmd(root: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "opencapbench.cli", "benchmark", str(root), "-o", str(out),
            "--keypoints", str(root / "keypoints"), "-j", "2", "--no-plots"]  # fmt: skip


def _ik_done(out: Path) -> set[str]:
    done = set()
    for path in (out / "status").glob("subject*/*.json"):
        try:
            entry = json.loads(path.read_text()).get("ik", {})
        except ValueError:
            continue
        if entry.get("state") == "done":
            done.add(f"{path.parent.name}/{path.stem}")
    return done


def _start_and_wait_for_ik(root: Path, out: Path, min_done: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        _cmd(root, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 300
    while len(_ik_done(out)) < min_done:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "IK did not start"
        time.sleep(0.05)
    return proc


def _children(pid: int) -> list[int]:
    """Every descendant process of ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        frontier += kids
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _rerun(root: Path, out: Path) -> str:
    result = subprocess.run(_cmd(root, out), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _ik_runs(stdout: str) -> int:
    line = next(ln for ln in stdout.splitlines() if ln.startswith("steps (run / reused)"))
    return int(line.split("ik ")[1].split("/")[0])


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("uninterrupted")
    _rerun(dataset, out)
    return pd.read_csv(out / "results/per_trial.csv")


def test_sigint_keeps_finished_trials(dataset, reference, tmp_path) -> None:
    out = tmp_path / "out"
    proc = _start_and_wait_for_ik(dataset, out, min_done=1)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output
    done = _ik_done(out)
    assert 1 <= len(done) < 6, done
    # every .mot on disk is recorded (none lost); steps cut off leave at most temporary files
    mots = {f"{p.parent.name}/{p.stem}" for p in (out / "ik").glob("*/[!.]*.mot")}
    assert mots == done
    stdout = _rerun(dataset, out)
    assert _ik_runs(stdout) == 6 - len(done)
    assert not [p for p in out.rglob(".*") if p.is_file()]  # removed at the re-run's start
    pd.testing.assert_frame_equal(pd.read_csv(out / "results/per_trial.csv"), reference)


def test_sigkill_workers_exit_and_rerun_resumes(dataset, reference, tmp_path) -> None:
    out = tmp_path / "out"
    proc = _start_and_wait_for_ik(dataset, out, min_done=1)
    workers = _children(proc.pid)
    assert workers, "no worker process found"
    proc.kill()
    proc.communicate(timeout=30)
    time.sleep(5.0)
    assert not [p for p in workers if _alive(p)], "worker processes outlived their parent"
    done = _ik_done(out)
    stdout = _rerun(dataset, out)
    assert _ik_runs(stdout) == 6 - len(done)
    pd.testing.assert_frame_equal(pd.read_csv(out / "results/per_trial.csv"), reference)
