"""The worker pool of a benchmark run: spawned once, fed as work becomes ready, and never
outliving its parent.

Workers ignore SIGINT (the parent decides: Ctrl-C cancels what is queued and lets running
steps finish and record themselves), and a watchdog thread in each worker exits it when the
parent process disappears (SIGKILL, crash), so no orphan keeps solving IK.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

#: seconds between the watchdog's checks that the parent is still alive
WATCHDOG_PERIOD_S = 0.5


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(WATCHDOG_PERIOD_S)
        if os.getppid() != parent_pid:
            os._exit(3)


def _init_worker(parent_pid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


class WorkerPool:
    """A spawn-context process pool whose workers exit with their parent.

    Args:
        workers: worker processes (at least 1).
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._executor = cf.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=mp.get_context("spawn"),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        return self._executor.submit(fn, *args)

    def shutdown(self, cancel: bool = True) -> None:
        """Stop the pool: queued work is cancelled, running work finishes."""
        self._executor.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
