"""``KeypointMSELoss``: per-keypoint weighted MSE between predicted and target heatmaps."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from opencapbench.pose.registry import MODELS


@MODELS.register_module()
class KeypointMSELoss(nn.Module):
    """``mean(mse(out, target) * mask) * loss_weight`` over (B, K, H, W).

    The mask is the product of ``target_weights`` (B, K) broadcast over the heatmap, an
    optional ``mask`` (broadcastable to the heatmaps) and, with ``skip_empty_channel``, a
    (B, K) mask of channels whose target is not all zero.  There is no 0.5 factor.

    Args:
        use_target_weight: kept for config compatibility.  As in MMPose 1.x the weights are
            applied whenever they are passed, whatever this flag says.
        skip_empty_channel: ignore channels with an all-zero target.
        loss_weight: multiplier of the loss.
    """

    def __init__(
        self,
        use_target_weight: bool = False,
        skip_empty_channel: bool = False,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.skip_empty_channel = skip_empty_channel
        self.loss_weight = loss_weight

    def _mask(
        self,
        target: torch.Tensor,
        target_weights: torch.Tensor | None,
        mask: torch.Tensor | None,
    ) -> torch.Tensor | None:
        out = None
        if target_weights is not None:
            if target_weights.shape != target.shape[: target_weights.ndim]:
                raise ValueError(
                    f"target_weights {tuple(target_weights.shape)} do not match "
                    f"target {tuple(target.shape)}"
                )
            pad = target.ndim - target_weights.ndim
            out = target_weights.view(*target_weights.shape, *([1] * pad))
        if mask is not None:
            out = mask if out is None else out * mask
        if self.skip_empty_channel:
            nonempty = (target != 0).flatten(2).any(dim=2)
            nonempty = nonempty.view(*nonempty.shape, *([1] * (target.ndim - 2)))
            out = nonempty if out is None else out * nonempty
        return out

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        target_weights: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """output, target (B, K, H, W); target_weights (B, K) -> scalar loss."""
        m = self._mask(target, target_weights, mask)
        if m is None:
            loss = F.mse_loss(output, target)
        else:
            loss = (F.mse_loss(output, target, reduction="none") * m).mean()
        return loss * self.loss_weight
