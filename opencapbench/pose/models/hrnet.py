"""HRNet backbone with MMPose's module and parameter names.

``state_dict`` keys match MMPose's ``HRNet`` exactly (``conv1``, ``bn1``, ``conv2``, ``bn2``,
``layer1``, ``transition1..3``, ``stage2..4`` with ``branches`` and ``fuse_layers``), so MMPose
checkpoints load without renaming.  Input (N, 3, H, W); output a tuple of feature maps, for
the pose configs one map (N, C0, H/4, W/4) (stage4 ``multiscale_output=False``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torch.utils.checkpoint as cp
from torch import nn

from opencapbench.pose.errors import PoseConfigError
from opencapbench.pose.registry import MODELS


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels)


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, bias=False)


class _ResidualBlock(nn.Module):
    """Shared forward of the residual blocks: ``relu(_residual(x))``, optionally checkpointed."""

    with_cp: bool
    relu: nn.ReLU

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self._residual, x, use_reentrant=False)
        else:
            out = self._residual(x)
        return self.relu(out)


class BasicBlock(_ResidualBlock):
    """Two 3x3 conv+BN with a residual connection (expansion 1)."""

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.conv1 = _conv(in_channels, out_channels, 3, stride)
        self.bn1 = _bn(out_channels)
        self.conv2 = _conv(out_channels, out_channels, 3)
        self.bn2 = _bn(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


class Bottleneck(_ResidualBlock):
    """1x1 -> 3x3 (stride) -> 1x1 bottleneck with residual (expansion 4)."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        mid = out_channels // self.expansion
        self.conv1 = _conv(in_channels, mid, 1)
        self.bn1 = _bn(mid)
        self.conv2 = _conv(mid, mid, 3, stride)
        self.bn2 = _bn(mid)
        self.conv3 = _conv(mid, out_channels, 1)
        self.bn3 = _bn(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.with_cp = with_cp

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


BLOCKS: dict[str, type[nn.Module]] = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}


def _make_layer(
    block: type[nn.Module],
    in_channels: int,
    out_channels: int,
    num_blocks: int,
    stride: int = 1,
    with_cp: bool = False,
) -> nn.Sequential:
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(_conv(in_channels, out_channels, 1, stride), _bn(out_channels))
    layers = [block(in_channels, out_channels, stride, downsample, with_cp)]
    layers += [block(out_channels, out_channels, 1, None, with_cp) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """Parallel branches at decreasing resolutions, then all-to-all fusion.

    Fusion into branch i: from a lower-resolution branch j > i a 1x1 conv + BN + nearest
    upsample by 2^(j-i); from a higher-resolution branch j < i, (i-j) stride-2 3x3 conv + BN
    (ReLU between, not after the last); the sum goes through ReLU.  With
    ``multiscale_output=False`` only branch 0 is output.
    """

    def __init__(
        self,
        num_branches: int,
        block: type[nn.Module],
        num_blocks: Sequence[int],
        in_channels: Sequence[int],
        num_channels: Sequence[int],
        multiscale_output: bool = True,
        with_cp: bool = False,
        upsample_mode: str = "nearest",
        align_corners: bool | None = None,
    ) -> None:
        super().__init__()
        if not (len(num_blocks) == len(in_channels) == len(num_channels) == num_branches):
            raise PoseConfigError(
                f"HRModule: num_branches={num_branches} but num_blocks={list(num_blocks)}, "
                f"in_channels={list(in_channels)}, num_channels={list(num_channels)}"
            )
        self.num_branches = num_branches
        self.multiscale_output = multiscale_output
        out_channels = [c * block.expansion for c in num_channels]
        self.branches = nn.ModuleList(
            _make_layer(block, in_channels[i], out_channels[i], num_blocks[i], 1, with_cp)
            for i in range(num_branches)
        )
        self.in_channels = out_channels
        self.fuse_layers = self._make_fuse_layers(upsample_mode, align_corners)
        self.relu = nn.ReLU(inplace=True)

    def _make_fuse_layers(self, mode: str, align_corners: bool | None) -> nn.ModuleList | None:
        if self.num_branches == 1:
            return None
        ch = self.in_channels
        n_out = self.num_branches if self.multiscale_output else 1
        fuse_layers = []
        for i in range(n_out):
            row: list[nn.Module | None] = []
            for j in range(self.num_branches):
                if j > i:
                    row.append(
                        nn.Sequential(
                            _conv(ch[j], ch[i], 1),
                            _bn(ch[i]),
                            nn.Upsample(
                                scale_factor=2 ** (j - i), mode=mode, align_corners=align_corners
                            ),
                        )
                    )
                elif j == i:
                    row.append(None)
                else:
                    steps = []
                    for k in range(i - j):
                        if k == i - j - 1:
                            steps.append(nn.Sequential(_conv(ch[j], ch[i], 3, 2), _bn(ch[i])))
                        else:
                            steps.append(
                                nn.Sequential(
                                    _conv(ch[j], ch[j], 3, 2), _bn(ch[j]), nn.ReLU(inplace=True)
                                )
                            )
                    row.append(nn.Sequential(*steps))
            fuse_layers.append(nn.ModuleList(row))
        return nn.ModuleList(fuse_layers)

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        x = [branch(xi) for branch, xi in zip(self.branches, x, strict=True)]
        if self.fuse_layers is None:
            return x
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = x[0] if i == 0 else row[0](x[0])
            for j in range(1, self.num_branches):
                y = y + (x[j] if i == j else row[j](x[j]))
            out.append(self.relu(y))
        return out


@MODELS.register_module()
class HRNet(nn.Module):
    """HRNet (Sun et al. 2019) as configured in MMPose.

    Args:
        extra: MMPose's ``extra`` dict with ``stage1..stage4``, each with ``num_modules``,
            ``num_branches``, ``block`` ('BASIC' or 'BOTTLENECK'), ``num_blocks`` and
            ``num_channels``; ``stage4`` may set ``multiscale_output``; optional
            ``upsample=dict(mode, align_corners)``.
        in_channels: image channels.
        norm_eval: keep BatchNorm layers in eval mode during training.
        with_cp: gradient checkpointing inside residual blocks (saves memory).
        frozen_stages: freeze the stem and stages 1..frozen_stages (-1: none).
        init_cfg: ``dict(type='Pretrained', checkpoint=..., prefix=...)`` is honoured by
            :meth:`init_weights` through the toolkit's safe checkpoint loader.
        **ignored: MMPose options without effect here (``conv_cfg``, ``norm_cfg`` of type
            BN/SyncBN, ``zero_init_residual``) are accepted with a warning.
    """

    def __init__(
        self,
        extra: dict,
        in_channels: int = 3,
        norm_eval: bool = False,
        with_cp: bool = False,
        frozen_stages: int = -1,
        init_cfg: dict | list | None = None,
        **ignored,
    ) -> None:
        super().__init__()
        norm = (ignored.pop("norm_cfg", None) or {}).get("type", "BN")
        if norm not in ("BN", "SyncBN", "BN2d"):
            raise PoseConfigError(f"HRNet: norm_cfg type {norm!r} is not supported (BN only)")
        ignored = {k: v for k, v in ignored.items() if v not in (None, False)}
        if ignored:
            warnings.warn(f"HRNet ignores options {sorted(ignored)}", stacklevel=2)
        self.extra = extra
        self.norm_eval = norm_eval
        self.frozen_stages = frozen_stages
        self.init_cfg = init_cfg
        up = extra.get("upsample", {"mode": "nearest", "align_corners": None})
        self._up = (up.get("mode", "nearest"), up.get("align_corners", None))

        self.conv1 = _conv(in_channels, 64, 3, 2)
        self.bn1 = _bn(64)
        self.conv2 = _conv(64, 64, 3, 2)
        self.bn2 = _bn(64)
        self.relu = nn.ReLU(inplace=True)

        s1 = extra["stage1"]
        block1 = self._block(s1)
        stage1_out = s1["num_channels"][0] * block1.expansion
        self.layer1 = _make_layer(block1, 64, stage1_out, s1["num_blocks"][0], 1, with_cp)

        pre = [stage1_out]
        for idx in (2, 3, 4):
            cfg = extra[f"stage{idx}"]
            block = self._block(cfg)
            channels = [c * block.expansion for c in cfg["num_channels"]]
            setattr(self, f"transition{idx - 1}", self._make_transition(pre, channels))
            multiscale = cfg.get("multiscale_output", False) if idx == 4 else True
            stage, pre = self._make_stage(cfg, channels, multiscale, with_cp)
            setattr(self, f"stage{idx}", stage)
        self._freeze()

    @staticmethod
    def _block(cfg: dict) -> type[nn.Module]:
        try:
            return BLOCKS[cfg["block"]]
        except KeyError:
            raise PoseConfigError(
                f"HRNet: unknown block {cfg.get('block')!r}; expected one of {sorted(BLOCKS)}"
            ) from None

    @staticmethod
    def _make_transition(pre: list[int], cur: list[int]) -> nn.ModuleList:
        layers: list[nn.Module | None] = []
        for i, c in enumerate(cur):
            if i < len(pre):
                if c != pre[i]:
                    layers.append(nn.Sequential(_conv(pre[i], c, 3), _bn(c), nn.ReLU(inplace=True)))
                else:
                    layers.append(None)
            else:
                steps = []
                for j in range(i + 1 - len(pre)):
                    cin = pre[-1]
                    cout = c if j == i - len(pre) else cin
                    steps.append(
                        nn.Sequential(_conv(cin, cout, 3, 2), _bn(cout), nn.ReLU(inplace=True))
                    )
                layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    def _make_stage(
        self, cfg: dict, in_channels: list[int], multiscale_output: bool, with_cp: bool
    ) -> tuple[nn.Sequential, list[int]]:
        block = self._block(cfg)
        modules = []
        for i in range(cfg["num_modules"]):
            last_single = (not multiscale_output) and i == cfg["num_modules"] - 1
            module = HRModule(
                cfg["num_branches"],
                block,
                cfg["num_blocks"],
                in_channels,
                cfg["num_channels"],
                multiscale_output=not last_single,
                with_cp=with_cp,
                upsample_mode=self._up[0],
                align_corners=self._up[1],
            )
            modules.append(module)
            in_channels = module.in_channels
        return nn.Sequential(*modules), in_channels

    def _freeze(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen: list[nn.Module] = [self.conv1, self.bn1, self.conv2, self.bn2]
        for i in range(1, self.frozen_stages + 1):
            frozen.append(self.layer1 if i == 1 else getattr(self, f"stage{i}"))
            if i < 4:
                frozen.append(getattr(self, f"transition{i}"))
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def init_weights(self) -> None:
        """Kaiming-normal convs, unit BN; or load ``init_cfg`` Pretrained (safe loader)."""
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg]
        pretrained = [c for c in cfgs if c and c.get("type") == "Pretrained"]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1.0)
                nn.init.constant_(m.bias, 0.0)
        for cfg in pretrained:
            from opencapbench.pose.checkpoint import load_pretrained

            load_pretrained(self, cfg["checkpoint"], prefix=cfg.get("prefix"))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = [self.layer1(x)]
        for idx in (2, 3, 4):
            transition = getattr(self, f"transition{idx - 1}")
            xs = []
            for i, t in enumerate(transition):
                src = ys[i] if i < len(ys) else ys[-1]
                xs.append(src if t is None else t(src))
            ys = getattr(self, f"stage{idx}")(xs)
        return tuple(ys)

    def train(self, mode: bool = True) -> HRNet:
        super().train(mode)
        self._freeze()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self
