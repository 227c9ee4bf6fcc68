"""Folding BatchNorm into convolutions keeps the network's function."""

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from opencapbench.pose.builder import build_pose_estimator
from opencapbench.pose.models.fusion import fold_batchnorm

TINY = Path(__file__).resolve().parents[2] / "configs" / "pose" / "tiny_hrnet_test.py"


def test_folded_hrnet_matches_and_every_batchnorm_is_gone() -> None:
    torch.manual_seed(0)
    model = build_pose_estimator(TINY)
    for m in model.modules():  # non-trivial running statistics and affine parameters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.2)
    model.eval()
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    folded = copy.deepcopy(model)
    assert fold_batchnorm(folded) == n_bn
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(2, 3, 96, 64)
    with torch.inference_mode():
        ref, out = model._forward(x), folded._forward(x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_training_mode_is_refused() -> None:
    with pytest.raises(RuntimeError, match="eval mode"):
        fold_batchnorm(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train())
