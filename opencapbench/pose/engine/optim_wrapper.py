"""Mixed precision through :func:`opencapbench.device.autocast` in mmengine's training loop:
an optimizer wrapper whose forward passes run under autocast (bf16 on CPU or CUDA; fp16 on CUDA
goes through mmengine's ``AmpOptimWrapper``, which adds loss scaling)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from opencapbench.device import autocast, parse_precision
from opencapbench.pose.registry import OPTIM_WRAPPERS


def cpu_bf16_supported() -> bool:
    """True if this CPU has native bf16 arithmetic (AVX512-BF16 or AMX)."""
    native = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return bool(native or amx)


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` enables :func:`opencapbench.device.autocast`.

    Args:
        precision: "bf16" (default) or "fp16" (CUDA only; prefer ``AmpOptimWrapper``).
        device: the autocast device, "cpu" (default) or "cuda".
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, precision: str = "bf16", device: str = "cpu", **kwargs) -> None:
        super().__init__(**kwargs)
        self.precision = parse_precision(precision)
        self.device = device

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        # the heatmaps (head.final_layer's output) leave autocast as fp32, so the loss and the
        # training accuracy are computed in fp32
        head = getattr(getattr(model, "module", model), "head", None)
        last = getattr(head, "final_layer", head)
        handle = last.register_forward_hook(_to_float) if isinstance(last, nn.Module) else None
        try:
            with super().optim_context(model), autocast(self.device, self.precision):
                yield
        finally:
            if handle is not None:
                handle.remove()


def _to_float(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return output.float() if torch.is_tensor(output) and output.is_floating_point() else output
