"""Factorization and QAT work on option-A (zero-padding shortcut) ResNets, like the stored
akamaster checkpoints: exactness at full rank, and an 8-bit QDQ export that runs in ONNX Runtime."""

from __future__ import annotations

import torch

from slimkit.lowrank import factorize_model, max_rank
from slimkit.lowrank.factorize import eligible_layers
from slimkit.models import PadShortcut, build_model
from slimkit.quant import calibrate, export_qdq, prepare_qat, quant_plan


def _option_a_model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("resnet8a_tiny").eval()
    assert any(isinstance(m, PadShortcut) for m in model.modules())
    return model


def test_full_rank_factorization_of_option_a_model_is_exact():
    model = _option_a_model()
    x = torch.randn(4, 3, 32, 32)
    before = model(x)
    for scheme in ("spatial", "channel"):
        copy = _option_a_model()
        modules = dict(copy.named_modules())
        ranks = {n: max_rank(modules[n], scheme) for n in eligible_layers(copy)}
        assert ranks
        factorize_model(copy, ranks, scheme)
        assert (copy.eval()(x) - before).abs().max() <= 1e-4


def test_int8_qat_option_a_model_exports_with_parity(tmp_path):
    model = _option_a_model()
    x = torch.randn(8, 3, 32, 32)
    float_out = model(x)
    prepare_qat(model, plan=quant_plan(model, weight_bits=8, act_bits=7))
    calibrate(model, [x], torch.device("cpu"))
    model.eval()
    fake = model(x)
    assert (fake - float_out).abs().max() <= 0.1 * float_out.abs().max()
    result = export_qdq(model, tmp_path / "m.onnx", (3, 32, 32), latency=False, check_batch=8)
    assert result.qdq_nodes > 0 and result.argmax_agreement == 1.0
    assert result.max_abs_diff <= 1e-5  # measured 8.9e-8 (8-bit weights, 7-bit activations)
