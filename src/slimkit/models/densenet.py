"""DenseNet and DenseNet-BC for CIFAR (Huang et al. 2017), concatenation via ``torch.cat``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from slimkit.models.init import init_weights
from slimkit.models.registry import forwards_to

__all__ = ["DenseLayer", "DenseNet", "Transition", "densenet_cifar"]


class DenseLayer(nn.Module):
    """[BN-ReLU-conv1x1 (bottleneck)] BN-ReLU-conv3x3, output concatenated to the input.

    Args:
        in_channels: Input channels.
        growth: New channels added (``conv2`` output).
        bottleneck_width: ``conv1`` (1x1) output channels, or ``None`` for no bottleneck.

    Example:
        >>> import torch
        >>> DenseLayer(16, 12)(torch.randn(1, 16, 8, 8)).shape
        torch.Size([1, 28, 8, 8])
    """

    def __init__(self, in_channels: int, growth: int, bottleneck_width: int | None = None) -> None:
        super().__init__()
        self.bottleneck = bottleneck_width is not None
        width = in_channels
        if bottleneck_width is not None:
            self.bn1 = nn.BatchNorm2d(in_channels)
            self.relu1 = nn.ReLU()
            self.conv1 = nn.Conv2d(in_channels, bottleneck_width, 1, bias=False)
            width = bottleneck_width
        self.bn2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(width, growth, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.bottleneck:
            out = self.conv1(self.relu1(self.bn1(out)))
        out = self.conv2(self.relu2(self.bn2(out)))
        return torch.cat([x, out], dim=1)  # (N, C_in + growth, H, W)


class Transition(nn.Module):
    """BN-ReLU-conv1x1-avgpool2 between dense blocks.

    Args:
        in_channels: Input channels.
        out_channels: Output channels (``in_channels * compression`` by default in DenseNet).

    Example:
        >>> import torch
        >>> Transition(16, 8)(torch.randn(1, 16, 8, 8)).shape
        torch.Size([1, 8, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(self.relu(self.bn(x))))


class DenseNet(nn.Module):
    """CIFAR DenseNet: 3x3 stem, dense blocks separated by transitions, BN-ReLU, pool, ``fc``.

    Every width is explicit: the defaults derive from ``growth_rate``, ``bottleneck`` and
    ``compression``; a pruned model passes the per-layer lists.

    Args:
        block_layers: Dense layers per block, e.g. ``(12, 12, 12)`` for DenseNet-40.
        growth_rate: Default growth ``k`` of every layer.
        stem_width: Output channels of the stem conv (16; ``2k`` for DenseNet-BC).
        bottleneck: Use BN-ReLU-conv1x1 (``4k`` wide) before each 3x3 conv (the "B" in BC).
        compression: Transition output = ``floor(compression * in)`` (0.5 for the "C" in BC).
        growth_rates: Growth of every layer, in order (length ``sum(block_layers)``).
        bottleneck_widths: 1x1 width of every layer, in order (only with ``bottleneck``).
        transition_widths: Output widths of the ``len(block_layers) - 1`` transitions.
        num_classes: Classifier outputs.
        in_channels: Input image channels.

    Example:
        >>> import torch
        >>> DenseNet(block_layers=(1, 1), growth_rate=4, stem_width=8)(
        ...     torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        block_layers: Sequence[int] = (12, 12, 12),
        growth_rate: int = 12,
        stem_width: int = 16,
        bottleneck: bool = False,
        compression: float = 1.0,
        growth_rates: Sequence[int] | None = None,
        bottleneck_widths: Sequence[int] | None = None,
        transition_widths: Sequence[int] | None = None,
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        block_layers = list(block_layers)
        total = sum(block_layers)
        if not block_layers or min(block_layers) < 1:
            raise ValueError(f"block_layers={block_layers} is invalid; use positive layer counts")
        if not 0.0 < compression <= 1.0:
            raise ValueError(f"compression={compression} is invalid; use 0 < compression <= 1")
        growths = [growth_rate] * total if growth_rates is None else [int(g) for g in growth_rates]
        if len(growths) != total:
            raise ValueError(f"growth_rates has {len(growths)} entries; expected {total}")
        bnecks: list[int | None] = [None] * total
        if bottleneck:
            bnecks = (
                [4 * g for g in growths]
                if bottleneck_widths is None
                else [int(w) for w in bottleneck_widths]
            )
            if len(bnecks) != total:
                raise ValueError(f"bottleneck_widths has {len(bnecks)} entries; expected {total}")
        elif bottleneck_widths is not None:
            raise ValueError("bottleneck_widths is set but bottleneck=False; set bottleneck=True")

        self.block_layers = block_layers
        self.growth_rate = growth_rate
        self.stem_width = stem_width
        self.bottleneck = bottleneck
        self.compression = compression
        self.growth_rates = growths

        self.conv1 = nn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=False)
        width, k = stem_width, 0
        trans_out: list[int] = []
        for b, layers in enumerate(block_layers):
            block = []
            for _ in range(layers):
                block.append(DenseLayer(width, growths[k], bnecks[k]))
                width, k = width + growths[k], k + 1
            self.add_module(f"block{b + 1}", nn.Sequential(*block))
            if b < len(block_layers) - 1:
                out = int(width * compression)
                if transition_widths is not None:
                    if len(transition_widths) != len(block_layers) - 1:
                        raise ValueError(
                            f"transition_widths has {len(transition_widths)} entries; "
                            f"expected {len(block_layers) - 1}"
                        )
                    out = int(transition_widths[b])
                self.add_module(f"trans{b + 1}", Transition(width, out))
                trans_out.append(out)
                width = out
        self.transition_widths = trans_out
        self.bottleneck_widths = [w for w in bnecks if w is not None]
        self.bn = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(width, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        for b in range(len(self.block_layers)):
            x = getattr(self, f"block{b + 1}")(x)
            if b < len(self.block_layers) - 1:
                x = getattr(self, f"trans{b + 1}")(x)
        x = self.relu(self.bn(x))
        return self.fc(self.flatten(self.avgpool(x)))  # (N, C, 1, 1) -> (N, C) -> (N, classes)


@forwards_to(DenseNet)
def densenet_cifar(depth: int, growth_rate: int = 12, bc: bool = False, **kwargs: Any) -> DenseNet:
    """DenseNet (``bc=False``, depth 3n+4) or DenseNet-BC (``bc=True``, depth 6n+4) with 3 blocks.

    Args:
        depth: Network depth.
        growth_rate: Growth ``k``.
        bc: Bottleneck layers and compression 0.5 (stem ``2k``) instead of plain layers (stem 16).
        **kwargs: Further :class:`DenseNet` arguments.

    Returns:
        The model.

    Example:
        >>> densenet_cifar(40).block_layers
        [12, 12, 12]
    """
    per = 6 if bc else 3
    if depth < 4 + per or (depth - 4) % per != 0:
        form = "6n+4" if bc else "3n+4"
        raise ValueError(f"depth={depth} is invalid for DenseNet{'-BC' if bc else ''}; use {form}")
    n = (depth - 4) // per
    kwargs.setdefault("stem_width", 2 * growth_rate if bc else 16)
    if bc:
        kwargs.setdefault("bottleneck", True)
        kwargs.setdefault("compression", 0.5)
    return DenseNet(block_layers=(n, n, n), growth_rate=growth_rate, **kwargs)


@forwards_to(densenet_cifar)
def densenet40(**kwargs: Any) -> DenseNet:
    """DenseNet-40 (k=12): 3 blocks of 12 plain layers.

    Example:
        >>> densenet40().growth_rate
        12
    """
    return densenet_cifar(40, **kwargs)


@forwards_to(densenet_cifar)
def densenet_bc100(**kwargs: Any) -> DenseNet:
    """DenseNet-BC-100 (k=12): 3 blocks of 16 bottleneck layers, compression 0.5.

    Example:
        >>> densenet_bc100().block_layers
        [16, 16, 16]
    """
    return densenet_cifar(100, bc=True, **kwargs)


@forwards_to(densenet_cifar)
def densenet_tiny(**kwargs: Any) -> DenseNet:
    """Tiny DenseNet: depth 10 (2 plain layers per block), growth 4, stem 8.

    Example:
        >>> densenet_tiny().block_layers
        [2, 2, 2]
    """
    kwargs.setdefault("growth_rate", 4)
    kwargs.setdefault("stem_width", 8)
    return densenet_cifar(10, **kwargs)


@forwards_to(densenet_cifar)
def densenet_bc_tiny(**kwargs: Any) -> DenseNet:
    """Tiny DenseNet-BC: depth 16 (2 bottleneck layers per block), growth 4, compression 0.5.

    Example:
        >>> densenet_bc_tiny().bottleneck
        True
    """
    kwargs.setdefault("growth_rate", 4)
    return densenet_cifar(16, bc=True, **kwargs)
