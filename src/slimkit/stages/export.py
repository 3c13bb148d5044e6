"""The ``export`` stage: ONNX export with a parity check against torch.

Recipe form: ``- kind: export`` with optional ``opset``, ``tolerance`` (fail the stage when the
ONNX Runtime output differs from torch by more) and ``fft`` (``auto``/``dft``/``matmul``: how a
model's FFTs are exported, see :func:`slimkit.measure.export_onnx`). Report fields: ``onnx``,
``max_abs_diff``, ``opset``, and for a model with FFTs ``fft_path`` (and ``fft_latency_ms``, both
paths' ONNX Runtime latency, when ``auto`` measured them).

A quantized model (``quantize`` stage) is exported with QuantizeLinear/DequantizeLinear nodes by
:func:`slimkit.quant.export_qdq`: ``max_abs_diff`` is then ONNX Runtime vs the fake-quant model
is checked on ``qdq_check_images`` training images (default 256): the top class must agree on at
least ``qdq_min_agreement`` of them (default 0.99; classification) and, if given, the largest
difference must stay within ``qdq_tolerance`` (a rounding tie flipped by BN folding moves an
output by a quantization step); extra fields ``qdq_nodes``, ``max_abs_diff_export`` (ONNX
Runtime vs the exported BN-folded torch module), ``argmax_agreement``, ``max_code_diff`` (the
largest activation-code difference ORT vs fake-quant, in quantization steps; see
:mod:`slimkit.quant.qdq_codes`) and ``latency_ms`` (ONNX Runtime, ``ort_fp32_bs1``/``ort_int8_bs1``...
for the float and the QDQ file).
"""

from __future__ import annotations

from typing import Any

from slimkit.measure import export_onnx
from slimkit.quant import export_qdq, is_quantized
from slimkit.stages.config import ExportStageConfig


def _check_images(ctx: Any, count: int) -> Any:
    """The first ``count`` training images (unaugmented, normalized, NCHW) for the QDQ check."""
    import torch

    chunks, have = [], 0
    for batch in ctx.loader("train_eval"):
        chunks.append(batch[0].float().contiguous())
        have += len(batch[0])
        if have >= count:
            break
    return torch.cat(chunks)[:count].contiguous()


def run_export(ctx: Any, cfg: ExportStageConfig) -> dict[str, Any]:
    """Export ``ctx.model`` to ONNX in the run directory (rank 0)."""
    if not ctx.dist.is_main:
        return {"onnx": cfg.filename}
    module = ctx.model.module.cpu()
    if is_quantized(module):
        qdq = export_qdq(
            module, ctx.path(cfg.filename), ctx.model.input_size, opset=max(cfg.opset, 13),
            tolerance=cfg.qdq_tolerance, inputs=_check_images(ctx, cfg.qdq_check_images),
            min_agreement=cfg.qdq_min_agreement if ctx.task.name == "classification" else None,
        )  # fmt: skip
        ctx.final.onnx_path = cfg.filename
        ctx.echo(
            f"exported {ctx.path(cfg.filename)} with {qdq.qdq_nodes} QDQ nodes (max abs diff vs "
            f"fake-quant {qdq.max_abs_diff:.2e}, activation codes within {qdq.max_code_diff} "
            f"step(s)); ORT ms {qdq.latency_ms}"
        )
        return {
            "onnx": cfg.filename, "max_abs_diff": qdq.max_abs_diff, "opset": qdq.opset,
            "qdq_nodes": qdq.qdq_nodes, "latency_ms": qdq.latency_ms,
            "max_abs_diff_export": qdq.max_abs_diff_export,
            "argmax_agreement": qdq.argmax_agreement, "max_code_diff": qdq.max_code_diff,
        }  # fmt: skip
    result = export_onnx(
        module,
        ctx.path(cfg.filename),
        ctx.model.input_size,
        opset=cfg.opset,
        tolerance=cfg.tolerance,
        dynamic_batch=ctx.task.dynamic_batch,
        check_batch=2 if ctx.task.dynamic_batch else 1,
        fft=cfg.fft,
    )
    ctx.final.onnx_path = cfg.filename
    how = f", FFTs as {result.fft_path}" if result.fft_path else ""
    if result.fft_latency_ms:
        timed = ", ".join(f"{k} {v:.2f} ms" for k, v in result.fft_latency_ms.items())
        how += f", the faster in ORT of {timed}"
    ctx.echo(
        f"exported {ctx.path(cfg.filename)} (max abs diff vs torch {result.max_abs_diff:.2e}{how})"
    )
    out = {"onnx": cfg.filename, "max_abs_diff": result.max_abs_diff, "opset": result.opset}
    if result.fft_path:
        out["fft_path"] = result.fft_path
    if result.fft_latency_ms:
        out["fft_latency_ms"] = result.fft_latency_ms
    return out
