"""One logging set-up and one progress-bar style for every ``ocb`` command.

Library code logs through ``logging.getLogger(__name__)`` and shows progress with
:func:`progress`; only the ``ocb`` entry point calls :func:`setup_logging`. Warnings of the
``warnings`` module are routed into logging so that they share the format and the
``-q``/``-v`` switches.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_QUIET = False


class _TqdmHandler(logging.Handler):
    """Writes log records through ``tqdm.write`` so they do not tear progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def setup_logging(verbosity: int = 0) -> None:
    """Configure the root logger once for a command.

    Args:
        verbosity: -1 quiet (warnings and errors only, no progress bars), 0 normal (info),
            1 or more verbose (debug).
    """
    global _QUIET
    _QUIET = verbosity < 0
    level = logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    handler = _TqdmHandler()
    fmt = "%(levelname)s %(name)s: %(message)s" if verbosity > 0 else "%(levelname)s %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # third-party libraries stay at warning level unless -vv
    for noisy in ("matplotlib", "PIL", "urllib3", "httpx", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
    logging.captureWarnings(True)


def progress(
    iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it"
) -> Iterator[T]:
    """A tqdm progress bar over ``iterable`` (hidden with ``-q`` and when not on a terminal
    only if tqdm decides so); the one progress style of the toolkit."""
    from tqdm.auto import tqdm

    return iter(tqdm(iterable, desc=desc, total=total, unit=unit, disable=_QUIET or None))


def progress_bar(total: int, desc: str, unit: str = "it"):
    """A manual tqdm bar (``.update()``, ``.close()``) in the toolkit's one progress style."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=_QUIET or None)
