"""A harmless stand-in for a malicious pickle payload: unpickling it creates a file."""

from __future__ import annotations

import pickle
from pathlib import Path


class CreatesFile:
    """Unpickling an instance calls ``open(path, "w")``, which creates ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def write_payload(path: Path, marker: Path, around: dict | None = None, protocol: int = 4) -> Path:
    """Write a pickle of ``around`` (default ``{}``) with key ``"payload"`` = the payload."""
    data = dict(around or {})
    data["payload"] = CreatesFile(marker)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    return path
