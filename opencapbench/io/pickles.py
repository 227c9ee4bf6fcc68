"""Reading the pickle files of OpenCap (calibrations, pose results) and RICH (SMPL-X bodies).

A plain ``pickle.load`` runs whatever code a file names, so these files go through a restricted
unpickler that rebuilds only what they hold: numpy arrays, dtypes and scalars, and plain
containers.  Any other global is refused with :class:`UnsafePickleError` naming the file and
the global.  A user's own legacy files with other contents can be read by opting in (the
``--trust-pickles`` option of the commands, the ``OCB_TRUST_PICKLES=1`` environment variable,
:func:`trusting_pickles` or the ``trust`` argument); each such load is logged as a warning.
"""

from __future__ import annotations

import _codecs
import collections
import contextvars
import functools
import io
import logging
import os
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from opencapbench.errors import OCBError

log = logging.getLogger(__name__)

__all__ = [
    "TRUST_ENV",
    "UnsafePickleError",
    "load_pickle",
    "pickles_trusted",
    "safe_loads",
    "trusting_pickles",
]

#: environment variable that, set to 1/true/yes/on, lets every pickle load unrestricted
TRUST_ENV = "OCB_TRUST_PICKLES"

_trust_override: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
    "ocb_trust_pickles", default=None
)


class UnsafePickleError(OCBError):
    """A pickle names a global outside the allowlist; the message names the file and global."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as pickle protocols 0-2 use it for ``bytes`` (latin-1 only)."""
    if encoding.lower().replace("-", "").replace("_", "") not in {"latin1", "iso88591"}:
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return _codecs.encode(text, "latin1")


def _numpy_attr(submodule: str, name: str) -> Any:
    """``numpy._core.<submodule>.<name>`` (numpy 2) or ``numpy.core.<submodule>.<name>``."""
    import importlib

    for package in ("numpy._core", "numpy.core"):
        try:
            return getattr(importlib.import_module(f"{package}.{submodule}"), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no {submodule}.{name}")  # pragma: no cover


@functools.cache
def _allowlist() -> dict[tuple[str, str], Any]:
    """(module, name) as written in a pickle → the object it may stand for."""
    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("_codecs", "encode"): _latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = _numpy_attr(
            "multiarray", "_reconstruct"
        )
        allowed[(f"{package}.multiarray", "scalar")] = _numpy_attr("multiarray", "scalar")
        allowed[(f"{package}.numeric", "_frombuffer")] = _numpy_attr("numeric", "_frombuffer")
    for builtins_module in ("builtins", "__builtin__"):  # Python 3 / Python 2 spelling
        for kind in (set, frozenset, complex, bytearray, slice, range):
            allowed[(builtins_module, kind.__name__)] = kind
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25 pickles some dtypes by class
    if dtypes is not None:
        for name in dir(dtypes):
            cls = getattr(dtypes, name)
            if isinstance(cls, type) and issubclass(cls, np.dtype):
                allowed[("numpy.dtypes", name)] = cls
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only allowlisted globals (numpy data, plain containers)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _allowlist()[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None


class _Refused(pickle.UnpicklingError):
    """Internal: the global a pickle asked for (worded into :class:`UnsafePickleError`)."""

    def __init__(self, qualname: str) -> None:
        super().__init__(qualname)
        self.qualname = qualname


def safe_loads(data: bytes, encoding: str = "ASCII") -> Any:
    """Unpickle ``data`` with the restricted unpickler.

    Args:
        data: the pickle bytes (any protocol 0-5).
        encoding: how Python-2 ``str`` objects are decoded (``"latin1"`` for numpy's).

    Raises:
        pickle.UnpicklingError: the pickle names a global outside the allowlist (the subclass
            carries ``qualname``) or is malformed.
    """
    return _RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()


def pickles_trusted(trust: bool | None = None) -> bool:
    """Whether unrestricted unpickling is allowed.

    ``trust`` if given; else the innermost :func:`trusting_pickles` block; else the
    ``OCB_TRUST_PICKLES`` environment variable (``1``, ``true``, ``yes``, ``on``).
    """
    if trust is not None:
        return bool(trust)
    override = _trust_override.get()
    if override is not None:
        return override
    return os.environ.get(TRUST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@contextmanager
def trusting_pickles(enabled: bool = True) -> Iterator[None]:
    """Within the block, :func:`load_pickle` calls without ``trust`` use ``enabled``."""
    token = _trust_override.set(bool(enabled))
    try:
        yield
    finally:
        _trust_override.reset(token)


def _load_bytes(data: bytes, loads: Callable[..., Any]) -> Any:
    """``loads`` with the default encoding, then latin-1 for a Python-2 pickle."""
    try:
        return loads(data)
    except UnicodeDecodeError:  # a Python-2 pickle with non-ASCII str objects (numpy data)
        return loads(data, encoding="latin1")


def load_pickle(
    path: str | os.PathLike,
    error: type[Exception],
    what: str = "file",
    trust: bool | None = None,
) -> Any:
    """Unpickle ``path`` with the restricted unpickler; Python-2 pickles are read as latin-1.

    Args:
        path: the pickle file.
        error: the named error for a missing or unreadable file (e.g. ``CalibrationError``).
        what: how the messages call the file (``"calibration file"``).
        trust: allow any content (plain ``pickle``, with a logged warning) when the restricted
            unpickler refuses the file; ``None`` asks :func:`pickles_trusted`.

    Raises:
        UnsafePickleError: the file names a global outside the allowlist and is not trusted.
        error: the file is missing or is not a readable pickle; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc})") from None
    try:
        return _load_bytes(data, safe_loads)
    except _Refused as refused:
        if not pickles_trusted(trust):
            raise UnsafePickleError(
                f"{path}: refused to load this {what}: it names the global {refused.qualname}, "
                "and only numpy arrays, dtypes, scalars and plain containers are allowed "
                "(unpickling anything else can run code). If you made this file yourself, "
                f"rerun with --trust-pickles (or {TRUST_ENV}=1)."
            ) from None
        log.warning(
            "%s: loading this %s with plain pickle (trusted: it names %s); any code in it runs",
            path,
            what,
            refused.qualname,
        )
        try:
            return _load_bytes(data, pickle.loads)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise error(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise error(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
