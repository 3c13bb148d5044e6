"""The ``evaluate`` stage: the task's metrics of the current model on the test split.

Recipe form: ``- kind: evaluate``. Report fields: the headline metric under its own name
(``top1`` for classification, ``map`` for detection...), ``metrics`` (all of them), ``count``.
"""

from __future__ import annotations

from typing import Any

from slimkit.stages.config import EvaluateStageConfig


def run_evaluate(ctx: Any, cfg: EvaluateStageConfig) -> dict[str, Any]:
    """Evaluate ``ctx.model`` on the test set."""
    result = ctx.evaluate()
    ctx.echo(f"test {result.describe()}")
    return {**result.record(), "count": result.count}
