"""Pre-activation bottleneck ResNet for CIFAR (He et al. 2016, identity mappings), e.g. ResNet-164."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from slimkit.models.init import init_weights
from slimkit.models.registry import forwards_to

__all__ = ["PreActBottleneck", "PreActResNet"]


class PreActBottleneck(nn.Module):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3(stride), BN-ReLU-conv1x1, plus shortcut (no final ReLU).

    The projection shortcut (``downsample``: a bias-free 1x1 conv) is applied to the raw input,
    as in Network Slimming's pre-activation ResNet.

    Args:
        in_channels: Input (residual) channels.
        mid1: Output channels of ``conv1``.
        mid2: Output channels of ``conv2``.
        out_channels: Output (residual) channels.
        stride: Stride of ``conv2`` and of the projection.

    Example:
        >>> import torch
        >>> PreActBottleneck(16, 16, 16, 64)(torch.randn(1, 16, 8, 8)).shape
        torch.Size([1, 64, 8, 8])
    """

    def __init__(
        self, in_channels: int, mid1: int, mid2: int, out_channels: int, stride: int = 1
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_channels, mid1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid1)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(mid1, mid2, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid2)
        self.relu3 = nn.ReLU()
        self.conv3 = nn.Conv2d(mid2, out_channels, 1, bias=False)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.conv1(self.relu1(self.bn1(x)))
        out = self.conv2(self.relu2(self.bn2(out)))
        out = self.conv3(self.relu3(self.bn3(out)))
        return out + identity


class PreActResNet(nn.Module):
    """Pre-activation bottleneck ResNet: 3x3 stem, stages, final BN-ReLU, global pool, ``fc``.

    Args:
        num_blocks: Bottleneck blocks per stage (18 each for ResNet-164).
        planes: Bottleneck width of each stage (default inner widths).
        expansion: Residual width = ``planes * expansion``.
        stem_width: Output channels of the 3x3 stem conv.
        mid_widths: Per block ``(conv1_out, conv2_out)`` in order (length ``sum(num_blocks)``);
            default ``(planes, planes)``.
        num_classes: Classifier outputs.
        in_channels: Input image channels.

    Example:
        >>> import torch
        >>> model = PreActResNet(num_blocks=(1, 1, 1), planes=(2, 4, 8), stem_width=8)
        >>> model(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        num_blocks: Sequence[int] = (18, 18, 18),
        planes: Sequence[int] = (16, 32, 64),
        expansion: int = 4,
        stem_width: int = 16,
        mid_widths: Sequence[Sequence[int]] | None = None,
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        num_blocks, planes = list(num_blocks), list(planes)
        if len(num_blocks) != len(planes) or not num_blocks:
            raise ValueError(
                f"num_blocks={num_blocks} and planes={planes} must be non-empty and of equal length"
            )
        total = sum(num_blocks)
        if mid_widths is None:
            mids = [
                (p, p) for blocks, p in zip(num_blocks, planes, strict=True) for _ in range(blocks)
            ]
        else:
            mids = [tuple(int(w) for w in pair) for pair in mid_widths]
        if len(mids) != total or any(len(pair) != 2 for pair in mids):
            raise ValueError(
                f"mid_widths must hold {total} (conv1_out, conv2_out) pairs, got {list(mid_widths or [])}"
            )
        self.num_blocks = num_blocks
        self.planes = planes
        self.expansion = expansion
        self.stem_width = stem_width
        self.mid_widths = [list(pair) for pair in mids]

        self.conv1 = nn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=False)
        in_width, k = stem_width, 0
        for stage, (blocks, p) in enumerate(zip(num_blocks, planes, strict=True)):
            layers = []
            for i in range(blocks):
                stride = 2 if (stage > 0 and i == 0) else 1
                m1, m2 = mids[k]
                layers.append(PreActBottleneck(in_width, m1, m2, p * expansion, stride))
                in_width, k = p * expansion, k + 1
            self.add_module(f"layer{stage + 1}", nn.Sequential(*layers))
        self.bn = nn.BatchNorm2d(in_width)
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(in_width, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        for stage in range(len(self.num_blocks)):
            x = getattr(self, f"layer{stage + 1}")(x)
        x = self.relu(self.bn(x))
        return self.fc(self.flatten(self.avgpool(x)))  # (N, C, 1, 1) -> (N, C) -> (N, classes)


@forwards_to(PreActResNet)
def resnet164(**kwargs: Any) -> PreActResNet:
    """Pre-activation bottleneck ResNet-164: 18 blocks per stage, planes 16/32/64, expansion 4.

    Example:
        >>> resnet164().num_blocks
        [18, 18, 18]
    """
    return PreActResNet(num_blocks=(18, 18, 18), **kwargs)


@forwards_to(PreActResNet)
def resnet_bottleneck_tiny(**kwargs: Any) -> PreActResNet:
    """Tiny pre-activation bottleneck ResNet: 1 block per stage, planes 4/8/16, stem 8.

    Example:
        >>> sum(p.numel() for p in resnet_bottleneck_tiny().parameters()) < 30_000
        True
    """
    kwargs.setdefault("planes", (4, 8, 16))
    kwargs.setdefault("stem_width", 8)
    return PreActResNet(num_blocks=(1, 1, 1), **kwargs)
