"""The eight candidate operations of the DARTS CNN cell space and their building blocks.

Operation set and block structure follow the official DARTS code (``quark0/darts``,
``cnn/operations.py``; digest ``sidt_rarts_eye.md`` §1.4): ``none``, ``max_pool_3x3``,
``avg_pool_3x3``, ``skip_connect``, ``sep_conv_3x3``, ``sep_conv_5x5``, ``dil_conv_3x3``,
``dil_conv_5x5``. A separable conv is two stacked ReLU → depthwise k×k → pointwise 1×1 → BN
blocks; a dilated conv is one ReLU → depthwise k×k (dilation 2) → pointwise → BN block. In a
search supernet BN is non-affine (``affine=False``), in a derived network affine.

Example:
    >>> import torch
    >>> op = make_op("sep_conv_3x3", 8, stride=2, affine=False)
    >>> tuple(op(torch.randn(2, 8, 16, 16)).shape)
    (2, 8, 8, 8)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from slimkit.nas.genotype import OPS

__all__ = [
    "PRIMITIVES",
    "DilConv",
    "FactorizedReduce",
    "ReLUConvBN",
    "SepConv",
    "Zero",
    "make_op",
]

PRIMITIVES = OPS  # the official order (torch-free, in genotype.py): α's columns follow it


class ReLUConvBN(nn.Sequential):
    """ReLU → k×k conv → BN (cell preprocessing and the stem of reductions)."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU → depthwise k×k (dilated) → pointwise 1×1 → BN."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False
            ),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked depthwise-separable blocks; only the first one strides."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class Zero(nn.Module):
    """The ``none`` operation: zeros of the output shape (stride 2 halves H and W)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """Halve H and W without losing half the pixels: two 1×1 stride-2 convs, the second on
    the input shifted by one pixel, concatenated along channels (``c_out`` must be even)."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce: c_out must be even, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        # (N, C, H, W) -> two (N, c_out/2, H/2, W/2) halves; the second sees pixels (1::2, 1::2)
        shifted = x[:, :, 1:, 1:]
        if shifted.shape[-1] % 2 or shifted.shape[-2] % 2:  # odd after the shift: pad back
            shifted = nn.functional.pad(shifted, (0, 1, 0, 1))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


def _pool(kind: str, c: int, stride: int, affine: bool, bn_after_pool: bool) -> nn.Module:
    pool: nn.Module = (
        nn.MaxPool2d(3, stride=stride, padding=1)
        if kind == "max"
        else nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    )
    # the search supernet follows each pooling op by a non-affine BN (official model_search.py)
    return nn.Sequential(pool, nn.BatchNorm2d(c, affine=False)) if bn_after_pool else pool


_BUILDERS: dict[str, Callable[[int, int, bool, bool], nn.Module]] = {
    "none": lambda c, s, a, b: Zero(s),
    "max_pool_3x3": lambda c, s, a, b: _pool("max", c, s, a, b),
    "avg_pool_3x3": lambda c, s, a, b: _pool("avg", c, s, a, b),
    "skip_connect": lambda c, s, a, b: nn.Identity() if s == 1 else FactorizedReduce(c, c, a),
    "sep_conv_3x3": lambda c, s, a, b: SepConv(c, c, 3, s, 1, a),
    "sep_conv_5x5": lambda c, s, a, b: SepConv(c, c, 5, s, 2, a),
    "dil_conv_3x3": lambda c, s, a, b: DilConv(c, c, 3, s, 2, 2, a),
    "dil_conv_5x5": lambda c, s, a, b: DilConv(c, c, 5, s, 4, 2, a),
}
assert tuple(_BUILDERS) == PRIMITIVES


def make_op(
    name: str, channels: int, *, stride: int, affine: bool, bn_after_pool: bool = False
) -> nn.Module:
    """Build the candidate operation ``name`` on ``channels`` channels.

    Args:
        name: one of :data:`PRIMITIVES`.
        channels: input and output channels.
        stride: 1, or 2 on the edges from the input nodes of a reduction cell.
        affine: learnable BN scale/shift (``False`` in the search supernet).
        bn_after_pool: follow pooling by a non-affine BN (the supernet's choice).

    Raises:
        ValueError: an unknown operation name (names the allowed ones).
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown operation {name!r}; expected one of {', '.join(PRIMITIVES)}")
    return _BUILDERS[name](channels, stride, affine, bn_after_pool)
