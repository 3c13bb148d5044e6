"""QAT preparation of zoo/torchvision models, BN folding, artifact replay, ONNX QDQ parity."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from slimkit.artifacts import SlimModel, load_artifact, save_artifact
from slimkit.models import build_model
from slimkit.quant import (
    QuantConv2d,
    QuantLinear,
    calibrate,
    conv_bn_pairs,
    export_qdq,
    folded_conv,
    prepare_qat,
    quant_plan,
    to_qdq_module,
)


def _bn(channels: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        bn.weight.copy_(torch.randn(channels, generator=gen))  # negative scales included
        bn.bias.copy_(torch.randn(channels, generator=gen))
        bn.running_mean.copy_(torch.randn(channels, generator=gen))
        bn.running_var.copy_(torch.rand(channels, generator=gen) + 0.5)
    return bn


def test_bn_folding_equals_conv_then_bn_in_eval() -> None:
    conv, bn = nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=True), _bn(6)
    x = torch.randn(2, 3, 9, 9)
    assert torch.allclose(folded_conv(conv, bn)(x), bn(conv(x)), atol=1e-5)


def test_bn_folding_of_quantized_conv_keeps_codes() -> None:
    conv = QuantConv2d(4, 6, 3, padding=1, bias=False, weight_bits=4, act_bits=None)
    bn = _bn(6)
    net = nn.Sequential(conv, bn).eval()
    qdq = to_qdq_module(net)
    assert isinstance(qdq[1], nn.Identity)  # the BN went into the conv
    codes = qdq[0].w_codes
    assert codes.abs().max() <= 7 and torch.equal(codes, codes.round())
    x = torch.randn(2, 4, 7, 7)
    assert torch.allclose(qdq(x), net(x), atol=1e-5)


def test_plan_first_last_and_swap_on_resnet() -> None:
    model = build_model("resnet8_tiny")
    plan = quant_plan(model, weight_bits=2, act_bits=4, first_last_bits=8)
    assert plan["conv1"] == [8, 8] and plan["fc"] == [8, 8] and plan["layer2.0.conv1"] == [2, 4]
    weight = model.layer1[0].conv1.weight
    prepare_qat(model, plan=plan)
    assert isinstance(model.conv1, QuantConv2d) and isinstance(model.fc, QuantLinear)
    assert model.layer1[0].conv1.weight is weight  # the float shadow weight is kept
    with pytest.raises(ValueError, match="skip"):
        quant_plan(build_model("resnet8_tiny"), skip=["nope"])


def test_torchvision_model_prepares_and_folds() -> None:
    model = build_model("tv:resnet18", num_classes=10)
    prepare_qat(model, plan=quant_plan(model))
    pairs = conv_bn_pairs(model)
    assert ("conv1", "bn1") in pairs and ("layer1.0.conv2", "layer1.0.bn2") in pairs
    calibrate(model, [torch.randn(2, 3, 32, 32)], torch.device("cpu"))
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    assert model(x).shape == (2, 10)


def test_quantize_edit_rebuilds_from_artifact(tmp_path: Path) -> None:
    handle = SlimModel.build("resnet8_tiny", num_classes=10, input_size=(3, 32, 32))
    handle.apply_edit("quantize", plan=quant_plan(handle.module), per_channel=True)
    calibrate(handle.module, [torch.rand(4, 3, 32, 32)], torch.device("cpu"))
    save_artifact(handle, tmp_path / "m.slim.pt")
    again = load_artifact(tmp_path / "m.slim.pt")
    x = torch.randn(2, 3, 32, 32)
    handle.module.eval(), again.module.eval()
    assert torch.equal(handle.module(x), again.module(x))


@pytest.mark.parametrize("bits", [8, 4])
def test_qdq_onnx_runs_in_ort_with_parity(tmp_path: Path, bits: int) -> None:
    torch.manual_seed(0)
    model = build_model("resnet8_tiny")
    prepare_qat(model, plan=quant_plan(model, weight_bits=bits, act_bits=bits))
    calibrate(model, [torch.randn(8, 3, 32, 32)], torch.device("cpu"))
    model.eval()
    res = export_qdq(model, tmp_path / "q.onnx", (3, 32, 32), batch_sizes=(1,))
    ops = {n.op_type for n in onnx.load(str(tmp_path / "q.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and "BatchNormalization" not in ops
    assert res.qdq_nodes >= 2 * 5
    # measured 1.2e-7 at 8 and at 4 bits (outputs up to 0.72), 100 % top-class agreement
    assert res.max_abs_diff <= 1e-5 and res.argmax_agreement == 1.0, res
    assert res.latency_ms["ort_int8_bs1"] > 0 and res.latency_ms["ort_fp32_bs1"] > 0


@pytest.mark.parametrize(("w_bits", "a_bits"), [(8, 7), (4, 4)])  # exact on AVX2 too (README)
def test_qdq_activation_codes_are_within_one_step_of_the_fake_quant_model(
    tmp_path: Path, w_bits: int, a_bits: int
) -> None:
    from slimkit.quant import max_code_difference

    torch.manual_seed(0)
    model = build_model("resnet8_tiny")
    prepare_qat(model, plan=quant_plan(model, weight_bits=w_bits, act_bits=a_bits))
    calibrate(model, [torch.randn(8, 3, 32, 32)], torch.device("cpu"))
    model.eval()
    res = export_qdq(model, tmp_path / "q.onnx", (3, 32, 32), latency=False)
    assert res.max_code_diff is not None and res.max_code_diff <= 1  # measured: 1 (W8A7), 0 (W4A4)
    x = torch.randn(5, 3, 32, 32)
    assert max_code_difference(model, tmp_path / "q.onnx", x) <= 1
    # the check can fail: another model's file gives codes many steps apart
    other = build_model("resnet8_tiny")
    prepare_qat(other, plan=quant_plan(other, weight_bits=w_bits, act_bits=a_bits))
    calibrate(other, [torch.randn(8, 3, 32, 32)], torch.device("cpu"))
    export_qdq(other.eval(), tmp_path / "other.onnx", (3, 32, 32), latency=False)
    assert max_code_difference(model, tmp_path / "other.onnx", x) > 1
