"""Which channels to remove: exact zeros, a global |gamma| percentile, or a MAC budget."""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Sequence

import torch
from torch import nn

from slimkit.measure import count_macs, macs_by_module
from slimkit.measure.budget import Budget, fewest_steps
from slimkit.surgery.groups import ChannelGroup
from slimkit.surgery.guard import (
    allowed_removal,
    check_guard,
    keep_count,
    removal_counts,
)
from slimkit.surgery.prune import prune_channels

__all__ = ["RULES", "all_removable", "select_budget", "select_channels"]

RULES = ("zeros", "threshold", "macs")


def _removable_order(group: ChannelGroup, keep: int) -> list[int]:
    """Channels of ``group`` that may go, lowest importance first (stable by index)."""
    order = torch.argsort(group.importance, stable=True).tolist()
    return order[: group.size - keep]


def _guarded(group: ChannelGroup, chosen: torch.Tensor, keep: int, round_to: int) -> list[int]:
    """The chosen channels that may go, trimmed (most important first) so that the kept count
    is a multiple of ``round_to`` or the whole group."""
    allowed = _removable_order(group, keep)
    picked = [i for i in allowed if bool(chosen[i])]
    n = allowed_removal(group.size, keep, group.step(round_to), len(picked))
    return sorted(picked[:n])


def _check_args(
    rule: str,
    percent: float | None,
    macs_target: float | None,
    min_channels: int,
    min_fraction: float,
    round_to: int,
    model: nn.Module | None,
    example_input: torch.Tensor | None,
) -> None:
    if rule not in RULES:
        near = difflib.get_close_matches(str(rule), RULES, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ValueError(f"rule={rule!r} is unknown; {hint}allowed: {', '.join(RULES)}")
    check_guard(min_channels, min_fraction, round_to)
    if rule == "threshold":
        if percent is None or not 0.0 <= float(percent) < 1.0:
            raise ValueError(f"percent={percent!r} is invalid for rule 'threshold'; use 0 <= p < 1")
    elif percent is not None:
        raise ValueError(f"percent={percent!r} is only used by rule 'threshold', not {rule!r}")
    if rule == "macs":
        if macs_target is None or not 0.0 < float(macs_target) <= 1.0:
            raise ValueError(
                f"macs_target={macs_target!r} is invalid for rule 'macs'; use 0 < t <= 1"
            )
        if model is None or example_input is None:
            raise ValueError("rule 'macs' needs model= and example_input=; one is missing")
    elif macs_target is not None:
        raise ValueError(f"macs_target={macs_target!r} is only used by rule 'macs', not {rule!r}")


def _require_groups(groups: Sequence[ChannelGroup], what: str) -> None:
    if not groups:
        raise ValueError(
            f"{what}: the model has no BN-prunable channel group (a conv/linear whose channels "
            "an affine BatchNorm can switch off for every reader); nothing to prune"
        )


class MacEstimate:
    """MACs after removing channels, from per-layer MACs scaled by the kept in/out fractions.

    A conv or linear layer's MACs are proportional to in_channels x out_channels (out_channels
    alone for a depthwise conv); other MACs (matmuls in a module's forward) stay as they are.
    """

    def __init__(self, model: nn.Module, groups: Sequence[ChannelGroup], input_size: tuple) -> None:
        modules = dict(model.named_modules())
        self.base = macs_by_module(model, input_size)
        self.total = float(sum(self.base.values()))
        self.dims: dict[str, tuple[int, int, bool]] = {}
        self.removed: dict[str, list[int]] = {}
        # hits[g][c]: the (layer, 0 for in / 1 for out) dimensions that channel c of group g shrinks
        self.hits: list[list[list[tuple[str, int]]]] = []
        for group in groups:
            per_channel: list[list[tuple[str, int]]] = [[] for _ in range(group.size)]
            for name, dim, row in group.members:
                module = modules.get(name)
                if name not in self.base or module is None:
                    continue
                if isinstance(module, nn.Linear):
                    self.dims[name] = (module.in_features, module.out_features, False)
                else:
                    # depthwise and grouped convs: MACs scale with the kept out-channels
                    per_out = module.groups > 1
                    self.dims[name] = (module.in_channels, module.out_channels, per_out)
                self.removed.setdefault(name, [0, 0])
                for c, idx in enumerate(row):
                    if idx >= 0:
                        per_channel[c].append((name, 0 if dim == "in" else 1))
            self.hits.append(per_channel)

    def _layer(self, name: str) -> float:
        cin, cout, per_out = self.dims[name]
        rin, rout = self.removed[name]
        if per_out and cin == cout:  # depthwise: a removed channel leaves both sides
            return self.base[name] * (cout - max(rin, rout)) / cout
        if per_out:  # grouped: whole groups go, in and out together
            return self.base[name] * (cout - rout) / cout
        return self.base[name] * (cin - rin) / cin * (cout - rout) / cout

    def remove(self, group: int, channels: Sequence[int]) -> float:
        """Account for more removed channels of one group; returns the new MAC estimate."""
        for channel in channels:
            for name, dim in self.hits[group][channel]:
                self.total -= self._layer(name)
                self.removed[name][dim] += 1
                self.total += self._layer(name)
        return self.total


def _removal_of(
    groups: Sequence[ChannelGroup], ranking: list[tuple[int, list[int]]], k: int
) -> dict[str, list[int]]:
    chosen: dict[str, list[int]] = {}
    for g, block in ranking[:k]:
        chosen.setdefault(groups[g].root, []).extend(block)
    return {root: sorted(idxs) for root, idxs in chosen.items()}


def _blocks(group: ChannelGroup, keep: int, round_to: int) -> list[list[int]]:
    """The group's removable channels cut into the steps that keep a multiple of ``round_to``
    (single channels when ``round_to`` is 1), least important first."""
    order = _removable_order(group, keep)
    counts = removal_counts(group.size, keep, group.step(round_to))
    return [order[a:b] for a, b in zip(counts, counts[1:], strict=False)]


def all_removable(
    groups: Sequence[ChannelGroup],
    min_channels: int = 1,
    min_fraction: float = 0.0,
    round_to: int = 1,
) -> dict[str, list[int]]:
    """Every channel the guard lets go: the smallest model a budget search can reach.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> from slimkit.surgery import channel_groups
        >>> groups = channel_groups(build_model("vgg_tiny"), torch.randn(2, 3, 32, 32))
        >>> len(all_removable(groups, min_channels=2)["features.0"])
        6
    """
    check_guard(min_channels, min_fraction, round_to)
    removal = {}
    for group in groups:
        keep = keep_count(group.size, min_channels, min_fraction, group.step(round_to))
        chosen = sorted(i for block in _blocks(group, keep, round_to) for i in block)
        if chosen:
            removal[group.root] = chosen
    return removal


def select_budget(
    groups: Sequence[ChannelGroup],
    budget: Budget,
    model: nn.Module,
    example_input: torch.Tensor,
    *,
    min_channels: int = 1,
    min_fraction: float = 0.0,
    round_to: int = 1,
) -> dict[str, list[int]]:
    """The fewest lowest-importance channels whose removal brings ``model`` within ``budget``.

    Removable blocks (the per-group guard applied; ``round_to`` channels each) are ranked
    globally by importance, a block by its most important channel, so a group's blocks stay in
    order; exact zeros rank first. :func:`slimkit.measure.budget.fewest_steps` finds the
    shortest prefix of that ranking whose pruned copy fits, measuring each candidate (MACs and
    parameters counted, latency timed in ONNX Runtime); for MACs a per-layer estimate gives the
    starting point, so only a few copies are counted.

    Raises:
        BudgetError: even removing every removable block misses the budget; the message names
            the closest reachable fraction and the guard.
    """
    _require_groups(groups, f"budget {budget.quantity}")
    check_guard(min_channels, min_fraction, round_to)
    keeps = [keep_count(g.size, min_channels, min_fraction, g.step(round_to)) for g in groups]
    input_size = tuple(int(s) for s in example_input.shape[1:])
    entries = [
        (float(group.importance[block[-1]]), g, pos, block)
        for g, (group, keep) in enumerate(zip(groups, keeps, strict=True))
        for pos, block in enumerate(_blocks(group, keep, round_to))
    ]
    entries.sort(key=lambda e: e[:3])
    ranking = [(g, block) for _, g, _, block in entries]

    def cost(k: int) -> float:
        trial = copy.deepcopy(model)
        pruned = prune_channels(trial, _removal_of(groups, ranking, k), example_input)
        return budget.cost(pruned, input_size)

    start = 0
    if budget.quantity == "macs":  # start just before the estimate fits; counts confirm
        estimate = MacEstimate(model, groups, input_size)
        while start < len(ranking) and not budget.fits(estimate.total):
            estimate.remove(*ranking[start])
            start += 1
        start = max(0, start - 1)
    hint = f"min_channels={min_channels}, min_fraction={min_fraction}, round_to={round_to}"
    k = fewest_steps(cost, len(ranking), budget, start=start, hint=hint)
    return _removal_of(groups, ranking, k)


def select_channels(
    groups: Sequence[ChannelGroup],
    rule: str,
    *,
    percent: float | None = None,
    macs_target: float | None = None,
    min_channels: int = 1,
    min_fraction: float = 0.0,
    round_to: int = 1,
    model: nn.Module | None = None,
    example_input: torch.Tensor | None = None,
) -> dict[str, list[int]]:
    """Choose channels to remove from BN scales.

    A channel's importance is the max of ``|gamma|`` over the BNs coupled to it
    (:attr:`ChannelGroup.importance`). Rules:

    - ``"zeros"``: exactly the channels whose ``gamma`` is 0 in every coupled BN (proximal
      slimming: no threshold).
    - ``"threshold"``: Network Slimming's global percentile. All importances are concatenated
      and sorted ascending; ``thr = sorted[floor(N * percent)]`` (0-based, the official PyTorch
      convention) and every channel with importance ``<= thr`` goes: ``floor(N * percent) + 1``
      channels plus ties (``percent=0`` removes the global minimum and its ties).
    - ``"macs"``: the lowest-importance channels go, globally, until the MACs are at most
      ``macs_target`` times the initial MACs (as few as possible beyond that); an estimate picks
      the count and a true count on a pruned copy confirms it.

    Every rule keeps at least ``max(min_channels, ceil(min_fraction * size))`` channels per group,
    the most important ones, so no layer is ever emptied.

    With ``round_to=r`` every group keeps a multiple of ``r`` channels (or all of them), as
    Torch-Pruning's ``round_to`` does: ONNX Runtime's CPU convolutions work on blocks of 8 or 16
    channels (AVX2 / AVX-512), so a layer cut to 11 channels runs as slowly as one of 16 and the
    MAC reduction does not become a speed-up. The kept count is rounded *up*: ``zeros`` keeps the
    most important of the zero channels (which stay exactly zero, so the removal is still exact),
    ``threshold`` keeps the most important of the chosen channels and ``macs`` removes whole
    blocks of ``r`` channels (a block ranks by its most important channel).

    Args:
        groups: From :func:`channel_groups`.
        rule: ``"zeros"``, ``"threshold"`` or ``"macs"``.
        percent: Fraction for ``"threshold"``, in ``[0, 1)``.
        macs_target: Target MAC fraction for ``"macs"``, in ``(0, 1]``.
        min_channels: Channels always kept per group (>= 1).
        min_fraction: Fraction of each group always kept.
        round_to: Keep a multiple of this many channels per group (1: any count).
        model: The model the groups came from (``"macs"`` only; not modified).
        example_input: A batch for tracing (``"macs"`` only).

    Returns:
        Root name -> sorted channel indices to remove (groups with nothing to remove omitted).

    Raises:
        ValueError: For an unknown rule, a missing or out-of-range argument, or an unreachable
            MAC target.

    Example:
        >>> import torch
        >>> from slimkit.models import build_model
        >>> from slimkit.surgery import channel_groups
        >>> model = build_model("vgg_tiny")
        >>> model.features[1].weight.data[[2, 5]] = 0.0
        >>> groups = channel_groups(model, torch.randn(2, 3, 32, 32))
        >>> select_channels(groups, "zeros")
        {'features.0': [2, 5]}
    """
    _check_args(
        rule, percent, macs_target, min_channels, min_fraction, round_to, model, example_input
    )
    if rule != "zeros":
        _require_groups(groups, f"rule {rule!r}")
    keeps = [keep_count(g.size, min_channels, min_fraction, g.step(round_to)) for g in groups]
    if rule == "macs":
        assert model is not None and example_input is not None and macs_target is not None
        initial = float(count_macs(model, tuple(int(s) for s in example_input.shape[1:])))
        budget = Budget("macs", limit=float(macs_target) * initial, reference=initial)
        return select_budget(
            groups,
            budget,
            model,
            example_input,
            min_channels=min_channels,
            min_fraction=min_fraction,
            round_to=round_to,
        )
    if rule == "zeros":
        chosen = [g.zero for g in groups]
    else:
        assert percent is not None
        allimp = torch.cat([g.importance for g in groups]) if groups else torch.zeros(0)
        if allimp.numel() == 0:
            return {}
        ordered = torch.sort(allimp).values
        # round() first: 0.29 * 100 is 28.999999999999996 in floats, meant as 29.
        cut = math.floor(round(allimp.numel() * float(percent), 9))
        thr = ordered[min(cut, allimp.numel() - 1)]
        chosen = [g.importance <= thr for g in groups]
    removal = {}
    for group, pick, keep in zip(groups, chosen, keeps, strict=True):
        idxs = _guarded(group, pick, keep, round_to)
        if idxs:
            removal[group.root] = idxs
    return removal
