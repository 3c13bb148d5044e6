"""The DARTS search supernet: every edge of a cell is a softmax(α)-weighted sum of all ops.

Structure from the official DARTS code (``quark0/darts``, ``cnn/model_search.py``; digest §1.4):
a 3×3 stem conv to ``stem_multiplier · channels`` channels, ``cells`` cells with reduction cells
at depths ⌊cells/3⌋ and ⌊2·cells/3⌋ (channels double there), each cell with two preprocessed
inputs, ``steps`` intermediate nodes (every node sums one mixed edge from each earlier node and
input: 14 edges for 4 nodes) and an output that concatenates the last ``multiplier`` nodes;
global average pooling and a linear classifier. BN is non-affine in the supernet.

α lives in the module (``alphas``, a ParameterDict with ``normal`` and ``reduce`` of shape
(edges, 8), initialised ``1e-3 · N(0, 1)`` as in the official code) so that it is saved with the
model; :meth:`DartsSupernet.weight_parameters` and :meth:`DartsSupernet.arch_parameters` split
the two sets for the weight and the α optimizers. Two supernets can share one α by assigning
the same ParameterDict (RARTS's two weight copies).

Example:
    >>> import torch
    >>> net = DartsSupernet(num_classes=10, cells=3, channels=4)
    >>> tuple(net(torch.randn(2, 3, 32, 32)).shape), tuple(net.alphas["normal"].shape)
    ((2, 10), (14, 8))
    >>> len(list(net.arch_parameters()))
    2
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from slimkit.nas.genotype import Genotype, derive_genotype
from slimkit.nas.layout import CellShape, cell_layout, preprocess, stem
from slimkit.nas.ops import PRIMITIVES, make_op

__all__ = ["DartsSupernet", "MixedOp", "SearchCell", "darts_supernet", "darts_supernet_tiny"]


class MixedOp(nn.Module):
    """One edge: ``sum_k softmax(α)_k · op_k(x)`` over all candidate operations."""

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(
            make_op(name, channels, stride=stride, affine=False, bn_after_pool=True)
            for name in PRIMITIVES
        )

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        # weights: (len(PRIMITIVES),); each op maps (N, C, H, W) -> (N, C, H/s, W/s)
        return sum(w * op(x) for w, op in zip(weights, self.ops, strict=True))  # type: ignore[return-value]


class SearchCell(nn.Module):
    """A supernet cell: two preprocessed inputs, ``steps`` nodes of mixed edges."""

    def __init__(self, steps: int, multiplier: int, shape: CellShape) -> None:
        super().__init__()
        self.reduction = shape.reduction
        self.steps, self.multiplier = steps, multiplier
        self.preprocess0, self.preprocess1 = preprocess(shape, affine=False)
        self.edges = nn.ModuleList()
        for node in range(steps):
            for source in range(node + 2):
                stride = 2 if shape.reduction and source < 2 else 1
                self.edges.append(MixedOp(shape.channels, stride))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        # weights: (edges, ops), already softmaxed
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self.steps):
            node = sum(self.edges[offset + j](h, weights[offset + j]) for j, h in enumerate(states))
            offset += len(states)
            states.append(node)  # type: ignore[arg-type]
        # (N, multiplier·C, H, W): the last `multiplier` nodes side by side
        return torch.cat(states[-self.multiplier :], dim=1)


class DartsSupernet(nn.Module):
    """The DARTS CNN search network (see the module docstring).

    Args:
        num_classes: classifier outputs.
        in_channels: input image channels.
        cells: number of cells (DARTS search: 8).
        channels: initial cell channels C (DARTS search: 16).
        steps: intermediate nodes per cell (4 → 14 edges).
        multiplier: nodes concatenated into a cell's output (4).
        stem_multiplier: the stem has ``stem_multiplier · channels`` channels (3).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 3,
        cells: int = 8,
        channels: int = 16,
        steps: int = 4,
        multiplier: int = 4,
        stem_multiplier: int = 3,
    ) -> None:
        super().__init__()
        if cells < 1 or channels < 2 or channels % 2 or steps < 1:
            raise ValueError(
                f"DartsSupernet: cells >= 1, even channels >= 2 and steps >= 1 needed, got "
                f"cells={cells}, channels={channels}, steps={steps}"
            )
        if not 1 <= multiplier <= steps:
            raise ValueError(f"DartsSupernet: multiplier must be in 1..{steps}, got {multiplier}")
        self.steps, self.multiplier = steps, multiplier
        c_stem = stem_multiplier * channels
        self.stem = stem(in_channels, c_stem)
        shapes = cell_layout(cells, channels, c_stem, (multiplier, multiplier))
        self.cells = nn.ModuleList(SearchCell(steps, multiplier, shape) for shape in shapes)
        c_prev = multiplier * shapes[-1].channels
        self.classifier = nn.Linear(c_prev, num_classes)
        edges = steps * (steps + 3) // 2
        self.alphas = nn.ParameterDict(
            {
                "normal": nn.Parameter(1e-3 * torch.randn(edges, len(PRIMITIVES))),
                "reduce": nn.Parameter(1e-3 * torch.randn(edges, len(PRIMITIVES))),
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        normal = F.softmax(self.alphas["normal"], dim=-1)
        reduce = F.softmax(self.alphas["reduce"], dim=-1)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, reduce if cell.reduction else normal)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))

    def arch_parameters(self) -> Iterator[nn.Parameter]:
        """α of the normal and the reduction cell (the only tensors the α optimizer sees)."""
        yield self.alphas["normal"]
        yield self.alphas["reduce"]

    def weight_parameters(self) -> Iterator[nn.Parameter]:
        """Every learnable tensor but α."""
        arch = {id(p) for p in self.arch_parameters()}
        return (p for p in self.parameters() if id(p) not in arch)

    def genotype(self, skip_cap: int | None = None) -> Genotype:
        """The discrete cell derived from the current α (:func:`derive_genotype`)."""
        return derive_genotype(
            self.alphas["normal"].detach().cpu().numpy(),
            self.alphas["reduce"].detach().cpu().numpy(),
            skip_cap=skip_cap,
        )


def darts_supernet(num_classes: int = 10, in_channels: int = 3, **kwargs: int) -> DartsSupernet:
    """The registered zoo builder ``darts_supernet`` (kwargs as :class:`DartsSupernet`)."""
    return DartsSupernet(num_classes=num_classes, in_channels=in_channels, **kwargs)


def darts_supernet_tiny(num_classes: int = 10, in_channels: int = 3) -> DartsSupernet:
    """A 3-cell, 2-channel supernet for tests (the zoo's ``darts_supernet_tiny``)."""
    return DartsSupernet(num_classes=num_classes, in_channels=in_channels, cells=3, channels=2)
