"""A process pool for a benchmark run that never outlives the process that started it.

:class:`WorkerPool` wraps :class:`concurrent.futures.ProcessPoolExecutor` (``spawn`` context)
for work such as OpenSim IK and trial plots:

- every worker watches its parent through a pipe whose only write end the parent holds; when
  the parent dies (even by SIGKILL) the pipe reaches end-of-file and the worker is killed within
  about a second, so no worker, and hence no ``multiprocessing`` resource tracker, is left
  running.  The watch runs in a small forked watchdog process, not in a thread, because a long
  call into C++ (an OpenSim IK solve) holds the GIL and would starve a watchdog thread;
- workers ignore SIGINT, so Ctrl-C reaches only the parent: leaving the ``with`` block on an
  exception (``KeyboardInterrupt`` included) cancels the pending work and terminates the
  workers instead of waiting for their running tasks;
- ``max_workers=1`` runs each task in this process at :meth:`WorkerPool.submit` (no spawn
  cost), returning an already finished future with the same API.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["WorkerPool", "run_now"]

#: Seconds between the watchdog's checks that its worker is still alive.
_POLL_S = 0.5


def _watch(reader: Connection, worker_pid: int) -> None:
    """Body of the watchdog: kill ``worker_pid`` once ``reader`` reports its writer closed.

    Returns when the worker has gone by itself (the watchdog is then orphaned).
    """
    while os.getppid() == worker_pid:
        try:
            if reader.poll(_POLL_S):  # readable with no data ever sent: the writer is gone
                break
        except (EOFError, OSError):
            break
    else:
        return
    if os.getppid() != worker_pid:  # the worker ended on its own meanwhile
        return
    try:
        os.kill(worker_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _start_watchdog(reader: Connection) -> None:
    """Worker initializer: ignore SIGINT and start the parent-death watchdog."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    worker = os.getpid()
    if hasattr(os, "fork"):
        if os.fork() == 0:  # the watchdog: holds no other descriptor of the run
            try:
                os.closerange(0, reader.fileno())
                os.closerange(reader.fileno() + 1, os.sysconf("SC_OPEN_MAX"))
                _watch(reader, worker)
            finally:
                os._exit(0)
        return
    # no fork (Windows): a thread, which cannot interrupt a call that holds the GIL

    def thread_watch() -> None:
        try:
            reader.poll(None)
        finally:
            os._exit(1)

    threading.Thread(target=thread_watch, name="ocb-parent-watch", daemon=True).start()


def run_now(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
    """``fn(*args, **kwargs)`` run in this process, as a finished future: an executor's
    ``submit`` without the executor.  An exception is stored in the future, except
    ``KeyboardInterrupt`` and ``SystemExit``, which propagate."""
    fut: cf.Future = cf.Future()
    fut.set_running_or_notify_cancel()
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        fut.set_exception(exc)
    else:
        fut.set_result(result)
    return fut


class WorkerPool:
    """Run callables in worker processes; see the module docstring.

    Args:
        max_workers: worker processes; 1 runs every task in this process at submit time.

    Use as a context manager, or call :meth:`shutdown` yourself.  Functions and arguments must
    be picklable (module-level functions; dataclasses) when ``max_workers > 1``, and a script
    that creates a pool needs an ``if __name__ == "__main__":`` guard (``spawn``).
    """

    def __init__(self, max_workers: int = 1) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = int(max_workers)
        self._executor: cf.ProcessPoolExecutor | None = None
        self._writer: Connection | None = None
        self._reader: Connection | None = None
        if self.max_workers > 1:
            ctx = mp.get_context("spawn")
            reader, self._writer = ctx.Pipe(duplex=False)
            self._executor = cf.ProcessPoolExecutor(
                max_workers=self.max_workers,
                mp_context=ctx,
                initializer=_start_watchdog,
                initargs=(reader,),
            )
            self._reader = reader  # kept open until shutdown: workers duplicate it at spawn

    @property
    def in_process(self) -> bool:
        """True when tasks run in this process (``max_workers == 1``)."""
        return self._executor is None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Schedule ``fn(*args, **kwargs)``; returns its :class:`concurrent.futures.Future`.

        In-process mode runs it now and returns a finished future (an exception is stored in
        the future, except ``KeyboardInterrupt`` and ``SystemExit``, which propagate).
        """
        if self._executor is not None:
            return self._executor.submit(fn, *args, **kwargs)
        return run_now(fn, *args, **kwargs)

    def worker_pids(self) -> list[int]:
        """Process ids of the workers started so far (empty in-process)."""
        if self._executor is None:
            return []
        return sorted(getattr(self._executor, "_processes", None) or {})

    def shutdown(self, wait: bool = True, cancel: bool = False) -> None:
        """Stop the pool.

        Args:
            wait: wait for running tasks (and, unless ``cancel``, the pending ones) to finish.
                With ``wait=False`` the workers are terminated: their running tasks are lost.
            cancel: cancel the tasks that have not started.
        """
        if self._executor is None:
            return
        executor, self._executor = self._executor, None
        processes = dict(getattr(executor, "_processes", None) or {})
        if not wait:
            for proc in processes.values():
                if proc.is_alive():
                    proc.terminate()
        executor.shutdown(wait=wait, cancel_futures=cancel)
        if not wait:
            for proc in processes.values():
                proc.join(timeout=5)
        for conn in (self._writer, self._reader):
            if conn is not None:
                conn.close()
        self._writer = self._reader = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.shutdown(wait=True)
        else:
            if issubclass(exc_type, KeyboardInterrupt):
                log.warning("interrupted: cancelling the pending work and stopping the workers")
            self.shutdown(wait=False, cancel=True)

    def __del__(self) -> None:
        if getattr(self, "_executor", None) is not None and not sys.is_finalizing():
            self.shutdown(wait=False, cancel=True)
