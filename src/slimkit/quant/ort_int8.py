"""Post-training int8 for ONNX Runtime: static quantization of an fp32 export that ORT runs in
integer kernels end to end.

Why not the QAT QDQ file (:mod:`slimkit.quant.export`) for speed: there every residual addition
sits between dequantized tensors, so ORT runs those convolutions in float with quantize/dequantize
around them, and the file is slower than fp32 (measured in issue 18: 1.42 vs 0.76 ms at batch 1).
:func:`quantize_onnx_int8` instead hands the fp32 export to ONNX Runtime's own static quantizer
(``onnxruntime.quantization.quantize_static``) after its pre-processing (shape inference and
graph optimization, ``quant_pre_process``), with:

- per-channel symmetric int8 weights (``WeightSymmetric``), uint8 activations (the u8s8 kernels
  of ORT's CPU MLAS; ``activation="s8"`` for s8s8);
- BatchNorm folded into the conv by the exporter (eval mode, constant folding) and Conv+ReLU
  fused by the quantizer (the ReLU becomes the output range of ``QLinearConv``);
- residual additions, global pooling and the classifier quantized too (``QLinearAdd``,
  ``QLinearGlobalAveragePool``, ``QGemm``), so the graph stays in integer from the first
  ``QuantizeLinear`` to the last ``DequantizeLinear``;
- activation ranges calibrated on training images (``minmax``, ``percentile`` or ``entropy``);
- the result saved after ORT's portable graph optimizations (``ORT_ENABLE_EXTENDED``; the
  hardware-specific NCHWc layout is applied when a session loads it).

Two container formats are written by the same quantizer: ``qoperator`` (``QLinearConv`` nodes
in the file) and ``qdq`` (``QuantizeLinear``/``DequantizeLinear`` pairs that ORT fuses when it
loads the file). :func:`integer_fraction` counts how much of the optimized graph runs in
integer kernels.

Example:
    >>> import tempfile, os, numpy as np, torch
    >>> from torch import nn
    >>> from slimkit.measure import export_onnx
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 4))
    >>> d = tempfile.mkdtemp()
    >>> _ = export_onnx(net.eval(), os.path.join(d, "fp32.onnx"), (3, 8, 8))
    >>> batches = [np.random.default_rng(0).standard_normal((8, 3, 8, 8), np.float32)]
    >>> res = quantize_onnx_int8(os.path.join(d, "fp32.onnx"), os.path.join(d, "int8.onnx"),
    ...                          batches)
    >>> res.ops.get("QLinearConv"), res.integer_fraction > 0.5
    (1, True)
"""

from __future__ import annotations

import collections
import logging
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FORMATS", "Int8File", "integer_fraction", "quantize_onnx_int8"]

FORMATS = ("qoperator", "qdq")
_LAYER_OPS = ("Conv", "Gemm", "MatMul")
METHODS = ("minmax", "percentile", "entropy")
# ops that compute on integers in ORT's CPU provider
INTEGER_OPS = frozenset(
    {
        "QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearMul", "QLinearGlobalAveragePool",
        "QLinearAveragePool", "QLinearConcat", "QLinearSigmoid", "QLinearLeakyRelu", "QGemm",
        "ConvInteger", "MatMulInteger", "MaxPool", "QLinearReduceMean", "QLinearSoftmax",
        "MatMulIntegerToFloat", "DynamicQuantizeMatMul",
    }
)  # fmt: skip
# layout/shape ops that move bytes whatever their type, and the entry/exit conversions
NEUTRAL_OPS = frozenset(
    {
        "QuantizeLinear", "DequantizeLinear", "Transpose", "Reshape", "Flatten", "Slice", "Pad",
        "Concat", "Squeeze", "Unsqueeze", "Shape", "Gather", "Identity", "ReorderInput",
        "ReorderOutput",
    }
)  # fmt: skip


@dataclass
class Int8File:
    """Outcome of :func:`quantize_onnx_int8`.

    Attributes:
        path: the int8 ``.onnx`` file (optimized).
        format: ``qoperator`` or ``qdq``.
        method: the calibration method.
        ops: op-type counts of the graph as ORT runs it (after its optimizations).
        integer_fraction: integer ops / compute ops (everything but layout, quantize/dequantize).
    """

    path: str
    format: str
    method: str
    ops: dict[str, int] = field(default_factory=dict)
    integer_fraction: float = 0.0


class _Batches:
    """``onnxruntime.quantization.CalibrationDataReader`` over in-memory batches."""

    def __init__(self, name: str, batches: Iterable[np.ndarray]) -> None:
        self._it = iter([{name: np.ascontiguousarray(b, dtype=np.float32)} for b in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _optimized_ops(path: Path, save: Path | None) -> dict[str, int]:
    import onnx
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    with tempfile.TemporaryDirectory() as tmp:
        out = save or Path(tmp) / "opt.onnx"
        opts.optimized_model_filepath = str(out)
        ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        graph = onnx.load(str(out)).graph
    return dict(collections.Counter(n.op_type for n in graph.node))


def integer_fraction(ops: dict[str, int]) -> float:
    """Share of compute ops (not layout, not quantize/dequantize) that run in integer."""
    compute = {k: v for k, v in ops.items() if k not in NEUTRAL_OPS}
    total = sum(compute.values())
    return sum(v for k, v in compute.items() if k in INTEGER_OPS) / total if total else 0.0


def quantize_onnx_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    calibration: Sequence[np.ndarray],
    *,
    fmt: str = "qoperator",
    method: str = "minmax",
    activation: str = "u8",
    per_channel: bool = True,
    reduce_range: bool = False,
    first_layer_float: bool = False,
) -> Int8File:
    """Quantize an fp32 ONNX classifier/backbone to int8 with ONNX Runtime's static quantizer.

    Args:
        fp32_path: the fp32 export (one float input).
        out_path: where the int8 file goes (optimized, portable).
        calibration: input batches (N, C, H, W), already normalized like the model's inputs.
        fmt: ``qoperator`` or ``qdq``.
        method: activation-range calibration: ``minmax``, ``percentile`` or ``entropy``.
        activation: ``u8`` (u8s8 kernels) or ``s8`` (s8s8).
        per_channel: per-output-channel weight scales.
        reduce_range: 7-bit weights. x86 CPUs without VNNI compute u8 x s8 products in pairs
            summed into int16 (``vpmaddubsw``), which saturates for large activations times large
            weights; 7-bit weights cannot saturate.
        first_layer_float: keep the first conv/linear in float (its input is the raw image, where
            saturation hurts most).

    Raises:
        ValueError: a bad argument or no calibration batch (one line).
    """
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if activation not in ("u8", "s8"):
        raise ValueError(f"activation: expected 'u8' or 's8', got {activation!r}")
    if not calibration:
        raise ValueError("calibration: no batch given; int8 ranges need calibration images")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    import onnx

    input_name = onnx.load(str(fp32_path), load_external_data=False).graph.input[0].name
    logging.getLogger("onnxruntime.quantization").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        pre, raw = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
        layers = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type in _LAYER_OPS]
        quantize_static(
            str(pre),
            str(raw),
            _Batches(input_name, calibration),  # type: ignore[arg-type]
            quant_format=QuantFormat.QOperator if fmt == "qoperator" else QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8 if activation == "u8" else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method={
                "minmax": CalibrationMethod.MinMax,
                "percentile": CalibrationMethod.Percentile,
                "entropy": CalibrationMethod.Entropy,
            }[method],
            reduce_range=reduce_range,
            nodes_to_exclude=layers[:1] if first_layer_float else [],
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": activation == "s8"},
        )
        ops = _optimized_ops(raw, save=out_path)
    return Int8File(str(out_path), fmt, method, ops, integer_fraction(ops))
