"""One call for the figures a report needs: parameters, MACs, latency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from slimkit.measure.latency import measure_latency
from slimkit.measure.macs import FFT_RULE, count_macs_and_fft
from slimkit.measure.params import count_params


def measure_model(
    model: nn.Module,
    input_size: tuple[int, int, int],
    *,
    latency: bool = True,
    onnx_path: str | Path | None = None,
    **latency_kwargs: Any,
) -> dict[str, Any]:
    """Parameters, MACs per sample and (optionally) latency of ``model``.

    Args:
        model: the network, on CPU when ``latency`` is True.
        input_size: per-sample input shape ``(C, H, W)``.
        latency: also run :func:`~slimkit.measure.measure_latency`.
        onnx_path: an existing dynamic-batch ``.onnx`` file of this model for the ORT timings.
        **latency_kwargs: forwarded to :func:`~slimkit.measure.measure_latency`.

    Returns:
        ``{"params": int, "macs": int, "latency_ms": {...}}``; ``latency_ms`` only when
        ``latency`` is True. A model with FFTs adds ``fft_macs`` (their share of ``macs``) and
        ``fft_macs_rule`` (how they were counted, :data:`~slimkit.measure.macs.FFT_RULE`).

    Example:
        >>> from torch import nn
        >>> measure_model(nn.Linear(8, 2), (1, 1, 8), latency=False)
        {'params': 18, 'macs': 16}
    """
    macs, fft = count_macs_and_fft(model, input_size)
    out: dict[str, Any] = {"params": count_params(model), "macs": macs}
    if fft:
        out.update(fft_macs=fft, fft_macs_rule=FFT_RULE)
    if latency:
        out["latency_ms"] = measure_latency(
            model, input_size, onnx_path=onnx_path, **latency_kwargs
        )
    return out
