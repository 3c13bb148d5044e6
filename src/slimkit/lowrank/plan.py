"""Choosing ranks for the factorize stage, with closed-form MACs per layer (TRP digest §1.6–1.7).

For each eligible layer the matrix view's singular values give a rank by a rule (``energy`` e,
``relative`` τ, or ``macs``: the largest common energy e whose factorized model fits a MACs
budget). Two deployment guards, both parameters:

- ``rank_multiple``: ranks are rounded **up** to a multiple (capped at full rank), so no rule
  keeps less than it asked for. ONNX Runtime's CPU convs run in a blocked channel layout
  (NCHWc, blocks of 16 on AVX-512, 8 on AVX2) only when channel counts are multiples of the block;
  measured on ResNet-20 (2 threads, batch 32), spatial ranks {16, 16, 32} per stage ran 1.81x
  faster than dense, while ranks {11, 19, 29} with fewer MACs ran only 1.15x faster.
- ``max_cost_ratio``: a layer is factorized only if its two layers cost at most this fraction of
  its dense MACs (at full rank a factorization costs more than the layer it replaces); the other
  layers stay dense and are listed with ``factorize = False``.

MACs per layer and output pixel (C in, N out, kh×kw kernel, r the rank; the TRP code's counting
of §1.7, here for the real output sizes): dense ``N·C·kh·kw``; ``channel`` ``r·C·kh·kw + r·N``;
``spatial`` ``r·C·kh`` per pixel of the vertical conv's output (H_out × W_in) plus ``r·N·kw`` per
output pixel; linear ``r·(in + out)`` per token. They agree with :func:`slimkit.measure.count_macs`
of the factorized model (tested).

Example:
    >>> from slimkit.models import build_model
    >>> model = build_model("resnet8_tiny")
    >>> plan = plan_factorization(model, (3, 32, 32), rule="energy", threshold=0.5)
    >>> sorted(plan.ranks) == sorted(p.name for p in plan.layers if p.factorize)
    True
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn

from slimkit.lowrank.factorize import eligible_layers, max_rank
from slimkit.lowrank.rank import select_rank
from slimkit.lowrank.reshapes import Scheme, check_scheme, to_matrix
from slimkit.lowrank.svd import grouped_svd
from slimkit.measure.budget import Budget, largest_level

__all__ = [
    "FactorizationPlan",
    "LayerPlan",
    "dense_layer_macs",
    "factorized_layer_macs",
    "layer_shapes",
    "plan_factorization",
]

PlanRule = Literal["energy", "relative", "macs"]


@dataclass
class LayerPlan:
    """One eligible layer: chosen rank, its full rank, MACs dense and factorized, whether it is
    factorized, and the fraction of squared singular values the rank keeps."""

    name: str
    rank: int
    max_rank: int
    dense_macs: int
    factorized_macs: int
    factorize: bool
    energy_kept: float

    @property
    def macs(self) -> int:
        """MACs this layer costs under the plan."""
        return self.factorized_macs if self.factorize else self.dense_macs


@dataclass
class FactorizationPlan:
    """What :func:`plan_factorization` chose."""

    scheme: Scheme
    rule: str
    threshold: float
    layers: list[LayerPlan]

    @property
    def ranks(self) -> dict[str, int]:
        """``{layer: rank}`` of the layers to factorize (the ``factorize`` edit's parameter)."""
        return {p.name: p.rank for p in self.layers if p.factorize}

    def macs_saved(self) -> int:
        """MACs removed by factorizing the chosen layers."""
        return sum(p.dense_macs - p.factorized_macs for p in self.layers if p.factorize)

    def as_dicts(self) -> list[dict[str, Any]]:
        """Per-layer records as plain dicts (for reports)."""
        return [asdict(p) for p in self.layers]


def layer_shapes(
    model: nn.Module, names: list[str], input_size: tuple[int, int, int]
) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Input and output shape (batch 1) of each named layer, from one forward pass in eval mode.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2))
        >>> layer_shapes(net, ["0"], (3, 9, 9))["0"]
        ((1, 3, 9, 9), (1, 4, 4, 4))
    """
    from slimkit.measure._common import eval_mode

    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    modules = dict(model.named_modules())
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    handles = [
        modules[n].register_forward_hook(
            lambda m, args, out, n=n: shapes.__setitem__(
                n, (tuple(args[0].shape), tuple(out.shape))
            )
        )
        for n in names
    ]
    try:
        with eval_mode(model), torch.no_grad():
            model(torch.zeros(1, *input_size, device=device))
    finally:
        for h in handles:
            h.remove()
    return shapes


def dense_layer_macs(module: nn.Module, out_shape: tuple[int, ...]) -> int:
    """MACs of a ``groups == 1`` conv or a linear layer producing ``out_shape`` (batch 1).

    Example:
        >>> from torch import nn
        >>> dense_layer_macs(nn.Conv2d(3, 8, 3), (1, 8, 30, 30))
        194400
    """
    if isinstance(module, nn.Linear):
        tokens = int(torch.Size(out_shape).numel()) // module.out_features
        return tokens * module.in_features * module.out_features
    n, c, kh, kw = module.weight.shape
    return int(n * c * kh * kw * out_shape[-2] * out_shape[-1])


def factorized_layer_macs(
    module: nn.Module,
    rank: int,
    scheme: Scheme,
    in_shape: tuple[int, ...],
    out_shape: tuple[int, ...],
) -> int:
    """MACs of ``module`` factorized at ``rank`` (batch 1), see the module docstring.

    Example:
        >>> from torch import nn
        >>> conv = nn.Conv2d(16, 16, 3, padding=1)
        >>> factorized_layer_macs(conv, 4, "channel", (1, 16, 8, 8), (1, 16, 8, 8))  # 4*(144+16)*64
        40960
    """
    if isinstance(module, nn.Linear):
        tokens = int(torch.Size(out_shape).numel()) // module.out_features
        return tokens * rank * (module.in_features + module.out_features)
    n, c, kh, kw = module.weight.shape
    ho, wo = out_shape[-2], out_shape[-1]
    if scheme == "channel":
        return int(rank * (c * kh * kw + n) * ho * wo)
    w_in = in_shape[-1]  # the vertical kh×1 conv keeps the input width
    return int(rank * c * kh * ho * w_in + rank * n * kw * ho * wo)


def _round_up(rank: int, multiple: int, full: int) -> int:
    return min(full, -(-rank // multiple) * multiple)


def plan_factorization(
    model: nn.Module,
    input_size: tuple[int, int, int],
    *,
    scheme: Scheme = "spatial",
    rule: PlanRule = "energy",
    threshold: float | None = None,
    macs_target: float | None = None,
    layers: list[str] | None = None,
    include_linear: bool = False,
    include_strided: bool = True,
    rank_multiple: int = 1,
    max_cost_ratio: float = 1.0,
    min_rank: int = 1,
    budget: Budget | None = None,
    iters: int = 30,
) -> FactorizationPlan:
    """Choose a rank for each eligible layer and which layers to factorize.

    Args:
        model: the network (not modified).
        input_size: ``(C, H, W)`` of one input.
        scheme: ``channel`` (NC) or ``spatial`` (VH) for convs.
        rule: ``energy`` (``threshold`` = e), ``relative`` (``threshold`` = τ: keep σ_i ≥ τ·σ_1),
            or ``macs`` (``macs_target`` = fraction of the whole model's MACs to keep; the
            largest common energy e that fits is found by bisection).
        threshold: e or τ for the first two rules.
        macs_target: fraction in (0, 1] for ``macs``.
        layers: layer names (default: :func:`eligible_layers`).
        include_linear: add linear layers but the classifier (default layer list only).
        include_strided: keep strided convs in the default layer list.
        rank_multiple: round ranks up to a multiple of this (see module docstring).
        max_cost_ratio: factorize a layer only if factorized MACs ≤ this × dense MACs.
        min_rank: smallest rank a rule may return.
        budget: instead of ``rule``, the largest common energy whose factorized model fits this
            :class:`~slimkit.measure.budget.Budget` (MACs, parameters or ORT latency); MACs
            use the closed forms, the others measure a factorized copy.
        iters: bisection steps of the budget search.

    Returns:
        The plan; ``plan.ranks`` feeds the ``factorize`` edit.

    Raises:
        BudgetError: ``macs`` or ``budget`` cannot be met even at the smallest ranks; the
            message names the closest reachable fraction (one contract with the ``prune``
            stage's search, :mod:`slimkit.measure.budget`).

    Example:
        >>> from slimkit.models import build_model
        >>> plan = plan_factorization(build_model("resnet8_tiny"), (3, 32, 32), rule="relative",
        ...                           threshold=0.0)
        >>> all(p.rank == p.max_rank for p in plan.layers)
        True
    """
    scheme = check_scheme(scheme)
    if rule not in ("energy", "relative", "macs"):
        raise ValueError(f"rule: unknown rule {rule!r}; allowed: energy, relative, macs")
    if rule == "macs" and budget is None:
        if macs_target is None or not 0 < macs_target <= 1:
            raise ValueError(f"macs_target: expected a fraction in (0, 1], got {macs_target!r}")
    elif threshold is None and budget is None:
        raise ValueError(f"threshold: rule {rule!r} needs a threshold")
    if rank_multiple < 1:
        raise ValueError(f"rank_multiple: expected an int >= 1, got {rank_multiple!r}")
    names = (
        list(layers)
        if layers is not None
        else eligible_layers(model, include_linear=include_linear, include_strided=include_strided)
    )
    modules = dict(model.named_modules())
    for n in names:
        if n not in modules or not isinstance(modules[n], (nn.Conv2d, nn.Linear)):
            raise ValueError(f"layers: {n!r} is not a conv or linear layer of the model")
    shapes = layer_shapes(model, names, input_size)
    spectra = [s for _, s, _ in grouped_svd([to_matrix(modules[n].weight, scheme) for n in names])]
    full = [max_rank(modules[n], scheme) for n in names]
    dense = [dense_layer_macs(modules[n], shapes[n][1]) for n in names]

    def layer(i: int, r: int) -> LayerPlan:
        n, s, f, d = names[i], spectra[i], full[i], dense[i]
        cost = factorized_layer_macs(modules[n], r, scheme, *shapes[n])
        s2 = s.double().pow(2)
        kept = float(s2[:r].sum() / s2.sum()) if float(s2.sum()) > 0 else 1.0
        return LayerPlan(n, r, f, d, cost, cost <= max_cost_ratio * d, kept)

    def build(rule_name: str, value: float) -> FactorizationPlan:
        plans = []
        for i, (s, f) in enumerate(zip(spectra, full, strict=True)):
            r = int(select_rank(s, rule_name, value, min_rank))  # type: ignore[arg-type]
            plans.append(layer(i, _round_up(r, rank_multiple, f)))
        return FactorizationPlan(scheme, rule, value, plans)

    if rule != "macs" and budget is None:
        return build(rule, float(threshold))  # type: ignore[arg-type]
    if budget is None:
        from slimkit.measure.macs import count_macs

        dense_total = float(count_macs(model, input_size))
        assert macs_target is not None
        budget = Budget("macs", limit=macs_target * dense_total, reference=dense_total)
    if budget.quantity == "macs":  # closed form per layer (tested against count_macs)
        total = budget.cost(model, input_size)

        def cost(level: float) -> float:
            return total - build("energy", level).macs_saved()

    else:  # parameters or latency of the factorized copy
        from slimkit.lowrank.factorize import factorize_model

        def cost(level: float) -> float:
            trial = factorize_model(copy.deepcopy(model), build("energy", level).ranks, scheme)
            return budget.cost(trial, input_size)

    hint = f"min_rank={min_rank}, rank_multiple={rank_multiple}, max_cost_ratio={max_cost_ratio}"
    level = largest_level(cost, budget, lo=1e-9, hi=1.0, iters=iters, hint=hint)
    final = build("energy", level)
    if budget.quantity == "macs":
        _fill_budget(final, layer, budget.limit - (total - final.macs_saved()), rank_multiple)
    final.rule = "macs" if rule == "macs" else "budget"
    return final


def _fill_budget(
    plan: FactorizationPlan,
    layer: Callable[[int, int], LayerPlan],
    slack: float,
    rank_multiple: int,
) -> None:
    """Spend the MACs left under the budget after the common-energy search (in place).

    Ranks move in steps of ``rank_multiple``, so one common energy level overshoots: the next
    level up may add a whole block to every layer at once. Greedily raise one layer's rank by one
    step at a time, the step that keeps the most squared-singular-value fraction per added MAC
    first, while the model still fits (ours: the digest's TRP picks ranks per layer by energy
    and has no budget). ``layer(i, rank)`` rebuilds one :class:`LayerPlan`.
    """

    while True:
        best: tuple[float, int, LayerPlan] | None = None
        for i, p in enumerate(plan.layers):
            if not p.factorize or p.rank >= p.max_rank:
                continue
            q = layer(i, _round_up(p.rank + rank_multiple, rank_multiple, p.max_rank))
            extra = q.macs - p.macs
            if extra > slack:
                continue
            gain = (1.0 if not q.factorize else q.energy_kept) - p.energy_kept
            score = gain / max(extra, 1)
            if best is None or score > best[0]:
                best = (score, i, q)
        if best is None:
            return
        _, i, q = best
        slack -= q.macs - plan.layers[i].macs
        plan.layers[i] = q
