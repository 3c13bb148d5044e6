"""Network Slimming's channel selection: prune a BatchNorm's channels for its own readers only.

In a pre-activation network (ResNet-164, DenseNet-40) a BN reads a tensor that other layers read
too: the residual stream (read by the shortcut) or a dense block's concatenation (read by every
later layer). Removing such a channel at its producer would change those other readers, so the
coupled-group surgery of :mod:`slimkit.surgery.groups` cannot remove it. Network Slimming
(Liu et al. 2017, digest §3.2 step 4) instead puts a ``channel_selection`` layer after that BN and
slices the next conv's input channels: the BN's channels are pruned separately for each consumer.

Here the BN is replaced by :class:`ChannelSelect` (``bn(x[:, index])``: the gather runs before
the BN, so the BN and its activation work on the kept channels only), and every conv/linear
layer that reads the BN's output through channel-wise ops (ReLU, pooling, flatten) loses the
same input channels. Exact when the removed channels have ``gamma = beta = 0`` (their output is 0
at every reader). ONNX: one ``Gather`` per selected BN.

A *selection group* is a :class:`~slimkit.surgery.groups.ChannelGroup` rooted at the BN (or at an
existing :class:`ChannelSelect`); the rules of :mod:`slimkit.surgery.select` treat it like any
other group, so ``percent`` is Network Slimming's global percentile over every BN channel.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> from slimkit.surgery import channel_groups, prune_channels
    >>> model, x = build_model("resnet_bottleneck_tiny").eval(), torch.randn(2, 3, 32, 32)
    >>> [g.root for g in channel_groups(model, x, selection=True)][:3]
    ['layer1.0.bn1', 'layer1.0.conv1', 'layer1.0.conv2']
    >>> _ = prune_channels(model, {"layer1.0.bn1": [0, 1]}, x)
    >>> type(model.layer1[0].bn1).__name__, model.layer1[0].conv1.in_channels
    ('ChannelSelect', 6)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch_pruning as tp
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from slimkit.surgery.zero_ops import passes_zero

__all__ = [
    "ChannelSelect",
    "ChannelSelectPruner",
    "prune_selected",
    "selection_roots",
]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


class ChannelSelect(nn.Module):
    """``bn(x[:, index])``: a BatchNorm that reads only the kept channels of its input.

    Args:
        index: Kept input channels (ascending).
        bn: The BatchNorm over the kept channels.
        in_channels: Channels of the input tensor.

    Example:
        >>> import torch
        >>> layer = ChannelSelect(torch.tensor([0, 2]), torch.nn.BatchNorm2d(2), in_channels=3)
        >>> layer(torch.randn(1, 3, 4, 4)).shape
        torch.Size([1, 2, 4, 4])
    """

    def __init__(self, index: torch.Tensor, bn: _BatchNorm, in_channels: int) -> None:
        super().__init__()
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long))
        self.bn = bn
        self.in_channels = int(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.index_select(1, self.index))

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, kept={self.index.numel()}"


class ChannelSelectPruner(tp.pruner.BasePruningFunc):
    """torch-pruning's view of :class:`ChannelSelect`: a layer with separate input and output
    channels (like a conv), so that its gather is never mistaken for a channel-wise op."""

    TARGET_MODULES = (ChannelSelect,)

    def prune_out_channels(self, layer: ChannelSelect, idxs: Sequence[int]) -> ChannelSelect:
        drop = {int(j) for j in idxs}
        layer.index = layer.index[[i for i in range(layer.index.numel()) if i not in drop]]
        tp.prune_batchnorm_out_channels(layer.bn, sorted(drop))
        return layer

    def prune_in_channels(self, layer: ChannelSelect, idxs: Sequence[int]) -> ChannelSelect:
        removed = torch.as_tensor(sorted(int(i) for i in idxs), dtype=torch.long)
        if bool(torch.isin(layer.index, removed).any()):
            raise ValueError("a selected channel of a ChannelSelect cannot be removed upstream")
        layer.index = layer.index - torch.searchsorted(removed, layer.index)
        layer.in_channels -= len(removed)
        return layer

    def get_out_channels(self, layer: ChannelSelect) -> int:
        return int(layer.index.numel())

    def get_in_channels(self, layer: ChannelSelect) -> int:
        return layer.in_channels


CUSTOM_PRUNERS = {ChannelSelect: ChannelSelectPruner()}


def _readers(node: tp.Node) -> list[tp.Node] | None:
    """The conv/linear layers that read ``node``'s output through channel-wise ops only, or
    ``None`` if some path reaches anything else (a sum, a concatenation, the model output)."""
    found: list[tp.Node] = []
    stack, seen = list(node.outputs), set()
    while stack:
        nxt = stack.pop()
        if nxt in seen:
            continue
        seen.add(nxt)
        module = nxt.module
        if isinstance(module, nn.Linear) or (isinstance(module, _CONV) and module.groups == 1):
            found.append(nxt)
        elif (
            isinstance(module, (nn.Dropout, tp.ops._ReshapeOp))  # reshape: flatten before a head
            or passes_zero(nxt)
        ):
            stack.extend(nxt.outputs)
        else:
            return None
    return found or None


def _shared_input(node: tp.Node) -> bool:
    return any(len(set(producer.outputs)) > 1 for producer in node.inputs)


def selection_roots(
    graph: tp.DependencyGraph,
    names: Mapping[nn.Module, str],
    selection: bool,
    also: frozenset[str] = frozenset(),
) -> dict[str, tuple[str, int, list[str]]]:
    """Root name -> (BN name, channels, reader names) of every selection group: each existing
    :class:`ChannelSelect`, and with ``selection`` each affine BN whose input other layers also
    read, or that is named in ``also``, and whose output only conv/linear layers read (through
    channel-wise ops)."""
    roots: dict[str, tuple[str, int, list[str]]] = {}
    for node in graph.module2node.values():
        module = node.module
        if isinstance(module, ChannelSelect):
            bn, name = module.bn, names[module]
            bn_name = f"{name}.bn"
        elif (
            selection
            and isinstance(module, _BatchNorm)
            and (_shared_input(node) or names[module] in also)
        ):
            bn, name = module, names[module]
            bn_name = name
        else:
            continue
        if not bn.affine:
            continue
        readers = _readers(node)
        if readers is None:
            continue
        roots[name] = (bn_name, int(bn.num_features), [names[r.module] for r in readers])
    return roots


def _slice_reader(module: nn.Module, drop: list[int], channels: int) -> None:
    if isinstance(module, nn.Linear):
        per = module.in_features // channels  # flatten of (C, H, W): H*W features each
        tp.prune_linear_in_channels(module, [c * per + k for c in drop for k in range(per)])
    else:
        tp.prune_conv_in_channels(module, drop)


def prune_selected(
    model: nn.Module,
    removal: Mapping[str, Sequence[int]],
    roots: Mapping[str, tuple[str, int, list[str]]],
) -> None:
    """Remove ``removal[root]`` channels of each selection root: wrap a plain BN in a
    :class:`ChannelSelect` (or narrow an existing one) and slice its readers' input channels."""
    modules = dict(model.named_modules())
    for root, idxs in removal.items():
        _, channels, readers = roots[root]
        drop = sorted({int(i) for i in idxs})
        module = modules[root]
        if isinstance(module, ChannelSelect):
            CUSTOM_PRUNERS[ChannelSelect].prune_out_channels(module, drop)
        else:
            dropped = set(drop)
            keep = torch.tensor([i for i in range(channels) if i not in dropped])
            tp.prune_batchnorm_out_channels(module, drop)
            parent_name, _, attr = root.rpartition(".")
            parent = modules[parent_name] if parent_name else model
            setattr(parent, attr, ChannelSelect(keep, module, in_channels=channels))
        for reader in readers:
            _slice_reader(modules[reader], drop, channels)
