"""The ``measure`` stage: parameters, MACs and latency (torch eager and ONNX Runtime on CPU).

Recipe form::

    - kind: measure
      batch_sizes: [1, 32]
      threads: null        # default: the run's thread count
      repeats: 20
      runtimes: [torch, ort]

Report fields: ``params``, ``macs``, ``latency_ms`` (e.g. ``torch_bs1``, ``ort_bs32``), which also
become the report's ``final.latency_ms``.
"""

from __future__ import annotations

from typing import Any

import torch

from slimkit.measure import measure_model
from slimkit.stages.config import MeasureStageConfig


def run_measure(ctx: Any, cfg: MeasureStageConfig) -> dict[str, Any]:
    """Measure ``ctx.model`` on the CPU (rank 0)."""
    if not ctx.dist.is_main:
        return {}
    onnx = ctx.path(ctx.final.onnx_path) if ctx.final.onnx_path else None
    result = measure_model(
        ctx.model.module.cpu(),
        ctx.model.input_size,
        onnx_path=onnx,
        batch_sizes=cfg.batch_sizes,
        threads=cfg.threads or torch.get_num_threads(),
        warmup=cfg.warmup,
        repeats=cfg.repeats,
        runtimes=cfg.runtimes,
    )
    ctx.final.latency_ms = dict(result.get("latency_ms", {}))
    shown = ", ".join(f"{k} {v:.2f} ms" for k, v in ctx.final.latency_ms.items())
    ctx.echo(f"measured {result['params']:,} params, {result['macs']:,} MACs; {shown}")
    return result
