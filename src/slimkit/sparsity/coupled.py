"""Scale vectors of coupled channels: the groups of the ``coupled`` and ``block`` groupings of
``bn_sparsity`` (issue: a residual-coupled channel only goes when every coupled BN scale is 0).

With ``grouping: coupled`` a channel of a coupled group (:func:`slimkit.surgery.channel_groups`:
the BNs of a residual stream, a concatenation's consumers, ...) is one group of the penalty: the
vector of its scales in every coupled BN. A group penalty (``group_l21``: block soft
thresholding; ``l1_l21``, ``l0_l21``: sparse group) then makes the whole vector exactly zero at
once, so the ``zeros`` rule removes the channel. With ``grouping: block`` the ``block``
consecutive channels of a coupled group form one group, so the zeros land in whole hardware
blocks (``round_to`` of the prune stage). Scales of BNs in no prunable group stay groups of one
(their group penalty is the elementwise one). Our reconstruction of the issue's request; the
papers regularize each scale alone.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> from slimkit.sparsity.bn_scale import bn_layers
    >>> model = build_model("resnet20")
    >>> names = [n for n, _ in bn_layers(model)]
    >>> [tuple(u.shape) for u in coupled_units(model, (3, 32, 32), names, "coupled")]
    [(336, 1), (112, 4)]
    >>> [tuple(u.shape) for u in coupled_units(model, (3, 32, 32), names, "block", block=8)]
    [(42, 8), (14, 32)]
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

__all__ = ["coupled_units", "scale_positions"]


def scale_positions(
    model: nn.Module, input_size: tuple[int, int, int], bn_names: list[str]
) -> tuple[nn.Module, list[Any], list[torch.Tensor], int]:
    """The channel groups of a prune-ready copy of ``model`` and, for each, the positions of its
    BN channels in the concatenated scale vector (BNs in ``bn_names`` order).

    Returns:
        ``(copy, groups, index, size)``: the contiguous eval copy (option-A shortcuts converted,
        as the prune stage does), its :func:`slimkit.surgery.channel_groups`, per group a
        ``(num_bn, group size)`` long tensor (``-1`` where a BN does not hold the channel or is
        not in ``bn_names``), and the length of the scale vector.
    """
    from slimkit.models import PadShortcut, shortcut_a_to_b
    from slimkit.surgery import channel_groups

    work = copy.deepcopy(model).cpu().eval().to(memory_format=torch.contiguous_format)
    if any(isinstance(m, PadShortcut) for m in work.modules()):
        work = shortcut_a_to_b(work)  # what the prune stage does first
    modules = dict(work.named_modules())
    offsets, total = {}, 0
    for name in bn_names:
        offsets[name] = total
        total += modules[name].weight.numel()
    groups = channel_groups(work, torch.zeros(1, *input_size))
    index = [
        torch.tensor(
            [
                [offsets[bn] + c if c >= 0 and bn in offsets else -1 for c in channels]
                for bn, channels in zip(group.bn_names, group.bn_channels, strict=True)
            ],
            dtype=torch.long,
        ).reshape(-1, group.size)
        for group in groups
    ]
    return work, groups, index, total


def coupled_units(
    model: nn.Module,
    input_size: tuple[int, int, int],
    bn_names: list[str],
    grouping: str,
    block: int = 8,
) -> list[torch.Tensor]:
    """Positions in the concatenated scale vector (BNs in ``bn_names`` order) of every group of
    the penalty, as one ``(groups, n)`` long tensor per group size ``n``.

    Args:
        model: The network (copied; not modified).
        input_size: ``(C, H, W)`` of one input, for tracing.
        bn_names: The regularized BNs, in the order their scales are concatenated.
        grouping: ``"coupled"`` (one group per coupled channel) or ``"block"`` (``block``
            consecutive channels of a coupled group per group).
        block: Channels per group with ``"block"``.
    """
    _, groups, index, total = scale_positions(model, input_size, bn_names)
    covered = torch.zeros(total, dtype=torch.bool)
    units: list[list[int]] = []
    for group, positions in zip(groups, index, strict=True):
        per_channel = [[int(p) for p in column if p >= 0] for column in positions.t()]
        step = block if grouping == "block" else 1
        for start in range(0, group.size, step):
            unit = sorted({p for channel in per_channel[start : start + step] for p in channel})
            if unit:
                units.append(unit)
    for unit in units:
        covered[unit] = True
    units += [[int(p)] for p in torch.nonzero(~covered).flatten()]
    by_size: dict[int, list[list[int]]] = {}
    for unit in units:
        by_size.setdefault(len(unit), []).append(unit)
    return [torch.tensor(rows, dtype=torch.long) for _, rows in sorted(by_size.items())]
