"""Pre-activation Wide ResNet WRN-d-k for CIFAR (Zagoruyko & Komodakis 2016)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from slimkit.models.init import init_weights
from slimkit.models.registry import forwards_to

__all__ = ["WideBasicBlock", "WideResNet"]


class WideBasicBlock(nn.Module):
    """BN-ReLU-conv3x3(stride), BN-ReLU-dropout-conv3x3, plus shortcut.

    When the shape changes, the shortcut is a bias-free 1x1 conv (``downsample``) applied to the
    block's pre-activated input (as in the WRN reference design).

    Args:
        in_channels: Input (residual) channels.
        mid_channels: Output channels of ``conv1``.
        out_channels: Output (residual) channels.
        stride: Stride of ``conv1`` and of the projection.
        dropout: Dropout probability between the two convs.

    Example:
        >>> import torch
        >>> WideBasicBlock(16, 32, 32, stride=2)(torch.randn(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
    """

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        stride: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.relu2 = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(mid_channels, out_channels, 3, 1, 1, bias=False)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu1(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(pre)
        out = self.dropout(self.relu2(self.bn2(self.conv1(pre))))
        return self.conv2(out) + identity


class WideResNet(nn.Module):
    """WRN: 3x3 stem (16), three groups of wide blocks, BN-ReLU, global pool, ``fc``.

    Args:
        depth: Total depth, ``6n + 4`` (n blocks per group).
        widen_factor: ``k``; group widths are ``base_widths * k``.
        dropout: Dropout probability inside blocks.
        widths: Explicit group widths (overrides ``base_widths * widen_factor``).
        base_widths: Group widths before widening (16, 32, 64 in the paper).
        stem_width: Output channels of the stem conv.
        mid_widths: ``conv1`` output channels of every block, in order (length ``3n``).
        num_classes: Classifier outputs.
        in_channels: Input image channels.

    Example:
        >>> import torch
        >>> WideResNet(depth=10, widen_factor=1)(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        depth: int = 28,
        widen_factor: int = 10,
        dropout: float = 0.0,
        widths: Sequence[int] | None = None,
        base_widths: Sequence[int] = (16, 32, 64),
        stem_width: int = 16,
        mid_widths: Sequence[int] | None = None,
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(f"depth={depth} is invalid for a Wide ResNet; use 6n+4 (10, 16, ...)")
        if widen_factor < 1:
            raise ValueError(f"widen_factor={widen_factor} is invalid; use an integer >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout} is invalid; use 0 <= dropout < 1")
        n = (depth - 4) // 6
        group_widths = (
            [int(w) * widen_factor for w in base_widths] if widths is None else list(widths)
        )
        if len(group_widths) != 3:
            raise ValueError(f"widths={group_widths} is invalid; give 3 group widths")
        mids = (
            [w for w in group_widths for _ in range(n)] if mid_widths is None else list(mid_widths)
        )
        if len(mids) != 3 * n:
            raise ValueError(f"mid_widths has {len(mids)} entries; expected {3 * n}")
        self.depth = depth
        self.widen_factor = widen_factor
        self.dropout = dropout
        self.widths = group_widths
        self.stem_width = stem_width
        self.mid_widths = mids

        self.conv1 = nn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=False)
        width, k = stem_width, 0
        for g, group_width in enumerate(group_widths):
            blocks = []
            for i in range(n):
                stride = 2 if (g > 0 and i == 0) else 1
                blocks.append(WideBasicBlock(width, mids[k], group_width, stride, dropout))
                width, k = group_width, k + 1
            self.add_module(f"layer{g + 1}", nn.Sequential(*blocks))
        self.bn = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(width, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        x = self.relu(self.bn(x))
        return self.fc(self.flatten(self.avgpool(x)))  # (N, C, 1, 1) -> (N, C) -> (N, classes)


@forwards_to(WideResNet)
def wrn(**kwargs: Any) -> WideResNet:
    """Generic Wide ResNet builder (``depth``, ``widen_factor``, ``dropout`` kwargs).

    Example:
        >>> wrn(depth=16, widen_factor=2).widths
        [32, 64, 128]
    """
    return WideResNet(**kwargs)


def _fixed_builder(depth: int, widen: int) -> Callable[..., WideResNet]:
    @forwards_to(WideResNet)
    def build(**kwargs: Any) -> WideResNet:
        return WideResNet(depth=depth, widen_factor=widen, **kwargs)

    build.__name__ = build.__qualname__ = f"wrn{depth}_{widen}"
    build.__doc__ = f"Wide ResNet WRN-{depth}-{widen}."
    return build


# the zoo builders (declared by name in slimkit.builtins)
wrn16_2 = _fixed_builder(16, 2)
wrn16_4 = _fixed_builder(16, 4)
wrn28_10 = _fixed_builder(28, 10)


@forwards_to(WideResNet)
def wrn_tiny(**kwargs: Any) -> WideResNet:
    """Tiny WRN-10-1 with base widths 8/16/32 and stem 8, for fast tests.

    Example:
        >>> wrn_tiny().widths
        [8, 16, 32]
    """
    kwargs.setdefault("base_widths", (8, 16, 32))
    kwargs.setdefault("stem_width", 8)
    return WideResNet(depth=10, widen_factor=1, **kwargs)
