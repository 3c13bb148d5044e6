"""Quantization-aware training: STE weight/activation quantizers, quantized layers, QAT
preparation of any CNN (the ``quantize`` artifact edit), BN folding and ONNX QDQ export
(FAQD digest ../shared/papers/trp_faqd.md §2.6).

Public names are re-exported lazily (:mod:`slimkit._lazy`): importing the package imports
no submodule until a name is used.
"""

from slimkit._lazy import lazy_exports

_EXPORTS = {
    "QDQExportResult": "slimkit.quant.export",
    "export_qdq": "slimkit.quant.export",
    "to_float_module": "slimkit.quant.export",
    "to_qdq_module": "slimkit.quant.export",
    "max_code_difference": "slimkit.quant.qdq_codes",
    "QuantConv2d": "slimkit.quant.modules",
    "QuantLinear": "slimkit.quant.modules",
    "calibrate": "slimkit.quant.prepare",
    "conv_bn_pairs": "slimkit.quant.prepare",
    "fold_bn": "slimkit.quant.prepare",
    "folded_conv": "slimkit.quant.prepare",
    "is_quantized": "slimkit.quant.prepare",
    "prepare_qat": "slimkit.quant.prepare",
    "quant_plan": "slimkit.quant.prepare",
    "ActQuantizer": "slimkit.quant.quantizers",
    "WeightQuantizer": "slimkit.quant.quantizers",
    "act_range": "slimkit.quant.quantizers",
    "ls_scale": "slimkit.quant.quantizers",
    "quantize_weight": "slimkit.quant.quantizers",
    "weight_codes": "slimkit.quant.quantizers",
    "weight_levels": "slimkit.quant.quantizers",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
