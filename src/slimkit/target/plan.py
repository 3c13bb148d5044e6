"""Split a recipe's target over its compression stages, and refuse an unreachable one early.

The rule (ours; documented in the README, "Compression to a target"):

- The budget stages are the ``prune`` and ``factorize`` stages with ``rule: target``, in recipe
  order; say there are ``k``. With an overall fraction ``T`` of the dense model's MACs,
  parameters or latency (``latency_ms`` is turned into a fraction of the dense latency measured
  at the start of the run), stage ``i`` (0-based) brings the model to the cumulative share
  ``T^((i+1)/k)`` of the dense value: every budget stage removes the same factor, and the last
  one always lands on ``T`` itself. A stage's own ``share:`` overrides its share (the last
  stage's cannot: it is ``T``).
- Each budget stage reaches its share with the shared search of :mod:`slimkit.measure.budget`
  (the ``prune`` stage ranks channel blocks by |γ|, exact zeros first; ``factorize`` lowers a
  common energy); a latency share is measured in ONNX Runtime on candidates.
- A ``train`` stage whose ``bn_sparsity`` term has ``lam: auto`` steers λ so that the exact
  zeros reach the share of the next budget ``prune`` stage in MACs (for a latency or parameter
  target the same fraction of MACs, a proxy; the ``prune`` stage then meets the real quantity).
- ``quantize`` and ``int8`` are not budget stages: they change neither MACs nor the parameter
  count, and their latency is measured, not planned.

Before the first stage, :func:`plan_target` removes every channel the budget ``prune`` stages'
guards allow and factorizes at the smallest ranks the ``factorize`` stages allow, on a copy of
the model; if even that misses ``T`` the run stops with one line naming the closest reachable
fraction.

Example:
    >>> from slimkit.models import build_model
    >>> from slimkit.recipes import recipe_from_dict
    >>> recipe = recipe_from_dict({"model": {"name": "resnet8_tiny"}, "target": {"macs": 0.25},
    ...     "stages": [{"kind": "prune", "rule": "target"},
    ...                {"kind": "factorize", "rule": "target", "rank_multiple": 1}]})
    >>> plan = plan_target(recipe, build_model("resnet8_tiny"), (3, 32, 32))
    >>> [round(s.share, 3) for s in plan.stages]
    [0.5, 0.25]
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimkit.measure.budget import Budget, BudgetError, LatencyCache

__all__ = ["StageShare", "TargetPlan", "plan_target"]


@dataclass
class StageShare:
    """One budget stage: its index in the recipe, kind, and cumulative share of the dense value."""

    index: int
    kind: str
    share: float


@dataclass
class TargetPlan:
    """The target resolved for one run.

    Attributes:
        quantity: ``macs``, ``params`` or ``latency``.
        fraction: the overall target as a fraction of ``reference``.
        reference: the dense model's value (MACs, parameters or ORT ms at ``batch_size``).
        stages: the budget stages and their shares.
        batch_size: ORT batch of a latency target (else ``None``).
        threads: ORT threads of latency measurements.
        tolerance: relative excess the report still calls met.
        closest: the smallest fraction the guards allow (checked at the start).
        reference_onnx: the dense model's ONNX file in the run directory (latency targets), so
            the end of the run can time it again beside the final model (:meth:`outcome`).
    """

    quantity: str
    fraction: float
    reference: float
    stages: list[StageShare]
    batch_size: int | None = None
    threads: int = 2
    tolerance: float = 0.05
    closest: float | None = None
    reference_onnx: str | None = None
    _latency: LatencyCache | None = field(default=None, repr=False, compare=False)

    @property
    def limit(self) -> float:
        """The overall target in the quantity's unit."""
        return self.fraction * self.reference

    @property
    def latency_cache(self) -> LatencyCache:
        """One timing cache for every search of the run (by architecture)."""
        if self._latency is None:
            self._latency = LatencyCache(batch_size=self.batch_size or 1, threads=self.threads)
        return self._latency

    def budget(self, share: float | None = None) -> Budget:
        """A :class:`Budget` for ``share`` of the dense value (default: the overall target)."""
        share = self.fraction if share is None else share
        latency = self.latency_cache if self.quantity == "latency" else None
        return Budget(
            self.quantity,  # type: ignore[arg-type]
            limit=share * self.reference,
            reference=self.reference,
            latency=latency,
        )

    def stage(self, index: int) -> StageShare:
        """The share of the budget stage at recipe index ``index``."""
        for entry in self.stages:
            if entry.index == index:
                return entry
        raise ValueError(f"stages[{index}] is not a budget stage of the target plan")

    def next_prune(self, after: int) -> StageShare | None:
        """The first budget ``prune`` stage after recipe index ``after`` (``None`` if none)."""
        return next((s for s in self.stages if s.kind == "prune" and s.index > after), None)

    def outcome(
        self,
        macs: int,
        params: int,
        latency_ms: dict[str, float],
        paired_ms: tuple[float, float] | None = None,
    ) -> dict[str, Any]:
        """The report's ``target`` block: what was asked, what the final model has, and whether
        it is within the tolerance (``met`` is ``None`` when a latency was not measured).

        For a latency target, ``paired_ms`` is ``(dense, final)`` ORT milliseconds timed in
        alternation at the end of the run (:func:`slimkit.measure.latency.paired_ort_latency`);
        when given, ``achieved_fraction`` and ``met`` use their ratio, which a machine that
        slowed down or sped up since the start of the run does not bias. ``achieved`` stays the
        measure stage's timing, ``reference`` the one the plan was made with.
        """
        if self.quantity == "macs":
            achieved: float | None = float(macs)
        elif self.quantity == "params":
            achieved = float(params)
        else:
            achieved = latency_ms.get(f"ort_bs{self.batch_size}")
        record = self.to_dict()
        record["limit"] = self.limit
        record["achieved"] = achieved
        fraction = None if achieved is None else achieved / self.reference
        if paired_ms is not None:
            record["paired_ms"] = {"dense": paired_ms[0], "final": paired_ms[1]}
            fraction = paired_ms[1] / paired_ms[0]
        record["achieved_fraction"] = fraction
        record["met"] = (
            None if fraction is None else fraction <= self.fraction * (1 + self.tolerance)
        )
        return record

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``target_plan.json`` in the run directory; resumed runs reuse it)."""
        record = asdict(self)
        record.pop("_latency", None)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> TargetPlan:
        """The inverse of :meth:`to_dict`."""
        data = dict(record)
        data["stages"] = [StageShare(**s) for s in data["stages"]]
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write ``to_dict`` as JSON."""
        from slimkit.fileio import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))


def _shares(recipe: Any, fraction: float) -> list[StageShare]:
    picked = [
        (i, s)
        for i, s in enumerate(recipe.stages)
        if s.kind in ("prune", "factorize") and getattr(s, "rule", None) == "target"
    ]
    k = len(picked)
    shares = []
    for n, (index, stage) in enumerate(picked):
        share = fraction ** ((n + 1) / k)
        if n < k - 1 and stage.share is not None:
            share = max(stage.share, fraction)
        shares.append(StageShare(index, stage.kind, share))
    return shares


def _dense_reference(quantity: str, module: nn.Module, input_size, cache: LatencyCache) -> float:
    from slimkit.measure.macs import count_macs
    from slimkit.measure.params import count_params

    if quantity == "macs":
        return float(count_macs(module, input_size))
    if quantity == "params":
        return float(count_params(module))
    return cache(module, input_size)


def _smallest_model(recipe: Any, module: nn.Module, input_size, shares: list[StageShare]):
    """The model after every budget stage cut as far as its guards allow; and the guards."""
    from slimkit.lowrank import plan_factorization
    from slimkit.lowrank.factorize import factorize_model
    from slimkit.models import PadShortcut, shortcut_a_to_b
    from slimkit.surgery import channel_groups, prune_channels
    from slimkit.surgery.select import all_removable

    work = copy.deepcopy(module).cpu().eval().to(memory_format=torch.contiguous_format)
    hints = []
    for entry in shares:
        cfg = recipe.stages[entry.index]
        if entry.kind == "prune":
            if any(isinstance(m, PadShortcut) for m in work.modules()):
                work = shortcut_a_to_b(work)
            example = torch.zeros(1, *input_size)
            groups = channel_groups(work, example)
            removal = all_removable(groups, cfg.min_channels, cfg.min_fraction, cfg.round_to)
            work = prune_channels(work, removal, example)
            hints.append(
                f"stages[{entry.index}] min_channels={cfg.min_channels}, round_to={cfg.round_to}"
            )
        else:
            plan = plan_factorization(
                work, input_size, rule="energy", threshold=1e-9, **cfg.plan_options()
            )
            work = factorize_model(work, plan.ranks, cfg.scheme)
            hints.append(
                f"stages[{entry.index}] min_rank={cfg.min_rank}, rank_multiple={cfg.rank_multiple}"
            )
    return work, "; ".join(hints)


def plan_target(
    recipe: Any,
    module: nn.Module,
    input_size: tuple[int, int, int],
    *,
    threads: int | None = None,
) -> TargetPlan:
    """Resolve ``recipe.target`` for ``module`` (the model before the first stage).

    Args:
        recipe: a validated :class:`~slimkit.recipes.Recipe` with a ``target`` section.
        module: the dense model (not modified).
        input_size: ``(C, H, W)`` of one input.
        threads: ORT threads for latency targets (default: the target's, else torch's).

    Raises:
        BudgetError: even the smallest model the budget stages' guards allow misses the target;
            one line with the closest reachable fraction and the guards.
    """
    cfg = recipe.target
    threads = cfg.threads or threads or torch.get_num_threads()
    cache = LatencyCache(batch_size=cfg.batch_size or 1, threads=threads)
    dense_module = copy.deepcopy(module).cpu().eval()
    reference = _dense_reference(cfg.quantity, dense_module, input_size, cache)
    if cfg.macs is not None:
        fraction = cfg.macs
    elif cfg.params is not None:
        fraction = cfg.params
    elif cfg.latency is not None:
        fraction = next(iter(cfg.latency.values()))
    else:
        assert cfg.latency_ms is not None
        fraction = next(iter(cfg.latency_ms.values())) / reference
        if fraction >= 1:
            raise BudgetError(
                f"target.latency_ms: {next(iter(cfg.latency_ms.values()))} ms is not below the "
                f"dense model's {reference:.3f} ms at {cfg.key} on this machine: nothing to do"
            )
    shares = _shares(recipe, fraction)
    plan = TargetPlan(
        quantity=cfg.quantity,
        fraction=fraction,
        reference=reference,
        stages=shares,
        batch_size=cfg.batch_size,
        threads=threads,
        tolerance=cfg.tolerance,
        _latency=cache,
    )
    smallest, hint = _smallest_model(recipe, dense_module, input_size, shares)
    closest = plan.budget().cost(smallest, input_size)
    plan.closest = closest / reference
    if not plan.budget().fits(closest):
        raise plan.budget().unreachable(closest, hint)
    return plan
