"""The torch device a command runs on, and the one mixed-precision policy of the toolkit.

Every model (detector, pose model, ViTPose, training) runs its forward pass under
:func:`autocast`; ``precision`` is one of :data:`PRECISIONS` (the ``--amp`` option).
torch is imported on use, so the CLI's ``--help`` stays light.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import click

from opencapbench.errors import OCBError

log = logging.getLogger(__name__)

#: values of every ``--amp`` option: float32, bfloat16 autocast, float16 autocast
PRECISIONS = ("none", "bf16", "fp16")

_ALIASES = {None: "none", "": "none", "fp32": "none", "bfloat16": "bf16", "float16": "fp16"}


class PrecisionError(OCBError, ValueError):
    """A precision the device cannot run (unknown name, or fp16 autocast on CPU)."""


def resolve_device(name: str | None = None) -> str:
    """``None`` or ``"auto"`` → ``"cuda"`` when a CUDA GPU is visible, else ``"cpu"``;
    any other name (``"cpu"``, ``"cuda:1"``) is returned unchanged."""
    if name not in (None, "auto"):
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def parse_precision(precision: str | None) -> str:
    """The canonical name in :data:`PRECISIONS` (``None``/"fp32" → "none", "bfloat16" → "bf16",
    "float16" → "fp16").

    Raises:
        PrecisionError: any other value.
    """
    name = _ALIASES.get(precision, precision)
    if name not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return name


def check_precision(device: Any, precision: str | None) -> str:
    """The canonical name of ``precision`` once it is known to run on ``device``.

    Raises:
        PrecisionError: unknown ``precision``, or "fp16" on CPU (no CPU fp16 autocast).
    """
    name = parse_precision(precision)
    if name == "fp16" and str(device).split(":")[0] == "cpu":
        raise PrecisionError("fp16 autocast needs CUDA; use --amp bf16 on CPU")
    return name


def autocast(device: Any, precision: str | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``precision`` on ``device`` (a name or ``torch.device``).

    "none" is a no-op; "bf16" runs on CUDA and CPU (fast on CPUs with AVX512-BF16 or AMX,
    slower elsewhere); "fp16" runs on CUDA only.  Devices without autocast (e.g. "mps") run
    in float32 with a log message.  Callers convert outputs to float32 before decoding.

    Raises:
        PrecisionError: unknown ``precision``, or "fp16" on CPU.
    """
    name = check_precision(device, precision)
    if name == "none":
        return contextlib.nullcontext()
    import torch

    kind = torch.device(device).type
    if kind not in ("cuda", "cpu"):
        log.info("no autocast on device %s: running in float32", kind)
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if name == "bf16" else torch.float16
    return torch.autocast(device_type=kind, dtype=dtype)


def device_options(func: Callable) -> Callable:
    """The ``--device`` (default auto) and ``--amp`` options of every command that runs a model;
    the command receives ``device`` (unresolved: call :func:`resolve_device`) and ``amp``."""
    func = click.option(
        "--amp",
        type=click.Choice(PRECISIONS),
        default="none",
        show_default=True,
        help="Autocast precision: bf16 (CPU with AVX512-BF16/AMX, or CUDA) or fp16 (CUDA).",
    )(func)
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        help="torch device: auto (cuda when available, else cpu), cpu, cuda, cuda:N.",
    )(func)
