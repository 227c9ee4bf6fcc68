"""Named errors of the marker augmenter; every message names the file or marker at fault."""

from __future__ import annotations

from opencapbench.errors import OCBError


class AugmenterError(OCBError, ValueError):
    """Bad augmenter input (unknown version, missing marker, bad height) or model file."""


class AugmenterFileError(AugmenterError):
    """An augmenter model file is missing, corrupt (SHA-256 mismatch) or of an unknown layout."""
