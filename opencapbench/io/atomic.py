"""Atomic file writes: write to a temporary file in the same folder, then ``os.replace``.

An interrupted run therefore never leaves a half-written output that a resumed run would
mistake for a finished one.  The temporary file is created with mode ``0o666`` filtered by the
process umask (as ``open`` creates any file), not ``mkstemp``'s ``0o600``, so results on a
shared server are as readable as the user's other files.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: the characters of the random part of a temporary name (as ``tempfile.mkstemp`` uses)
_TEMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


def _create_temp(path: Path) -> Path:
    """Create ``.<stem>.<8 random chars><suffix>`` beside ``path``, mode 0o666 & ~umask.

    ``O_EXCL`` makes the name ours (as ``mkstemp`` does); the kernel applies the umask (and
    any default ACL of the folder) to the requested 0o666, so nothing has to read the umask.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        rand = "".join(secrets.choice(_TEMP_CHARS) for _ in range(8))
        tmp = path.parent / f".{path.stem}.{rand}{path.suffix}"
        try:
            os.close(os.open(tmp, flags, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {path}")  # pragma: no cover


log = logging.getLogger(__name__)

#: ``atomic_path``'s temporary names: ``.<stem>.<8 random chars><suffix>``.
_TEMP_NAME = re.compile(r"^\.(?P<stem>.+)\.[a-z0-9_]{8}(?P<suffix>\.[^.]+)?$")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    Use it for writers that want a file name (``np.savez``, ``cv2.imwrite``, OpenSim tools).
    The temporary name keeps the suffix of ``path`` so such writers pick the right format.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temp(path)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file for writing; it replaces ``path`` only if the block succeeds.

    ``mode`` is ``"w"`` (text, utf-8 by default) or ``"wb"``.
    """
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
        kwargs.setdefault("newline", "")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that interrupted atomic writes left under ``folder``.

    An atomic write killed by SIGKILL (or a SIGTERM without handler) cannot clean up and
    leaves its hidden ``.<stem>.XXXXXXXX<suffix>`` file (often empty) next to the output.  Call
    this at the start of a run, before any writer of this run starts: a temporary file of a
    write in progress elsewhere in ``folder`` would be deleted too.

    Args:
        folder: searched recursively; a missing folder is fine.

    Returns:
        The removed paths (each also logged at INFO).
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    removed = []
    for path in sorted(root.rglob(".*")):
        if path.is_file() and not path.is_symlink() and _TEMP_NAME.match(path.name):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
            log.info("removed %s, left by an interrupted write", path)
    return removed
