"""The one precision policy: which autocast each --amp value gives on each device."""

import pytest
import torch

from opencapbench.device import PRECISIONS, PrecisionError, autocast, parse_precision


def test_precision_names_and_aliases() -> None:
    assert PRECISIONS == ("none", "bf16", "fp16")
    assert [parse_precision(p) for p in (None, "fp32", "bfloat16", "float16")] == [
        "none", "none", "bf16", "fp16"]  # fmt: skip
    with pytest.raises(PrecisionError, match="int8"):
        parse_precision("int8")


def test_autocast_on_cpu_runs_matmul_in_bf16_and_refuses_fp16() -> None:
    a = torch.ones(4, 4)
    with autocast("cpu", "bf16"):
        assert (a @ a).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "none"):
        assert (a @ a).dtype == torch.float32
    with pytest.raises(PrecisionError, match="fp16 autocast needs CUDA"):
        autocast("cpu", "fp16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_autocast_on_cuda_runs_fp16_and_bf16() -> None:
    a = torch.ones(4, 4, device="cuda")
    for precision, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        with autocast("cuda", precision):
            assert (a @ a).dtype == dtype
