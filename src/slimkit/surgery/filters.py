"""Filter surgery: remove output channels whose weights are exactly zero (rule ``zero_filters``).

Weight-sparsity methods (``sgl``, relaxed variable splitting) zero whole filters instead of BN
scales. A channel of a coupled group (torch-pruning's dependency graph, rooted at a conv/linear
layer's out-channels) is removable when either

- **zero filter**: every conv/linear that *writes* the channel (the root and the layers coupled
  to it through residual sums) has an all-zero weight slice for it. Such a channel outputs its
  bias, and after a BatchNorm ``γ·(b − μ)/σ + β``: a constant, not zero. :func:`mask_filters`
  therefore first zeroes the writers' bias and the coupled BNs' ``γ`` and ``β`` of the channel
  (as the ``zeros`` rule zeroes ``γ`` and ``β``); the channel is then exactly 0 at every reader,
  and the physical removal changes no output beyond float rounding. This only holds where the
  zero survives up to every reader (ReLU-like ops, pooling, sums, affine BNs; see
  :mod:`slimkit.surgery.groups`), which :func:`filter_groups` checks per group; or
- **zero reader**: every conv/linear that *reads* the channel (next layers' in-channels, except
  depthwise convs, which carry the channel on) has an all-zero input slice for it, e.g. a zero
  input-unit group of a linear layer. Whatever the channel outputs is multiplied by 0, so removal
  is exact without masking (the mask is applied anyway, harmlessly).

Weights that are zero individually stay in the model as zeros; :func:`weight_zeros` counts them.

Example:
    >>> import torch
    >>> from slimkit.models import build_model
    >>> from slimkit.surgery import prune_channels
    >>> model, x = build_model("lenet5", in_channels=1).eval(), torch.randn(2, 1, 32, 32)
    >>> with torch.no_grad():
    ...     model.conv2.weight[[3, 7]] = 0.0
    >>> groups = filter_groups(model, x)
    >>> removal = select_zero_filters(model, groups)
    >>> removal
    {'conv2': [3, 7]}
    >>> mask_filters(model, removal, groups)
    >>> before = model(x)
    >>> after = prune_channels(model, removal, x)(x)
    >>> model.conv2.out_channels, bool((before - after).abs().max() <= 1e-5)
    (14, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch_pruning as tp
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from slimkit.surgery.conv_groups import is_grouped_conv
from slimkit.surgery.graph import out_channel_groups
from slimkit.surgery.groups import (
    _CONV,
    _INDEX_OPS,
    _is_depthwise,
    _is_module,
    _stays_zero,
    _zeroing_bn,
)
from slimkit.surgery.guard import (
    allowed_removal,
    check_guard,
    keep_count,
)
from slimkit.surgery.prune import resolve_removal

__all__ = [
    "FilterGroup",
    "filter_groups",
    "mask_filters",
    "removable_channels",
    "select_zero_filters",
    "weight_zeros",
]

# (module name, for each group channel the tensor indices it occupies in that module's dimension)
Member = tuple[str, list[list[int]]]


@dataclass
class FilterGroup:
    """One coupled group of channels, rooted at a conv/linear layer's out-channels.

    Attributes:
        root: Qualified name of the root; channel ``i`` is out-channel ``i`` of the root.
        size: Number of channels.
        writers: Conv/linear layers whose out-channels (and depthwise convs) carry the channels.
        readers: Conv/linear layers (not depthwise) whose in-channels read the channels.
        bns: BatchNorm layers coupled to the channels.
        exact_writers: Zero filters plus :func:`mask_filters` make the channels exactly 0 for
            every reader (checked on the graph).
        exact_readers: Every reader of the channels is a conv/linear in ``readers``.
    """

    root: str
    size: int
    writers: list[Member] = field(repr=False)
    readers: list[Member] = field(repr=False)
    bns: list[Member] = field(repr=False)
    exact_writers: bool
    exact_readers: bool


def _rows(item: tp.Dependency, size: int) -> list[list[int]]:
    rows: list[list[int]] = [[] for _ in range(size)]
    root_idxs = list(getattr(item, "root_idxs", item.idxs))
    for r, i in zip(root_idxs, item.idxs, strict=True):
        rows[int(r)].append(int(i))
    return rows


def _to_filter_group(
    group: tp.Group, graph: tp.DependencyGraph, names: dict[nn.Module, str]
) -> FilterGroup | None:
    items = list(group.items)
    root = items[0].dep.target.module
    size = len(items[0].idxs)
    nodes = {item.dep.target for item in items}
    writers: dict[str, list[list[int]]] = {}
    readers: dict[str, list[list[int]]] = {}
    bns: dict[str, list[list[int]]] = {}
    zeroing, consumers = set(), []
    exact_writers = True
    for item in items:
        node, module = item.dep.target, item.dep.target.module
        if isinstance(module, _BatchNorm):
            bns.setdefault(names[module], _rows(item, size))
            if _zeroing_bn(module):
                zeroing.add(node)
        elif isinstance(module, (*_CONV, nn.Linear)):
            if is_grouped_conv(module):
                return None  # grouped convs couple channels in ways filters do not describe
            if _is_depthwise(module) or graph.is_out_channel_pruning_fn(item.dep.handler):
                writers.setdefault(names[module], _rows(item, size))
                zeroing.add(node)
            else:
                readers.setdefault(names[module], _rows(item, size))
                consumers.append(node)
        elif not isinstance(module, (tp.ops._ElementWiseOp, *_INDEX_OPS)):
            return None  # model output, bare parameter, LayerNorm...: removal is not exact
    memo: dict = {}
    for consumer in consumers:
        inputs = [n for n in consumer.inputs if n in nodes and (n.inputs or _is_module(n))]
        if not inputs or not all(_stays_zero(n, zeroing, nodes, memo) for n in inputs):
            exact_writers = False
            break
    return FilterGroup(
        root=names[root],
        size=size,
        writers=list(writers.items()),
        readers=list(readers.items()),
        bns=list(bns.items()),
        exact_writers=exact_writers,
        exact_readers=bool(readers),
    )


def filter_groups(
    model: nn.Module, example_input: torch.Tensor, ignored: Sequence[nn.Module] = ()
) -> list[FilterGroup]:
    """The coupled channel groups of ``model`` that filter surgery can act on.

    Roots are conv/linear layers; the classifier (last linear) and ``ignored`` are never roots.
    Groups with grouped (non-depthwise) convs or with channels that reach the model output or an
    unsupported layer are skipped.

    Args:
        model: The network (not modified).
        example_input: A batch the model accepts, for tracing.
        ignored: Modules whose out-channels must never be removed.

    Returns:
        The groups, ordered by their root's position in ``model.named_modules()``.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> groups = filter_groups(build_model("lenet5", in_channels=1), torch.zeros(1, 1, 32, 32))
        >>> [(g.root, g.size) for g in groups]
        [('conv1', 6), ('conv2', 16), ('fc1', 120), ('fc2', 84)]
    """
    graph, names, tp_groups = out_channel_groups(model, example_input, ignored)
    result = []
    for group in tp_groups:
        converted = _to_filter_group(group, graph, names)
        if converted is not None:
            result.append(converted)
    order = {name: i for i, name in enumerate(dict(model.named_modules()))}
    result.sort(key=lambda g: order[g.root])
    return result


def _all_zero(weight: torch.Tensor, rows: list[list[int]], dim: int) -> torch.Tensor:
    """Per channel: the weight slices at ``rows`` along ``dim`` are all exactly 0."""
    w = weight.detach().transpose(0, dim) if dim else weight.detach()
    nonzero = (w.reshape(w.shape[0], -1) != 0).any(dim=1).cpu()  # per index along dim
    return torch.tensor([not bool(nonzero[idx].any()) if idx else False for idx in rows])


def removable_channels(model: nn.Module, group: FilterGroup) -> torch.Tensor:
    """Per channel of ``group``: removable exactly by the zero-filter or zero-reader test.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> model = build_model("lenet5", in_channels=1)
        >>> g = filter_groups(model, torch.zeros(1, 1, 32, 32))[1]
        >>> int(removable_channels(model, g).sum())
        0
    """
    modules = dict(model.named_modules())
    out = torch.full((group.size,), group.exact_writers and bool(group.writers))
    for name, rows in group.writers:
        out &= _all_zero(modules[name].weight, rows, 0)
    inp = torch.full((group.size,), group.exact_readers)
    for name, rows in group.readers:
        inp &= _all_zero(modules[name].weight, rows, 1)
    return out | inp


def select_zero_filters(
    model: nn.Module,
    groups: Sequence[FilterGroup],
    *,
    min_channels: int = 1,
    min_fraction: float = 0.0,
    round_to: int = 1,
) -> dict[str, list[int]]:
    """Rule ``zero_filters``: the channels whose filter (or every reader's slice) is exactly 0.

    At least ``max(min_channels, ceil(min_fraction * size))`` channels stay per group, and with
    ``round_to`` each group keeps a multiple of ``round_to`` channels (or all of them; see
    :func:`slimkit.surgery.select_channels`); when this binds, the lowest-index removable
    channels are the ones kept.

    Returns:
        Root name -> sorted channel indices (groups with nothing to remove omitted).

    Raises:
        ValueError: For ``min_channels < 1``, ``min_fraction`` outside ``[0, 1]`` or
            ``round_to < 1``.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> model = build_model("lenet5", in_channels=1)
        >>> _ = model.fc2.weight.data[:, 5].zero_()  # fc1's unit 5 is read by nobody
        >>> select_zero_filters(model, filter_groups(model, torch.zeros(1, 1, 32, 32)))
        {'fc1': [5]}
    """
    check_guard(min_channels, min_fraction, round_to)
    removal: dict[str, list[int]] = {}
    for group in groups:
        keep = keep_count(group.size, min_channels, min_fraction, round_to)
        idxs = torch.nonzero(removable_channels(model, group)).flatten().tolist()
        n = allowed_removal(group.size, keep, round_to, len(idxs))
        idxs = idxs[len(idxs) - n :]
        if idxs:
            removal[group.root] = sorted(idxs)
    return removal


def mask_filters(
    model: nn.Module, removal: Mapping[str, Sequence[int]], groups: Sequence[FilterGroup]
) -> None:
    """Zero what the removed channels still output: writers' bias, coupled BNs' ``γ`` and ``β``.

    After this, a zero-filter channel is exactly 0 wherever it is read, so
    :func:`prune_channels` changes no output beyond float rounding.

    Raises:
        ValueError: For a root that is not a group root, or an index out of range.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> model = build_model("lenet5", in_channels=1)
        >>> mask_filters(model, {"conv2": [1]}, filter_groups(model, torch.zeros(1, 1, 32, 32)))
        >>> float(model.conv2.bias[1].detach())
        0.0
    """
    modules = dict(model.named_modules())
    with torch.no_grad():
        for group, clean in resolve_removal(removal, groups, "filter group"):
            for name, rows in group.writers:
                bias = modules[name].bias
                hit = [i for c in clean for i in rows[c]]
                if bias is not None and hit:
                    bias[hit] = 0.0
            for name, rows in group.bns:
                bn = modules[name]
                hit = [i for c in clean for i in rows[c]]
                if hit and bn.affine:
                    bn.weight[hit] = 0.0
                    bn.bias[hit] = 0.0


def weight_zeros(model: nn.Module) -> dict[str, tuple[int, int]]:
    """Exactly-zero entries and size of every conv/linear weight, by qualified name.

    Example:
        >>> from slimkit.models import build_model
        >>> weight_zeros(build_model("lenet5"))["fc3"]
        (0, 840)
    """
    return {
        name: (int((m.weight == 0).sum()), m.weight.numel())
        for name, m in model.named_modules()
        if isinstance(m, (*_CONV, nn.Linear))
    }
