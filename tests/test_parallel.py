"""WorkerPool: results and errors through futures, in-process mode, and no worker outliving a
killed or interrupted parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from opencapbench.parallel import WorkerPool

REPO = Path(__file__).resolve().parents[1]


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (Linux ``/proc``; else ``kill(pid, 0)``)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.is_dir() and Path("/proc/self").exists():
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        return state != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _square(x: int) -> int:
    return x * x


def _fail(message: str) -> None:
    raise ValueError(message)


@pytest.mark.parametrize("workers", [1, 2])
def test_results_and_errors_come_back_through_futures(workers: int) -> None:
    pids: list[int] = []
    with WorkerPool(workers) as pool:
        futures = [pool.submit(_square, i) for i in range(5)]
        bad = pool.submit(_fail, "trial 3 broke")
        assert [f.result(timeout=60) for f in futures] == [0, 1, 4, 9, 16]
        with pytest.raises(ValueError, match="trial 3 broke"):
            bad.result(timeout=60)
        assert pool.in_process == (workers == 1)
        if workers == 1:
            assert pool.worker_pids() == []
        else:
            pids = pool.worker_pids()
            assert 1 <= len(pids) <= 2 and os.getpid() not in pids
    assert not any(_alive(p) for p in pids)  # shut down with the block


def test_max_workers_checked() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        WorkerPool(0)


# The parent script: starts a pool with tasks that run far longer than the test, prints the
# worker pids and the resource tracker's pid, then waits for the first task.
_PARENT = textwrap.dedent(
    """
    import time
    from multiprocessing import resource_tracker
    from opencapbench.parallel import WorkerPool

    def main():
        with WorkerPool(2) as pool:  # leaving the block on an exception stops the pool
            # a C call that holds the GIL for minutes (like an OpenSim solve), and a sleep
            futures = [pool.submit(sum, range(10**13)), pool.submit(time.sleep, 600)]
            futures.append(pool.submit(time.sleep, 600))
            while len(pool.worker_pids()) < 2:
                time.sleep(0.05)
            time.sleep(1.0)  # let the workers start their task
            tracker = resource_tracker._resource_tracker._pid
            print(" ".join(map(str, pool.worker_pids() + [tracker or 0])), flush=True)
            futures[0].result()

    if __name__ == "__main__":
        main()
    """
)


def _start_parent(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    line = proc.stdout.readline()
    assert line, proc.stderr.read()
    pids = [int(p) for p in line.split() if int(p) > 0]
    assert len(pids) == 3 and all(_alive(p) for p in pids)
    return proc, pids


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return []
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    proc, pids = _start_parent(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    left = _wait_gone(pids, 5.0)
    for p in left:  # clean up before failing
        os.kill(p, signal.SIGKILL)
    assert not left, f"still alive 5 s after the parent's SIGKILL: {left} of {pids}"


def test_sigint_cancels_and_stops_the_workers(tmp_path: Path) -> None:
    proc, pids = _start_parent(tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)  # the tasks would run for 600 s
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err
    left = _wait_gone(pids, 5.0)
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"still alive after SIGINT: {left} of {pids}"


def test_stale_temp_files_of_a_killed_write_are_removed(tmp_path: Path) -> None:
    """A process that dies inside ``atomic_path`` leaves its temporary file; the helper removes
    exactly such files and keeps outputs and other hidden files."""
    from opencapbench.io.atomic import remove_stale_temp_files

    out = tmp_path / "out" / "ik" / "subject1"
    out.mkdir(parents=True)
    code = (
        "import os, sys\n"
        "from opencapbench.io.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'half')\n"
        "    os._exit(1)\n"
    )
    for name in ("walking1.mot", "subject2_STS1.png", "noext"):
        subprocess.run(
            [sys.executable, "-c", code, str(out / name)],
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            check=False,
        )
    left = sorted(p.name for p in out.iterdir())
    assert len(left) == 3 and all(n.startswith(".") for n in left), left
    keep = [out / "walking1.mot", out / ".gitignore", out / ".config.yaml"]
    for p in keep:
        p.write_text("x")
    removed = remove_stale_temp_files(tmp_path / "out")
    assert sorted(p.name for p in removed) == left
    assert sorted(out.iterdir()) == sorted(keep)
    assert remove_stale_temp_files(tmp_path / "missing") == []
