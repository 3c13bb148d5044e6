"""``darts_net``: the CIFAR network built from a genotype, for retraining a searched cell.

Structure from the official DARTS code (``quark0/darts``, ``cnn/model.py``, ``NetworkCIFAR``;
digest §1.4): a 3×3 stem to ``stem_multiplier · channels`` channels, ``cells`` cells built from
the genotype with reduction cells at ⌊cells/3⌋ and ⌊2·cells/3⌋, an optional auxiliary classifier
after the second reduction cell (training only), global average pooling and a linear classifier.
Drop-path zeroes a whole non-identity edge per sample with probability ``drop_path_prob`` during
training (the ``darts_retrain`` term ramps it linearly over the epochs, as the official script).
DARTS's CIFAR evaluation setting is ``cells=20, channels=36, auxiliary=True, drop_path=0.2``.

In training mode with ``auxiliary=True`` the forward returns the main logits and stores the
auxiliary logits in ``aux_logits`` (the ``darts_retrain`` term adds their loss), so the network
stays a plain ``x -> logits`` module for evaluation, export and every other stage.

Example:
    >>> import torch
    >>> net = darts_net(num_classes=10, genotype="darts_v2", cells=3, channels=8)
    >>> tuple(net.eval()(torch.randn(2, 3, 32, 32)).shape)
    (2, 10)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from slimkit.nas.genotype import Genotype, resolve_genotype
from slimkit.nas.layout import CellShape, cell_layout, preprocess, reduction_layers, stem
from slimkit.nas.ops import make_op

__all__ = ["AuxiliaryHead", "DartsNet", "GenotypeCell", "darts_net", "darts_net_tiny", "drop_path"]


def drop_path(x: torch.Tensor, prob: float) -> torch.Tensor:
    """Zero whole samples of ``x`` with probability ``prob``, scaling the kept ones by 1/(1-p)."""
    keep = 1.0 - prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class GenotypeCell(nn.Module):
    """A derived cell: two ops per node, as the genotype lists them."""

    def __init__(self, genotype: Genotype, shape: CellShape) -> None:
        super().__init__()
        reduction, channels = shape.reduction, shape.channels
        self.reduction = reduction
        self.preprocess0, self.preprocess1 = preprocess(shape, affine=True)
        nodes = genotype.reduce if reduction else genotype.normal
        self.concat = list(genotype.reduce_concat if reduction else genotype.normal_concat)
        self.sources = [src for node in nodes for _, src in node]
        self.names = [op for node in nodes for op, _ in node]
        self.ops = nn.ModuleList(
            make_op(op, channels, stride=2 if reduction and src < 2 else 1, affine=True)
            for op, src in zip(self.names, self.sources, strict=True)
        )
        self.multiplier = len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(0, len(self.ops), 2):
            pair = []
            for k in (i, i + 1):
                h = self.ops[k](states[self.sources[k]])
                if self.training and drop_prob > 0 and not isinstance(self.ops[k], nn.Identity):
                    h = drop_path(h, drop_prob)
                pair.append(h)
            states.append(pair[0] + pair[1])
        return torch.cat([states[k] for k in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """The DARTS CIFAR auxiliary classifier for 8×8 feature maps."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),  # 8x8 -> 2x2
            nn.Conv2d(channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),  # 2x2 -> 1x1
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class DartsNet(nn.Module):
    """A network of genotype cells (see the module docstring for the arguments' roles)."""

    def __init__(
        self,
        genotype: Genotype,
        num_classes: int = 10,
        in_channels: int = 3,
        cells: int = 20,
        channels: int = 36,
        stem_multiplier: int = 3,
        auxiliary: bool = False,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if cells < 1 or channels < 2 or channels % 2:
            raise ValueError(
                f"darts_net: cells >= 1 and even channels >= 2 needed, got "
                f"cells={cells}, channels={channels}"
            )
        if not 0.0 <= drop_path < 1.0:
            raise ValueError(f"darts_net: drop_path must be in [0, 1), got {drop_path}")
        self.genotype = genotype
        self.drop_path_max = drop_path
        self.drop_path_prob = drop_path
        self.aux_logits: torch.Tensor | None = None
        c_stem = stem_multiplier * channels
        self.stem = stem(in_channels, c_stem)
        multiplier = (len(genotype.normal_concat), len(genotype.reduce_concat))
        shapes = cell_layout(cells, channels, c_stem, multiplier)
        self.cells = nn.ModuleList(GenotypeCell(genotype, shape) for shape in shapes)
        self.aux_after = reduction_layers(cells)[1] if auxiliary else None
        # the auxiliary head reads the output of the second reduction cell
        c_aux = multiplier[1] * shapes[reduction_layers(cells)[1]].channels
        c_prev = multiplier[int(shapes[-1].reduction)] * shapes[-1].channels
        self.auxiliary_head = AuxiliaryHead(c_aux, num_classes) if auxiliary else None
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        self.aux_logits = None
        for index, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if index == self.aux_after and self.training and self.auxiliary_head is not None:
                self.aux_logits = self.auxiliary_head(s1)
        return self.classifier(F.adaptive_avg_pool2d(s1, 1).flatten(1))


def darts_net(
    num_classes: int = 10,
    in_channels: int = 3,
    *,
    genotype: str | dict[str, Any] = "darts_v2",
    cells: int = 20,
    channels: int = 36,
    stem_multiplier: int = 3,
    auxiliary: bool = False,
    drop_path: float = 0.0,
) -> DartsNet:
    """The registered zoo builder ``darts_net``.

    Args:
        genotype: a named genotype (``darts_v1``, ``darts_v2``), a ``genotype.json`` path, or
            the genotype's dict form (what a ``search`` stage records, so artifacts rebuild
            without the file).
        cells, channels, stem_multiplier, auxiliary, drop_path: see :class:`DartsNet`.
    """
    return DartsNet(
        resolve_genotype(genotype),
        num_classes=num_classes,
        in_channels=in_channels,
        cells=cells,
        channels=channels,
        stem_multiplier=stem_multiplier,
        auxiliary=auxiliary,
        drop_path=drop_path,
    )


def darts_net_tiny(num_classes: int = 10, in_channels: int = 3) -> DartsNet:
    """DARTS-V2 cells, 3 cells of 4 channels, for tests (the zoo's ``darts_net_tiny``)."""
    return darts_net(num_classes, in_channels, genotype="darts_v2", cells=3, channels=4)
