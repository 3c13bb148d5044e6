"""Each stage kind on a tiny model and tiny data, through the real pipeline.

Every assertion is a property the stage promises in its docstring: train lowers the loss and
records the task's metrics; evaluate records the test metrics; prune removes exactly-zero
channels without changing the outputs; factorize lowers the MACs; quantize swaps in fake-quant
layers; export writes an ONNX file that ONNX Runtime reproduces; measure records latencies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slimkit.pipeline import run_recipe
from slimkit.recipes import recipe_from_dict

DATA = {"name": "digits", "subset_per_class": 12, "test_subset_per_class": 6, "batch_size": 32}
RUNTIME = {"quiet": True, "threads": 2}


def _run(tmp_path: Path, model: str, stages: list[dict[str, Any]], **extra: Any) -> dict:
    raw = {"model": {"name": model}, "data": DATA, "runtime": RUNTIME, "stages": stages, **extra}
    return run_recipe(recipe_from_dict(raw), tmp_path / "run", echo=lambda line: None)


def test_train_stage_records_task_metrics_and_lowers_loss(tmp_path: Path) -> None:
    report = _run(
        tmp_path,
        "lenet5",
        [{"kind": "train", "epochs": 6, "optimizer": {"lr": 0.1}}],
        data={**DATA, "val_fraction": 0.25, "batch_size": 10},
    )
    stage = report["stages"][0]
    assert stage["kind"] == "train" and stage["epochs"] == 6
    lines = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in lines if r.get("event") == "epoch"]
    assert len(epochs) == 6
    # both evaluated splits are logged every epoch, with every classification metric
    assert {"val_top1", "val_top5", "test_top1", "test_loss", "train_top1"} <= set(epochs[-1])
    # measured: 2.33 -> 1.93 (ratio 0.83) over 6 epochs of 90 digits, seed 0
    assert epochs[-1]["train_loss"] < 0.9 * epochs[0]["train_loss"]
    assert report["dataset"]["val_size"] == 30 and report["dataset"]["train_size"] == 90
    assert report["final"]["headline"]["name"] == "top1"
    assert report["final"]["metrics"]["top1"] == report["final"]["top1"]


def test_run_context_satisfies_the_stage_and_term_protocols(tmp_path: Path) -> None:
    import torch

    from slimkit.contexts import StageContext, TermContext
    from slimkit.engine.distributed import DistInfo
    from slimkit.pipeline import build_run

    recipe = recipe_from_dict(
        {
            "model": {"name": "lenet5"},
            "data": DATA,
            "runtime": RUNTIME,
            "stages": [{"kind": "evaluate"}],
        }
    )
    ctx = build_run(
        recipe,
        tmp_path / "run",
        resume=False,
        quiet=True,
        echo=lambda line: None,
        device=torch.device("cpu"),
        dist=DistInfo(),
    )
    assert isinstance(ctx, StageContext) and isinstance(ctx, TermContext)
    assert ctx.splits() == ["train", "test"] and ctx.input_size == (3, 32, 32)


def test_evaluate_stage_matches_final_metrics(tmp_path: Path) -> None:
    report = _run(tmp_path, "lenet5", [{"kind": "evaluate"}])
    stage = report["stages"][0]
    assert stage["count"] == 60
    assert stage["top1"] == report["final"]["top1"]
    assert set(stage["metrics"]) == {"top1", "top5", "loss"}


def test_prune_stage_removes_channels(tmp_path: Path) -> None:
    report = _run(
        tmp_path,
        "vgg_tiny",
        [
            {"kind": "train", "epochs": 1},
            {"kind": "evaluate"},
            {"kind": "prune", "rule": "zeros"},  # nothing is exactly zero after 1 epoch
            {"kind": "prune", "rule": "threshold", "percent": 0.3},
        ],
    )
    evaluated, zeros, threshold = report["stages"][1:]
    assert zeros["channels_removed"] == 0 and zeros["top1"] == evaluated["top1"]
    assert threshold["channels_removed"] > 0
    assert threshold["macs_after"] < threshold["macs_before"]
    assert report["final"]["macs"] == threshold["macs_after"]


def test_factorize_stage_lowers_macs(tmp_path: Path) -> None:
    report = _run(
        tmp_path,
        "resnet8_tiny",
        [{"kind": "train", "epochs": 1}, {"kind": "factorize", "rule": "energy", "energy": 0.5}],
    )
    stage = report["stages"][1]
    assert stage["macs_after"] < stage["macs_before"]
    assert 0.0 <= stage["top1"] <= 1.0


def test_quantize_export_measure_stages(tmp_path: Path) -> None:
    report = _run(
        tmp_path,
        "lenet5",
        [
            {"kind": "train", "epochs": 1},
            # 7-bit activations: 8 x 8 bits saturate ORT's u8s8 kernels on CPUs without VNNI
            {"kind": "quantize", "weight_bits": 8, "act_bits": 7},
            {"kind": "export"},
            {"kind": "measure", "batch_sizes": [1], "repeats": 3, "warmup": 1},
        ],
    )
    quant, export, measure = report["stages"][1:]
    assert quant["quantized_layers"] > 0
    assert (tmp_path / "run" / report["artifacts"]["onnx"]).is_file()
    # ORT runs the same integer arithmetic as the fake-quant model: measured max abs logit
    # difference 5.2e-4 (one activation code flipped at a rounding tie) and 100 % top-class
    # agreement on 256 training images
    assert export["max_abs_diff"] <= 2e-3
    assert export["argmax_agreement"] == 1.0
    assert report["final"]["latency_ms"] and all(
        v > 0 for v in report["final"]["latency_ms"].values()
    )
    assert measure["kind"] == "measure"
