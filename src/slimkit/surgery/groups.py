"""Coupled channel groups of a CNN whose channels BN scales can remove exactly.

A group is one torch-pruning group rooted at the out-channels of a conv/linear layer: every tensor
dimension that must shrink together with those channels (the BNs after or before it, the next
layers' in-channels, all branches of a residual sum, the slices of a concatenation). A group is
*BN-prunable* when zeroing ``gamma`` and ``beta`` of its coupled affine BNs on a channel makes
that channel exactly 0 at every layer that reads it; only such groups are returned, so that
removing masked channels never changes an output by more than float rounding.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch_pruning as tp
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from slimkit.surgery.conv_groups import is_depthwise as _is_depthwise
from slimkit.surgery.conv_groups import is_grouped_conv, whole_group_units
from slimkit.surgery.graph import out_channel_groups
from slimkit.surgery.selection import ChannelSelect, selection_roots
from slimkit.surgery.zero_ops import ZERO_UNARY as _ZERO_UNARY
from slimkit.surgery.zero_ops import keeps_channels as _keeps_channels

__all__ = ["ChannelGroup", "cached_groups", "channel_groups", "channels_per_layer"]

# model -> (architecture fingerprint, groups) of the last channel_groups call on it.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fingerprint(model: nn.Module) -> tuple:
    return tuple(
        (name, type(m).__name__, tuple(tuple(p.shape) for p in m.parameters(recurse=False)))
        for name, m in model.named_modules()
    )


def cached_groups(model: nn.Module) -> list[ChannelGroup] | None:
    """The groups of the last :func:`channel_groups` call on ``model`` if its layers (names,
    classes, parameter shapes) have not changed since, else ``None``.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> model = build_model("vgg_tiny")
        >>> groups = channel_groups(model, torch.randn(1, 3, 32, 32))
        >>> cached_groups(model) is groups, cached_groups(build_model("vgg_tiny"))
        (True, None)
    """
    entry = _CACHE.get(model)
    if entry is None or entry[0] != _fingerprint(model):
        return None
    return entry[1]


_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_ZERO_SUM = {"AddBackward0", "SubBackward0"}  # tensor + tensor: 0 when every input is 0
_ZERO_PRODUCT = {"MulBackward0"}  # tensor * tensor: 0 when any input is 0
_ZERO_ACTS = (
    nn.Identity,
    nn.ReLU,
    nn.ReLU6,
    nn.SiLU,
    nn.GELU,
    nn.Hardswish,
    nn.LeakyReLU,
    nn.ELU,
    nn.Mish,
    nn.Tanh,
    nn.Dropout,
)
_INDEX_OPS = (tp.ops._ReshapeOp, tp.ops._ConcatOp, tp.ops._SplitOp, tp.ops._SliceOp)


@dataclass
class ChannelGroup:
    """One prunable group of coupled channels, rooted at a conv/linear layer's out-channels.

    Attributes:
        root: Qualified name of the root module (e.g. ``"layer1.0.conv1"``); channel ``i`` of
            the group is out-channel ``i`` of the root.
        bn_names: Affine BN layers whose channels are coupled in this group.
        size: Number of channels.
        bn_channels: For each BN in ``bn_names``, the BN channel of every group channel
            (``-1`` where that BN does not hold the channel), shape ``(num_bn, size)``.
        scales: ``|gamma|`` of each coupled BN per group channel, shape ``(num_bn, size)``
            (0 where not held).
        betas: ``beta`` of each coupled BN per group channel, shape ``(num_bn, size)``.
        members: ``(module name, "in" or "out", channel index per group channel or -1)`` for
            every conv/linear dimension that shrinks with the group (MAC estimates).
        parts: Empty for a group of channels. For the whole-group units of a grouped
            convolution (:mod:`slimkit.surgery.conv_groups`), where group channel ``g`` is the
            convolution's group ``g``: ``(root, channels of each unit)`` of the two channel
            groups that one unit removes from (the producer's out-channels feeding it, and the
            convolution's own out-channels).
        unit_widths: Channels that one group channel stands for in each part (1 for channels).

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> groups = channel_groups(build_model("vgg_tiny"), torch.randn(2, 3, 32, 32))
        >>> groups[0].root, groups[0].bn_names, groups[0].size
        ('features.0', ['features.1'], 8)
    """

    root: str
    bn_names: list[str]
    size: int
    bn_channels: list[list[int]] = field(repr=False)
    scales: torch.Tensor = field(repr=False)
    betas: torch.Tensor = field(repr=False)
    members: list[tuple[str, str, list[int]]] = field(default_factory=list, repr=False)
    parts: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...] = field(default=(), repr=False)
    unit_widths: tuple[int, ...] = field(default=(1,), repr=False)

    def step(self, round_to: int) -> int:
        """``round_to`` (channels) in this group's own units: the fewest group channels whose
        channels are a multiple of ``round_to`` in every part (``round_to`` itself for a group of
        channels).

        Example:
            >>> g = ChannelGroup("c", [], 4, [], torch.zeros(0, 4), torch.zeros(0, 4))
            >>> g.step(8), ChannelGroup("c", [], 4, [], torch.zeros(0, 4), torch.zeros(0, 4),
            ...                         unit_widths=(4, 16)).step(8)
            (8, 2)
        """
        return math.lcm(*(round_to // math.gcd(round_to, w) for w in self.unit_widths))

    def count(self, n: int) -> int:
        """Channels that ``n`` group channels stand for (a unit of a grouped convolution holds
        its input and output channels)."""
        return n * sum(self.unit_widths)

    @property
    def channels(self) -> int:
        """Channels the group can remove in all: :meth:`count` of its size."""
        return self.count(self.size)

    @property
    def importance(self) -> torch.Tensor:
        """Per channel, the max of ``|gamma|`` over the coupled BNs, shape ``(size,)``.

        The max is used (not the mean) because a coupled channel is only useless when it is
        small in every BN that carries it.
        """
        return self.scales.amax(dim=0)

    @property
    def zero(self) -> torch.Tensor:
        """Per channel: ``gamma == 0`` in every coupled BN that holds it, shape ``(size,)``."""
        held = torch.tensor(self.bn_channels) >= 0
        return ((self.scales == 0) | ~held).all(dim=0) & held.any(dim=0)


def _zeroing_bn(module: nn.Module) -> bool:
    # An affine BN (or timm BN+act whose act keeps 0 at 0) outputs exactly 0 when gamma = beta = 0.
    if not isinstance(module, _BatchNorm) or not module.affine:
        return False
    return all(
        getattr(module, attr, None) is None or isinstance(getattr(module, attr), _ZERO_ACTS)
        for attr in ("act", "drop")
    )


def _grad_fn_base(name: str) -> str:
    return name.split("Backward")[0]


def _operands_tracked(node: tp.Node, members: set) -> bool:
    """Whether every operand of ``node`` is a traced tensor of the group: no Python scalar, no
    buffer or bare parameter (``x + 1.0``, ``x + buffer``: not 0 where ``x`` is 0)."""
    grad_fn = getattr(node, "grad_fn", None)
    operands = [f for f, _ in getattr(grad_fn, "next_functions", ())]
    tracked = all(f is not None and "AccumulateGrad" not in type(f).__name__ for f in operands)
    return tracked and all(n in members for n in node.inputs)


def _stays_zero(node: tp.Node, zeroing: set, members: set, memo: dict) -> bool:
    """Whether ``node``'s output is exactly 0 on the group's channels once its BNs are masked."""
    if node in memo:
        return memo[node]
    memo[node] = False  # cycle guard
    result = node in zeroing
    inputs = [n for n in node.inputs if n in members]
    module = node.module
    if not result and inputs:
        if isinstance(module, tp.ops._ElementWiseOp):
            name = str(module._grad_fn)
            base = _grad_fn_base(name)
            if base == "Mean" and not _keeps_channels(node):
                result = False
            elif base in _ZERO_UNARY:
                result = all(_stays_zero(n, zeroing, members, memo) for n in inputs)
            elif name in _ZERO_SUM:
                result = _operands_tracked(node, members) and all(
                    _stays_zero(n, zeroing, members, memo) for n in inputs
                )
            elif name in _ZERO_PRODUCT:
                result = any(_stays_zero(n, zeroing, members, memo) for n in inputs)
        elif isinstance(module, _INDEX_OPS):
            result = all(_stays_zero(n, zeroing, members, memo) for n in inputs)
    memo[node] = result
    return result


def _is_module(node: tp.Node) -> bool:
    return not isinstance(node.module, (tp.ops._ElementWiseOp, *_INDEX_OPS))


def _is_out(graph: tp.DependencyGraph, item: Any) -> bool:
    return bool(graph.is_out_channel_pruning_fn(item.dep.handler))


def _root_channels(group: tp.Group) -> list[int]:
    """The root's out-channels that one root channel's group shrinks (more than one: tied)."""
    root = group.items[0].dep.target.module
    return sorted(
        {int(i) for item in group.items if item.dep.target.module is root for i in item.idxs}
    )


def _untied(group: tp.Group, graph: tp.DependencyGraph) -> tp.Group | None:
    """``group`` rooted where one root channel is one independent channel, or ``None``.

    A concatenation of a tensor with a channel-wise function of itself (a ghost module's
    ``cat([x, dw(x)])``, CReLU's ``cat([x, -x])``) ties channels: removing channel ``i`` of ``x``
    also removes channel ``C + i`` of the concatenation. Rooted at the concatenation's consumer,
    torch-pruning counts such a pair as two channels. The group is then re-rooted at a member
    layer whose channels are the independent ones (each may appear several times in the other
    layers), or refused when no member is."""
    nodes = {item.dep.target for item in group.items}
    if not any(
        isinstance(node.module, tp.ops._ConcatOp)
        and sum(1 for n in set(node.inputs) if n in nodes) > 1
        for node in nodes
    ):
        return group  # no concatenation joins two tensors of this group: no tie possible
    candidates = [group.items[0]] + [
        item
        for item in group.items[1:]
        if isinstance(item.dep.target.module, (*_CONV, nn.Linear)) and _is_out(graph, item)
    ]
    for item in candidates:
        module = item.dep.target.module
        pruner = graph.get_pruner_of_module(module)
        size = pruner.get_out_channels(module)
        if len(set(item.idxs)) != size:
            continue  # only partly in this group
        untied = all(
            _root_channels(graph.get_pruning_group(module, pruner.prune_out_channels, [c])) == [c]
            for c in range(size)
        )
        if untied:
            if item is group.items[0]:
                return group
            return graph.get_pruning_group(module, pruner.prune_out_channels, list(range(size)))
    return None


def _place(rows: dict[Any, list[list[int]]], key: Any, size: int, root: int, index: int) -> None:
    """Record that root channel ``root`` is channel ``index`` of ``key``; a root channel held
    twice by one layer (tied channels) gets a second row."""
    layer_rows = rows.setdefault(key, [])
    for row in layer_rows:
        if row[root] == index:
            return
        if row[root] < 0:
            row[root] = index
            return
    layer_rows.append([-1] * size)
    layer_rows[-1][root] = index


def _to_channel_group(
    group: tp.Group,
    graph: tp.DependencyGraph,
    names: dict[nn.Module, str],
    modules: dict[str, nn.Module],
    selected: set[str],
    allow: nn.Module | None = None,
) -> ChannelGroup | None:
    """``group`` as a BN-prunable :class:`ChannelGroup`, or ``None``; ``allow`` is the one
    grouped convolution the caller handles by whole groups (see :mod:`.conv_groups`)."""
    untied = _untied(group, graph)
    if untied is None:
        return None  # tied channels with no layer that holds each one once
    items = list(untied.items)
    if any(isinstance(item.dep.target.module, tp.ops._SplitOp) for item in items):
        # torch.split / chunk with sizes fixed in the module (MixNet's mixed convs, CSP blocks):
        # removing channels would not update them, so the narrowed model would not run.
        return None
    root_module = items[0].dep.target.module
    size = len(items[0].idxs)
    nodes = {item.dep.target for item in items}
    # A BN pruned by channel selection does not switch these channels off for its readers.
    zeroing = {n for n in nodes if _zeroing_bn(n.module) and names[n.module] not in selected}
    if not zeroing:
        return None  # no BN scale can switch these channels off
    bn_rows: dict[str, list[list[int]]] = {}
    member_rows: dict[tuple[str, str], list[list[int]]] = {}
    consumers = []
    for item in items:
        node, module = item.dep.target, item.dep.target.module
        root_idxs = list(getattr(item, "root_idxs", item.idxs))
        if isinstance(module, _BatchNorm):
            if node in zeroing:
                for r, i in zip(root_idxs, item.idxs, strict=True):
                    _place(bn_rows, names[module], size, r, int(i))
        elif isinstance(module, (*_CONV, nn.Linear)):
            if is_grouped_conv(module) and module is not allow:
                return None  # grouped convs are pruned by whole groups (conv_groups) only
            is_out = _is_out(graph, item)
            key = (names[module], "out" if is_out else "in")
            for r, i in zip(root_idxs, item.idxs, strict=True):
                _place(member_rows, key, size, r, int(i))
            if not is_out and not _is_depthwise(module):
                consumers.append(node)
        elif not isinstance(module, (tp.ops._ElementWiseOp, *_INDEX_OPS)):
            return None  # model output, a bare parameter, LayerNorm...: not exact under masking
    memo: dict = {}
    for consumer in consumers:
        # A linear layer's weight enters as t(weight): a node without inputs, not activations.
        inputs = [n for n in consumer.inputs if n in nodes and (n.inputs or _is_module(n))]
        if not inputs or not all(_stays_zero(n, zeroing, nodes, memo) for n in inputs):
            return None  # some layer reads these channels without a zeroed BN in between
    return _group(
        names[root_module],
        size,
        bn_rows,
        [(name, dim, row) for (name, dim), rows in member_rows.items() for row in rows],
        modules,
    )


def _group(
    root: str,
    size: int,
    bn_rows: dict[str, list[list[int]]],
    members: list[tuple[str, str, list[int]]],
    modules: dict[str, nn.Module],
) -> ChannelGroup:
    bn_names = [name for name, rows in bn_rows.items() for _ in rows]
    bn_channels = [row for rows in bn_rows.values() for row in rows]
    scales = torch.zeros(len(bn_names), size)
    betas = torch.zeros(len(bn_names), size)
    for b, (name, channels) in enumerate(zip(bn_names, bn_channels, strict=True)):
        bn = modules[name]
        row = torch.tensor(channels)
        held = row >= 0
        scales[b, held] = bn.weight.detach()[row[held]].abs().float().cpu()
        betas[b, held] = bn.bias.detach()[row[held]].float().cpu()
    return ChannelGroup(
        root=root,
        bn_names=bn_names,
        size=size,
        bn_channels=bn_channels,
        scales=scales,
        betas=betas,
        members=members,
    )


def channel_groups(
    model: nn.Module,
    example_input: torch.Tensor,
    ignored: Sequence[nn.Module] = (),
    *,
    selection: bool = False,
) -> list[ChannelGroup]:
    """The BN-prunable coupled channel groups of ``model``, via torch-pruning's dependency graph.

    Groups are rooted at the out-channels of conv/linear layers. The classifier (the last
    ``nn.Linear``) and the ``ignored`` modules are never roots. Skipped groups: those with no
    affine BN, and those where masking the coupled BNs would not make the channels exactly 0 for
    every reader (e.g. the residual stream of a pre-activation ResNet that a projection shortcut
    reads un-normalized, which Network Slimming never prunes either), or channels that reach the
    model output. A grouped convolution (ResNeXt, RegNet) is pruned by whole groups: its channels
    form one group per convolution whose channel ``g`` is the convolution's group ``g``
    (:mod:`slimkit.surgery.conv_groups`), or none when that cannot be exact.

    Args:
        model: A CNN with BatchNorm (not modified; its train/eval flags are kept).
        example_input: A batch the model accepts, used for tracing.
        ignored: Modules whose out-channels must never be pruned.
        selection: Also return Network Slimming's channel-selection groups
            (:mod:`slimkit.surgery.selection`): every affine BN that reads a tensor other layers
            read too is pruned for its own readers, rooted at the BN. Models that hold a
            :class:`~slimkit.surgery.selection.ChannelSelect` (from an earlier selection prune)
            get its groups either way.

    Returns:
        The groups, ordered by their root's position in ``model.named_modules()``.

    Raises:
        ValueError: For an option-A ResNet (convert with ``shortcut_a_to_b`` first).

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> groups = channel_groups(build_model("resnet8_tiny"), torch.randn(2, 3, 32, 32))
        >>> [(g.root, g.size) for g in groups][:2]
        [('conv1', 4), ('layer1.0.conv1', 4)]
    """
    modules = dict(model.named_modules())
    if not any(_zeroing_bn(m) or isinstance(m, ChannelSelect) for m in modules.values()):
        _CACHE[model] = (_fingerprint(model), [])
        return []  # no BN can switch a channel off: nothing to trace (ViT, Swin, ConvNeXt...)
    graph, names, tp_groups = out_channel_groups(model, example_input, ignored)
    also: frozenset[str] = frozenset()
    while True:
        roots = selection_roots(graph, names, selection, also)
        selected = {bn_name for bn_name, _, _ in roots.values()}
        result = [
            _group(
                root,
                size,
                {bn: [list(range(size))]},
                [(r, "in", list(range(size))) for r in readers],
                modules,
            )
            for root, (bn, size, readers) in roots.items()
        ]
        pending = []
        for group in tp_groups:
            if any(is_grouped_conv(item.dep.target.module) for item in group.items):
                pending.append(group)
                continue
            converted = _to_channel_group(group, graph, names, modules, selected)
            if converted is not None:
                result.append(converted)
        result += whole_group_units(
            pending,
            lambda g, conv, chosen=selected: _to_channel_group(
                g, graph, names, modules, chosen, allow=conv
            ),
            lambda *spec: _group(*spec, modules),
            lambda item: _is_out(graph, item),
            names,
        )
        if not selection:
            break
        # A BN that the coupled groups cover only in part (e.g. the final BN of a DenseNet,
        # whose producers other selected BNs read) is pruned by selection too.
        partial = frozenset(_partly_covered(result, modules) - selected)
        if not partial - also:
            break
        also = also | partial
    order = {name: i for i, name in enumerate(modules)}
    result.sort(key=lambda g: order[g.root])
    _CACHE[model] = (_fingerprint(model), result)
    return result


def _partly_covered(groups: Sequence[ChannelGroup], modules: dict[str, nn.Module]) -> set[str]:
    held: dict[str, set[int]] = {}
    for group in groups:
        for name, row in zip(group.bn_names, group.bn_channels, strict=True):
            held.setdefault(name, set()).update(i for i in row if i >= 0)
    return {
        name
        for name, module in modules.items()
        if _zeroing_bn(module) and len(held.get(name, ())) < int(module.num_features)
    }


def channels_per_layer(model: nn.Module) -> dict[str, int]:
    """Channels of every BN layer, by qualified name (for before/after plots).

    Example:
        >>> from slimkit.models import build_model
        >>> channels_per_layer(build_model("vgg_tiny"))
        {'features.1': 8, 'features.5': 16, 'features.9': 32}
    """
    return {
        name: int(module.num_features)
        for name, module in model.named_modules()
        if isinstance(module, _BatchNorm)
    }
