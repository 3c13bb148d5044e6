"""The ``evaluate`` stage: test top-1 and loss of the current model.

Recipe form: ``- kind: evaluate``. Report fields: ``top1``, ``count``.
"""

from __future__ import annotations

from typing import Any, Literal

from slimkit.stages.config import EvaluateStageConfig


def run_evaluate(ctx: Any, cfg: EvaluateStageConfig) -> dict[str, Any]:
    """Evaluate ``ctx.model`` on the test set."""
    ctx.top1 = ctx.evaluate()
    ctx.echo(f"test top-1 {ctx.top1:.4f}")
    return {"top1": ctx.top1, "count": len(ctx.data.test)}
