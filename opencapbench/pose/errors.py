"""Named exceptions of the pose package."""

from __future__ import annotations

from opencapbench.errors import OCBError


class PoseModelError(OCBError):
    """Base class of the pose package's errors."""


class PoseConfigError(PoseModelError, ValueError):
    """A config asks for something the toolkit cannot build (unknown type, bad value)."""


class CheckpointMismatchError(PoseModelError, ValueError):
    """Config, checkpoint and keypoint registry disagree (e.g. on the keypoint count)."""


class UnsafeCheckpointError(PoseModelError):
    """A checkpoint contains Python objects outside the safe-loading allowlist."""
