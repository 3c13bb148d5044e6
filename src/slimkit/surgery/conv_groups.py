"""Grouped convolutions (ResNeXt, RegNet) pruned by whole groups.

A convolution with ``groups = n`` reads input channels ``[g*a, (g+1)*a)`` and writes output
channels ``[g*b, (g+1)*b)`` in its group ``g``. Removing single channels would leave groups of
unequal width, which ``nn.Conv2d`` cannot hold, so slimkit removes whole groups. One *unit* is
group ``g``'s input channels (in the channel group of the layers that produce them) together with
its output channels (in the channel group that holds the convolution's out-channels). Masking a
unit zeroes the coupled BN scales of both, so the group's output is exactly 0 before and after
surgery, which removes the group (``groups`` becomes ``n - 1``): the removal is exact.

A grouped convolution becomes units only when both of its channel groups are BN-prunable and it is
the only grouped convolution in each; otherwise its channels stay unprunable, as before.

torch-pruning narrows a grouped convolution's input as if every group lost the same input
channels; :func:`whole_groups` lets it prune a full-width stand-in weight instead and rebuilds the
convolution from the kept groups afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from slimkit.surgery.groups import ChannelGroup

__all__ = ["is_depthwise", "is_grouped_conv", "whole_group_units", "whole_groups"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def is_depthwise(module: nn.Module) -> bool:
    """A convolution with one group per channel (``groups == in == out``)."""
    return isinstance(module, _CONV) and module.groups == module.in_channels == module.out_channels


def is_grouped_conv(module: nn.Module) -> bool:
    """A convolution with ``groups > 1`` that is not depthwise (pruned by whole groups only).

    Example:
        >>> is_grouped_conv(nn.Conv2d(8, 8, 3, groups=4)), is_grouped_conv(nn.Conv2d(8, 8, 3, groups=8))
        (True, False)
    """
    return isinstance(module, _CONV) and module.groups > 1 and not is_depthwise(module)


def _units(group: ChannelGroup, conv_name: str, dim: str, width: int, n: int) -> list[list[int]]:
    """Group channels of each of the convolution's ``n`` groups (ordered by the convolution's
    channel), or ``[]`` when ``group`` does not hold each of its ``dim`` channels exactly once."""
    rows = [row for name, d, row in group.members if name == conv_name and d == dim]
    if len(rows) != 1:
        return []
    held = sorted((index, channel) for channel, index in enumerate(rows[0]) if index >= 0)
    if [index for index, _ in held] != list(range(n * width)):
        return []
    return [[channel for _, channel in held[g * width : (g + 1) * width]] for g in range(n)]


def whole_group_units(
    pending: Sequence[Any],
    convert: Callable[[Any, nn.Module], ChannelGroup | None],
    build: Callable[..., ChannelGroup],
    is_out: Callable[[Any], bool],
    names: dict[nn.Module, str],
) -> list[ChannelGroup]:
    """The whole-group units of every grouped convolution in the torch-pruning groups
    ``pending`` (those that hold a grouped convolution), one :class:`ChannelGroup` per
    convolution whose channel ``g`` is the convolution's group ``g``.

    Args:
        pending: torch-pruning groups that hold at least one grouped convolution.
        convert: ``(tp group, conv) -> ChannelGroup | None`` with that convolution allowed.
        build: ``(root, size, bn_rows, members) -> ChannelGroup`` (``groups._group``).
        is_out: Whether a torch-pruning group item prunes out-channels.
        names: Module -> qualified name.
    """
    feeding: dict[nn.Module, Any] = {}  # conv -> the group of its in-channels
    holding: dict[nn.Module, Any] = {}  # conv -> the group of its out-channels
    for group in pending:
        items = [item for item in group.items if is_grouped_conv(item.dep.target.module)]
        convs = {item.dep.target.module for item in items}
        if len(convs) != 1 or len(items) != 1:
            continue  # two grouped convs (or both sides of one) in one group: not handled
        conv = convs.pop()
        (holding if is_out(items[0]) else feeding)[conv] = group
    units = []
    for conv, out_group in holding.items():
        in_group = feeding.get(conv)
        if in_group is None:
            continue
        name, n = names[conv], conv.groups
        a, b = conv.in_channels // n, conv.out_channels // n
        sides = [(convert(in_group, conv), "in", a), (convert(out_group, conv), "out", b)]
        bn_rows: dict[str, list[list[int]]] = {}
        members: list[tuple[str, str, list[int]]] = []
        parts = []
        for side, dim, width in sides:
            per_unit = [] if side is None else _units(side, name, dim, width, n)
            if not per_unit:
                break
            parts.append((side.root, tuple(tuple(u) for u in per_unit)))
            for r in range(width):
                pick = [per_unit[g][r] for g in range(n)]
                for bn, row in zip(side.bn_names, side.bn_channels, strict=True):
                    bn_rows.setdefault(bn, []).append([row[c] for c in pick])
                for layer, d, row in side.members:
                    members.append((layer, d, [row[c] for c in pick]))
        else:
            unit = build(name, n, bn_rows, members)
            unit.parts = tuple(parts)
            unit.unit_widths = (a, b)
            units.append(unit)
    return units


@contextmanager
def whole_groups(conv: nn.Module, dropped: Sequence[int]) -> Iterator[None]:
    """Let torch-pruning remove the groups ``dropped`` of the grouped convolution ``conv``.

    Inside the block the convolution holds a full-width stand-in weight (``groups = 1``), which
    torch-pruning narrows on both sides as for a plain convolution; afterwards the convolution
    gets the kept groups' real weights and ``groups = n - len(dropped)``. torch-pruning must
    remove exactly the dropped groups' input and output channels inside the block.
    """
    n = conv.groups
    weight = conv.weight.detach()
    gone = set(dropped)
    rows = [
        g * (conv.out_channels // n) + r
        for g in range(n)
        if g not in gone
        for r in range(conv.out_channels // n)
    ]
    kept = n - len(gone)
    expected = (kept * (conv.in_channels // n), kept * (conv.out_channels // n))
    conv.groups = 1
    conv.weight = nn.Parameter(
        torch.zeros((), dtype=weight.dtype, device=weight.device).expand(
            conv.out_channels, conv.in_channels, *weight.shape[2:]
        )
    )
    try:
        yield
    except BaseException:
        conv.groups, conv.weight = n, nn.Parameter(weight)
        raise
    got = (conv.in_channels, conv.out_channels)
    conv.groups = kept
    conv.weight = nn.Parameter(weight[rows].clone())
    if got != expected:
        raise ValueError(
            f"grouped conv surgery: expected (in, out) channels {expected} after removing "
            f"groups {sorted(gone)}, got {got}"
        )
