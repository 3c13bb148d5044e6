"""The ``quantize`` stage: prepare the current model for quantization-aware training.

Recipe form::

    - kind: quantize
      weight_bits: 4           # 1 (scaled sign) | 2 (ternary) | 3-8 (uniform)
      act_bits: 4              # 1-8, or null: float activations (weights only)
      first_last_bits: 8       # first and last conv/linear layer; null: as the body
      per_channel: true        # one weight scale per output channel
      weight_scale: ls         # ls (least squares) | lsq (learned step)
      ls_iters: 1
      skip: []                 # layer names kept float
      calibration_batches: 4   # training batches (images only) that set the activation steps

Every conv and linear layer becomes a QuantConv2d/QuantLinear (:mod:`slimkit.quant`) through the
artifact edit ``quantize``; the activation steps are calibrated on a few training images (no
labels), then the fake-quant model is evaluated. The next ``train`` stage fine-tunes it (QAT),
usually with the ``distill`` term; a later ``export`` stage writes ONNX with
QuantizeLinear/DequantizeLinear. Report fields: ``weight_bits``, ``act_bits``,
``first_last_bits``, ``per_channel``, ``weight_scale``, ``quantized_layers``, ``top1`` (before
fine-tuning).
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from slimkit.quant.prepare import calibrate, is_quantized, quant_plan
from slimkit.stages.config import QuantizeStageConfig


def run_quantize(ctx: Any, cfg: QuantizeStageConfig) -> dict[str, Any]:
    """Swap in quantized layers, calibrate the activation steps, evaluate."""
    handle = ctx.model
    if is_quantized(handle.module):
        raise ValueError("kind: 'quantize' runs once; the model is already quantized")
    if cfg.weight_scale == "lsq" and cfg.weight_bits < 3:
        raise ValueError(f"weight_scale: 'lsq' needs weight_bits >= 3, got {cfg.weight_bits}")
    plan = quant_plan(
        handle.module,
        weight_bits=cfg.weight_bits,
        act_bits=cfg.act_bits,
        first_last_bits=cfg.first_last_bits,
        skip=cfg.skip,
    )
    handle.apply_edit(
        "quantize",
        plan=plan,
        per_channel=cfg.per_channel,
        weight_scale=cfg.weight_scale,
        ls_iters=cfg.ls_iters,
    )
    handle.module = handle.module.to(ctx.device)
    loader = ctx.loader("train", seed_offset=ctx.stage_index)
    used = calibrate(
        handle.module,
        (x for x, _ in islice(loader, cfg.calibration_batches)),
        ctx.device,
        dist=ctx.dist,
    )
    result = ctx.evaluate("eval quantized")
    ctx.echo(
        f"quantized {len(plan)} layers to W{cfg.weight_bits}A{cfg.act_bits or 32} "
        f"(first/last {cfg.first_last_bits or 'as body'}), calibrated on {used} batches; "
        f"{result.describe()} before fine-tuning"
    )
    return {
        "weight_bits": cfg.weight_bits,
        "act_bits": cfg.act_bits,
        "first_last_bits": cfg.first_last_bits,
        "per_channel": cfg.per_channel,
        "weight_scale": cfg.weight_scale,
        "quantized_layers": len(plan),
        **result.record(),
    }
