"""End to end: recipes/digits_faqd_w4a4.yaml meets the issue's acceptance."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

from slimkit.artifacts import load_artifact
from slimkit.pipeline import run_recipe
from slimkit.quant import is_quantized
from slimkit.recipes import load_recipe
from slimkit.report import validate_report
from tests.helpers import REPO


@pytest.mark.slow  # 40-80 s on 2 cores: CI runs it on its own line
def test_digits_faqd_w4a4_recipe(tmp_path: Path) -> None:
    out = tmp_path / "run"
    recipe = load_recipe(REPO / "recipes" / "digits_faqd_w4a4.yaml", ["runtime.quiet=true"])
    run_recipe(recipe, out, echo=lambda line: None)
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    teacher, quant, student, export = (report["stages"][i] for i in range(4))
    assert quant["kind"] == "quantize"
    assert quant["weight_bits"] == 4 and quant["act_bits"] == 4
    assert student["labels_used"] is False
    assert student["teacher_top1"] == teacher["top1"]
    assert student["top1"] >= student["teacher_top1"] - 0.03, (student, teacher)
    assert student["distill_fa"] > 0 and student["distill_kd"] > 0
    assert export["kind"] == "export" and export["qdq_nodes"] > 0
    # the export stage checks the QDQ file on 256 training images (top-class agreement with the
    # fake-quant model >= 0.99, measured 1.0). The logits differ by up to 1.17 (measured): the
    # 8-bit first/last layers saturate ORT's u8s8 kernels on this AVX2 CPU (no VNNI); the W4A4
    # body cannot saturate (issue-18 note)
    assert export["argmax_agreement"] >= 0.99
    assert export["latency_ms"]["ort_int8_bs1"] > 0
    ops = {n.op_type for n in onnx.load(str(out / export["onnx"])).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert "distill_losses_stage2.png" in report["plots"]
    final = load_artifact(out / "model.slim.pt")
    assert is_quantized(final.module) and not hasattr(final.module, "distill_adapters")
