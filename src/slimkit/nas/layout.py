"""The macro-structure the DARTS supernet and ``darts_net`` share ([code], ``quark0/darts``):
stem, where the reduction cells sit, each cell's channel counts, and the cell-input preprocessing.

Example:
    >>> [(c.c_prev_prev, c.c_prev, c.channels, c.reduction) for c in cell_layout(3, 8, 24, (4, 4))]
    [(24, 24, 8, False), (24, 32, 16, True), (32, 64, 32, True)]
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from slimkit.nas.ops import FactorizedReduce, ReLUConvBN

__all__ = ["CellShape", "cell_layout", "preprocess", "reduction_layers", "stem"]


def reduction_layers(cells: int) -> tuple[int, ...]:
    """Indices of the reduction cells: ⌊cells/3⌋ and ⌊2·cells/3⌋ (DARTS)."""
    return (cells // 3, 2 * cells // 3)


@dataclass(frozen=True)
class CellShape:
    """Channel counts of one cell: its two inputs, its node width, and whether it (or the cell
    before it) halves the resolution."""

    c_prev_prev: int
    c_prev: int
    channels: int
    reduction: bool
    reduction_prev: bool


def cell_layout(
    cells: int, channels: int, stem_channels: int, multiplier: tuple[int, int]
) -> list[CellShape]:
    """Shapes of ``cells`` cells: widths double at each reduction cell; a cell outputs
    ``multiplier[reduction] · channels`` (its concatenated nodes)."""
    shapes, c_prev_prev, c_prev, width, reduction_prev = (
        [],
        stem_channels,
        stem_channels,
        channels,
        False,
    )
    for index in range(cells):
        reduction = index in reduction_layers(cells)
        if reduction:
            width *= 2
        shapes.append(CellShape(c_prev_prev, c_prev, width, reduction, reduction_prev))
        c_prev_prev, c_prev = c_prev, multiplier[int(reduction)] * width
        reduction_prev = reduction
    return shapes


def stem(in_channels: int, channels: int) -> nn.Sequential:
    """3×3 conv + BN (affine, also in the supernet)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
    )


def preprocess(shape: CellShape, affine: bool) -> tuple[nn.Module, nn.Module]:
    """The two input adapters of a cell: the older input is halved (FactorizedReduce) when the
    previous cell reduced, else a 1×1 ReLU-conv-BN; the newer input is always a 1×1."""
    first = (
        FactorizedReduce(shape.c_prev_prev, shape.channels, affine=affine)
        if shape.reduction_prev
        else ReLUConvBN(shape.c_prev_prev, shape.channels, 1, 1, 0, affine=affine)
    )
    return first, ReLUConvBN(shape.c_prev, shape.channels, 1, 1, 0, affine=affine)
