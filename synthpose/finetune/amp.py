"""Mixed precision without CUDA: an optimizer wrapper that runs forward passes under
``torch.autocast`` (bf16 on CPU).  bf16 keeps fp32's exponent range, so no loss scaling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from opencapbench.pose.registry import OPTIM_WRAPPERS


def cpu_bf16_supported() -> bool:
    """True if this CPU has native bf16 arithmetic (AVX512-BF16 or AMX)."""
    native = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    return bool(native or amx)


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` enables ``torch.autocast``.

    Args:
        dtype: autocast dtype name, ``"bfloat16"`` (default) or ``"float16"``.
        device_type: autocast device, ``"cpu"`` (default) or ``"cuda"``.
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``, ...).
    """

    def __init__(self, dtype: str = "bfloat16", device_type: str = "cpu", **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype)
        self.device_type = device_type

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        # the heatmaps (head.final_layer's output) leave autocast as fp32, so the loss and the
        # training accuracy are computed in fp32
        head = getattr(getattr(model, "module", model), "head", None)
        last = getattr(head, "final_layer", head)
        handle = last.register_forward_hook(_to_float) if isinstance(last, nn.Module) else None
        try:
            with (
                super().optim_context(model),
                torch.autocast(self.device_type, dtype=self.cast_dtype),
            ):
                yield
        finally:
            if handle is not None:
                handle.remove()


def _to_float(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return output.float() if torch.is_tensor(output) and output.is_floating_point() else output
