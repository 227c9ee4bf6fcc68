"""Checks for names read from data files that become parts of file paths.

A camera name, marker-set name or image name comes from a file someone else wrote; joined to
an output or data folder unchecked, ``../../x`` or ``/etc/x`` reaches outside it.  Every such
name goes through :func:`safe_component` (one path component) or :func:`safe_relative` (a
relative path that stays under its root).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from opencapbench.errors import OCBError

__all__ = ["UnsafePathError", "safe_component", "safe_relative"]


class UnsafePathError(OCBError, ValueError):
    """A name read from a file would leave its folder; the message names the source and value."""


def safe_component(name: object, what: str) -> str:
    """``name`` as a single path component, or :class:`UnsafePathError`.

    Refused: empty, ``.``, ``..``, a path separator (``/`` or ``\\``), a NUL byte, or a
    Windows drive (``C:``).

    Args:
        name: the value read from a file (converted with ``str``).
        what: where it comes from, for the message (``"camera name in calib.toml"``).
    """
    value = str(name)
    if (
        not value
        or value in (".", "..")
        or "/" in value
        or "\\" in value
        or "\0" in value
        or PureWindowsPath(value).drive
    ):
        raise UnsafePathError(
            f"invalid {what}: {value!r} (it must be one file or folder name, without '/', "
            "'\\', '.' or '..')"
        )
    return value


def safe_relative(path: str | os.PathLike, root: str | os.PathLike | None, what: str) -> Path:
    """``root / path`` for a relative ``path`` that cannot leave ``root``, else an error.

    ``path`` may use ``/`` or ``\\`` as separators.  Refused: empty, absolute (POSIX or
    Windows, with or without a drive), a NUL byte, or any ``..`` component.  The check is
    lexical: symbolic links inside ``root`` are the owner's choice.

    Args:
        path: the relative path read from a file (``image_names``, a COCO ``file_name``).
        root: the folder it is relative to; ``None`` returns the checked relative path.
        what: where it comes from, for the message.

    Raises:
        UnsafePathError: naming ``what`` and the value.
    """
    value = os.fspath(path)
    posix = PurePosixPath(value.replace("\\", "/"))
    windows = PureWindowsPath(value)
    if (
        not value
        or "\0" in value
        or not posix.parts
        or posix.is_absolute()
        or windows.drive
        or windows.root
        or ".." in posix.parts
    ):
        raise UnsafePathError(
            f"invalid {what}: {value!r} (it must be a relative path inside its folder, "
            "without '..')"
        )
    relative = Path(*posix.parts)
    return relative if root is None else Path(root) / relative
