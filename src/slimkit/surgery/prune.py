"""Masking (gamma = beta = 0) and physical removal of coupled channels."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

import torch
import torch_pruning as tp
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from slimkit.surgery.conv_groups import is_grouped_conv, whole_groups
from slimkit.surgery.graph import build_graph, module_names, torch_pruning_errors
from slimkit.surgery.groups import ChannelGroup, cached_groups, channel_groups
from slimkit.surgery.selection import ChannelSelect, prune_selected, selection_roots
from slimkit.surgery.widths import refresh_widths

__all__ = ["mask_channels", "prune_channels"]


def _nearest(name: str, known: Sequence[str]) -> str:
    match = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean {match[0]!r}?" if match else f"{len(known)} roots are allowed"


def resolve_removal(
    removal: Mapping[str, Sequence[int]], groups: Sequence[Any], what: str
) -> Iterator[tuple[Any, list[int]]]:
    """Yield ``(group, sorted valid indices)`` for each root of ``removal`` (one-line errors for
    an unknown root or bad indices); ``what`` names the kind of group in messages."""
    by_root = {g.root: g for g in groups}
    for root, idxs in removal.items():
        if root not in by_root:
            raise ValueError(
                f"removal root {root!r} is not a {what} root; {_nearest(root, list(by_root))}"
            )
        group = by_root[root]
        yield group, _check_indices(root, idxs, group.size)


def _check_indices(root: str, idxs: Sequence[int], size: int) -> list[int]:
    try:
        clean = sorted({int(i) for i in idxs})
    except (TypeError, ValueError):
        raise ValueError(f"removal[{root!r}]={idxs!r} is invalid; give channel indices") from None
    if any(i < 0 or i >= size for i in clean):
        raise ValueError(f"removal[{root!r}] has indices outside 0..{size - 1}: {clean}")
    if len(clean) >= size:
        raise ValueError(
            f"removal[{root!r}] removes all {size} channels; keep at least 1 (use min_channels)"
        )
    return clean


def mask_channels(
    model: nn.Module,
    removal: Mapping[str, Sequence[int]],
    example_input: torch.Tensor | None = None,
    *,
    groups: Sequence[ChannelGroup] | None = None,
) -> None:
    """Set ``gamma`` and ``beta`` of every coupled BN of the removed channels to exactly 0.

    This is Network Slimming's state before surgery: the masked channels output exactly 0, so
    :func:`prune_channels` afterwards changes no output beyond float rounding. The coupling comes
    from ``groups`` (as returned by :func:`channel_groups` for this model or an identical copy),
    or is traced from ``example_input``, or, with neither, is the cached result of the last
    :func:`channel_groups` call on this model (if its layers have not changed since).

    Args:
        model: The network; modified in place.
        removal: Root name -> channel indices, as returned by ``select_channels``.
        example_input: A batch for tracing; not needed with ``groups`` or a cached result.
        groups: The model's channel groups.

    Raises:
        ValueError: If neither ``groups`` nor ``example_input`` is given, or a root is not a
            BN-prunable group root, or an index is out of range.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> model = build_model("vgg_tiny")
        >>> mask_channels(model, {"features.0": [1, 3]}, torch.randn(2, 3, 32, 32))
        >>> model.features[1].weight[[1, 3]].tolist(), model.features[1].bias[[1, 3]].tolist()
        ([0.0, 0.0], [0.0, 0.0])
    """
    if groups is None and example_input is not None:
        groups = channel_groups(model, example_input)
    elif groups is None:
        groups = cached_groups(model)
        if groups is None:
            raise ValueError(
                "mask_channels needs groups= or example_input= (or a prior "
                "channel_groups(model, x) call on this unchanged model); none was found"
            )
    modules = dict(model.named_modules())
    with torch.no_grad():
        for group, clean in resolve_removal(removal, groups, "BN-prunable group"):
            for name, row in zip(group.bn_names, group.bn_channels, strict=True):
                bn = modules[name]
                held = [row[i] for i in clean if row[i] >= 0]
                bn.weight[held] = 0.0
                bn.bias[held] = 0.0


def _emptied_layer(graph: tp.DependencyGraph, group: tp.Group, names: dict[nn.Module, str]) -> str:
    """The layer of ``group`` that would lose every channel (torch-pruning's
    ``check_pruning_group``, with the layer's name)."""
    for dep, idxs in group:
        module = dep.target.module
        if graph.is_out_channel_pruning_fn(dep.handler):
            size = graph.get_out_channels(module)
        elif graph.is_in_channel_pruning_fn(dep.handler):
            size = graph.get_in_channels(module)
        else:
            continue
        if size is not None and size <= len(idxs):
            return names.get(module, type(module).__name__)
    return "?"


def _expand_units(
    model: nn.Module, removal: Mapping[str, Sequence[int]], example_input: torch.Tensor
) -> tuple[dict[str, Sequence[int]], list[tuple[nn.Module, list[int]]]]:
    """Replace each grouped convolution's removed groups (its whole-group units, see
    :mod:`.conv_groups`) by the channels they hold; also return ``(conv, dropped groups)``."""
    modules = dict(model.named_modules())
    unit_roots = [root for root in removal if is_grouped_conv(modules.get(root))]
    if not unit_roots:
        return dict(removal), []
    groups = cached_groups(model) or channel_groups(model, example_input)
    units = {g.root: g for g in groups if g.parts}
    expanded = {root: idxs for root, idxs in removal.items() if root not in unit_roots}
    whole = []
    for root in unit_roots:
        if root not in units:
            raise ValueError(
                f"removal root {root!r} is a grouped convolution whose groups cannot be removed "
                "exactly (its channel groups are not BN-prunable or hold another grouped conv)"
            )
        unit = units[root]
        dropped = _check_indices(root, removal[root], unit.size)
        if not dropped:
            continue
        for part_root, per_unit in unit.parts:
            if part_root in expanded:
                raise ValueError(
                    f"removal roots {root!r} and {part_root!r} are coupled in one group; "
                    "give only one of them"
                )
            expanded[part_root] = sorted(c for g in dropped for c in per_unit[g])
        whole.append((modules[root], dropped))
    return expanded, whole


def prune_channels(
    model: nn.Module, removal: Mapping[str, Sequence[int]], example_input: torch.Tensor
) -> nn.Module:
    """Physically remove coupled channels (in place) through torch-pruning's dependency graph.

    For each root, ``group.prune()`` removes the channels from the root's out-channels and from
    every coupled dimension (BNs, next layers' in-channels, residual branches, concatenations,
    depthwise convs). Indices refer to the model as passed in. The model keeps its classes;
    width attributes that torch-pruning leaves stale (timm ``num_features``/``feature_info``,
    torchvision ``last_channel``, the zoo's width arguments) are made true again.

    Removal is exact (outputs change only by float rounding) when the channels were masked
    first with :func:`mask_channels`; otherwise it is ordinary structured pruning. The root of
    a grouped convolution's whole-group units is the convolution, and its indices are groups.

    Args:
        model: The network; modified in place and returned.
        removal: Root module name -> channel indices to remove. Two roots of the same coupled
            group are an error.
        example_input: A batch the model accepts, for tracing.

    Returns:
        ``model``, narrower.

    Raises:
        ValueError: For an unknown root, out-of-range indices, removing every channel of a
            group, coupled roots, or channels that reach the model output.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> model = build_model("vgg_tiny")
        >>> _ = prune_channels(model, {"features.0": [0, 1, 2]}, torch.randn(2, 3, 32, 32))
        >>> model.features[0].out_channels, model.features[1].num_features
        (5, 5)
    """
    removal, whole = _expand_units(model, removal, example_input)
    graph = build_graph(model, example_input)
    modules = dict(model.named_modules())
    plans: list[tuple[nn.Module, list[int], tp.Group]] = []
    names = module_names(model)
    bn_roots = frozenset(
        root for root in removal if isinstance(modules.get(root), (_BatchNorm, ChannelSelect))
    )
    roots = selection_roots(graph, names, selection=True, also=bn_roots)
    selected = {
        root: _check_indices(root, idxs, roots[root][1])
        for root, idxs in removal.items()
        if root in roots
    }
    for root in sorted(set(removal) - set(selected)):
        module = modules.get(root)
        pruner = None if module is None else graph.get_pruner_of_module(module)
        if module is None or module not in graph.module2node or pruner is None:
            convs = [
                n for n, m in modules.items() if isinstance(m, (nn.Conv2d, nn.Conv1d, nn.Linear))
            ]
            raise ValueError(
                f"removal root {root!r} is not a conv/linear layer or a selection BN; "
                f"{_nearest(root, convs)}"
            )
        size = pruner.get_out_channels(module)
        clean = _check_indices(root, removal[root], size)
        if not clean:
            continue
        with torch_pruning_errors(f"grouping removal root {root!r}"):
            group = graph.get_pruning_group(module, pruner.prune_out_channels, clean)
        for item in group.items:
            target = item.dep.target.module
            if isinstance(target, tp.ops._OutputOp):
                raise ValueError(
                    f"removal root {root!r} feeds the model output; its width is fixed"
                )
            other = names.get(target) if target is not module else None
            if other in removal and graph.is_out_channel_pruning_fn(item.dep.handler):
                raise ValueError(
                    f"removal roots {root!r} and {other!r} are coupled in one group; "
                    "give only one of them"
                )
        if not graph.check_pruning_group(group):
            emptied = _emptied_layer(graph, group, names)
            raise ValueError(
                f"removal[{root!r}] would empty the coupled layer {emptied!r}; remove fewer"
            )
        plans.append((module, clean, group))
    # With concatenations or splits, earlier removals shift channel offsets: re-derive each group
    # just before pruning it. Otherwise the validated groups are still exact.
    shifting = any(
        isinstance(node.module, (tp.ops._ConcatOp, tp.ops._SplitOp))
        for node in graph.module2node.values()
    )
    with ExitStack() as stack:
        for conv, dropped in whole:
            stack.enter_context(whole_groups(conv, dropped))
        for module, clean, group in plans:
            with torch_pruning_errors(f"pruning {names[module]!r}"):
                if shifting:
                    pruner = graph.get_pruner_of_module(module)
                    group = graph.get_pruning_group(module, pruner.prune_out_channels, clean)
                group.prune()
    if selected:
        # Selection roots (BNs read only through channel-wise ops) are not in any pruned group.
        prune_selected(model, {r: i for r, i in selected.items() if i}, roots)
    refresh_widths(model, example_input)
    return model
