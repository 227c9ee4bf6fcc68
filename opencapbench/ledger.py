"""The ledger: what a long run has finished, what failed and why, written as each step ends.

One JSON file per work item (a benchmark trial, a generate-dataset source file) holds one
entry per step::

    {"<step>": {"state": "done" | "failed", "fingerprint": "...", "outputs": {key: path},
                "info": {...}, "warnings": [...], "error": {"type": ..., "message": ...}}}

A step counts as done only if its entry says so, its fingerprint (a digest of its settings and
input files) is unchanged, and every output it lists still exists. Entries are written
atomically as soon as the step ends, by whichever process ran it, so an interrupted run keeps
every finished item; an unreadable ledger file is set aside with a warning and its item redone.
:func:`failures_table` and :func:`warnings_table` collect all ledgers of a run into one table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from opencapbench.io.atomic import atomic_write

log = logging.getLogger(__name__)

FAILURE_COLUMNS = ("item", "step", "error", "message")
WARNING_COLUMNS = ("item", "step", "message")


def digest(payload: object) -> str:
    """A short, stable hash of JSON-able ``payload`` (settings, file stamps, fingerprints)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_stamp(path: Path) -> list:
    """What identifies a file's content cheaply: path, size and modification time."""
    st = Path(path).stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def error_record(error: BaseException | str) -> dict[str, str]:
    if isinstance(error, BaseException):
        return {"type": type(error).__name__, "message": str(error)}
    return {"type": "Error", "message": str(error)}


class Ledger:
    """Read/modify/write the ledger file of one work item.

    Args:
        path: the JSON file.
        item: the item's name in tables and messages (e.g. ``subject2/walking1``).
    """

    def __init__(self, path: str | os.PathLike, item: str = "") -> None:
        self.path = Path(path)
        self.item = item or self.path.stem
        self.data: dict[str, Any] = {}
        self.corrupt = False
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if not isinstance(data, dict) or not all(
                    isinstance(v, dict) for v in data.values()
                ):
                    raise ValueError("not a mapping of step entries")
                self.data = data
            except (ValueError, UnicodeDecodeError) as err:
                self.corrupt = True
                aside = self.path.with_name(self.path.name + ".corrupt")
                os.replace(self.path, aside)
                log.warning(
                    "%s: ledger %s is unreadable (%s); set aside as %s, the item is redone",
                    self.item, self.path, err, aside.name,
                )  # fmt: skip

    def entry(self, step: str) -> dict[str, Any]:
        return self.data.get(step, {})

    def is_done(self, step: str, fingerprint: str | None = None) -> bool:
        entry = self.entry(step)
        if entry.get("state") != "done":
            return False
        if fingerprint is not None and entry.get("fingerprint") != fingerprint:
            return False
        return all(Path(p).exists() for p in entry.get("outputs", {}).values())

    def outputs(self, step: str) -> dict[str, Path]:
        return {k: Path(v) for k, v in self.entry(step).get("outputs", {}).items()}

    def error(self, step: str) -> dict | None:
        entry = self.entry(step)
        return entry.get("error") if entry.get("state") == "failed" else None

    def mark_done(
        self,
        step: str,
        fingerprint: str,
        outputs: Mapping[str, Path] | None = None,
        info: Mapping[str, Any] | None = None,
        warnings: Sequence[str] = (),
        downstream: Iterable[str] = (),
    ) -> None:
        """Record ``step`` as done; the entries of ``downstream`` steps are dropped (their
        inputs changed)."""
        self.data[step] = {
            "state": "done",
            "fingerprint": fingerprint,
            "outputs": {k: str(v) for k, v in (outputs or {}).items()},
            "info": dict(info or {}),
            "warnings": list(warnings),
        }
        for name in downstream:
            self.data.pop(name, None)
        self.save()

    def mark_failed(
        self,
        step: str,
        error: BaseException | str,
        fingerprint: str | None = None,
        warnings: Sequence[str] = (),
        downstream: Iterable[str] = (),
    ) -> None:
        """Record ``step`` as failed with its error; downstream entries are dropped."""
        self.data[step] = {
            "state": "failed",
            "fingerprint": fingerprint,
            "error": error_record(error),
            "warnings": list(warnings),
        }
        for name in downstream:
            self.data.pop(name, None)
        self.save()

    def save(self) -> None:
        with atomic_write(self.path) as fh:
            json.dump(self.data, fh, indent=2, default=str)


def failures_table(ledgers: Iterable[Ledger]):
    """One row per failed step of every ledger: ``item, step, error, message``."""
    import pandas as pd

    rows = [
        {"item": lg.item, "step": step, "error": e["error"]["type"],
         "message": e["error"]["message"]}
        for lg in ledgers for step, e in lg.data.items() if e.get("state") == "failed"
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(FAILURE_COLUMNS))


def warnings_table(ledgers: Iterable[Ledger]):
    """One row per recorded warning of every ledger: ``item, step, message``."""
    import pandas as pd

    rows = [
        {"item": lg.item, "step": step, "message": w}
        for lg in ledgers for step, e in lg.data.items() for w in e.get("warnings", [])
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(WARNING_COLUMNS))


class WarningRecorder(logging.Handler):
    """Collects the warnings logged under ``opencapbench`` (and ``warnings.warn``-ed) while a
    step runs, for its ledger entry: ``with WarningRecorder() as rec: ...; rec.messages``."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> WarningRecorder:
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self._caught = self._catch.__enter__()
        warnings.simplefilter("always")
        logging.getLogger("opencapbench").addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("opencapbench").removeHandler(self)
        self._catch.__exit__(*exc)
        for w in self._caught:
            self.messages.append(str(w.message))
            log.warning("%s", w.message)
