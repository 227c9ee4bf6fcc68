"""The torch device a command runs on when the user does not name one."""

from __future__ import annotations


def resolve_device(name: str | None = None) -> str:
    """``None`` or ``"auto"`` → ``"cuda"`` when a CUDA GPU is visible, else ``"cpu"``;
    any other name (``"cpu"``, ``"cuda:1"``) is returned unchanged."""
    if name not in (None, "auto"):
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
