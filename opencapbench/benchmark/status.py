"""Per-trial status files: what a resumed run can skip, and why a trial failed.

``<out>/status/<subject>/<trial>.json`` holds one entry per stage (``markers``, ``ik``):
``{"state": "done"|"failed", "output": path, "error": {"type": ..., "message": ...}, ...}``.
A stage counts as done only if its status says so, its output file still exists and the
fingerprint of its inputs and settings (see ``runner.stage_fingerprints``) is unchanged: a
re-run with another filter cutoff, or after a keypoint file was replaced, redoes the trial.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opencapbench.io.atomic import atomic_write


class TrialStatus:
    """Read/modify/write the status file of one trial."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def is_done(self, stage: str, fingerprint: str | None = None) -> bool:
        """True if ``stage`` finished, its output exists and (if given) the fingerprint of
        its inputs and settings is unchanged."""
        entry = self.data.get(stage, {})
        if fingerprint is not None and entry.get("fingerprint") != fingerprint:
            return False
        return entry.get("state") == "done" and Path(entry.get("output", "")).is_file()

    def error(self, stage: str) -> dict | None:
        entry = self.data.get(stage, {})
        return entry.get("error") if entry.get("state") == "failed" else None

    def mark_done(self, stage: str, output: Path, **info: Any) -> None:
        self.data[stage] = {"state": "done", "output": str(output), **info}
        self._save()

    def mark_failed(self, stage: str, error: BaseException | str) -> None:
        if isinstance(error, BaseException):
            err = {"type": type(error).__name__, "message": str(error)}
        else:
            err = {"type": "Error", "message": str(error)}
        self.data[stage] = {"state": "failed", "error": err}
        # a failed stage invalidates everything downstream of it
        if stage == "markers":
            self.data.pop("ik", None)
        self._save()

    def _save(self) -> None:
        with atomic_write(self.path) as fh:
            json.dump(self.data, fh, indent=2)
