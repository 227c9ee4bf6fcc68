"""Quieter OpenSim: its logger prints every model load (and, for models whose mesh files are
absent, one warning per mesh) to the console."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import opensim

__all__ = ["load_model", "opensim_log_level", "redirect_output"]


@contextmanager
def redirect_output(path: str | os.PathLike) -> Iterator[None]:
    """Send everything written to this process's stdout/stderr file descriptors (OpenSim's
    C++ console log included) to ``path`` (appended) while the block runs."""
    path = Path(path)
    if path != Path(os.devnull):
        path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as fh:
        try:
            os.dup2(fh.fileno(), 1)
            os.dup2(fh.fileno(), 2)
            yield
        finally:
            ctypes.CDLL(None).fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


@contextmanager
def opensim_log_level(level: str = "error") -> Iterator[None]:
    """Set OpenSim's global log level (``off``, ``error``, ``warn``, ``info``, ...) inside the
    block, restoring the previous level afterwards."""
    old = opensim.Logger.getLevelString()
    if old == level:
        yield
        return
    opensim.Logger.setLevelString(level)
    try:
        yield
    finally:
        with redirect_output(os.devnull):  # OpenSim announces every level change
            opensim.Logger.setLevelString(old)


def load_model(path: str | os.PathLike, level: str = "error") -> opensim.Model:
    """Load an ``.osim`` file with OpenSim's console log limited to ``level``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"OpenSim model not found: {path}")
    with opensim_log_level(level):
        return opensim.Model(os.fspath(path))
