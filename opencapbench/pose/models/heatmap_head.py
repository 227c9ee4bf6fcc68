"""``HeatmapHead``: optional deconv/conv layers, then a 1x1 conv to K heatmaps."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import nn

from opencapbench.pose.errors import PoseConfigError
from opencapbench.pose.models.accuracy import pose_pck_accuracy
from opencapbench.pose.models.flip import flip_heatmaps
from opencapbench.pose.registry import KEYPOINT_CODECS, MODELS, build_module
from opencapbench.pose.structures import InstanceData, PixelData

_DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}
_DEFAULT_FINAL = {"kernel_size": 1}


@MODELS.register_module()
class HeatmapHead(nn.Module):
    """Top-down heatmap head (SimpleBaseline / HRNet).

    ``deconv_layers`` (ConvTranspose2d stride 2 + BN + ReLU per entry) and ``conv_layers``
    (Conv2d + BN + ReLU) are ``nn.Identity`` when not configured; ``final_layer`` is a
    Conv2d (1x1 by default) to ``out_channels`` = K heatmaps.  Parameter names match MMPose
    (``head.final_layer.weight``, ``head.deconv_layers.0.weight``, ...).

    Args:
        in_channels: channels of the last backbone feature map.
        out_channels: number of keypoints K.
        deconv_out_channels / deconv_kernel_sizes: deconvolution layers (kernel 2, 3 or 4).
        conv_out_channels / conv_kernel_sizes: conv layers after the deconvolutions.
        final_layer: kwargs of the final Conv2d (default kernel_size 1); None -> Identity.
        loss: loss config (``KeypointMSELoss``).
        decoder: codec config used by :meth:`predict` (``MSRAHeatmap``/``UDPHeatmap``).
    """

    def __init__(
        self,
        in_channels: int | Sequence[int],
        out_channels: int,
        deconv_out_channels: Sequence[int] | None = (256, 256, 256),
        deconv_kernel_sizes: Sequence[int] | None = (4, 4, 4),
        conv_out_channels: Sequence[int] | None = None,
        conv_kernel_sizes: Sequence[int] | None = None,
        final_layer: dict | None = _DEFAULT_FINAL,
        loss: dict | None = None,
        decoder: dict | None = None,
        init_cfg: dict | list | None = None,
        **ignored,
    ) -> None:
        super().__init__()
        if ignored:
            warnings.warn(f"HeatmapHead ignores options {sorted(ignored)}", stacklevel=2)
        self.in_channels = in_channels
        self.out_channels = out_channels
        channels = in_channels if isinstance(in_channels, int) else in_channels[-1]
        if deconv_out_channels:
            if deconv_kernel_sizes is None or len(deconv_kernel_sizes) != len(deconv_out_channels):
                raise PoseConfigError(
                    "HeatmapHead: deconv_kernel_sizes must match deconv_out_channels in length"
                )
            layers: list[nn.Module] = []
            for cout, k in zip(deconv_out_channels, deconv_kernel_sizes, strict=True):
                if k not in _DECONV_PADDING:
                    raise PoseConfigError(f"HeatmapHead: deconv kernel {k} not in (2, 3, 4)")
                pad, out_pad = _DECONV_PADDING[k]
                layers += [
                    nn.ConvTranspose2d(channels, cout, k, 2, pad, out_pad, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                ]
                channels = cout
            self.deconv_layers: nn.Module = nn.Sequential(*layers)
        else:
            self.deconv_layers = nn.Identity()
        if conv_out_channels:
            if conv_kernel_sizes is None or len(conv_kernel_sizes) != len(conv_out_channels):
                raise PoseConfigError(
                    "HeatmapHead: conv_kernel_sizes must match conv_out_channels in length"
                )
            layers = []
            for cout, k in zip(conv_out_channels, conv_kernel_sizes, strict=True):
                layers += [
                    nn.Conv2d(channels, cout, k, 1, (k - 1) // 2),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                ]
                channels = cout
            self.conv_layers: nn.Module = nn.Sequential(*layers)
        else:
            self.conv_layers = nn.Identity()
        if final_layer is None:
            self.final_layer: nn.Module = nn.Identity()
        else:
            kwargs = {"kernel_size": 1}
            kwargs.update(final_layer)
            kwargs.pop("type", None)
            k = kwargs.pop("kernel_size")
            kwargs.setdefault("padding", (k - 1) // 2)
            self.final_layer = nn.Conv2d(channels, out_channels, k, **kwargs)
        self.loss_module = build_module(
            MODELS, loss or {"type": "KeypointMSELoss", "use_target_weight": True}, "head.loss"
        )
        self.decoder = build_module(KEYPOINT_CODECS, decoder, "head.decoder")
        self.init_cfg = init_cfg

    def init_weights(self) -> None:
        """Normal(std=0.001) conv/deconv weights, zero biases, unit BN (MMPose's default)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Last feature map (B, C, h, w) -> heatmaps (B, K, h', w')."""
        x = feats[-1]
        return self.final_layer(self.conv_layers(self.deconv_layers(x)))

    def predict_heatmaps(
        self, feats, flip_indices: Sequence[int] | None, test_cfg: dict | None
    ) -> torch.Tensor:
        """Heatmaps for ``feats``, or flip-test averaged ones for ``[feats, feats_flipped]``."""
        test_cfg = test_cfg or {}
        if test_cfg.get("flip_test", False):
            if test_cfg.get("flip_mode", "heatmap") != "heatmap":
                raise PoseConfigError(
                    f"flip_mode={test_cfg.get('flip_mode')!r} is not supported (only 'heatmap')"
                )
            if flip_indices is None:
                raise PoseConfigError("flip test needs flip_indices (dataset meta)")
            feats, feats_flip = feats
            hm = self.forward(feats)
            hm_flip = flip_heatmaps(
                self.forward(feats_flip), flip_indices, test_cfg.get("shift_heatmap", False)
            )
            return (hm + hm_flip) * 0.5
        return self.forward(feats)

    def predict(self, feats, batch_data_samples, test_cfg: dict | None = None):
        """Decode heatmaps (numpy codec, MMPose's reference path) into input-space keypoints.

        Returns a list of ``InstanceData(keypoints (1,K,2), keypoint_scores (1,K))``, plus a
        list of ``PixelData(heatmaps)`` when ``test_cfg['output_heatmaps']``.
        """
        test_cfg = test_cfg or {}
        flip_indices = None
        if batch_data_samples:
            flip_indices = batch_data_samples[0].metainfo.get("flip_indices")
        heatmaps = self.predict_heatmaps(feats, flip_indices, test_cfg)
        if self.decoder is None:
            raise PoseConfigError("HeatmapHead.predict needs a decoder (codec) in the config")
        preds = []
        for hm in heatmaps.detach().float().cpu().numpy():
            kpts, scores = self.decoder.decode(hm)
            preds.append(InstanceData(keypoints=kpts, keypoint_scores=scores))
        if test_cfg.get("output_heatmaps", False):
            return preds, [PixelData(heatmaps=hm) for hm in heatmaps.detach()]
        return preds

    def loss(self, feats, batch_data_samples, train_cfg: dict | None = None) -> dict:
        """``loss_kpt`` (KeypointMSELoss) and ``acc_pose`` (PCK@0.05 on heatmap argmaxes)."""
        pred = self.forward(feats)
        gt = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples]).to(pred)
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples]).to(
            pred
        )
        losses = {"loss_kpt": self.loss_module(pred, gt, weights)}
        _, acc, _ = pose_pck_accuracy(
            pred.detach().float().cpu().numpy(),
            gt.detach().float().cpu().numpy(),
            weights.detach().float().cpu().numpy() > 0,
        )
        losses["acc_pose"] = torch.tensor(acc, device=gt.device, dtype=torch.float32)
        return losses
