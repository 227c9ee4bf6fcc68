"""Named exceptions of the inference package; every message names the file or model at fault."""

from __future__ import annotations

from opencapbench.errors import OCBError


class InferenceError(OCBError, RuntimeError):
    """Base class of the errors raised by :mod:`opencapbench.inference`."""


class VideoReadError(InferenceError):
    """A video or image file cannot be opened or decoded (missing, corrupt, unsupported codec)."""


class BoxesFileError(InferenceError, ValueError):
    """A person-boxes file (JSON/CSV) is missing or malformed; the message names the file."""


class ModelNotAvailableError(InferenceError):
    """A named model's files are neither cached nor downloadable (offline, no network)."""


class UnknownModelError(InferenceError, KeyError):
    """A model name that is neither a registered name nor a local config/checkpoint/folder."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class ModelIntegrityError(InferenceError):
    """A downloaded weights file does not have the SHA-256 the model catalog pins."""
