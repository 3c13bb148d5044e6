"""End to end: slimming recipes through the CLI (train with a sparsity term, prune, report)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
import yaml

from slimkit.artifacts import load_artifact
from slimkit.report import validate_report
from tests.helpers import REPO, run_cli


@pytest.mark.slow  # 40-80 s on 2 cores: CI runs it on its own line
def test_digits_proximal_slimming_recipe(tmp_path: Path) -> None:
    out = tmp_path / "run"
    start = time.perf_counter()
    proc = run_cli(
        "run", str(REPO / "recipes" / "digits_proximal_slimming.yaml"), "--out", str(out), "-q"
    )
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    validate_report(report)
    train, prune = report["stages"][0], report["stages"][1]
    assert train["kind"] == "train" and train["sparsity"] > 0.2
    assert prune["kind"] == "prune" and prune["rule"] == "zeros"
    assert prune["channels_removed"] > 0 and prune["exact_zero_scales"] >= prune["channels_removed"]
    assert prune["channels_before"] > prune["channels_removed"]
    assert report["final"]["macs"] <= 0.8 * report["initial"]["macs"]
    assert report["final"]["params"] < report["initial"]["params"]
    # measured: 0.964 when the recipe was written; 0.940 on the 2026-12-01 CI machine (AMD EPYC,
    # the same code at 89f3dfd gives the same 0.940: float summation order differs by CPU)
    assert report["final"]["top1"] >= 0.92, report["final"]
    assert {"scale_histograms_stage0.png", "channels_stage1.png"} <= set(report["plots"])
    assert seconds < 150, f"{seconds:.0f}s"
    # the final artifact replays the channel removal and keeps the weights
    handle = load_artifact(out / "model.slim.pt")
    assert sum(p.numel() for p in handle.module.parameters()) == report["final"]["params"]


def test_network_slimming_threshold_prune_and_fine_tune(tmp_path: Path) -> None:
    recipe = {
        "name": "ns-small",
        "model": {"name": "vgg_tiny"},
        "data": {"name": "digits", "subset_per_class": 40, "batch_size": 32},
        "runtime": {"quiet": True},
        "stages": [
            {
                "kind": "train",
                "epochs": 2,
                "terms": [
                    {"name": "bn_sparsity", "method": "subgradient", "penalty": "l1", "lam": 1e-3}
                ],
            },
            {"kind": "prune", "rule": "threshold", "percent": 0.4, "round_to": 4},
            {"kind": "train", "epochs": 1, "optimizer": {"lr": 0.01}},
        ],
    }
    path = tmp_path / "ns.yaml"
    path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    proc = run_cli("run", str(path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    prune = report["stages"][1]
    assert prune["rule"] == "threshold" and prune["channels_removed"] > 0
    assert prune["macs_after"] < prune["macs_before"]
    assert report["final"]["macs"] == prune["macs_after"]
    handle = load_artifact(out / "model.slim.pt")
    assert [e["kind"] for e in handle.edits] == ["prune_channels"]
    assert handle.module(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    widths = [m.out_channels for m in handle.module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(w % 4 == 0 for w in widths) and widths != [8, 16, 32], widths  # round_to: 4


def test_prune_rule_needs_its_parameter(tmp_path: Path) -> None:
    bad = {"model": {"name": "lenet5"}, "stages": [{"kind": "prune", "rule": "threshold"}]}
    path = tmp_path / "bad_prune.yaml"
    path.write_text(yaml.safe_dump(bad))
    proc = run_cli("validate", str(path))
    assert proc.returncode == 2 and "needs 'percent'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_prune_stage_converts_option_a_exactly(tmp_path: Path) -> None:
    """An option-A ResNet is converted to option B (recorded edit) before surgery; the pruned
    artifact replays both edits and reproduces the run's outputs."""
    from slimkit.pipeline import run_recipe
    from slimkit.recipes import recipe_from_dict

    recipe = recipe_from_dict(
        {
            "name": "option-a-prune",
            "model": {"name": "resnet8a_tiny"},
            "data": {"name": "digits", "subset_per_class": 20, "batch_size": 32},
            "stages": [
                {"kind": "train", "epochs": 1},
                {"kind": "prune", "rule": "threshold", "percent": 0.3},
            ],
        }
    )
    report = run_recipe(recipe, tmp_path / "run", quiet=True, echo=lambda line: None)
    prune = report["stages"][1]
    assert prune["channels_removed"] > 0
    assert prune["top1"] == report["final"]["top1"]
    handle = load_artifact(tmp_path / "run" / "model.slim.pt")
    assert [e["kind"] for e in handle.edits] == ["shortcut_a_to_b", "prune_channels"]
    assert handle.module.shortcut == "B"
    assert sum(p.numel() for p in handle.module.parameters()) == report["final"]["params"]
