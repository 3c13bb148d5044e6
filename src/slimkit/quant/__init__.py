"""Quantization-aware training: STE weight/activation quantizers, quantized layers, QAT
preparation of any CNN (the ``quantize`` artifact edit), BN folding and ONNX QDQ export
(FAQD digest ../shared/papers/trp_faqd.md §2.6)."""

from slimkit.quant.export import QDQExportResult, export_qdq, to_float_module, to_qdq_module
from slimkit.quant.modules import QuantConv2d, QuantLinear
from slimkit.quant.prepare import (
    calibrate,
    conv_bn_pairs,
    fold_bn,
    folded_conv,
    is_quantized,
    prepare_qat,
    quant_plan,
)
from slimkit.quant.quantizers import (
    ActQuantizer,
    WeightQuantizer,
    act_range,
    ls_scale,
    quantize_weight,
    weight_codes,
    weight_levels,
)

__all__ = [
    "ActQuantizer",
    "QDQExportResult",
    "QuantConv2d",
    "QuantLinear",
    "WeightQuantizer",
    "act_range",
    "calibrate",
    "conv_bn_pairs",
    "export_qdq",
    "fold_bn",
    "folded_conv",
    "is_quantized",
    "ls_scale",
    "prepare_qat",
    "quant_plan",
    "quantize_weight",
    "to_float_module",
    "to_qdq_module",
    "weight_codes",
    "weight_levels",
]
