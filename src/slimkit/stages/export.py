"""The ``export`` stage: ONNX export with a parity check against torch.

Recipe form: ``- kind: export`` with optional ``opset`` and ``tolerance`` (fail the stage when the
ONNX Runtime output differs from torch by more). Report fields: ``onnx``, ``max_abs_diff``, ``opset``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from slimkit.measure import export_onnx
from slimkit.stages.base import StageConfig, register_stage


class ExportStageConfig(StageConfig):
    """Settings of an ``export`` stage."""

    kind: Literal["export"] = "export"
    opset: int = Field(17, ge=11)
    tolerance: float | None = Field(1e-3, gt=0)
    filename: str = "model.onnx"


@register_stage("export", ExportStageConfig)
def run_export(ctx: Any, cfg: ExportStageConfig) -> dict[str, Any]:
    """Export ``ctx.model`` to ONNX in the run directory (rank 0)."""
    if not ctx.dist.is_main:
        return {"onnx": cfg.filename}
    module = ctx.model.module.cpu()
    result = export_onnx(
        module,
        ctx.path(cfg.filename),
        ctx.model.input_size,
        opset=cfg.opset,
        tolerance=cfg.tolerance,
    )
    ctx.onnx_path = cfg.filename
    ctx.echo(f"exported {ctx.path(cfg.filename)} (max abs diff vs torch {result.max_abs_diff:.2e})")
    return {"onnx": cfg.filename, "max_abs_diff": result.max_abs_diff, "opset": result.opset}
