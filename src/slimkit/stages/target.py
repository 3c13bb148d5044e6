"""What a ``prune`` or ``factorize`` stage with ``rule: target`` gets from the run's target plan.

Example:
    >>> from types import SimpleNamespace
    >>> target_budget(SimpleNamespace(target_plan=None), SimpleNamespace(rule="zeros")) is None
    True
"""

from __future__ import annotations

from typing import Any

from torch import nn

from slimkit.measure.budget import Budget

__all__ = ["budget_record", "target_budget"]


def target_budget(ctx: Any, cfg: Any) -> Budget | None:
    """This stage's :class:`Budget` (its share of the dense value), or ``None`` unless the
    stage's rule is ``target``."""
    if cfg.rule != "target":
        return None
    plan = getattr(ctx, "target_plan", None)
    if plan is None:
        raise ValueError(f"stages[{ctx.stage_index}]: rule 'target' needs a target: section")
    return plan.budget(plan.stage(ctx.stage_index).share)


def budget_record(budget: Budget | None, module: nn.Module, input_size: Any) -> dict[str, Any]:
    """Report fields of a budget stage: ``target_quantity``, ``target_share``, ``target_limit``
    and ``target_achieved`` (the quantity measured on the result; empty without a budget)."""
    if budget is None:
        return {}
    achieved = budget.cost(module, tuple(input_size))
    return {
        "target_quantity": budget.label,
        "target_share": budget.fraction,
        "target_limit": budget.limit,
        "target_achieved": achieved,
        "target_achieved_share": achieved / budget.reference,
    }
