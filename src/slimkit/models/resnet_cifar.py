"""CIFAR ResNet with basic blocks (He et al. 2016, depth 6n+2), shortcut option A or B."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from slimkit.models.init import init_weights
from slimkit.models.pad_shortcut import PadShortcut
from slimkit.models.registry import forwards_to

__all__ = ["BasicBlock", "CifarResNet", "cifar_resnet"]

_SHORTCUTS = ("A", "B")


class BasicBlock(nn.Module):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN, plus shortcut, then ReLU.

    Args:
        in_channels: Input (residual) channels.
        mid_channels: Output channels of ``conv1`` (the block-internal width).
        out_channels: Output (residual) channels.
        stride: Stride of ``conv1`` (and of the shortcut).
        shortcut: ``"A"`` (parameter-free :class:`PadShortcut` in ``self.shortcut``) or ``"B"``
            (``self.downsample = Sequential(conv1x1, BN)``) where the shapes change.

    Example:
        >>> import torch
        >>> BasicBlock(16, 16, 32, stride=2)(torch.randn(1, 16, 8, 8)).shape
        torch.Size([1, 32, 4, 4])
    """

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        stride: int = 1,
        shortcut: str = "B",
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(mid_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.downsample: nn.Module | None = None
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            if shortcut == "A":
                self.shortcut = PadShortcut(in_channels, out_channels, stride)
            else:
                self.downsample = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        if self.downsample is not None:
            identity = self.downsample(x)
        elif self.shortcut is not None:
            identity = self.shortcut(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu2(out + identity)


class CifarResNet(nn.Module):
    """CIFAR ResNet: 3x3 stem, stages of basic blocks, global average pool, ``fc``.

    Attribute names follow the common CIFAR layout: ``conv1``, ``bn1``, ``layer1..layerN``
    (``nn.Sequential`` of :class:`BasicBlock`), ``fc``. Stage ``i > 0`` starts with stride 2.

    Args:
        num_blocks: Blocks per stage, e.g. ``(3, 3, 3)`` for ResNet-20.
        widths: Residual width of each stage; the stem outputs ``widths[0]`` channels.
        mid_widths: ``conv1`` output channels of every block, in order (length
            ``sum(num_blocks)``); default: the stage width.
        shortcut: ``"A"`` (zero-padding, parameter-free) or ``"B"`` (1x1 conv + BN projection).
        num_classes: Classifier outputs.
        in_channels: Input image channels.

    Example:
        >>> import torch
        >>> model = CifarResNet(num_blocks=(1, 1, 1), widths=(4, 8, 16))
        >>> model(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        num_blocks: Sequence[int] = (3, 3, 3),
        widths: Sequence[int] = (16, 32, 64),
        mid_widths: Sequence[int] | None = None,
        shortcut: str = "B",
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        num_blocks, widths = list(num_blocks), list(widths)
        if shortcut not in _SHORTCUTS:
            raise ValueError(f"shortcut={shortcut!r} is invalid; allowed: 'A', 'B'")
        if len(num_blocks) != len(widths) or not num_blocks:
            raise ValueError(
                f"num_blocks={num_blocks} and widths={widths} must be non-empty and of equal length"
            )
        total = sum(num_blocks)
        mids = list(mid_widths) if mid_widths is not None else []
        if mid_widths is None:
            for blocks, width in zip(num_blocks, widths, strict=True):
                mids += [width] * blocks
        if len(mids) != total:
            raise ValueError(
                f"mid_widths has {len(mids)} entries; expected one per block ({total})"
            )
        self.num_blocks = num_blocks
        self.widths = widths
        self.mid_widths = mids
        self.shortcut = shortcut

        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        in_width, k = widths[0], 0
        for stage, (blocks, width) in enumerate(zip(num_blocks, widths, strict=True)):
            layers = []
            for i in range(blocks):
                stride = 2 if (stage > 0 and i == 0) else 1
                layers.append(BasicBlock(in_width, mids[k], width, stride, shortcut))
                in_width, k = width, k + 1
            self.add_module(f"layer{stage + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(in_width, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        for stage in range(len(self.num_blocks)):
            x = getattr(self, f"layer{stage + 1}")(x)
        return self.fc(self.flatten(self.avgpool(x)))  # (N, C, H, W) -> (N, C) -> (N, classes)


@forwards_to(CifarResNet)
def cifar_resnet(depth: int, **kwargs: Any) -> CifarResNet:
    """CIFAR ResNet of ``depth = 6n + 2`` (n basic blocks per stage).

    Args:
        depth: Total depth; ``(depth - 2) % 6 == 0``.
        **kwargs: Further :class:`CifarResNet` arguments (``shortcut``, ``widths``, ...).

    Returns:
        The model.

    Example:
        >>> cifar_resnet(20).num_blocks
        [3, 3, 3]
    """
    if depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"depth={depth} is invalid for a CIFAR ResNet; use 6n+2 (8, 14, 20, ...)")
    n = (depth - 2) // 6
    return CifarResNet(num_blocks=(n, n, n), **kwargs)


def _depth_builder(depth: int) -> Callable[..., CifarResNet]:
    @forwards_to(CifarResNet)
    def build(**kwargs: Any) -> CifarResNet:
        return cifar_resnet(depth, **kwargs)

    build.__name__ = build.__qualname__ = f"resnet{depth}"
    build.__doc__ = f"CIFAR ResNet-{depth} (basic blocks, widths 16/32/64)."
    return build


# the zoo builders (declared by name in slimkit.builtins)
resnet20 = _depth_builder(20)
resnet32 = _depth_builder(32)
resnet44 = _depth_builder(44)
resnet56 = _depth_builder(56)
resnet110 = _depth_builder(110)


@forwards_to(CifarResNet)
def resnet8_tiny(**kwargs: Any) -> CifarResNet:
    """Tiny ResNet-8 (one block per stage, widths 4/8/16, option-B shortcut) for fast tests.

    Example:
        >>> sum(p.numel() for p in resnet8_tiny().parameters()) < 30_000
        True
    """
    kwargs.setdefault("widths", (4, 8, 16))
    return cifar_resnet(8, **kwargs)


@forwards_to(CifarResNet)
def resnet8a_tiny(**kwargs: Any) -> CifarResNet:
    """Tiny ResNet-8 with the parameter-free option-A shortcut, for fast tests.

    Example:
        >>> resnet8a_tiny().layer2[0].shortcut
        PadShortcut(4, 8, stride=2)
    """
    kwargs.setdefault("widths", (4, 8, 16))
    kwargs.setdefault("shortcut", "A")
    return cifar_resnet(8, **kwargs)
